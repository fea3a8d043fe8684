// Command hsbatch disconnects, in bulk, the subscriber sessions listed in
// CSV files, through HubSoft's solicitar_desconexao API route.
//
// Usage:
//
//	hsbatch run [flags] INPUT.csv...
//	hsbatch status RESULTS.csv
//	hsbatch demo
//	hsbatch fake-server [--listen ADDR]
//
// Run "hsbatch help" or see README.md for flags, environment variables,
// result columns and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// Exit codes, for cron and systemd.
const (
	exitOK       = 0 // finished; every row answered by HubSoft or a duplicate
	exitNotClean = 1 // finished, but some rows are failed or invalid
	exitStart    = 2 // could not start: usage, configuration, input
	exitStopped  = 3 // stopped before the end: signal or systemic failure
)

func main() {
	ctx, stop := signalContext(os.Stderr)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	code := exitCode(err)
	if err != nil && !errors.Is(err, errNotClean) {
		fmt.Fprintf(os.Stderr, "hsbatch: %v\n", err)
	}
	os.Exit(code)
}

// exitCode is the one place where errors become exit codes.
func exitCode(err error) int {
	var stopped *stoppedError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errNotClean):
		return exitNotClean
	case errors.As(err, &stopped):
		return exitStopped
	default:
		return exitStart
	}
}

// errNotClean: every row has a result, but some are failed or invalid.
var errNotClean = errors.New("some rows are failed or invalid")

// usageError is a wrong command line. help names the command that
// explains the right one.
type usageError struct{ msg, help string }

func (e *usageError) Error() string { return e.msg + " (see " + e.help + ")" }

func usagef(format string, a ...any) error {
	return &usageError{fmt.Sprintf(format, a...), "hsbatch help"}
}

// stoppedError is a run that started and stopped before the end. It can be
// resumed by running Resume.
type stoppedError struct {
	Err    error
	Resume string
}

func (e *stoppedError) Error() string {
	if e.Resume == "" {
		return fmt.Sprintf("stopped: %v", e.Err)
	}
	return fmt.Sprintf("stopped: %v\nNothing is lost: rows already written stay done. To resume, run:\n  %s", e.Err, e.Resume)
}

func (e *stoppedError) Unwrap() error { return e.Err }

// signalContext returns a context cancelled by the first SIGINT, SIGTERM or
// SIGHUP.
// A second one exits at once, with the run still resumable: every row in
// the results file is durable. stop ends the watch.
func signalContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	// SIGHUP too: a dropped SSH session should stop a run as gently as
	// Ctrl-C, not kill it mid-request. But a signal the process was started
	// with ignored (nohup ignores SIGHUP; "cmd &" in a script ignores
	// SIGINT) stays ignored: Notify would turn it back on.
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP} {
		if !signal.Ignored(sig) {
			signal.Notify(sigs, sig)
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "\nhsbatch: %s: finishing requests in flight and saving results; press Ctrl-C again to quit at once\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "hsbatch: second signal: quitting now. The results written so far are safe; run the same command again to resume.")
			os.Exit(exitStopped)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		<-finished
		cancel()
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "fake-server":
		return cmdFakeServer(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, version())
		return nil
	}
	return usagef("unknown command %q", args[0])
}

const usage = `hsbatch: disconnect HubSoft subscriber sessions in bulk, from CSV files.

Commands:
  hsbatch run [flags] INPUT.csv...   send solicitar_desconexao for every id_cliente_servico
                                     and write INPUT.results.csv beside each input; re-run
                                     the same command to resume after any interruption
  hsbatch status RESULTS.csv         show a job's progress (also while it runs)
  hsbatch demo                       run samples/clientes.csv against a built-in fake server
  hsbatch fake-server [flags]        run the fake HubSoft server, to try "run" against it

Environment for run:
  HUBSOFT_BASE_URL       https://yourisp.hubsoft.com.br (http only for loopback)
  HUBSOFT_CLIENT_ID      HUBSOFT_CLIENT_SECRET
  HUBSOFT_USERNAME       HUBSOFT_PASSWORD
  Each of the last four may instead name a file: HUBSOFT_PASSWORD_FILE=/path, ...

Run "hsbatch run -h" for run's flags, "hsbatch version" for the version.

Exit codes: 0 all rows answered by HubSoft (success or error) or duplicates;
1 finished but some rows failed or invalid; 2 could not start; 3 stopped
before the end (resumable).
`

// version is the module version (which holds the VCS revision, when the
// binary was built from a clone) and the Go version, as the toolchain
// recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "hsbatch (unknown version)"
	}
	v := "hsbatch " + bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.modified" && s.Value == "true" && !strings.HasSuffix(v, "+dirty") {
			v += "+dirty"
		}
	}
	return v + " " + bi.GoVersion
}
