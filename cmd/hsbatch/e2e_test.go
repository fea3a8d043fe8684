package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
	"github.com/hsbatch/hsbatch/report"
)

// These tests build the real binary and drive it as an operator would,
// against the fake HubSoft server with faults switched on.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hsbatch-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "hsbatch")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build hsbatch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one hsbatch invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// env returns the environment that points hsbatch at srv.
func env(srv *hubsofttest.Server) []string {
	return []string{
		"HUBSOFT_BASE_URL=" + srv.URL,
		"HUBSOFT_CLIENT_ID=" + srv.ClientID,
		"HUBSOFT_CLIENT_SECRET=" + srv.ClientSecret,
		"HUBSOFT_USERNAME=" + srv.Username,
		"HUBSOFT_PASSWORD=" + srv.Password,
	}
}

func command(ctx context.Context, environ []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// hsbatch runs the binary to its end.
func hsbatch(t *testing.T, environ []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, stdout, stderr := command(ctx, environ, args...)
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run hsbatch: %v", err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readResults(t *testing.T, path string) map[int]report.Row {
	t.Helper()
	rows := map[int]report.Row{}
	if _, err := report.Load(path, func(r report.Row) error {
		rows[r.Line] = r
		return nil
	}); err != nil {
		t.Fatalf("results: %v", err)
	}
	return rows
}

func TestEndToEndWithFaults(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.SetRetryAfter(time.Second)
	srv.SetOutcome(1003, hubsofttest.Outcome{Status: "error", Login: "maria", Errors: []string{"Concentrador sem comunicação"}})
	srv.SetOutcome(1007, hubsofttest.Outcome{Status: "error", Login: "joao"})
	srv.InjectFaults(1001, hubsofttest.FaultHTML502, hubsofttest.FaultReset)
	srv.InjectFaults(1002, hubsofttest.Fault429)
	srv.InjectFaults(1004, hubsofttest.FaultTruncated, hubsofttest.FaultHTML500)
	srv.InjectFaults(1005, hubsofttest.FaultHang)
	srv.InjectFaults(1006, hubsofttest.FaultUnauthorized)
	srv.InjectFaults(1009, hubsofttest.FaultLogin200) // not retryable: a failed row
	srv.SetRandomFaults(0.1, 42, hubsofttest.FaultHTML502, hubsofttest.FaultReset, hubsofttest.FaultHTML503)

	dir := t.TempDir()
	input := filepath.Join(dir, "clientes.csv")
	var b strings.Builder
	b.WriteString("\uFEFFnome;ID_Cliente_Servico ;cidade\r\n")
	valid := map[int]int64{} // line → id, first occurrences only
	line := 1
	add := func(cell string) {
		line++
		fmt.Fprintf(&b, "Cliente %d;%s;Fortaleza\r\n", line, cell)
	}
	for id := int64(1001); id <= 1300; id++ {
		add(fmt.Sprint(id))
		valid[line] = id
	}
	invalid := map[int]bool{}
	for _, cell := range []string{"", "abc", "0", "-4", "12.5"} {
		add(cell)
		invalid[line] = true
	}
	dups := map[int]int{}
	for _, id := range []int{1001, 1150} {
		add(fmt.Sprint(id))
		dups[line] = id - 1001 + 2
	}
	writeFile(t, input, b.String())
	total := line - 1

	res := hsbatch(t, env(srv), "run", "--rate", "0", "--concurrency", "8", "--retries", "8", "--timeout", "2s", input)
	if res.code != exitNotClean {
		t.Fatalf("exit %d, want %d (invalid and failed rows)\nstdout: %s\nstderr: %s", res.code, exitNotClean, res.stdout, res.stderr)
	}
	rows := readResults(t, filepath.Join(dir, "clientes.results.csv"))
	if len(rows) != total {
		t.Fatalf("got %d result rows, want %d", len(rows), total)
	}
	for l, id := range valid {
		r := rows[l]
		if r.ID != fmt.Sprint(id) {
			t.Errorf("line %d: got id %q, want %d", l, r.ID, id)
		}
		if got, want := srv.Answered(id), 1; id != 1009 && got != want {
			t.Errorf("id %d performed %d times, want once", id, got)
		}
		// Every send is counted; a 401 is sent again inside the client
		// with a fresh token, and was not carried out.
		wantCalls := r.Attempts
		if id == 1006 {
			wantCalls++
		}
		if got := srv.Calls(id); got != wantCalls {
			t.Errorf("id %d: server saw %d calls, want %d (row says %d attempts)", id, got, wantCalls, r.Attempts)
		}
		want := report.StatusSuccess
		switch id {
		case 1003, 1007:
			want = report.StatusError
		case 1009:
			want = report.StatusFailed
		}
		if r.Status != want {
			t.Errorf("id %d: got %s (%s), want %s", id, r.Status, r.Msg, want)
		}
	}
	if r := rows[4]; r.Login != "maria" || r.Errors != `["Concentrador sem comunicação"]` {
		t.Errorf("error row: got login %q errors %s", r.Login, r.Errors)
	}
	if r := rows[10]; srv.Answered(1009) != 0 || !strings.Contains(r.Msg, "not a HubSoft answer") {
		t.Errorf("login page row: got %+v", r)
	}
	for l := range invalid {
		if rows[l].Status != report.StatusInvalid {
			t.Errorf("line %d: got %s, want invalid", l, rows[l].Status)
		}
	}
	for l, first := range dups {
		if r := rows[l]; r.Status != report.StatusDuplicate || !strings.Contains(r.Msg, fmt.Sprintf("line %d", first)) {
			t.Errorf("line %d: got %s %q, want duplicate of line %d", l, r.Status, r.Msg, first)
		}
	}
	for _, want := range []string{"success    297", "error      2", "failed     1", "invalid    5", "duplicate  2", "clientes.results.csv"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, res.stdout)
		}
	}
	// The way to retry the failed row keeps the operator's flags.
	wantRetry := "hsbatch run --retry-failed --concurrency=8 --rate=0 --retries=8 --timeout=2s"
	if !strings.Contains(res.stdout, wantRetry) {
		t.Errorf("summary should print %q:\n%s", wantRetry, res.stdout)
	}
	if st := hsbatch(t, nil, "status", filepath.Join(dir, "clientes.results.csv")); !strings.Contains(st.stdout, wantRetry) {
		t.Errorf("status should print %q:\n%s", wantRetry, st.stdout)
	}
	st, _ := os.Stat(filepath.Join(dir, "clientes.results.csv"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("results mode: got %v, want 0600", st.Mode().Perm())
	}

	// Running the same command again sends nothing and exits the same way.
	calls := srv.TotalCalls()
	again := hsbatch(t, env(srv), "run", input)
	if again.code != exitNotClean || srv.TotalCalls() != calls || !strings.Contains(again.stderr, "already complete") {
		t.Errorf("re-run: exit %d, %d new calls, stderr %q", again.code, srv.TotalCalls()-calls, again.stderr)
	}

	// --retry-failed sends only the failed row; now it succeeds.
	again = hsbatch(t, env(srv), "run", "--retry-failed", "--rate", "0", input)
	rows = readResults(t, filepath.Join(dir, "clientes.results.csv"))
	if len(rows) != total || rows[10].Status != report.StatusSuccess || srv.Answered(1009) != 1 || srv.TotalCalls() != calls+1 {
		t.Errorf("retry-failed: exit %d, %d rows, line 10 %s, %d new calls\n%s", again.code, len(rows), rows[10].Status, srv.TotalCalls()-calls, again.stderr)
	}
}

