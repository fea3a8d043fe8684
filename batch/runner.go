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
	// Throttled: the server is shedding load (429, 503 with Retry-After).
	// Every worker pauses, and the attempt does not count against the
	// row's retries.
	Throttled  bool
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
	// OnPause, if set, is called when the server's throttling pauses
	// every worker until the given time. It may be called concurrently.
	OnPause func(until time.Time)
}

// OutageError stops a run after FailStreak failed rows in a row, or after
// a throttle spell longer than maxThrottleSpell (Streak 0).
type OutageError struct {
	Streak int
	Last   error
}

func (e *OutageError) Error() string {
	if e.Streak == 0 {
		return fmt.Sprintf("%v; the run stopped, resumably", e.Last)
	}
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

// maxThrottleSpell is how long the server may throttle every request (429,
// or 503 with Retry-After, as Laravel's maintenance mode answers) with no
// real answer in between, before the run stops as in an outage. Throttled
// attempts do not use up a row's --retries, since a throttle says nothing
// about the row; this bounds them instead.
const maxThrottleSpell = 15 * time.Minute

// queued is a row on its way to the results file. Rows just answered hold
// a slot until they are durable; others (invalid, duplicate, held-back
// failures) hold none.
type queued struct {
	row  report.Row
	slot bool
}

// Run sends every row of j that is not done yet and writes its result.
//
// Cancelling ctx stops the feeding of new rows; requests already sent
// finish (each bounded by the Sender's timeout) and their results are
// written before Run returns ErrInterrupted. Any other error means the run
// stopped for a cause that holds for every row (see Stop, OutageError,
// WriteError, InputError). Either way the job can be resumed, and the
// summary counts every durable row. Run returns nil only when every row of
// the input has its result.
func (r *Runner) Run(ctx context.Context, j *Job) (*report.Summary, error) {
	start := time.Now()
	conc := max(1, r.Concurrency)
	sum := &report.Summary{Input: j.Input, Results: j.Results, Total: j.Plan.Rows, Counts: j.counts}

	in, err := j.openInput()
	if err != nil {
		return sum, err
	}

	// g's context ends when a goroutine meets a systemic error. A signal
	// (ctx) or such an error stops the producer and the waits between
	// attempts; requests already sent run to their answer (bounded by the
	// Sender's timeout) and are written, since a request that was sent and
	// not recorded would be sent again on resume.
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	stopCtx, stopFeeding := context.WithCancel(gctx)
	defer stopFeeding()
	defer context.AfterFunc(ctx, stopFeeding)()
	reqCtx := context.WithoutCancel(ctx)

	jobs := make(chan Row)
	// slots bounds the rows sent but not yet durable: a crash resends at
	// most Concurrency rows. (Failed rows held back while an outage is in
	// doubt give their slot back; see state.fail.) A send to results waits
	// only while the writer catches up, and gives up once the writer is
	// gone (writerDone).
	slots := make(chan struct{}, conc)
	results := make(chan queued, conc+256)
	writerDone := make(chan struct{})
	st := &state{r: r, j: j, start: start, gate: &gate{onHold: r.OnPause}, slots: slots, results: results, writerDone: writerDone, stop: stopFeeding}
	st.lastAnswer.Store(int64(time.Since(start)))

	g.Go(func() error {
		defer close(writerDone)
		return r.write(j, results, slots, sum)
	})
	var senders sync.WaitGroup
	senders.Add(1)
	g.Go(func() error {
		defer senders.Done()
		defer close(jobs)
		return r.produce(stopCtx, in, j, jobs, st)
	})
	for range conc {
		senders.Add(1)
		g.Go(func() error {
			defer senders.Done()
			for row := range jobs {
				res, ok, answered, err := st.do(stopCtx, reqCtx, row)
				switch {
				case !ok:
					if err != nil {
						// Stop feeding before the slot is free, so that
						// no other row leaves after a systemic error.
						st.stop()
					}
					<-slots // left to do
				case res.Status == report.StatusFailed:
					if err = st.fail(res, answered); err != nil {
						return err
					}
				default:
					st.answered()
					st.send(queued{res, true})
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
		// Failed rows still held are real failures if the run went to the
		// end; if it stopped early, they stay to do, like rows in flight.
		if gctx.Err() == nil && ctx.Err() == nil {
			st.answered()
		} else {
			st.drop()
		}
		close(results)
		return nil
	})
	err = g.Wait()
	switch {
	case err != nil:
	case sum.Complete():
		err = j.finish()
	case ctx.Err() != nil:
		err = ErrInterrupted
	default:
		// Every row read has its result, yet some are missing: the file
		// that was read is not the one that was counted.
		err = &InputError{j.Input, fmt.Errorf("the file changed during the run (%d rows counted at the start, %d done): put the original back, or start over with --restart", sum.Total, sum.Done())}
	}
	sum.Elapsed = time.Since(start)
	if err != nil {
		sum.Stopped = err.Error()
	}
	return sum, err
}

// produce feeds rows that are not done to the workers, and writes the
// rows that need no request (invalid, duplicate) straight to results. It
// checks at the end that what it read is the input the job pinned.
func (r *Runner) produce(stopCtx context.Context, in *pinnedInput, j *Job, jobs chan<- Row, st *state) error {
	for {
		row, err := in.Next()
		if errors.Is(err, io.EOF) {
			return in.check()
		}
		if err != nil {
			return &InputError{j.Input, err}
		}
		if j.done.Has(row.Line) {
			continue
		}
		res, send := j.prepare(row)
		if !send {
			select {
			case st.results <- queued{res, false}:
			case <-stopCtx.Done():
				return nil
			}
			continue
		}
		select {
		case st.slots <- struct{}{}:
		case <-stopCtx.Done():
			return nil
		}
		select {
		case jobs <- row:
		case <-stopCtx.Done():
			<-st.slots
			return nil
		}
	}
}

// prepare returns the result of a row that must not be sent, or send=true.
func (j *Job) prepare(row Row) (res report.Row, send bool) {
	res = report.Row{Line: row.Line, ID: row.Raw}
	switch first, dup := j.Plan.Dups[row.ID]; {
	case row.ID == 0:
		res.Status, res.Msg = report.StatusInvalid, InvalidReason(row.Raw)
	case dup && first != row.Line:
		res.Status, res.Msg = report.StatusDuplicate, "duplicate of line "+strconv.Itoa(first)+"; sent only once"
	default:
		return res, true
	}
	res.FinishedAt = time.Now().UTC().Format(report.TimeFormat)
	return res, false
}

// write is the only writer of the results file. It commits rows in groups
// (one fsync for all the rows that are waiting), and only then frees their
// slots and counts them done.
func (r *Runner) write(j *Job, results <-chan queued, slots <-chan struct{}, sum *report.Summary) error {
	group := make([]report.Row, 0, cap(results))
	var held int
	for q := range results {
		group, held = append(group[:0], q.row), 0
		if q.slot {
			held++
		}
	drain:
		for len(group) < cap(group) {
			select {
			case q, ok := <-results:
				if !ok {
					break drain
				}
				group = append(group, q.row)
				if q.slot {
					held++
				}
			default:
				break drain
			}
		}
		if err := j.writer.Commit(group); err != nil {
			return &WriteError{Path: j.Results, Err: err}
		}
		for range held {
			<-slots
		}
		for _, row := range group {
			sum.Counts.Add(row.Status)
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
	r          *Runner
	j          *Job
	gate       *gate
	slots      chan struct{}
	results    chan queued
	writerDone chan struct{}

	// While rows fail one after another, they are held back rather than
	// written: if the streak reaches FailStreak, the server is down, and
	// the held rows are dropped, to be sent again on resume, instead of
	// being marked failed. The first HubSoft answer releases them as the
	// genuine failures they were. Held rows give back their slot, so that
	// the other workers go on; a crash may thus resend them too, at most
	// FailStreak-1 rows that got no valid answer anyway.
	stop       func()       // stops the feeding of rows
	start      time.Time    // of the run, with its monotonic clock
	lastAnswer atomic.Int64 // time.Since(start) of the last answer that was not a throttle

	mu     sync.Mutex
	streak int
	held   []heldRow
}

// heldRow is a failed row held back during a failure streak. answered
// rows failed on an answer from the server (an HTML page, a 404), not on
// silence: if the streak turns out to be an outage, they are still written
// as failed, so that each resume gets past them instead of sending them
// again forever.
type heldRow struct {
	row      report.Row
	answered bool
}

// send queues a row that holds a slot. It blocks only if the writer died,
// and then drops the row: it was not recorded, so it stays to do.
func (s *state) send(q queued) {
	select {
	case s.results <- q:
	case <-s.writerDone:
	}
}

// answered ends a failure streak: HubSoft answers, so the rows held back
// did fail on their own.
func (s *state) answered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streak = 0
	for _, h := range s.held {
		s.send(queued{h.row, false})
	}
	s.held = nil
}

// fail records a row that got no valid answer: held back while an outage
// is in doubt, and an OutageError once FailStreak rows failed in a row.
func (s *state) fail(res report.Row, answered bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streak++
	switch {
	case s.r.FailStreak <= 0:
		s.send(queued{res, true})
	case s.streak >= s.r.FailStreak:
		s.stop()
		for _, h := range append(s.held, heldRow{res, answered}) {
			if h.answered {
				s.send(queued{h.row, false})
			}
		}
		s.held = nil
		<-s.slots
		return &OutageError{Streak: s.streak, Last: errors.New(res.Msg)}
	default:
		s.held = append(s.held, heldRow{res, answered})
		<-s.slots
	}
	return nil
}

// drop leaves the held rows to do, except those the server answered,
// which are written as failed (see heldRow).
func (s *state) drop() {
	s.mu.Lock()
	for _, h := range s.held {
		if h.answered {
			s.send(queued{h.row, false})
		}
	}
	s.held = nil
	s.mu.Unlock()
}

// do sends one row, with retries. It returns ok=false when the run is
// stopping and the row was left to do, and an error when the whole run
// must stop. answered tells, of a failed row, that its last attempt got an
// answer that was not HubSoft's, rather than none.
func (s *state) do(stopCtx, reqCtx context.Context, row Row) (res report.Row, ok, answered bool, err error) {
	r := s.r
	res = report.Row{Line: row.Line, ID: strconv.FormatInt(row.ID, 10)}
	start := time.Now()
	retries, throttled := 0, 0
	for {
		// The gate is checked again after the limiter: a worker that was
		// queued in the limiter when another met a Retry-After must wait
		// too.
		if s.gate.wait(stopCtx) != nil {
			return res, false, false, nil
		}
		if r.Limiter != nil && r.Limiter.Wait(stopCtx) != nil {
			return res, false, false, nil
		}
		if s.gate.closed() {
			continue
		}
		if stopCtx.Err() != nil {
			return res, false, false, nil
		}
		if err := s.j.attempt(row.Line); err != nil {
			return res, false, false, &WriteError{Path: InflightPath(s.j.Results), Err: err}
		}
		res.Attempts++
		var ans Answer
		ans, err = r.Sender.Send(reqCtx, row.ID)
		if err == nil {
			s.lastAnswer.Store(int64(time.Since(s.start)))
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
			return res, false, false, err
		}
		var wait time.Duration
		if v.Throttled {
			// The server is overloaded, not this row: everyone waits.
			throttled++
			wait = v.RetryAfter
			if wait <= 0 {
				wait = r.backoff(throttled)
			}
			// The spell counts the wait ahead, so that a long Retry-After
			// does not carry the run past the bound.
			if spell := time.Since(s.start) - time.Duration(s.lastAnswer.Load()) + wait; spell > maxThrottleSpell {
				return res, false, false, &OutageError{Last: fmt.Errorf("HubSoft has throttled every request for %s (last: %w)", spell.Round(time.Minute), err)}
			}
			s.gate.hold(wait)
			continue
		}
		retries++
		if v.Action == Fail || retries > r.Retries {
			res.Status, res.Msg = report.StatusFailed, err.Error()
			answered = v.Action == Fail
			break
		}
		wait = r.backoff(retries)
		if v.RetryAfter > 0 {
			s.gate.hold(v.RetryAfter)
			wait = 0
		}
		if sleep(stopCtx, wait) != nil {
			return res, false, false, nil
		}
	}
	res.Attempts += s.j.prior[row.Line]
	res.DurationMS = time.Since(start).Milliseconds()
	res.FinishedAt = time.Now().UTC().Format(report.TimeFormat)
	return res, true, answered, nil
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
	onHold func(until time.Time) // may be nil

	mu    sync.Mutex
	until time.Time
}

// hold closes the gate for d from now, or longer if it is already closed
// for longer.
func (g *gate) hold(d time.Duration) {
	t := time.Now().Add(d)
	g.mu.Lock()
	longer := t.After(g.until)
	if longer {
		g.until = t
	}
	g.mu.Unlock()
	if longer && g.onHold != nil {
		g.onHold(t)
	}
}

// closed reports whether the gate is closed now.
func (g *gate) closed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Now().Before(g.until)
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
