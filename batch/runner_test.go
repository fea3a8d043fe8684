package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hsbatch/hsbatch/report"
)

// fakeSender answers from fn and counts calls per id.
type fakeSender struct {
	mu    sync.Mutex
	calls map[int64]int
	fn    func(ctx context.Context, id int64, n int) (Answer, error) // n: 1 for the first call of id
}

func (f *fakeSender) Send(ctx context.Context, id int64) (Answer, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[int64]int{}
	}
	f.calls[id]++
	n := f.calls[id]
	f.mu.Unlock()
	if f.fn == nil {
		return Answer{OK: true, Msg: "ok", Login: fmt.Sprintf("login%d", id), HTTPStatus: 200}, nil
	}
	return f.fn(ctx, id, n)
}

func (f *fakeSender) count(id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeSender) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// testErr is an error whose verdict the test chooses.
type testErr struct {
	action     Action
	retryAfter time.Duration
	throttled  bool
}

func (e testErr) Error() string { return fmt.Sprintf("test error (action %d)", e.action) }

func testClassify(err error) Verdict {
	var te testErr
	if errors.As(err, &te) {
		return Verdict{Action: te.action, RetryAfter: te.retryAfter, Throttled: te.throttled, HTTPStatus: 503}
	}
	return Verdict{Action: Fail}
}

// writeInput writes a CSV input with a header and one id per line.
func writeInput(t *testing.T, dir string, ids ...string) string {
	t.Helper()
	path := filepath.Join(dir, "in.csv")
	content := "id_cliente_servico\n" + strings.Join(ids, "\n") + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func seqIDs(from, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(from + i)
	}
	return ids
}

