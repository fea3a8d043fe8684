package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hsbatch/hsbatch/hubsoft"
	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
	"github.com/hsbatch/hsbatch/samples"
)

// demoOptions are demo's flags.
type demoOptions struct {
	Dir      string
	Progress string
}

// cmdDemo runs samples/clientes.csv through the whole pipeline against the
// fake server, on loopback: no set-up, no network. It exits 0 when every
// row got its result, whatever the statuses: showing failed and invalid
// rows is part of the demo.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := demoOptions{Progress: "auto"}
	fs := flag.NewFlagSet("hsbatch demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Dir, "dir", "", "directory for the demo's input and results (default: a new temporary directory)")
	fs.StringVar(&o.Progress, "progress", o.Progress, "progress display: auto, bar, log or none")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("demo takes no arguments")
	}
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "hsbatch-demo-")
		if err != nil {
			return err
		}
		o.Dir = dir
	}
	input := filepath.Join(o.Dir, "clientes.csv")
	if err := os.WriteFile(input, samples.Clientes, 0o600); err != nil {
		return err
	}

	srv := newDemoServer()
	defer srv.Close()
	fmt.Fprintf(stderr, "hsbatch demo: fake HubSoft at %s, with 30 ms latency and 6%% injected faults (502, 500, 429 + Retry-After, resets, truncated answers)\n", srv.URL)
	client, err := hubsoft.NewClient(srv.URL, hubsoft.WithCredentials(hubsoft.Credentials{
		ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, Username: srv.Username, Password: srv.Password,
	}), hubsoft.WithTimeout(5*time.Second))
	if err != nil {
		return err
	}
	ro := defaultRunOptions()
	ro.Rate, ro.Burst, ro.Concurrency, ro.Retries, ro.Progress = 50, 5, 8, 5, o.Progress
	ro.Inputs = []string{input}
	// The fake server gets a new port each time; pin the job to "the demo
	// server" so that an interrupted demo resumes with the same command.
	err = runJobs(ctx, ro, client, "hsbatch demo server", "hsbatch demo --dir "+shellQuote(o.Dir), stdout, stderr)
	if errors.Is(err, errNotClean) {
		err = nil
	}
	if err == nil {
		fmt.Fprintf(stdout, "\nThe demo worked. Open %s in a spreadsheet, or run:\n  hsbatch status %s\n", resultsPath(input, ""), shellQuote(resultsPath(input, "")))
	}
	return err
}

// newDemoServer is the fake server as the demo and fake-server show it:
// every 9th id answers a HubSoft error, and a few calls meet a fault.
func newDemoServer() *hubsofttest.Server {
	srv := hubsofttest.NewServer()
	configureFake(srv, 30*time.Millisecond, 0.06, 1, time.Second, 9,
		hubsofttest.FaultHTML502, hubsofttest.FaultHTML500, hubsofttest.Fault429, hubsofttest.FaultReset, hubsofttest.FaultTruncated)
	return srv
}

// configureFake sets the fake server's knobs.
func configureFake(srv *hubsofttest.Server, latency time.Duration, faultRate float64, seed int64, retryAfter time.Duration, errorEvery int64, faults ...hubsofttest.Fault) {
	srv.SetLatency(latency)
	srv.SetRetryAfter(retryAfter)
	srv.SetRandomFaults(faultRate, seed, faults...)
	if errorEvery > 0 {
		srv.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
			login := fmt.Sprintf("cliente%d", id)
			if id%errorEvery == 0 {
				return hubsofttest.Outcome{Status: "error", Login: login, Errors: []string{"O equipamento de conexão não respondeu ao pedido de desconexão (porta INCOMING fechada?)."}}
			}
			return hubsofttest.Outcome{Status: "success", Login: login}
		})
	}
}
