package hubsoft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// countingSource issues numbered tokens that live for lifetime from the
// clock's now; a zero lifetime gives tokens without Expiry.
type countingSource struct {
	clock    *fakeClock
	lifetime time.Duration
	n        atomic.Int32
}

func (s *countingSource) Token(context.Context) (*Token, error) {
	n := s.n.Add(1)
	tok := &Token{AccessToken: fmt.Sprint("tok", n), TokenType: "Bearer"}
	if s.lifetime != 0 {
		tok.Expiry = s.clock.now().Add(s.lifetime)
	}
	return tok, nil
}

// mustToken calls s.Token and fails the test on an error.
func mustToken(t *testing.T, s TokenSource) *Token {
	t.Helper()
	tok, err := s.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func TestCachedSourceExpiry(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration // of the issued tokens; 0 means no Expiry
		renewAt  time.Duration // after the fetch, when a new token is due
	}{
		{"30 days is capped at 24h", 30 * 24 * time.Hour, 24*time.Hour - expiryDelta},
		{"one hour expires a minute early", time.Hour, time.Hour - expiryDelta},
		{"no Expiry lives 24h", 0, 24*time.Hour - expiryDelta},
		{"24h exactly", 24 * time.Hour, 24*time.Hour - expiryDelta},
		{"30 seconds is used for half its life", 30 * time.Second, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			src := &countingSource{clock: clock, lifetime: tt.lifetime}
			cache := &cachedSource{new: src, now: clock.now}
			start := clock.now()

			first := mustToken(t, cache)
			clock.set(start.Add(tt.renewAt - time.Nanosecond))
			if got := mustToken(t, cache); got != first {
				t.Errorf("just before %s: got %s, want the cached %s", tt.renewAt, got.AccessToken, first.AccessToken)
			}
			if got := src.n.Load(); got != 1 {
				t.Fatalf("fetches before expiry: got %d, want 1", got)
			}

			clock.set(start.Add(tt.renewAt))
			second := mustToken(t, cache)
			if second == first {
				t.Errorf("at %s: got the expired token again, want a new one", tt.renewAt)
			}
			for range 3 {
				if got := mustToken(t, cache); got != second {
					t.Errorf("after renewal: got %s, want the cached %s", got.AccessToken, second.AccessToken)
				}
			}
			if got := src.n.Load(); got != 2 {
				t.Errorf("fetches: got %d, want 2 (one refetch)", got)
			}
		})
	}
}

// TestCachedSourceExpiredOnArrival checks that a token that is already
// expired is still handed to the caller that fetched it, and not kept.
func TestCachedSourceExpiredOnArrival(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, lifetime: -time.Second}
	cache := &cachedSource{new: src, now: clock.now}
	for i := 1; i <= 3; i++ {
		if tok := mustToken(t, cache); tok.AccessToken != fmt.Sprint("tok", i) {
			t.Errorf("call %d: got %s, want tok%d", i, tok.AccessToken, i)
		}
	}
}