func openJob(t *testing.T, input string, o JobOptions) *Job {
	t.Helper()
	j, err := OpenJob(input, filepath.Join(filepath.Dir(input), "out.csv"), o)
	if err != nil {
		t.Fatalf("OpenJob: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// loadRows reads the results file into a map by input line, failing on a
// line with two rows.
func loadRows(t *testing.T, path string) map[int]report.Row {
	t.Helper()
	rows := map[int]report.Row{}
	if _, err := report.Load(path, func(r report.Row) error {
		rows[r.Line] = r
		return nil
	}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return rows
}

func newRunner(s Sender, conc int) *Runner {
	return &Runner{Sender: s, Classify: testClassify, Concurrency: conc, Retries: 3, Backoff: func(int) time.Duration { return time.Millisecond }}
}

func TestRunWritesOneRowPerLine(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "10", "abc", "11", "10", " ", "12", "0")
	s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
		if id == 11 {
			return Answer{Msg: "A desconexão não foi bem sucedida", Errors: []string{"sem comunicação"}, HTTPStatus: 200}, nil
		}
		return Answer{OK: true, Msg: "ok", Login: fmt.Sprint("l", id), HTTPStatus: 200}, nil
	}}
	j := openJob(t, input, JobOptions{})
	sum, err := newRunner(s, 3).Run(context.Background(), j)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows := loadRows(t, j.Results)
	want := map[int]struct{ status, msg string }{
		2: {report.StatusSuccess, "ok"},
		3: {report.StatusInvalid, `got "abc"`},
		4: {report.StatusError, "não foi"},
		5: {report.StatusDuplicate, "duplicate of line 2"},
		6: {report.StatusInvalid, "is empty"},
		7: {report.StatusSuccess, "ok"},
		8: {report.StatusInvalid, `got "0"`},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for line, w := range want {
		r := rows[line]
		if r.Status != w.status || !strings.Contains(r.Msg, w.msg) {
			t.Errorf("line %d: got %s %q, want %s containing %q", line, r.Status, r.Msg, w.status, w.msg)
		}
	}
	if got := rows[4].Errors; got != `["sem comunicação"]` {
		t.Errorf("errors: got %s", got)
	}
	if got := rows[2]; got.Login != "l10" || got.HTTPStatus != 200 || got.Attempts != 1 || got.FinishedAt == "" {
		t.Errorf("line 2: got %+v", got)
	}
	b, _ := os.ReadFile(j.Results)
	var order []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		order = append(order, strings.SplitN(l, ",", 2)[0])
	}
	if got := strings.Join(order, " "); got != "2 3 4 5 6 7 8" {
		t.Errorf("a complete job's rows are in order %s, want input order", got)
	}
	if _, err := os.Stat(InflightPath(j.Results)); !os.IsNotExist(err) {
		t.Errorf("a complete job keeps its attempts journal: %v", err)
	}
	for _, id := range []int64{10, 11, 12} {
		if n := s.count(id); n != 1 {
			t.Errorf("id %d sent %d times, want 1", id, n)
		}
	}
	if s.total() != 3 {
		t.Errorf("got %d sends, want 3", s.total())
	}
	if !sum.Complete() || sum.Counts.Success != 2 || sum.Counts.Invalid != 3 || sum.Counts.Duplicate != 1 || sum.Counts.Error != 1 {
		t.Errorf("summary: got %+v", sum.Counts)
	}
}

func TestRunRetries(t *testing.T) {
	tests := []struct {
		name         string
		failures     int // retryable failures before an answer
		action       Action
		wantStatus   string
		wantAttempts int
	}{
		{"answer after two failures", 2, Retry, report.StatusSuccess, 3},
		{"retries exhausted", 10, Retry, report.StatusFailed, 4},
		{"not retryable", 10, Fail, report.StatusFailed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := writeInput(t, t.TempDir(), "7")
			s := &fakeSender{fn: func(_ context.Context, id int64, n int) (Answer, error) {
				if n <= tt.failures {
					return Answer{}, testErr{action: tt.action}
				}
				return Answer{OK: true, HTTPStatus: 200}, nil
			}}
			j := openJob(t, input, JobOptions{})
			if _, err := newRunner(s, 2).Run(context.Background(), j); err != nil {
				t.Fatalf("Run: %v", err)
			}
			r := loadRows(t, j.Results)[2]
			if r.Status != tt.wantStatus || r.Attempts != tt.wantAttempts {
				t.Errorf("got %s after %d attempts, want %s after %d", r.Status, r.Attempts, tt.wantStatus, tt.wantAttempts)
			}
			if tt.wantStatus == report.StatusFailed && (!strings.Contains(r.Msg, "test error") || r.HTTPStatus != 503) {
				t.Errorf("failed row: got msg %q http %d", r.Msg, r.HTTPStatus)
			}
		})
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	for n := 1; n <= 12; n++ {
		d := min(30*time.Second, 500*time.Millisecond<<min(n-1, 10))
		for range 50 {
			got := Backoff(n)
			if got < d/2 || got > d {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", n, got, d/2, d)
			}
		}
	}
}

func TestRetryAfterPausesEveryWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		input := writeInput(t, t.TempDir(), seqIDs(1, 40)...)
		var mu sync.Mutex
		var starts []time.Duration
		t0 := time.Now()
		s := &fakeSender{fn: func(_ context.Context, id int64, n int) (Answer, error) {
			mu.Lock()
			starts = append(starts, time.Since(t0))
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			if id == 3 && n == 1 {
				return Answer{}, testErr{action: Retry, retryAfter: 10 * time.Second}
			}
			return Answer{OK: true, HTTPStatus: 200}, nil
		}}
		j := openJob(t, input, JobOptions{})
		if _, err := newRunner(s, 4).Run(context.Background(), j); err != nil {
			t.Fatalf("Run: %v", err)
		}
		// id 3's 429 arrives at 100ms. Requests already sent may finish, but
		// none may start between then and 10.1s.
		for _, st := range starts {
			if st > 100*time.Millisecond && st < 10100*time.Millisecond {
				t.Errorf("a request started at %s, inside the Retry-After pause", st)
			}
		}
		if got := loadRows(t, j.Results)[4]; got.Status != report.StatusSuccess || got.Attempts != 2 {
			t.Errorf("id 3: got %s after %d attempts, want success after 2", got.Status, got.Attempts)
		}
	})
}

