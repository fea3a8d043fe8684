package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/hsbatch/hsbatch/batch"
	"github.com/hsbatch/hsbatch/hubsoft"
	"github.com/hsbatch/hsbatch/report"
)

// runOptions are run's flags.
type runOptions struct {
	Rate        float64
	Burst       int
	Concurrency int
	Retries     int
	Timeout     time.Duration
	FailStreak  int
	Output      string
	Restart     bool
	RetryFailed bool
	Progress    string // auto, bar, log, none
	Inputs      []string
}

// Defaults are gentle: the other end is an ISP's production system.
func defaultRunOptions() runOptions {
	return runOptions{Rate: 5, Burst: 1, Concurrency: 4, Retries: 3, Timeout: 30 * time.Second, FailStreak: 20, Progress: "auto"}
}

func (o *runOptions) flags(fs *flag.FlagSet) {
	fs.Float64Var(&o.Rate, "rate", o.Rate, "requests per second, retries included, over all workers (0 = unlimited)")
	fs.IntVar(&o.Burst, "burst", o.Burst, "requests that may leave at once after a quiet spell")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "requests in flight at most")
	fs.IntVar(&o.Retries, "retries", o.Retries, "retries of a row after a timeout, reset, 5xx or 429, with exponential backoff")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "limit for each request, answer included")
	fs.IntVar(&o.FailStreak, "stop-after-failures", o.FailStreak, "stop the run, resumably, after this many rows in a row get no valid answer (0 = never)")
	fs.StringVar(&o.Output, "o", "", "results file (only with one input; default INPUT.results.csv)")
	fs.StringVar(&o.Output, "output", "", "same as -o")
	fs.BoolVar(&o.Restart, "restart", false, "start over: keep the old results file under a new name and send every row again")
	fs.BoolVar(&o.RetryFailed, "retry-failed", false, "send again the rows whose status is failed; their new result replaces the old")
	fs.StringVar(&o.Progress, "progress", o.Progress, "progress display: auto, bar, log or none")
}

func (o *runOptions) check() error {
	switch {
	case len(o.Inputs) == 0:
		return usagef("run needs at least one input CSV file")
	case o.Output != "" && len(o.Inputs) > 1:
		return usagef("-o/--output names one results file, but %d inputs were given", len(o.Inputs))
	case o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0):
		return usagef("--rate must be 0 (unlimited) or a positive number, got %v", o.Rate)
	case o.Burst < 1:
		return usagef("--burst must be at least 1, got %d", o.Burst)
	case o.Concurrency < 1 || o.Concurrency > 256:
		return usagef("--concurrency must be between 1 and 256, got %d", o.Concurrency)
	case o.Retries < 0 || o.Retries > 20:
		return usagef("--retries must be between 0 and 20, got %d", o.Retries)
	case o.Timeout <= 0 || o.Timeout > 10*time.Minute:
		return usagef("--timeout must be between 1ms and 10m, got %s", o.Timeout)
	case o.FailStreak < 0:
		return usagef("--stop-after-failures must be 0 or more, got %d", o.FailStreak)
	case o.Restart && o.RetryFailed:
		return usagef("--restart and --retry-failed cannot be combined")
	}
	switch o.Progress {
	case "auto", "bar", "log", "none":
	default:
		return usagef("--progress must be auto, bar, log or none, got %q", o.Progress)
	}
	seen := map[string]string{}
	for _, in := range o.Inputs {
		out := resultsPath(in, o.Output)
		if strings.HasSuffix(strings.ToLower(in), ".results.csv") {
			return usagef("%s looks like a results file; give the input file instead", in)
		}
		abs, _ := filepath.Abs(out)
		if prev, ok := seen[abs]; ok {
			return usagef("%s and %s would write the same results file %s", prev, in, out)
		}
		seen[abs] = in
	}
	return nil
}

// resultsPath is where the results of input go: clientes.csv gives
// clientes.results.csv, beside it.
func resultsPath(input, output string) string {
	if output != "" {
		return output
	}
	ext := filepath.Ext(input)
	if strings.EqualFold(ext, ".csv") || strings.EqualFold(ext, ".txt") {
		input = strings.TrimSuffix(input, ext)
	}
	return input + ".results.csv"
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := defaultRunOptions()
	fs := flag.NewFlagSet("hsbatch run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: hsbatch run [flags] INPUT.csv...\n\nConnection and credentials come from the environment (see hsbatch help).\n\nFlags:")
		fs.PrintDefaults()
	}
	inputs, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usagef("%v", err)
	}
	o.Inputs = inputs
	if err := o.check(); err != nil {
		return err
	}
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	client, err := hubsoft.NewClient(cfg.BaseURL, hubsoft.WithCredentials(cfg.Creds), hubsoft.WithTimeout(o.Timeout))
	if err != nil {
		return err
	}
	return runJobs(ctx, o, client, cfg.BaseURL, resumeCommand(os.Args), stdout, stderr)
}

