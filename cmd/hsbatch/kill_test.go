package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
	"github.com/hsbatch/hsbatch/report"
)

// TestKillNineAnywhere kills hsbatch with SIGKILL at random moments, many
// times, across a two-file job, then lets it finish. Whatever the moment:
// one correct row per input line, no completed row sent again, and at most
// one extra send per worker per kill.
func TestKillNineAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the binary many times")
	}
	const (
		kills       = 15
		concurrency = 8
		perFile     = 1500
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.SetLatency(time.Millisecond)
	srv.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
		if id%10 == 0 {
			return hubsofttest.Outcome{Status: "error", Login: fmt.Sprint("c", id)}
		}
		return hubsofttest.Outcome{Status: "success", Login: fmt.Sprint("c", id)}
	})
	dir := t.TempDir()
	inputs := []string{filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")}
	for i, in := range inputs {
		var b strings.Builder
		b.WriteString("id_cliente_servico\n")
		for n := range perFile {
			fmt.Fprintln(&b, 100000*(i+1)+n)
		}
		writeFile(t, in, b.String())
	}
	args := append([]string{"run", "--rate", "0", "--concurrency", fmt.Sprint(concurrency), "--progress", "none"}, inputs...)

	// doneAt[id] is the call count of an id when its row was first seen in
	// a results file: it must never grow after that.
	doneAt := map[int64]int{}
	snapshot := func() {
		for _, in := range inputs {
			out := resultsPath(in, "")
			if _, err := os.Stat(out); err != nil {
				continue
			}
			// A killed run may leave a torn line; Load reads complete rows.
			if _, err := report.Load(out, func(r report.Row) error {
				var id int64
				fmt.Sscan(r.ID, &id)
				if _, ok := doneAt[id]; !ok {
					doneAt[id] = srv.Calls(id)
				}
				return nil
			}); err != nil {
				t.Fatalf("results after a kill: %v", err)
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	killed := 0
	for k := range kills {
		// Rows not yet in a results file: each needs at least one more call.
		left := 2*perFile - len(doneAt)
		if left < 40 {
			break
		}
		cmd, _, stderr := command(ctx, env(srv), args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		target := srv.TotalCalls() + 1 + rng.IntN(min(300, left/2))
		waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
		err := srv.WaitFor(waitCtx, func() bool { return srv.TotalCalls() >= target })
		stop()
		cmd.Process.Kill()
		cmd.Wait()
		if err != nil {
			t.Fatalf("kill %d: the run did not progress: %v\n%s", k, err, stderr)
		}
		killed++
		snapshot()
	}

	res := hsbatch(t, env(srv), args...)
	if res.code != exitOK {
		t.Fatalf("final run: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	extra := 0
	for i, in := range inputs {
		rows := readResults(t, resultsPath(in, ""))
		if len(rows) != perFile {
			t.Errorf("%s: got %d rows, want %d", in, len(rows), perFile)
		}
		for n := range perFile {
			id := int64(100000*(i+1) + n)
			r, ok := rows[n+2]
			if !ok {
				t.Errorf("%s line %d: no row", in, n+2)
				continue
			}
			want := report.StatusSuccess
			if id%10 == 0 {
				want = report.StatusError
			}
			if r.ID != fmt.Sprint(id) || r.Status != want {
				t.Errorf("%s line %d: got %s %s, want %d %s", in, n+2, r.ID, r.Status, id, want)
			}
			calls := srv.Calls(id)
			if c, ok := doneAt[id]; ok && calls != c {
				t.Errorf("id %d was done after a kill with %d calls, but got %d in the end", id, c, calls)
			}
			if r.Attempts < calls {
				t.Errorf("id %d: %d calls but attempts says %d", id, calls, r.Attempts)
			}
			extra += calls - 1
		}
	}
	if extra > killed*concurrency {
		t.Errorf("got %d re-sends, want at most kills × workers = %d", extra, killed*concurrency)
	}
	t.Logf("%d kills, %d re-sends", killed, extra)
}