func TestStopLeavesRowsToDo(t *testing.T) {
	input := writeInput(t, t.TempDir(), seqIDs(1, 50)...)
	s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
		if id == 20 {
			return Answer{}, testErr{action: Stop}
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}}
	j := openJob(t, input, JobOptions{})
	sum, err := newRunner(s, 1).Run(context.Background(), j)
	if !errors.As(err, new(testErr)) {
		t.Fatalf("Run: got %v, want the stop error", err)
	}
	rows := loadRows(t, j.Results)
	if _, ok := rows[21]; ok {
		t.Errorf("the row that stopped the run was written: %+v", rows[21])
	}
	for _, r := range rows {
		if r.Status != report.StatusSuccess {
			t.Errorf("line %d: got %s, want success (a stop must not fail rows)", r.Line, r.Status)
		}
	}
	if sum.Complete() || sum.Done() != len(rows) {
		t.Errorf("summary: got done %d complete %v, want %d, false", sum.Done(), sum.Complete(), len(rows))
	}
}

func TestOutageStopsWithoutFailingRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		input := writeInput(t, t.TempDir(), seqIDs(1, 1000)...)
		s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
			time.Sleep(10 * time.Millisecond)
			if id <= 30 {
				return Answer{OK: true, HTTPStatus: 200}, nil
			}
			return Answer{}, testErr{action: Retry} // the server went down
		}}
		j := openJob(t, input, JobOptions{})
		r := newRunner(s, 4)
		r.FailStreak = 10
		sum, err := r.Run(context.Background(), j)
		var out *OutageError
		if !errors.As(err, &out) {
			t.Fatalf("Run: got %v, want an OutageError", err)
		}
		if sum.Counts.Failed != 0 || sum.Counts.Success != 30 {
			t.Errorf("got %+v, want the 30 rows before the outage and no row marked failed", sum.Counts)
		}
		if s.total() > 30+(10+4)*(r.Retries+1) {
			t.Errorf("got %d sends, want at most %d", s.total(), 30+(10+4)*(r.Retries+1))
		}
	})
}

func TestHeldFailuresAreWrittenWhenTheServerAnswers(t *testing.T) {
	tests := []struct {
		name   string
		failed func(id int64) bool
	}{
		{"streak broken by an answer", func(id int64) bool { return id >= 3 && id <= 6 }},
		{"streak at the end of the input", func(id int64) bool { return id >= 7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := writeInput(t, t.TempDir(), seqIDs(1, 10)...)
			s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
				if tt.failed(id) {
					return Answer{}, testErr{action: Fail}
				}
				return Answer{OK: true, HTTPStatus: 200}, nil
			}}
			j := openJob(t, input, JobOptions{})
			r := newRunner(s, 1)
			r.FailStreak = 5
			sum, err := r.Run(context.Background(), j)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			rows := loadRows(t, j.Results)
			for id := int64(1); id <= 10; id++ {
				want := report.StatusSuccess
				if tt.failed(id) {
					want = report.StatusFailed
				}
				if got := rows[int(id)+1].Status; got != want {
					t.Errorf("id %d: got %q, want %s", id, got, want)
				}
			}
			if !sum.Complete() {
				t.Errorf("summary: got %d of %d done", sum.Done(), sum.Total)
			}
		})
	}
}

func TestThrottlingPausesEveryoneAndSparesRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		input := writeInput(t, t.TempDir(), seqIDs(1, 20)...)
		var mu sync.Mutex
		var starts []time.Duration
		t0 := time.Now()
		s := &fakeSender{fn: func(_ context.Context, id int64, n int) (Answer, error) {
			mu.Lock()
			starts = append(starts, time.Since(t0))
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			if id == 2 && n <= 6 { // throttled six times, more than --retries
				return Answer{}, testErr{action: Retry, throttled: true}
			}
			return Answer{OK: true, HTTPStatus: 200}, nil
		}}
		r := newRunner(s, 4)
		r.Backoff = func(int) time.Duration { return 5 * time.Second }
		j := openJob(t, input, JobOptions{})
		if _, err := r.Run(context.Background(), j); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := loadRows(t, j.Results)[3]; got.Status != report.StatusSuccess || got.Attempts != 7 {
			t.Errorf("id 2: got %s after %d attempts, want success after 7", got.Status, got.Attempts)
		}
		// The first 429 (no Retry-After) arrives at 100ms: nobody starts a
		// request for the backoff that follows.
		for _, st := range starts {
			if st > 100*time.Millisecond && st < 5100*time.Millisecond {
				t.Errorf("a request started at %s, inside the throttle pause", st)
			}
		}
	})
}

