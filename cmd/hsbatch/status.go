package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hsbatch/hsbatch/batch"
	"github.com/hsbatch/hsbatch/report"
)

// cmdStatus shows a job from its results file: its input, its rows per
// status, and whether it runs, can resume, or is complete. It reads only,
// so it is safe beside a running job.
func cmdStatus(args []string, stdout io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(stdout, "Usage: hsbatch status RESULTS.csv\n\nShows a job: its input, rows done per status, and whether it runs, can resume, or is complete.")
		return nil
	}
	if len(args) != 1 {
		return usagef("status takes one results file, such as clientes.results.csv")
	}
	results := args[0]
	meta, err := batch.ReadMeta(batch.MetaPath(results))
	if err != nil {
		if os.IsNotExist(err) {
			hint := ""
			if r := resultsPath(results, ""); r != results {
				if _, err := os.Stat(batch.MetaPath(r)); err == nil {
					hint = fmt.Sprintf("; did you mean hsbatch status %s?", shellQuote(r))
				}
			}
			return fmt.Errorf("%s has no job file (%s): it is not a results file of hsbatch, or no run has started%s", results, batch.MetaPath(results), hint)
		}
		return err
	}
	// The command that resumes or retries this job must name its results
	// file when it is not the default one, or it would start a new job.
	output := ""
	if abs, _ := filepath.Abs(resultsPath(meta.Input, "")); abs != mustAbs(results) {
		output = mustAbs(results)
	}
	sc, err := report.Load(results, nil)
	if err != nil {
		return err
	}
	sum := report.Summary{Input: meta.Input, Results: results, Total: meta.Rows, Counts: sc.Counts}
	fmt.Fprintf(stdout, "job:      %s\n", results)
	fmt.Fprintf(stdout, "input:    %s (%d bytes, SHA-256 %s)\n", meta.Input, meta.Identity.Size, meta.Identity.SHA256)
	fmt.Fprintf(stdout, "server:   %s\n", meta.Settings["base_url"])
	fmt.Fprintf(stdout, "started:  %s\n", meta.Created.Local().Format("2006-01-02 15:04:05 -0700"))
	pct := 100.0
	if meta.Rows > 0 {
		pct = 100 * float64(sum.Done()) / float64(meta.Rows)
	}
	fmt.Fprintf(stdout, "rows:     %d of %d done (%.1f%%)\n", sum.Done(), meta.Rows, pct)
	for _, s := range report.Statuses {
		fmt.Fprintf(stdout, "  %-10s %d\n", s, sc.Counts.Get(s))
	}
	if sc.Torn() {
		fmt.Fprintf(stdout, "note:     the last line is torn (%d bytes); the next run repairs it\n", sc.Size-sc.ValidEnd)
	}
	switch holder := batch.Running(results); {
	case holder != "":
		fmt.Fprintf(stdout, "state:    running (%s)\n", holder)
	case sum.Complete() && sc.Counts.Failed > 0:
		fmt.Fprintf(stdout, "state:    complete; %s can be sent again with:\n  %s\n", plural(sc.Counts.Failed, "failed row"), retryCommand(meta.Flags, output, meta.Input))
	case sum.Complete():
		fmt.Fprintln(stdout, "state:    complete")
	default:
		fmt.Fprintf(stdout, "state:    stopped, resumable with:\n  %s\n", resumeCommand(meta.Flags, output, []string{meta.Input}))
	}
	return nil
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}
