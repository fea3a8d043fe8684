// Package batch runs a job: every row of an input file, through a
// rate-limited pool of workers, into a results file that is also the
// job's checkpoint.
//
// batch knows nothing of HTTP or of the terminal. It sends rows through a
// Sender, asks Classify what an error means, paces with a Limiter and
// reports progress through a callback.
package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/hsbatch/hsbatch/report"
)

// Answer is the server's answer to one row: the disconnect succeeded (OK)
// or the server said it did not.
type Answer struct {
	OK         bool
	Msg        string
	Login      string
	Errors     []string
	HTTPStatus int
}

// Sender sends one row's request. It must be safe for concurrent use. A nil
// error means the server answered; any other outcome is an error that
// Classify judges.
type Sender interface {
	Send(ctx context.Context, id int64) (Answer, error)
}

// Action is what the runner does about an error.
type Action int

const (
	// Retry the row after a backoff, while retries remain.
	Retry Action = iota
	// Fail the row: it is written as failed.
	Fail
	// Stop the run: nothing will succeed until an operator acts. The row
	// is left to do, and the run can be resumed.
	Stop
)

// Verdict is Classify's judgement of an error.
type Verdict struct {
	Action     Action
	RetryAfter time.Duration // > 0: the server asked every client to wait
	HTTPStatus int
}

// Limiter paces requests; *rate.Limiter satisfies it.
type Limiter interface {
	Wait(ctx context.Context) error
}

var _ Limiter = (*rate.Limiter)(nil)

// Progress is a snapshot of a running job.
type Progress struct {
	Done   int // rows with a durable result, this run and earlier ones
	Total  int
	Sent   int // rows finished by this run
	Counts report.Counts
}

// Runner runs jobs. Its fields must not change during Run.
type Runner struct {
	Sender   Sender
	Classify func(error) Verdict
	// Limiter paces every attempt, retries included. Nil means unlimited.
	Limiter     Limiter
	Concurrency int // workers; at least 1
	Retries     int // further attempts after the first, for retryable errors
	// Backoff is the wait before retry n (1, 2, ...). Nil means
	// exponential from 500 ms to 30 s, with jitter.
	Backoff func(n int) time.Duration
	// FailStreak stops the run when this many rows in a row end as failed,
	// with no HubSoft answer between them: the server is down, and
	// carrying on would mark every remaining row failed. 0 disables.
	FailStreak int
	// OnProgress, if set, is called after each group of rows is durable.
	// It may be called from any goroutine, but never concurrently.
	OnProgress func(Progress)
}

// OutageError stops a run after FailStreak failed rows in a row.
type OutageError struct {
	Streak int
	Last   error
}

func (e *OutageError) Error() string {
	return fmt.Sprintf("the last %d rows got no valid answer from HubSoft (last: %v); it looks down or misconfigured, so the run stopped rather than mark every row failed", e.Streak, e.Last)
}

func (e *OutageError) Unwrap() error { return e.Last }

// WriteError is a results file that could not be written: a full disk, a
// read-only mount. The rows not yet written are simply not done.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("cannot write results to %s: %v (free space or fix the disk; the results so far are safe)", e.Path, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// ErrInterrupted is returned when the caller's context ended the run early.
var ErrInterrupted = errors.New("interrupted")

// groupMax bounds how many rows share one fsync.
const groupMax = 1024