// slowLimiter lets one request through every interval, like rate.Limiter.
type slowLimiter struct {
	mu    sync.Mutex
	next  time.Time
	every time.Duration
}

func (l *slowLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.every)
	l.mu.Unlock()
	return sleep(ctx, at.Sub(now))
}

func TestRetryAfterStopsWorkersQueuedInTheLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		input := writeInput(t, t.TempDir(), seqIDs(1, 12)...)
		var mu sync.Mutex
		var starts []time.Duration
		var throttledAt time.Duration
		t0 := time.Now()
		s := &fakeSender{fn: func(_ context.Context, id int64, n int) (Answer, error) {
			mu.Lock()
			starts = append(starts, time.Since(t0))
			mu.Unlock()
			if id == 1 && n == 1 {
				// Slow, so that the other workers queue in the limiter.
				time.Sleep(1200 * time.Millisecond)
				mu.Lock()
				throttledAt = time.Since(t0)
				mu.Unlock()
				return Answer{}, testErr{action: Retry, retryAfter: 10 * time.Second, throttled: true}
			}
			return Answer{OK: true, HTTPStatus: 200}, nil
		}}
		r := newRunner(s, 4)
		r.Limiter = &slowLimiter{every: 500 * time.Millisecond}
		j := openJob(t, input, JobOptions{})
		if _, err := r.Run(context.Background(), j); err != nil {
			t.Fatalf("Run: %v", err)
		}
		for _, st := range starts {
			if st > throttledAt && st < throttledAt+10*time.Second {
				t.Errorf("a request started at %s, inside the Retry-After pause from %s", st, throttledAt)
			}
		}
	})
}

func TestInputChangedAfterOpenStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, seqIDs(1, 10)...)
	j := openJob(t, input, JobOptions{})
	// Changed in place, as an editor that does not rename would.
	if err := os.WriteFile(input, []byte("id_cliente_servico\n900\n901\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &fakeSender{}
	sum, err := newRunner(s, 2).Run(context.Background(), j)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("Run: got %v, want an InputError saying the file changed", err)
	}
	if sum.Complete() {
		t.Errorf("the summary says complete")
	}
	if s.total() != 0 {
		t.Errorf("got %d sends (id 900: %d), want none from a file that is not the one scanned", s.total(), s.count(900))
	}
}

func TestInputAppendedAfterOpenIsNotRead(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, seqIDs(1, 10)...)
	j := openJob(t, input, JobOptions{})
	f, err := os.OpenFile(input, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("5\n777\n")
	f.Close()
	s := &fakeSender{}
	sum, err := newRunner(s, 2).Run(context.Background(), j)
	if err != nil || !sum.Complete() {
		t.Fatalf("Run: got %v, complete %v; want the 10 scanned rows done", err, sum.Complete())
	}
	if s.count(777) != 0 || s.count(5) != 1 || len(loadRows(t, j.Results)) != 10 {
		t.Errorf("got id 777 sent %d times and id 5 %d times; want 0 and 1", s.count(777), s.count(5))
	}
}