// parseInterspersed parses flags wherever they are among the inputs, as
// operators type them: "hsbatch run ids.csv --rate 2".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// config is what run takes from the environment.
type config struct {
	BaseURL string
	Creds   hubsoft.Credentials
}

// configFromEnv reads the connection and credentials. Secrets come only
// from the environment or from files named by *_FILE variables, never from
// the command line, where ps and shell history would show them.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{BaseURL: getenv("HUBSOFT_BASE_URL")}
	var err error
	read := func(name string) string {
		v := getenv(name)
		if file := getenv(name + "_FILE"); file != "" && err == nil {
			if v != "" {
				err = fmt.Errorf("both %s and %s_FILE are set; keep one", name, name)
				return ""
			}
			b, rerr := os.ReadFile(file)
			if rerr != nil {
				err = fmt.Errorf("%s_FILE: %w", name, rerr)
				return ""
			}
			v = strings.TrimRight(string(b), "\r\n")
		}
		return v
	}
	c.Creds = hubsoft.Credentials{
		ClientID:     read("HUBSOFT_CLIENT_ID"),
		ClientSecret: read("HUBSOFT_CLIENT_SECRET"),
		Username:     read("HUBSOFT_USERNAME"),
		Password:     read("HUBSOFT_PASSWORD"),
	}
	if err != nil {
		return c, err
	}
	if _, err := hubsoft.ParseBaseURL(c.BaseURL); err != nil {
		return c, err
	}
	return c, c.Creds.Validate()
}

// resumeCommand is the command line that resumes this run: the same one,
// without --restart, which would start over instead.
func resumeCommand(args []string) string {
	var parts []string
	for i, a := range args {
		if i == 0 {
			a = "hsbatch"
		}
		if a == "--restart" || a == "-restart" || a == "--restart=true" || a == "-restart=true" {
			continue
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runJobs runs every input in turn. It stops at the first input that
// cannot start or does not finish. server names the server in the job
// file: resuming against another one is refused.
func runJobs(ctx context.Context, o runOptions, client *hubsoft.Client, server, resume string, stdout, stderr io.Writer) error {
	var limiter batch.Limiter
	if o.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(o.Rate), o.Burst)
	}
	runner := &batch.Runner{
		Sender:      disconnector{client},
		Classify:    classify,
		Limiter:     limiter,
		Concurrency: o.Concurrency,
		Retries:     o.Retries,
		FailStreak:  o.FailStreak,
	}
	settings := map[string]string{"action": "solicitar_desconexao", "base_url": server}
	notClean, authenticated := false, false
	for _, in := range o.Inputs {
		if err := ctx.Err(); err != nil {
			return &stoppedError{Err: batch.ErrInterrupted, Resume: resume}
		}
		out := resultsPath(in, o.Output)
		job, err := batch.OpenJob(in, out, batch.JobOptions{Settings: settings, Restart: o.Restart, RetryFailed: o.RetryFailed})
		if err != nil {
			return err
		}
		if !authenticated && job.Prior().Total() < job.Plan.Rows {
			// Credentials and reachability first: a systemic failure must
			// stop the run before any row is marked.
			if err := client.Authenticate(ctx); err != nil {
				job.Close()
				return &stoppedError{Err: err, Resume: resume}
			}
			authenticated = true
		}
		sum, err := runJob(ctx, runner, job, o, stderr)
		job.Close()
		if sum != nil {
			sum.WriteText(stdout)
		}
		if err != nil {
			return &stoppedError{Err: err, Resume: resume}
		}
		if !sum.Clean() {
			notClean = true
		}
	}
	if notClean {
		return errNotClean
	}
	return nil
}

// runJob runs one opened job with a progress display.
func runJob(ctx context.Context, runner *batch.Runner, job *batch.Job, o runOptions, stderr io.Writer) (*report.Summary, error) {
	prior := job.Prior()
	name := filepath.Base(job.Input)
	switch {
	case job.SetAside != "":
		fmt.Fprintf(stderr, "hsbatch: %s: starting over; the old results are kept as %s\n", name, job.SetAside)
	case job.Retried() > 0:
		fmt.Fprintf(stderr, "hsbatch: %s: sending again the %d failed rows\n", name, job.Retried())
	case prior.Total() >= job.Plan.Rows:
		fmt.Fprintf(stderr, "hsbatch: %s: this job is already complete; nothing to send\n", name)
	case job.Resumed:
		fmt.Fprintf(stderr, "hsbatch: %s: resuming: %d of %d rows already done\n", name, prior.Total(), job.Plan.Rows)
	}
	p := newProgress(o.Progress, name, job.Plan.Rows, prior.Total(), stderr)
	r := *runner
	r.OnProgress = p.update
	sum, err := r.Run(ctx, job)
	p.finish()
	return sum, err
}