func TestExitCodes(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.csv")
	writeFile(t, clean, "5\n6\n7\n")

	res := hsbatch(t, env(srv), "run", "--rate", "0", clean)
	if res.code != exitOK {
		t.Errorf("clean file: exit %d, want 0\n%s", res.code, res.stderr)
	}

	tests := []struct {
		name    string
		environ []string
		args    []string
		want    int
		stderr  string
	}{
		{"no input", env(srv), []string{"run"}, exitStart, "at least one input"},
		{"unknown flag", env(srv), []string{"run", "--nope", clean}, exitStart, "nope"},
		{"missing file", env(srv), []string{"run", filepath.Join(dir, "missing.csv")}, exitStart, "no such file"},
		{"no base url", env(srv)[1:], []string{"run", clean}, exitStart, "HUBSOFT_BASE_URL is empty"},
		{"plain http", append(env(srv), "HUBSOFT_BASE_URL=http://hubsoft.example.com.br"), []string{"run", clean}, exitStart, "use https"},
		{"missing password", env(srv)[:4], []string{"run", clean}, exitStart, "HUBSOFT_PASSWORD"},
		{"bad rate", env(srv), []string{"run", "--rate", "-1", clean}, exitStart, "--rate"},
		{"two inputs one output", env(srv), []string{"run", "-o", "x.csv", clean, clean}, exitStart, "one results file"},
		{"unknown command", nil, []string{"explode"}, exitStart, "unknown command"},
		{"output is the input", env(srv), []string{"run", "-o", clean, clean}, exitStart, "would be the input itself"},
		{"output is a directory", env(srv), []string{"run", "-o", dir, clean}, exitStart, "is a directory"},
		{"duration without unit", env(srv), []string{"run", "--timeout", "5", clean}, exitStart, "need a unit"},
		{"a bad file among several sends nothing", env(srv), []string{"run", filepath.Join(dir, "second.csv"), filepath.Join(dir, "missing.csv")}, exitStart, "missing.csv"},
	}
	writeFile(t, filepath.Join(dir, "second.csv"), "8\n9\n")
	calls := srv.TotalCalls()
	defer func() {
		if n := srv.TotalCalls() - calls; n != 0 {
			t.Errorf("refused runs sent %d requests, want none", n)
		}
		if _, err := os.Stat(filepath.Join(dir, "missing.results.csv.lock")); err == nil {
			t.Errorf("a missing input left a lock file")
		}
	}()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := hsbatch(t, tt.environ, tt.args...)
			if res.code != tt.want || !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", res.code, res.stderr, tt.want, tt.stderr)
			}
		})
	}
}

