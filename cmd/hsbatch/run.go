package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	Flags       []string // the flags given, as runFlags returns them
}

// Defaults are gentle: the other end is an ISP's production system.
func defaultRunOptions() runOptions {
	return runOptions{Rate: 10, Burst: 1, Concurrency: 4, Retries: 3, Timeout: 30 * time.Second, FailStreak: 20, Progress: "auto"}
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
		absIn, _ := filepath.Abs(in)
		abs, _ := filepath.Abs(out)
		if abs == absIn {
			return usagef("the results file %s would be the input itself; give another with -o", out)
		}
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			return usagef("-o %s is a directory; give a file name, such as %s", out, filepath.Join(out, filepath.Base(resultsPath(in, ""))))
		}
		if _, err := os.Stat(in); err != nil {
			continue // opening the input says what is wrong with it
		}
		if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
			return usagef("the directory of the results file %s does not exist; create it first (mkdir -p %s)", out, shellQuote(filepath.Dir(out)))
		}
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
	switch ext := filepath.Ext(input); strings.ToLower(ext) {
	case ".csv", ".txt", ".tsv":
		input = strings.TrimSuffix(input, ext)
	}
	return input + ".results.csv"
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := defaultRunOptions()
	fs := flag.NewFlagSet("hsbatch run", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help goes to stdout
	o.flags(fs)
	inputs, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "Usage: hsbatch run [flags] INPUT.csv...\n\nConnection and credentials come from the environment (see hsbatch help).\n\nFlags:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "-timeout") {
			err = fmt.Errorf("%w (durations need a unit, such as 30s or 1m)", err)
		}
		return &usageError{err.Error(), "hsbatch run -h"}
	}
	o.Inputs = inputs
	if err := o.check(); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			ue.help = "hsbatch run -h"
		}
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
	// The job pins the server as parsed: a trailing slash is no new server.
	base, _ := hubsoft.ParseBaseURL(cfg.BaseURL)
	o.Flags = runFlags(fs)
	return runJobs(ctx, o, client, base.String(), resumeCommand(o.Flags, o.Output, o.Inputs), stdout, stderr)
}

// parseInterspersed parses flags wherever they are among the inputs, as
// operators type them: "hsbatch run ids.csv --rate 2".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	// After "--" everything is an input, even "-b.csv". flag.Parse would
	// swallow the "--" and leave the loop below none the wiser.
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	rest, err := parseFlagsAndArgs(fs, args)
	return append(rest, tail...), err
}

func parseFlagsAndArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
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

// runFlags returns the flags the operator gave, as --name=value, but for
// those that must not be repeated when a run is resumed: --restart (which
// would start over), --retry-failed (the failed rows it set aside are to do
// already) and -o (resumeCommand places it).
func runFlags(fs *flag.FlagSet) []string {
	var flags []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "restart", "retry-failed", "o", "output":
			return
		}
		flags = append(flags, "--"+f.Name+"="+f.Value.String())
	})
	return flags
}

// resumeCommand is the command line that resumes a run of inputs.
func resumeCommand(flags []string, output string, inputs []string) string {
	parts := []string{"hsbatch", "run"}
	for _, f := range flags {
		parts = append(parts, shellQuote(f))
	}
	if output != "" {
		parts = append(parts, "-o", shellQuote(output))
	}
	for _, in := range inputs {
		if strings.HasPrefix(in, "-") {
			parts = append(parts, "--")
			break
		}
	}
	for _, in := range inputs {
		parts = append(parts, shellQuote(in))
	}
	return strings.Join(parts, " ")
}

// retryCommand is the command line that sends again the failed rows of
// one input.
func retryCommand(flags []string, output, input string) string {
	return resumeCommand(append([]string{"--retry-failed"}, flags...), output, []string{input})
}

