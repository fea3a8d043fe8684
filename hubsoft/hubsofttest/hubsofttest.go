// Package hubsofttest provides a fake HubSoft server for tests, in the spirit
// of net/http/httptest.
//
// The server answers, on loopback, the two routes hsbatch uses: the OAuth
// password grant (POST /oauth/token) and the disconnect call
// (GET /api/v1/integracao/cliente/solicitar_desconexao/{id}), with the bodies
// HubSoft documents. Knobs make it misbehave the way a real deployment behind
// a proxy does: HTML error pages, throttling, connection resets, hangs,
// truncated bodies, login pages answered with 200, revoked tokens and
// rejected credentials. It records how many calls each id received, so tests
// can assert that a disconnect was sent exactly once.
//
// All methods of Server are safe for concurrent use, also while requests are
// being served.
package hubsofttest

import (
	"context"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Default credentials filled in by NewServer and Listen.
const (
	defaultClientID     = "hsbatch-demo"
	defaultClientSecret = "hsbatch-demo-secret-0b9c1f7e2d4a6c8e"
	defaultUsername     = "ops@example.com.br"
	defaultPassword     = "hsbatch-demo-password"
)

// Server is a fake HubSoft server listening on a TCP address.
type Server struct {
	// URL is the base URL of the server, of the form http://host:port, with
	// no trailing slash.
	URL string

	// ClientID, ClientSecret, Username and Password are the credentials
	// /oauth/token accepts. NewServer and Listen fill them with fixed demo
	// values. Change them, if at all, before the first request.
	ClientID, ClientSecret, Username, Password string

	ts      *httptest.Server
	handler http.Handler

	// closing is closed by Close before the HTTP server shuts down, so that
	// handlers blocked in a hang or a latency pause give up; otherwise the
	// HTTP server would wait for them forever.
	closing   chan struct{}
	closeOnce sync.Once

	mu sync.Mutex // guards everything below

	outcomes       map[int64]Outcome
	defaultOutcome func(id int64) Outcome // nil means the built-in default

	queued     map[int64][]Fault
	randRate   float64
	randFaults []Fault
	rng        *rand.Rand

	latency    time.Duration
	retryAfter time.Duration
	reject     bool
	forbidden  bool
	tokens     map[string]struct{}

	calls         map[int64]int
	answered      map[int64]int
	totalCalls    int
	tokenRequests int
	hanging       int

	// changed is closed, and reset to nil, whenever a record changes. It is
	// created on demand by WaitFor, so nobody pays for it when nobody waits.
	changed chan struct{}
}

// newServer returns a Server with defaults and no listener.
func newServer() *Server {
	s := &Server{
		ClientID:     defaultClientID,
		ClientSecret: defaultClientSecret,
		Username:     defaultUsername,
		Password:     defaultPassword,
		closing:      make(chan struct{}),
		outcomes:     make(map[int64]Outcome),
		queued:       make(map[int64][]Fault),
		retryAfter:   time.Second,
		tokens:       make(map[string]struct{}),
		calls:        make(map[int64]int),
		answered:     make(map[int64]int),
	}
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s
}

// NewServer starts and returns a fake HubSoft server listening on
// 127.0.0.1 at a system-chosen port. The caller should call Close when done.
func NewServer() *Server {
	s := newServer()
	s.ts = httptest.NewUnstartedServer(s.handler)
	s.start()
	return s
}

// Listen starts a fake HubSoft server listening on addr, for example
// "127.0.0.1:8089" or ":0". When addr names no host, or an unspecified one,
// URL uses the loopback address of the same family. The caller should call
// Close when done.
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newServer()
	s.ts = httptest.NewUnstartedServer(s.handler)
	s.ts.Listener.Close()
	s.ts.Listener = ln
	s.start()
	return s, nil
}

func (s *Server) start() {
	s.ts.Start()
	s.URL = baseURL(s.ts.Listener.Addr())
}

// baseURL returns http://host:port for a listener address, replacing an
// unspecified host (0.0.0.0 or ::) with loopback so that the URL is dialable.
func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "::1"
		if ip.To4() != nil {
			host = "127.0.0.1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Close shuts the server down. Handlers blocked in FaultHang or in a latency
// pause are released first, and their connections are dropped without an
// answer. Close then waits for the other outstanding requests, like
// httptest.Server.Close. Calling Close more than once is harmless.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.ts.Close()
}