func TestRejectedCredentialsStopWithoutFailingRows(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.RejectCredentials(true)
	dir := t.TempDir()
	input := filepath.Join(dir, "ids.csv")
	var b strings.Builder
	b.WriteString("id_cliente_servico\n")
	for id := 1; id <= 100; id++ {
		fmt.Fprintln(&b, id)
	}
	writeFile(t, input, b.String())

	// Rejected at the start: the run could not start.
	res := hsbatch(t, env(srv), "run", "--rate", "0", input)
	if res.code != exitStart {
		t.Fatalf("exit %d, want %d\n%s", res.code, exitStart, res.stderr)
	}
	if !strings.Contains(res.stderr, "rejected the credentials") || strings.Contains(res.stderr, srv.Password) || strings.Contains(res.stderr, srv.ClientSecret) {
		t.Errorf("stderr should name the cause and no secret:\n%s", res.stderr)
	}
	for _, f := range []string{"ids.results.csv", "ids.results.csv.job", "ids.results.csv.inflight"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("a run that sent nothing left %s behind (%v)", f, err)
		}
	}

	// Rejected mid-run, after HubSoft revoked every token and the password
	// was changed: the run stops, resumably, and fails no row.
	srv.RejectCredentials(false)
	srv.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
		if id == 50 {
			srv.RejectCredentials(true)
			srv.RevokeTokens()
		}
		return hubsofttest.Outcome{Status: "success", Login: fmt.Sprint("c", id)}
	})
	res = hsbatch(t, env(srv), "run", "--rate", "0", "--concurrency", "4", input)
	if res.code != exitStopped || !strings.Contains(res.stderr, "rejected the credentials") || !strings.Contains(res.stderr, "To resume") {
		t.Fatalf("mid-run rejection: exit %d, want %d\n%s", res.code, exitStopped, res.stderr)
	}
	for _, r := range readResults(t, filepath.Join(dir, "ids.results.csv")) {
		if r.Status != report.StatusSuccess {
			t.Errorf("line %d: got %s, want only successes", r.Line, r.Status)
		}
	}

	// Fixed credentials: the same command finishes the job.
	srv.RejectCredentials(false)
	if res := hsbatch(t, env(srv), "run", "--rate", "0", input); res.code != exitOK {
		t.Errorf("after the fix: exit %d\n%s", res.code, res.stderr)
	}
	for id := int64(1); id <= 100; id++ {
		if n := srv.Answered(id); n != 1 {
			t.Errorf("id %d performed %d times, want once", id, n)
		}
	}
}