// Run sends every row of j that is not done yet and writes its result.
//
// Cancelling ctx stops the feeding of new rows; requests already sent
// finish (each bounded by the Sender's timeout) and their results are
// written before Run returns ErrInterrupted. Any other error means the run
// stopped for a cause that holds for every row (see Stop, OutageError,
// WriteError). Either way the job can be resumed, and the summary counts
// every durable row.
func (r *Runner) Run(ctx context.Context, j *Job) (*report.Summary, error) {
	start := time.Now()
	conc := max(1, r.Concurrency)
	sum := &report.Summary{Input: j.Input, Results: j.Results, Total: j.Plan.Rows, Counts: j.counts}

	f, err := os.Open(j.Input)
	if err != nil {
		return sum, &InputError{j.Input, err}
	}
	defer f.Close()
	rd, err := NewReader(f)
	if err != nil {
		return sum, &InputError{j.Input, err}
	}

	// g's context ends when a goroutine meets a systemic error. A signal
	// (ctx) or such an error stops the producer and the waits between
	// attempts; requests already sent run to their answer (bounded by the
	// Sender's timeout) and are written, since a request that was sent and
	// not recorded would be sent again on resume.
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	stopCtx, stopFeeding := context.WithCancel(gctx)
	defer stopFeeding()
	context.AfterFunc(ctx, stopFeeding)
	reqCtx := context.WithoutCancel(ctx)

	jobs := make(chan Row)
	// slots bounds the rows sent but not yet durable: a crash resends at
	// most Concurrency rows. Every row in results holds a slot, so sends to
	// results never block.
	slots := make(chan struct{}, conc)
	results := make(chan report.Row, conc)
	st := &state{r: r, j: j, gate: &gate{}}

	g.Go(func() error {
		return r.write(j, results, slots, sum)
	})
	var senders sync.WaitGroup
	senders.Add(1)
	g.Go(func() error {
		defer senders.Done()
		defer close(jobs)
		return r.produce(stopCtx, rd, j, jobs, results, slots)
	})
	for range conc {
		senders.Add(1)
		g.Go(func() error {
			defer senders.Done()
			for row := range jobs {
				res, ok, err := st.do(stopCtx, reqCtx, row)
				if !ok {
					<-slots // left to do
				} else {
					results <- res
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		senders.Wait()
		close(results)
		return nil
	})
	err = g.Wait()
	if err == nil && sum.Complete() {
		err = j.finish()
	}
	sum.Elapsed = time.Since(start)
	if err == nil && ctx.Err() != nil && !sum.Complete() {
		err = ErrInterrupted
	}
	if err != nil {
		sum.Stopped = err.Error()
	}
	return sum, err
}

// produce feeds rows that are not done to the workers, and writes the
// rows that need no request (invalid, duplicate) straight to results.
func (r *Runner) produce(stopCtx context.Context, rd *Reader, j *Job, jobs chan<- Row, results chan<- report.Row, slots chan struct{}) error {
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &InputError{j.Input, err}
		}
		if j.done.Has(row.Line) {
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-stopCtx.Done():
			return nil
		}
		res, send := j.prepare(row)
		if send {
			select {
			case jobs <- row:
			case <-stopCtx.Done():
				<-slots
				return nil
			}
			continue
		}
		results <- res
	}
}

// prepare returns the result of a row that must not be sent, or send=true.
func (j *Job) prepare(row Row) (res report.Row, send bool) {
	res = report.Row{Line: row.Line, ID: row.Raw, FinishedAt: time.Now().UTC().Format(report.TimeFormat)}
	switch first, dup := j.Plan.Dups[row.ID]; {
	case row.ID == 0:
		res.Status, res.Msg = report.StatusInvalid, InvalidReason(row.Raw)
	case dup && first != row.Line:
		res.Status, res.Msg = report.StatusDuplicate, "duplicate of line "+strconv.Itoa(first)+"; sent only once"
	default:
		return res, true
	}
	return res, false
}

// write is the only writer of the results file. It commits rows in groups
// (one fsync for all the rows that are waiting), and only then frees their
// slots and counts them done.
func (r *Runner) write(j *Job, results <-chan report.Row, slots <-chan struct{}, sum *report.Summary) error {
	group := make([]report.Row, 0, groupMax)
	for row := range results {
		group = append(group[:0], row)
	drain:
		for len(group) < groupMax {
			select {
			case row, ok := <-results:
				if !ok {
					break drain
				}
				group = append(group, row)
			default:
				break drain
			}
		}
		if err := j.writer.Commit(group); err != nil {
			return &WriteError{Path: j.Results, Err: err}
		}
		for _, row := range group {
			sum.Counts.Add(row.Status)
			<-slots
		}
		sum.Sent += len(group)
		if r.OnProgress != nil {
			r.OnProgress(Progress{Done: sum.Done(), Total: sum.Total, Sent: sum.Sent, Counts: sum.Counts})
		}
	}
	return nil
}

// state is what the workers share.
type state struct {
	r      *Runner
	j      *Job
	gate   *gate
	streak atomic.Int64
}

// do sends one row, with retries. It returns ok=false when the run is
// stopping and the row was left to do, and an error when the whole run
// must stop.
func (s *state) do(stopCtx, reqCtx context.Context, row Row) (report.Row, bool, error) {
	r := s.r
	res := report.Row{Line: row.Line, ID: strconv.FormatInt(row.ID, 10)}
	start := time.Now()
	var err error
	for {
		if s.gate.wait(stopCtx) != nil {
			return res, false, nil
		}
		if r.Limiter != nil && r.Limiter.Wait(stopCtx) != nil {
			return res, false, nil
		}
		if err := s.j.attempt(row.Line); err != nil {
			return res, false, &WriteError{Path: InflightPath(s.j.Results), Err: err}
		}
		res.Attempts++
		var ans Answer
		ans, err = r.Sender.Send(reqCtx, row.ID)
		if err == nil {
			s.streak.Store(0)
			res.Status = report.StatusError
			if ans.OK {
				res.Status = report.StatusSuccess
			}
			res.Msg, res.Login, res.Errors, res.HTTPStatus = ans.Msg, ans.Login, report.ErrorsJSON(ans.Errors), report.Int(ans.HTTPStatus)
			break
		}
		v := r.Classify(err)
		res.HTTPStatus = report.Int(v.HTTPStatus)
		if v.Action == Stop {
			return res, false, err
		}
		if v.Action == Fail || res.Attempts > r.Retries {
			res.Status, res.Msg = report.StatusFailed, err.Error()
			if n := s.streak.Add(1); r.FailStreak > 0 && n >= int64(r.FailStreak) {
				return res, false, &OutageError{Streak: int(n), Last: err}
			}
			break
		}
		wait := r.backoff(res.Attempts)
		if v.RetryAfter > 0 {
			s.gate.hold(v.RetryAfter)
			wait = 0
		}
		if sleep(stopCtx, wait) != nil {
			return res, false, nil
		}
	}
	res.Attempts += s.j.prior[row.Line]
	res.DurationMS = time.Since(start).Milliseconds()
	res.FinishedAt = time.Now().UTC().Format(report.TimeFormat)
	return res, true, nil
}

func (r *Runner) backoff(n int) time.Duration {
	if r.Backoff != nil {
		return r.Backoff(n)
	}
	return Backoff(n)
}

// Backoff is the default wait before retry n: 500 ms doubling to at most
// 30 s, of which a random half is jitter, so that workers that failed
// together do not retry together.
func Backoff(n int) time.Duration {
	const base, ceiling = 500 * time.Millisecond, 30 * time.Second
	d := ceiling
	if n < 10 {
		d = min(ceiling, base<<(n-1))
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gate pauses every worker until a moment the server named in Retry-After.
type gate struct {
	mu    sync.Mutex
	until time.Time
}

// hold closes the gate for d from now, or longer if it is already closed
// for longer.
func (g *gate) hold(d time.Duration) {
	t := time.Now().Add(d)
	g.mu.Lock()
	if t.After(g.until) {
		g.until = t
	}
	g.mu.Unlock()
}

// wait returns when the gate is open, or ctx is done.
func (g *gate) wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		d := time.Until(g.until)
		g.mu.Unlock()
		if d <= 0 {
			return ctx.Err()
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}