func TestExpiresAt(t *testing.T) {
	now := newFakeClock().now()
	tests := []struct {
		name   string
		expiry time.Time
		want   time.Time
	}{
		{"zero", time.Time{}, now.Add(24*time.Hour - time.Minute)},
		{"far", now.Add(30 * 24 * time.Hour), now.Add(24*time.Hour - time.Minute)},
		{"one hour", now.Add(time.Hour), now.Add(59 * time.Minute)},
		{"one minute", now.Add(time.Minute), now.Add(30 * time.Second)},
		{"past", now.Add(-time.Minute), now.Add(-30 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expiresAt(&Token{Expiry: tt.expiry}, now); !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// blockingSource blocks every fetch until release is closed.
type blockingSource struct {
	entered chan struct{} // receives once per fetch
	release chan struct{}
	n       atomic.Int32
}

func (s *blockingSource) Token(ctx context.Context) (*Token, error) {
	n := s.n.Add(1)
	s.entered <- struct{}{}
	select {
	case <-s.release:
		return &Token{AccessToken: fmt.Sprint("tok", n)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestCachedSourceSingleFlight(t *testing.T) {
	src := &blockingSource{entered: make(chan struct{}, 64), release: make(chan struct{})}
	cache := &cachedSource{new: src, now: time.Now}

	const n = 16
	toks := make([]*Token, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { toks[i], errs[i] = cache.Token(t.Context()) })
	}
	<-src.entered
	close(src.release)
	wg.Wait()

	if got := src.n.Load(); got != 1 {
		t.Errorf("fetches: got %d, want 1", got)
	}
	for i := range n {
		if errs[i] != nil || toks[i] == nil || toks[i].AccessToken != "tok1" {
			t.Errorf("caller %d: got %v, %v; want tok1", i, toks[i], errs[i])
		}
	}
}

// TestCachedSourceLeaderCancelled checks that a caller waiting on another
// caller's fetch does not inherit that caller's cancellation.
func TestCachedSourceLeaderCancelled(t *testing.T) {
	src := &blockingSource{entered: make(chan struct{}, 64), release: make(chan struct{})}
	cache := &cachedSource{new: src, now: time.Now}

	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := cache.Token(leaderCtx)
		leaderErr <- err
	}()
	<-src.entered // the leader is fetching

	type result struct {
		tok *Token
		err error
	}
	waiter := make(chan result, 1)
	go func() {
		tok, err := cache.Token(t.Context())
		waiter <- result{tok, err}
	}()
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: got %v, want context.Canceled", err)
	}
	<-src.entered // the waiter fetches in turn
	close(src.release)
	r := <-waiter
	if r.err != nil || r.tok == nil || r.tok.AccessToken != "tok2" {
		t.Errorf("waiter: got %v, %v; want tok2", r.tok, r.err)
	}
}

// TestCachedSourceWaiterCancelled checks that a waiter leaves when its own
// context ends, while the fetch goes on for the others.
func TestCachedSourceWaiterCancelled(t *testing.T) {
	src := &blockingSource{entered: make(chan struct{}, 64), release: make(chan struct{})}
	cache := &cachedSource{new: src, now: time.Now}
	leader := make(chan *Token, 1)
	go func() {
		tok, _ := cache.Token(t.Context())
		leader <- tok
	}()
	<-src.entered

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := cache.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("waiter: got %v, want context.Canceled", err)
	}
	close(src.release)
	if tok := <-leader; tok == nil || tok.AccessToken != "tok1" {
		t.Errorf("leader: got %v, want tok1", tok)
	}
	if got := src.n.Load(); got != 1 {
		t.Errorf("fetches: got %d, want 1", got)
	}
}

type errSource struct {
	err error
	n   atomic.Int32
}

func (s *errSource) Token(context.Context) (*Token, error) {
	s.n.Add(1)
	return nil, s.err
}

func TestCachedSourceErrors(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"error is not cached", &AuthError{StatusCode: 401, Code: "invalid_credentials"}, "rejected the credentials"},
		{"nil token without error", nil, "no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &errSource{err: tt.err}
			cache := &cachedSource{new: src, now: time.Now}
			for range 2 {
				tok, err := cache.Token(t.Context())
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, %v; want an error containing %q", tok, err, tt.wantErr)
				}
			}
			if got := src.n.Load(); got != 2 {
				t.Errorf("fetches: got %d, want 2", got)
			}
		})
	}
}

func TestCachedSourceInvalidate(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, lifetime: time.Hour}
	cache := &cachedSource{new: src, now: clock.now}

	first := mustToken(t, cache)
	cache.invalidate(first)
	second := mustToken(t, cache)
	if second == first {
		t.Fatal("after invalidate: got the same token, want a new one")
	}
	// A late 401 to the old token must not drop the new one.
	cache.invalidate(first)
	if got := mustToken(t, cache); got != second {
		t.Errorf("after a stale invalidate: got %s, want %s", got.AccessToken, second.AccessToken)
	}
	if got := src.n.Load(); got != 2 {
		t.Errorf("fetches: got %d, want 2", got)
	}
}