func TestRevokedTokensRenewOnce(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	dir := t.TempDir()
	input := filepath.Join(dir, "ids.csv")
	var b strings.Builder
	for id := 1; id <= 200; id++ {
		fmt.Fprintln(&b, id)
	}
	writeFile(t, input, b.String())
	srv.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
		if id == 100 {
			srv.RevokeTokens() // HubSoft updates itself mid-run
		}
		return hubsofttest.Outcome{Status: "success", Login: fmt.Sprint("c", id)}
	})
	res := hsbatch(t, env(srv), "run", "--rate", "0", "--concurrency", "16", input)
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if got := srv.TokenRequests(); got != 2 {
		t.Errorf("got %d token requests, want 2 (one at start, one after the revocation)", got)
	}
}

func TestServerDownStopsResumably(t *testing.T) {
	srv := hubsofttest.NewServer()
	environ := env(srv)
	srv.Close() // nothing listens any more
	dir := t.TempDir()
	input := filepath.Join(dir, "ids.csv")
	var b strings.Builder
	for id := 1; id <= 500; id++ {
		fmt.Fprintln(&b, id)
	}
	writeFile(t, input, b.String())
	res := hsbatch(t, environ, "run", "--rate", "0", "--retries", "0", "--stop-after-failures", "5", input)
	if res.code != exitStopped || !strings.Contains(res.stderr, "To resume") {
		t.Fatalf("exit %d, want %d with a resume hint\n%s", res.code, exitStopped, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ids.results.csv")); !os.IsNotExist(err) {
		t.Errorf("a run that sent nothing left a results file (%v)", err)
	}
}

func TestSignalStopsAndResumes(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.SetLatency(20 * time.Millisecond)
	dir := t.TempDir()
	input := filepath.Join(dir, "ids.csv")
	var b strings.Builder
	for id := 1; id <= 300; id++ {
		fmt.Fprintln(&b, id)
	}
	writeFile(t, input, b.String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, stdout, stderr := command(ctx, env(srv), "run", "--rate", "100", "--concurrency", "4", input)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Let some rows finish, then interrupt as an operator's Ctrl-C would.
	waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := srv.WaitFor(waitCtx, func() bool { return srv.TotalCalls() >= 30 }); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitStopped {
		t.Fatalf("after SIGINT: %v, want exit %d\n%s", err, exitStopped, stderr)
	}
	if !strings.Contains(stderr.String(), "To resume, run:") || !strings.Contains(stderr.String(), "hsbatch run") {
		t.Errorf("stderr should print the command that resumes:\n%s", stderr)
	}
	if !strings.Contains(stdout.String(), "incomplete") {
		t.Errorf("summary should say the job is incomplete:\n%s", stdout)
	}
	rows := readResults(t, filepath.Join(dir, "ids.results.csv"))
	if srv.TotalCalls() != len(rows) {
		t.Errorf("%d calls but %d rows: every request sent before the signal must be recorded", srv.TotalCalls(), len(rows))
	}

	res := hsbatch(t, env(srv), "run", "--rate", "0", input)
	if res.code != exitOK || !strings.Contains(res.stderr, "resuming") {
		t.Fatalf("resume: exit %d\n%s", res.code, res.stderr)
	}
	for id := int64(1); id <= 300; id++ {
		if n := srv.Calls(id); n != 1 {
			t.Errorf("id %d sent %d times, want 1", id, n)
		}
	}
}

func TestSecondRunIsRefused(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	srv.InjectFaults(10, hubsofttest.FaultHang) // the first run lasts until killed
	dir := t.TempDir()
	input := filepath.Join(dir, "ids.csv")
	writeFile(t, input, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, _, _ := command(ctx, env(srv), "run", "--rate", "0", input)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	defer first.Process.Kill()
	if err := srv.WaitFor(ctx, func() bool { return srv.Calls(10) >= 1 }); err != nil {
		t.Fatal(err)
	}
	res := hsbatch(t, env(srv), "run", input)
	if res.code != exitStart || !strings.Contains(res.stderr, fmt.Sprintf("pid %d", first.Process.Pid)) {
		t.Errorf("second run: exit %d, stderr %q; want %d naming pid %d", res.code, res.stderr, exitStart, first.Process.Pid)
	}
	st := hsbatch(t, nil, "status", filepath.Join(dir, "ids.results.csv"))
	if st.code != 0 || !strings.Contains(st.stdout, "running (pid") || !strings.Contains(st.stdout, "of 10 done") {
		t.Errorf("status while running: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
}

func TestDemo(t *testing.T) {
	res := hsbatch(t, nil, "demo", "--dir", t.TempDir(), "--progress", "none")
	if res.code != exitOK || !strings.Contains(res.stdout, "The demo worked") {
		t.Fatalf("demo: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// A request that hangs holds up the first signal's graceful stop; a second
// signal quits at once, and the job is still resumable.
func TestSecondSignalQuitsAtOnce(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	dir := t.TempDir()
	input := filepath.Join(dir, "ids.csv")
	writeFile(t, input, "1\n2\n3\n4\n5\n6\n")
	srv.InjectFaults(3, hubsofttest.FaultHang)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, _, stderr := command(ctx, env(srv), "run", "--rate", "0", "--concurrency", "1", "--timeout", "5m", input)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func() bool { return srv.Calls(3) == 1 }); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitStopped {
		t.Fatalf("after two signals: %v, want exit %d\n%s", err, exitStopped, stderr)
	}
	if !strings.Contains(stderr.String(), "second signal") {
		t.Errorf("stderr should say why it quit:\n%s", stderr)
	}
	rows := readResults(t, filepath.Join(dir, "ids.results.csv"))
	if len(rows) != 2 {
		t.Errorf("got %d rows, want the 2 done before the hang", len(rows))
	}
	res := hsbatch(t, env(srv), "run", "--rate", "0", input)
	if res.code != exitOK {
		t.Fatalf("resume: exit %d\n%s", res.code, res.stderr)
	}
	// A headerless file: id 3 is on line 3.
	if r := readResults(t, filepath.Join(dir, "ids.results.csv"))[3]; r.Attempts != 2 || r.Status != "success" {
		t.Errorf("the row in flight at the kill: got %+v, want success with 2 attempts", r)
	}
}

// HubSoft goes down in the middle of a run: the run stops resumably
// without marking rows failed, and once HubSoft is back the same command
// finishes the job with every id performed once.
func TestOutageMidRunMarksNoRowFailed(t *testing.T) {
	srv := hubsofttest.NewServer()
	defer srv.Close()
	dir := t.TempDir()
	input := filepath.Join(dir, "ids.csv")
	var b strings.Builder
	for id := 1; id <= 400; id++ {
		fmt.Fprintln(&b, id)
	}
	writeFile(t, input, b.String())
	srv.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
		if id == 150 {
			srv.SetRandomFaults(1, 1, hubsofttest.FaultHTML502, hubsofttest.FaultReset)
		}
		return hubsofttest.Outcome{Status: "success", Login: fmt.Sprint("c", id)}
	})
	res := hsbatch(t, env(srv), "run", "--rate", "0", "--concurrency", "4", "--retries", "1", "--stop-after-failures", "8", input)
	if res.code != exitStopped || !strings.Contains(res.stderr, "no valid answer") {
		t.Fatalf("exit %d, want %d naming the outage\n%s", res.code, exitStopped, res.stderr)
	}
	for _, r := range readResults(t, filepath.Join(dir, "ids.results.csv")) {
		if r.Status != report.StatusSuccess {
			t.Errorf("line %d: got %s; an outage must not mark rows", r.Line, r.Status)
		}
	}

	srv.SetRandomFaults(0, 1)
	res = hsbatch(t, env(srv), "run", "--rate", "0", input)
	if res.code != exitOK {
		t.Fatalf("after HubSoft is back: exit %d\n%s", res.code, res.stderr)
	}
	if rows := readResults(t, filepath.Join(dir, "ids.results.csv")); len(rows) != 400 {
		t.Errorf("got %d rows, want 400", len(rows))
	}
	for id := int64(1); id <= 400; id++ {
		if n := srv.Answered(id); n != 1 {
			t.Errorf("id %d performed %d times, want once", id, n)
		}
	}
}
