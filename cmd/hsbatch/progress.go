package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/hsbatch/hsbatch/batch"
)

// progress shows a running job: a bar on a terminal, else a log line every
// few seconds (for cron and systemd journals).
type progress interface {
	update(batch.Progress)
	// pause tells that HubSoft's throttling holds every request until
	// until. It may be called concurrently.
	pause(until time.Time)
	finish()
}

// logEvery is how often the log display writes a line.
const logEvery = 5 * time.Second

func newProgress(mode, name string, total, done int, stderr io.Writer) progress {
	if mode == "auto" {
		mode = "log"
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	switch mode {
	case "bar":
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
		)
		bar.Set(done)
		return &barProgress{bar: bar, name: name}
	case "log":
		return newLogProgress(name, total, done, stderr)
	}
	return noProgress{}
}

type noProgress struct{}

func (noProgress) update(batch.Progress) {}
func (noProgress) pause(time.Time)       {}
func (noProgress) finish()               {}

type barProgress struct {
	bar  *progressbar.ProgressBar
	name string

	mu     sync.Mutex
	paused time.Time // the pause shown in the description, if any
}

func (b *barProgress) update(p batch.Progress) {
	b.mu.Lock()
	if !b.paused.IsZero() && time.Now().After(b.paused) {
		b.paused = time.Time{}
		b.bar.Describe(b.name)
	}
	b.mu.Unlock()
	b.bar.Set(p.Done)
}

func (b *barProgress) finish() { b.bar.Exit() }

func (b *barProgress) pause(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until.After(b.paused) {
		b.paused = until
		b.bar.Describe(fmt.Sprintf("%s (HubSoft asked to wait until %s)", b.name, until.Format("15:04:05")))
	}
}

// logProgress writes the latest progress every logEvery, from a goroutine
// that finish stops and waits for.
type logProgress struct {
	mu     sync.Mutex
	last   batch.Progress
	paused time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	start  time.Time
}

func newLogProgress(name string, total, done int, w io.Writer) *logProgress {
	l := &logProgress{last: batch.Progress{Done: done, Total: total}, stop: make(chan struct{}), start: time.Now()}
	l.wg.Go(func() {
		t := time.NewTicker(logEvery)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			l.mu.Lock()
			p, paused := l.last, l.paused
			l.mu.Unlock()
			note := ""
			if time.Now().Before(paused) {
				note = fmt.Sprintf("; paused: HubSoft asked to wait (429/503 Retry-After) until %s", paused.Format("15:04:05"))
			}
			pct := 100.0
			if p.Total > 0 {
				pct = 100 * float64(p.Done) / float64(p.Total)
			}
			c := p.Counts
			fmt.Fprintf(w, "%s hsbatch: %s: %d/%d rows (%.1f%%), %.1f rows/s; success %d, error %d, failed %d, invalid %d, duplicate %d%s\n",
				time.Now().Format("2006-01-02 15:04:05 -0700"), name, p.Done, p.Total, pct,
				float64(p.Sent)/time.Since(l.start).Seconds(), c.Success, c.Error, c.Failed, c.Invalid, c.Duplicate, note)
		}
	})
	return l
}

func (l *logProgress) update(p batch.Progress) {
	l.mu.Lock()
	l.last = p
	l.mu.Unlock()
}

func (l *logProgress) pause(until time.Time) {
	l.mu.Lock()
	if until.After(l.paused) {
		l.paused = until
	}
	l.mu.Unlock()
}

func (l *logProgress) finish() {
	close(l.stop)
	l.wg.Wait()
}