// A change deep in a large file is caught at the block it is in: rows of
// the blocks before it were checked and sent; none after it.
func TestInputChangedInALaterBlock(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("id_cliente_servico;obs\n")
	pad := strings.Repeat("x", 1000)
	for id := 1; b.Len() < 3*blockSize; id++ {
		fmt.Fprintf(&b, "%d;%s\n", id, pad)
	}
	if err := os.WriteFile(input, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	j := openJob(t, input, JobOptions{})
	f, err := os.OpenFile(input, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("y"), 2*blockSize+100) // in the third block
	f.Close()
	s := &fakeSender{}
	_, err = newRunner(s, 8).Run(context.Background(), j)
	if !errors.Is(err, errChanged) {
		t.Fatalf("Run: got %v, want the file-changed error", err)
	}
	perRow := b.Len() / j.Plan.Rows
	if n := s.total(); n == 0 || n > 2*blockSize/perRow+1 {
		t.Errorf("got %d sends, want those of the first two blocks at most (%d)", n, 2*blockSize/perRow+1)
	}
}

func TestInputReplacedAfterOpenIsNotRead(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, seqIDs(1, 10)...)
	j := openJob(t, input, JobOptions{})
	// Replaced by rename, as most editors and cp to a temp file do: the job
	// still reads the file it scanned.
	other := filepath.Join(dir, "other.csv")
	if err := os.WriteFile(other, []byte("id_cliente_servico\n900\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, input); err != nil {
		t.Fatal(err)
	}
	s := &fakeSender{}
	if _, err := newRunner(s, 2).Run(context.Background(), j); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.count(900) != 0 || s.total() != 10 {
		t.Errorf("got %d sends (%d of id 900), want the 10 ids scanned", s.total(), s.count(900))
	}
}

func TestInterruptFinishesRequestsInFlight(t *testing.T) {
	input := writeInput(t, t.TempDir(), seqIDs(1, 100)...)
	ctx, cancel := context.WithCancel(context.Background())
	inFlight := make(chan int64, 100)
	release := make(chan struct{})
	s := &fakeSender{fn: func(reqCtx context.Context, id int64, _ int) (Answer, error) {
		inFlight <- id
		<-release
		if reqCtx.Err() != nil {
			return Answer{}, reqCtx.Err()
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}}
	j := openJob(t, input, JobOptions{})
	done := make(chan error)
	var sum *report.Summary
	go func() {
		var err error
		sum, err = newRunner(s, 4).Run(ctx, j)
		done <- err
	}()
	var sent []int64
	for range 4 {
		sent = append(sent, <-inFlight)
	}
	cancel()
	close(release)
	if err := <-done; !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run: got %v, want ErrInterrupted", err)
	}
	rows := loadRows(t, j.Results)
	for _, id := range sent {
		if r, ok := rows[int(id)+1]; !ok || r.Status != report.StatusSuccess {
			t.Errorf("id %d was in flight at the signal: got row %+v, want success", id, r)
		}
	}
	if s.total() != len(rows) {
		t.Errorf("got %d sends and %d rows; every send must be recorded", s.total(), len(rows))
	}
	if sum.Done() != len(rows) || sum.Complete() {
		t.Errorf("summary: got done %d, want %d and incomplete", sum.Done(), len(rows))
	}
}

func TestResumeSendsOnlyWhatIsLeft(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, seqIDs(1, 200)...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &fakeSender{}
	s.fn = func(_ context.Context, id int64, _ int) (Answer, error) {
		if id == 50 {
			cancel()
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}
	j := openJob(t, input, JobOptions{})
	if _, err := newRunner(s, 4).Run(ctx, j); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first run: got %v, want ErrInterrupted", err)
	}
	j.Close()
	first := s.total()

	j2 := openJob(t, input, JobOptions{})
	if !j2.Resumed || j2.Prior().Total() != first {
		t.Fatalf("reopened: got resumed %v with %d rows, want %d", j2.Resumed, j2.Prior().Total(), first)
	}
	sum, err := newRunner(s, 4).Run(context.Background(), j2)
	if err != nil || !sum.Complete() {
		t.Fatalf("second run: got %v, complete %v", err, sum.Complete())
	}
	if sum.Sent != 200-first {
		t.Errorf("second run sent %d rows, want %d", sum.Sent, 200-first)
	}
	for id := int64(1); id <= 200; id++ {
		if n := s.count(id); n != 1 {
			t.Errorf("id %d sent %d times, want 1", id, n)
		}
	}
	if rows := loadRows(t, j2.Results); len(rows) != 200 {
		t.Errorf("got %d rows, want 200", len(rows))
	}
}

// countingLimiter counts the waits: every attempt must be paced.
type countingLimiter struct {
	mu sync.Mutex
	n  int
}

func (l *countingLimiter) Wait(context.Context) error {
	l.mu.Lock()
	l.n++
	l.mu.Unlock()
	return nil
}

func TestEveryAttemptIsPaced(t *testing.T) {
	input := writeInput(t, t.TempDir(), seqIDs(1, 20)...)
	s := &fakeSender{fn: func(_ context.Context, id int64, n int) (Answer, error) {
		if id%2 == 0 && n == 1 {
			return Answer{}, testErr{action: Retry}
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}}
	lim := &countingLimiter{}
	r := newRunner(s, 3)
	r.Limiter = lim
	j := openJob(t, input, JobOptions{})
	if _, err := r.Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if lim.n != s.total() || lim.n != 30 {
		t.Errorf("got %d limiter waits for %d sends, want 30 each", lim.n, s.total())
	}
}

func TestWriteErrorStopsTheRun(t *testing.T) {
	input := writeInput(t, t.TempDir(), seqIDs(1, 10)...)
	j := openJob(t, input, JobOptions{})
	j.writer.Close() // every Commit now fails, as on a dead disk
	_, err := newRunner(&fakeSender{}, 2).Run(context.Background(), j)
	var we *WriteError
	if !errors.As(err, &we) || we.Path != j.Results {
		t.Fatalf("Run: got %v, want a WriteError for %s", err, j.Results)
	}
	if !strings.Contains(err.Error(), "free space") {
		t.Errorf("message %q should tell the operator what to do", err)
	}
}

func TestProgressReportsDurableRows(t *testing.T) {
	input := writeInput(t, t.TempDir(), seqIDs(1, 30)...)
	var seen []int
	r := newRunner(&fakeSender{}, 4)
	r.OnProgress = func(p Progress) {
		if p.Total != 30 {
			t.Errorf("progress total: got %d, want 30", p.Total)
		}
		seen = append(seen, p.Done)
	}
	j := openJob(t, input, JobOptions{})
	if _, err := r.Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || seen[len(seen)-1] != 30 || !slices.IsSorted(seen) {
		t.Errorf("progress: got %v, want increasing to 30", seen)
	}
}

// Rows the server answers with something that is not HubSoft's (a 404 for
// an unknown id, say) count in a failure streak, but when the streak stops
// the run they are written as failed: each resume gets past them.
func TestAnsweredFailuresDoNotStallResumes(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, seqIDs(1, 40)...)
	s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
		if id >= 10 && id <= 34 {
			return Answer{}, testErr{action: Fail}
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}}
	r := newRunner(s, 1)
	r.FailStreak = 5
	for run := 1; ; run++ {
		if run > 10 {
			t.Fatal("the job never finished: resumes make no progress")
		}
		j := openJob(t, input, JobOptions{})
		sum, err := r.Run(context.Background(), j)
		j.Close()
		if err == nil {
			if sum.Counts.Failed != 25 || sum.Counts.Success != 15 {
				t.Errorf("got %+v, want 25 failed and 15 successes", sum.Counts)
			}
			break
		}
		if !errors.As(err, new(*OutageError)) {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	for id := int64(1); id <= 40; id++ {
		if n := s.count(id); n != 1 {
			t.Errorf("id %d sent %d times, want 1", id, n)
		}
	}
}

func TestEndlessThrottlingStopsTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		input := writeInput(t, t.TempDir(), seqIDs(1, 10)...)
		s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
			if id == 1 {
				return Answer{OK: true, HTTPStatus: 200}, nil
			}
			return Answer{}, testErr{action: Retry, retryAfter: time.Minute, throttled: true} // maintenance mode
		}}
		j := openJob(t, input, JobOptions{})
		start := time.Now()
		sum, err := newRunner(s, 2).Run(context.Background(), j)
		var out *OutageError
		if !errors.As(err, &out) || !strings.Contains(err.Error(), "throttled every request") {
			t.Fatalf("Run: got %v, want an OutageError for throttling", err)
		}
		if d := time.Since(start); d > maxThrottleSpell+2*time.Minute {
			t.Errorf("stopped after %s, want about %s", d, maxThrottleSpell)
		}
		if sum.Counts.Failed != 0 || sum.Done() != 1 {
			t.Errorf("got %+v, want only the one answered row and none failed", sum.Counts)
		}
	})
}