func TestTokenLifetime(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want time.Duration
	}{
		{"HubSoft's 30 days", "2592000", maxTokenLifetime},
		{"one hour", "3600", time.Hour},
		{"as a string", `"3600"`, time.Hour},
		{"just under the cap", "86399", 86399 * time.Second},
		{"the cap", "86400", maxTokenLifetime},
		{"huge would overflow", "10000000000000", maxTokenLifetime},
		{"exponent", "1e3", maxTokenLifetime},
		{"fraction", "3600.5", maxTokenLifetime},
		{"zero", "0", maxTokenLifetime},
		{"negative", "-60", maxTokenLifetime},
		{"garbage", `"30 days"`, maxTokenLifetime},
		{"null", "null", maxTokenLifetime},
		{"absent", "", maxTokenLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tokenLifetime(json.RawMessage(tt.raw)); got != tt.want {
				t.Errorf("tokenLifetime(%s): got %s, want %s", tt.raw, got, tt.want)
			}
		})
	}
}

func TestTokenHeader(t *testing.T) {
	tests := []struct {
		name, typ, want string
	}{
		{"Bearer", "Bearer", "Bearer abc"},
		{"lower-case bearer", "bearer", "Bearer abc"},
		{"empty type", "", "Bearer abc"},
		{"other type", "MAC", "MAC abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := &Token{AccessToken: "abc", TokenType: tt.typ}
			if got := tok.header(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// formats are the fmt verbs a secret might be printed with.
var formats = []string{"%v", "%+v", "%#v", "%s"}

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{ClientID: "42", ClientSecret: "s3cr3t-client", Username: "ops@isp.com.br", Password: "hunter2-pass"}
	values := []struct {
		name string
		v    any
	}{
		{"value", c},
		{"pointer", &c},
		{"field", struct{ C Credentials }{c}},
		{"slice", []Credentials{c}},
	}
	for _, v := range values {
		for _, f := range formats {
			t.Run(v.name+" "+f, func(t *testing.T) {
				got := fmt.Sprintf(f, v.v)
				for _, secret := range []string{c.ClientSecret, c.Password} {
					if strings.Contains(got, secret) {
						t.Errorf("got %s, want %q hidden", got, secret)
					}
				}
				if !strings.Contains(got, "REDACTED") {
					t.Errorf("got %s, want it to say REDACTED", got)
				}
			})
		}
	}
	if got := c.String(); !strings.Contains(got, "42") || !strings.Contains(got, "ops@isp.com.br") {
		t.Errorf("String: got %s, want the client id and user name, which are not secret", got)
	}
}

func TestTokenRedacted(t *testing.T) {
	tok := Token{AccessToken: "eyJ0eXAiOiJKV1Qi.secret-part", TokenType: "Bearer", Expiry: time.Now()}
	values := []struct {
		name string
		v    any
	}{
		{"value", tok},
		{"pointer", &tok},
		{"field", struct{ T *Token }{&tok}},
		{"value field", struct{ T Token }{tok}},
	}
	for _, v := range values {
		for _, f := range formats {
			t.Run(v.name+" "+f, func(t *testing.T) {
				if got := fmt.Sprintf(f, v.v); strings.Contains(got, "secret-part") {
					t.Errorf("got %s, want the token hidden", got)
				}
			})
		}
	}
}

func TestCredentialsValidate(t *testing.T) {
	full := Credentials{ClientID: "1", ClientSecret: "s", Username: "u", Password: "p"}
	tests := []struct {
		name    string
		edit    func(*Credentials)
		missing []string
	}{
		{"complete", func(*Credentials) {}, nil},
		{"no client id", func(c *Credentials) { c.ClientID = "" }, []string{"HUBSOFT_CLIENT_ID"}},
		{"blank secret", func(c *Credentials) { c.ClientSecret = " \t" }, []string{"HUBSOFT_CLIENT_SECRET"}},
		{"nothing", func(c *Credentials) { *c = Credentials{} },
			[]string{"HUBSOFT_CLIENT_ID", "HUBSOFT_CLIENT_SECRET", "HUBSOFT_USERNAME", "HUBSOFT_PASSWORD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := full
			tt.edit(&c)
			err := c.Validate()
			if tt.missing == nil {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got nil, want an error")
			}
			for _, m := range tt.missing {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q: want it to name %s", err, m)
				}
			}
		})
	}
}