// Handler returns the server's HTTP handler, for tests that serve it on a
// listener of their own. It shares knobs and records with s.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Outcome is the answer the server gives to a disconnect call for one id.
type Outcome struct {
	// Status is the envelope's status, normally "success" or "error". Any
	// other value, such as the "suscess" misspelling seen elsewhere in the
	// API, is sent verbatim with the success shape; empty means "success".
	Status string
	// Login is the RADIUS login named in the answer.
	Login string
	// Msg is the envelope's message. When empty, the message HubSoft sends
	// is generated from Status and Login.
	Msg string
	// Errors is the errors list of an error answer; nil is sent as [].
	Errors []string
}

// SetOutcome sets the answer for disconnect calls for id.
func (s *Server) SetOutcome(id int64, o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[id] = o
}

// SetDefaultOutcome sets the function that chooses the answer for ids that
// have no SetOutcome. It is called without locks held, possibly concurrently.
// The built-in default, restored by passing nil, is success with login
// fmt.Sprintf("cliente%d", id).
func (s *Server) SetDefaultOutcome(f func(id int64) Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defaultOutcome = f
}

// InjectFaults appends faults to the queue of id: the next len(faults) calls
// for id, after any faults already queued, get these faults in order
// (FaultNone answers normally). Then normal answers resume. Queued faults take
// precedence over random ones. It panics on a Fault value not declared by
// this package.
func (s *Server) InjectFaults(id int64, faults ...Fault) {
	checkFaults(faults)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(faults) == 0 {
		return
	}
	s.queued[id] = append(s.queued[id], faults...)
}

// SetRandomFaults makes each disconnect call, with probability rate, get one
// of faults chosen uniformly. Token requests are never affected. The choices
// come from a generator seeded with seed, so a run is repeatable up to the
// order in which concurrent calls arrive. A rate of 0 or no faults disables
// random faults; rates above 1 count as 1. It panics on a Fault value not
// declared by this package.
func (s *Server) SetRandomFaults(rate float64, seed int64, faults ...Fault) {
	checkFaults(faults)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.randRate = min(max(rate, 0), 1)
	s.randFaults = append([]Fault(nil), faults...)
	s.rng = rand.New(rand.NewPCG(uint64(seed), 0x6875627366616b65))
}

// SetLatency adds d before every disconnect answer. A client that goes away,
// or Close, cuts the pause short; the call then gets no answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// SetRetryAfter sets the Retry-After header of Fault429 and FaultHTML503
// answers. It is sent in whole seconds, rounded up, at least 1. The default
// is one second.
func (s *Server) SetRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = d
}

// RevokeTokens invalidates every access token issued so far, as HubSoft does
// during updates. Tokens requested afterwards work.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// RejectCredentials makes /oauth/token answer 401 invalid_credentials even
// for the right credentials while reject is true.
func (s *Server) RejectCredentials(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = reject
}

// SetForbidden makes every authenticated disconnect call answer 403
// {"status":"error","msg":"O Usuário não possui a permissão desejada!"}
// while forbidden is true, as third parties report for missing permissions.
func (s *Server) SetForbidden(forbidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden = forbidden
}

// Calls returns how many GET disconnect calls the server received for id,
// whatever the answer: faulted, unauthenticated and forbidden calls count.
func (s *Server) Calls(id int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// Answered returns how many disconnect calls for id got a HubSoft answer
// from the configured Outcome, success or error: how many times the
// disconnect was performed. It is counted before the answer is written, so a
// client that went away meanwhile is still counted.
func (s *Server) Answered(id int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered[id]
}

// CallCounts returns a copy of the Calls counts of all ids.
func (s *Server) CallCounts() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// AnsweredCounts returns a copy of the Answered counts of all ids.
func (s *Server) AnsweredCounts() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.answered)
}

// TotalCalls returns how many GET disconnect calls the server received,
// including those whose id was not an integer greater than 0 (which Calls
// cannot key).
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalCalls
}

// TokenRequests returns how many POSTs /oauth/token received, whatever the
// answer.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// WaitFor blocks until cond returns true or ctx is done, and then returns
// nil or ctx.Err(). cond is evaluated at once and again each time the server
// records something (a call, an answer, a token request, a hang starting or
// ending); it may call the Server's methods. Use it instead of sleeping, for
// example to wait until a hanging call has arrived.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		// Take the channel before evaluating cond, so that a change between
		// the two is not missed.
		s.mu.Lock()
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes WaitFor callers. s.mu must be held.
func (s *Server) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}