// A signal during a failure streak leaves the held rows to do: they got no
// valid answer, and the resume sends them.
func TestInterruptLeavesHeldRowsToDo(t *testing.T) {
	input := writeInput(t, t.TempDir(), seqIDs(1, 20)...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
		if id == 3 {
			cancel()
		}
		if id >= 2 {
			return Answer{}, testErr{action: Retry}
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}}
	r := newRunner(s, 1)
	r.Retries = 0
	r.FailStreak = 1000 // never reached: the signal ends the streak
	j := openJob(t, input, JobOptions{})
	sum, err := r.Run(ctx, j)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run: got %v, want ErrInterrupted", err)
	}
	if sum.Counts.Failed != 0 || sum.Done() != 1 {
		t.Errorf("got %+v, want the one success and no failed row", sum.Counts)
	}
}

func TestOnPauseTellsWhenThrottlingHoldsEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		input := writeInput(t, t.TempDir(), seqIDs(1, 5)...)
		s := &fakeSender{fn: func(_ context.Context, id int64, n int) (Answer, error) {
			if id == 2 && n == 1 {
				return Answer{}, testErr{action: Retry, retryAfter: 30 * time.Second, throttled: true}
			}
			return Answer{OK: true, HTTPStatus: 200}, nil
		}}
		var mu sync.Mutex
		var pauses []time.Time
		r := newRunner(s, 1)
		r.OnPause = func(until time.Time) {
			mu.Lock()
			pauses = append(pauses, until)
			mu.Unlock()
		}
		start := time.Now()
		j := openJob(t, input, JobOptions{})
		if _, err := r.Run(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		if len(pauses) != 1 || !pauses[0].Equal(start.Add(30*time.Second)) {
			t.Errorf("got pauses %v, want one until %v", pauses, start.Add(30*time.Second))
		}
	})
}

