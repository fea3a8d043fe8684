package hubsoft

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// timeoutSource is a token route that hangs until its own timeout.
type timeoutSource struct{ n atomic.Int32 }

func (s *timeoutSource) Token(ctx context.Context) (*Token, error) {
	s.n.Add(1)
	time.Sleep(30 * time.Second)
	return nil, &TransportError{Op: opToken, Timeout: true, Err: context.DeadlineExceeded}
}

// A token fetch that times out is every waiter's answer: they must not
// each ask again, one after another, while the server struggles.
func TestSingleFlightSharesATimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &timeoutSource{}
		cache := &cachedSource{new: src, now: time.Now}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := cache.Token(context.Background()); err == nil {
					t.Error("got a token, want the timeout")
				}
			})
		}
		wg.Wait()
		if n := src.n.Load(); n != 1 {
			t.Errorf("got %d token requests, want 1 shared by 8 callers", n)
		}
	})
}
