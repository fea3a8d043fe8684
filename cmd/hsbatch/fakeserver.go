package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
)

// fakeServerOptions are fake-server's flags.
type fakeServerOptions struct {
	Listen            string
	Latency           time.Duration
	FaultRate         float64
	Faults            string
	Seed              int64
	RetryAfter        time.Duration
	ErrorEvery        int64
	RejectCredentials bool
	Forbidden         bool
}

// cmdFakeServer runs the fake HubSoft server until interrupted, so that a
// person can try "hsbatch run" against it.
func cmdFakeServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := fakeServerOptions{Listen: "127.0.0.1:8089", Faults: "502,500,429,reset,truncated", Seed: 1, RetryAfter: time.Second, ErrorEvery: 9}
	fs := flag.NewFlagSet("hsbatch fake-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Listen, "listen", o.Listen, "address to listen on (loopback only)")
	fs.DurationVar(&o.Latency, "latency", o.Latency, "added to every answer")
	fs.Float64Var(&o.FaultRate, "fault-rate", o.FaultRate, "share of calls (0 to 1) that meet a fault")
	fs.StringVar(&o.Faults, "faults", o.Faults, "faults to draw from: 500,502,503,429,reset,hang,truncated,login200,401")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "random seed for faults")
	fs.DurationVar(&o.RetryAfter, "retry-after", o.RetryAfter, "Retry-After of 429 and 503 answers")
	fs.Int64Var(&o.ErrorEvery, "error-every", o.ErrorEvery, "ids divisible by this answer a HubSoft error (0 = none)")
	fs.BoolVar(&o.RejectCredentials, "reject-credentials", false, "answer every token request with 401 invalid_credentials")
	fs.BoolVar(&o.Forbidden, "forbidden", false, "answer every API call with 403")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("fake-server takes no arguments")
	}
	if o.FaultRate < 0 || o.FaultRate > 1 {
		return usagef("--fault-rate must be between 0 and 1, got %v", o.FaultRate)
	}
	var faults []hubsofttest.Fault
	for _, name := range strings.Split(o.Faults, ",") {
		if strings.TrimSpace(name) == "" {
			continue
		}
		f, err := hubsofttest.ParseFault(name)
		if err != nil {
			return usagef("--faults: %v", err)
		}
		faults = append(faults, f)
	}
	srv, err := hubsofttest.Listen(o.Listen)
	if err != nil {
		return err
	}
	defer srv.Close()
	configureFake(srv, o.Latency, o.FaultRate, o.Seed, o.RetryAfter, o.ErrorEvery, faults...)
	srv.RejectCredentials(o.RejectCredentials)
	srv.SetForbidden(o.Forbidden)

	// These are the fake server's own made-up credentials, not secrets.
	fmt.Fprintf(stdout, `Fake HubSoft server listening on %s (Ctrl-C to stop).
To try hsbatch against it, in another terminal:

  export HUBSOFT_BASE_URL=%s
  export HUBSOFT_CLIENT_ID=%s
  export HUBSOFT_CLIENT_SECRET=%s
  export HUBSOFT_USERNAME=%s
  export HUBSOFT_PASSWORD=%s
  hsbatch run samples/clientes.csv

`, srv.URL, srv.URL, srv.ClientID, srv.ClientSecret, srv.Username, srv.Password)
	<-ctx.Done()
	fmt.Fprintf(stderr, "fake-server: %d API calls, %d token requests\n", srv.TotalCalls(), srv.TokenRequests())
	return nil
}