// plural returns "1 row" or "n rows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runJobs runs every input in turn. Every input is opened (scanned,
// locked, checked against its job file) before anything is sent, so that a
// bad file among several stops the run before it begins. server names the
// server in the job file: resuming against another one is refused.
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
	var jobs []*batch.Job
	defer func() {
		for _, j := range jobs {
			j.Close()
		}
	}()
	work := false
	for _, in := range o.Inputs {
		job, err := batch.OpenJob(in, resultsPath(in, o.Output), batch.JobOptions{Settings: settings, Restart: o.Restart, RetryFailed: o.RetryFailed, Flags: o.Flags})
		if err != nil {
			return err
		}
		jobs = append(jobs, job)
		work = work || job.Prior().Total() < job.Plan.Rows
	}
	if work {
		// Credentials and reachability first: a systemic failure must stop
		// the run before any row is touched.
		if err := authenticate(ctx, client, server, resume); err != nil {
			// Nothing was sent: jobs made by this run go away again, so
			// that the corrected command finds none half-made.
			for _, j := range jobs {
				j.Abandon()
			}
			jobs = nil
			return err
		}
	}

	notClean := false
	for _, job := range jobs {
		if err := ctx.Err(); err != nil {
			return &stoppedError{Err: batch.ErrInterrupted, Resume: resume}
		}
		sum, err := runJob(ctx, runner, job, o, stderr)
		job.Close()
		sum.WriteText(stdout)
		var inputErr *batch.InputError
		if errors.As(err, &inputErr) {
			// The same command would be refused: the input is not the
			// one the job pinned. The error says what to do.
			return &stoppedError{Err: err}
		}
		if err != nil {
			return &stoppedError{Err: err, Resume: resume}
		}
		if sum.Counts.Failed > 0 {
			fmt.Fprintf(stdout, "  %s got no valid answer from HubSoft; send them again with:\n    %s\n",
				plural(sum.Counts.Failed, "row"), retryCommand(o.Flags, o.Output, job.Input))
		}
		if sum.Counts.Invalid > 0 {
			fmt.Fprintf(stdout, "  %s with an invalid id, not sent; the msg column says why\n", plural(sum.Counts.Invalid, "row"))
		}
		notClean = notClean || !sum.Clean()
	}
	if notClean {
		return errNotClean
	}
	return nil
}

// authAttempts is how often the first token request is tried when HubSoft
// does not answer, before the run gives up.
const authAttempts = 3

// authenticate gets the first token. A server that does not answer is
// tried again a few times, then stops the run resumably (exit 3); an
// answer that says the configuration is wrong (credentials, permissions,
// address) means the run could not start (exit 2).
func authenticate(ctx context.Context, client *hubsoft.Client, server, resume string) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = client.Authenticate(ctx)
		if err == nil || hubsoft.Classify(err) != hubsoft.Retry || attempt == authAttempts {
			break
		}
		select {
		case <-time.After(batch.Backoff(attempt)):
		case <-ctx.Done():
			return &stoppedError{Err: batch.ErrInterrupted, Resume: resume}
		}
	}
	var dns *net.DNSError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Errorf("cannot reach HubSoft: no such host %q: check HUBSOFT_BASE_URL. Nothing was sent", dns.Name)
	case hubsoft.Classify(err) == hubsoft.Retry:
		return &stoppedError{Err: fmt.Errorf("HubSoft at %s did not answer (%w): check that HUBSOFT_BASE_URL is right and the server is up. Nothing was sent", server, err), Resume: resume}
	case errors.Is(err, context.Canceled):
		return &stoppedError{Err: batch.ErrInterrupted, Resume: resume}
	}
	return fmt.Errorf("cannot log in to HubSoft at %s: %w. Nothing was sent", server, err)
}

// runJob runs one opened job with a progress display.
func runJob(ctx context.Context, runner *batch.Runner, job *batch.Job, o runOptions, stderr io.Writer) (*report.Summary, error) {
	prior := job.Prior()
	name := filepath.Base(job.Input)
	switch {
	case job.SetAside != "":
		fmt.Fprintf(stderr, "hsbatch: %s: starting over; the old results are kept as %s\n", name, job.SetAside)
	case job.Plan.Rows == 0:
		fmt.Fprintf(stderr, "hsbatch: %s: the file has no rows, only a header; nothing to send\n", name)
	case job.Retried() > 0 && prior.Total()+job.Retried() < job.Plan.Rows:
		fmt.Fprintf(stderr, "hsbatch: %s: sending again the %d failed rows, and the %d rows not done yet\n", name, job.Retried(), job.Plan.Rows-prior.Total()-job.Retried())
	case job.Retried() > 0:
		fmt.Fprintf(stderr, "hsbatch: %s: sending again the %d failed rows\n", name, job.Retried())
	case prior.Total() >= job.Plan.Rows:
		fmt.Fprintf(stderr, "hsbatch: %s: this job is already complete; nothing to send\n", name)
	case job.Resumed:
		fmt.Fprintf(stderr, "hsbatch: %s: resuming: %d of %d rows already done\n", name, prior.Total(), job.Plan.Rows)
	}
	p := newProgress(o.Progress, name, job.Plan.Rows, prior.Total(), stderr)
	r := *runner
	r.OnProgress, r.OnPause = p.update, p.pause
	sum, err := r.Run(ctx, job)
	p.finish()
	return sum, err
}