// The file is rewritten in place with the same bytes (cp backup over it)
// during the run, and the reader reaches a block boundary while it is
// short: the run must stop, not cut the id at the boundary in two.
func TestInputCutShortDuringRunSendsNoPieces(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.csv")
	var b bytes.Buffer
	b.WriteString("id_cliente_servico;obs\n")
	pad := strings.Repeat("x", 2000)
	id := 1000000
	for b.Len() < blockSize-4000 {
		fmt.Fprintf(&b, "%d;%s\n", id, pad)
		id++
	}
	fill := blockSize - b.Len() - 3 - len("1;\n")
	fmt.Fprintf(&b, "1;%s\n", strings.Repeat("z", fill))
	fmt.Fprintf(&b, "7654321;%s\n", pad) // block boundary after "765"
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "%d;%s\n", id, pad)
		id++
	}
	orig := b.Bytes()
	if err := os.WriteFile(input, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	j := openJob(t, input, JobOptions{})
	s := &fakeSender{fn: func(_ context.Context, id int64, n int) (Answer, error) {
		switch id {
		case 1000000:
			os.Truncate(input, 0) // cp opens with O_TRUNC...
		case 1:
			time.Sleep(20 * time.Millisecond)
			os.WriteFile(input, orig, 0o600) // ...and writes the same bytes back
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}}
	_, err := newRunner(s, 1).Run(context.Background(), j)
	if !errors.Is(err, errChanged) {
		t.Errorf("Run: got %v, want the file-changed error", err)
	}
	for _, bad := range []int64{765, 4321} {
		if s.count(bad) > 0 {
			t.Errorf("id %d, a piece of id 7654321, was sent", bad)
		}
	}
}
