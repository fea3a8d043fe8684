package hubsoft_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hsbatch/hsbatch/hubsoft"
	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
)

// newServer starts a fake HubSoft server that is closed with the test.
func newServer(t *testing.T) *hubsofttest.Server {
	t.Helper()
	srv := hubsofttest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

func credentials(srv *hubsofttest.Server) hubsoft.Credentials {
	return hubsoft.Credentials{
		ClientID:     srv.ClientID,
		ClientSecret: srv.ClientSecret,
		Username:     srv.Username,
		Password:     srv.Password,
	}
}

// newClient returns a client of srv with its credentials.
func newClient(t *testing.T, srv *hubsofttest.Server, opts ...hubsoft.Option) *hubsoft.Client {
	t.Helper()
	return newClientURL(t, srv.URL, append([]hubsoft.Option{hubsoft.WithCredentials(credentials(srv))}, opts...)...)
}

func newClientURL(t *testing.T, base string, opts ...hubsoft.Option) *hubsoft.Client {
	t.Helper()
	c, err := hubsoft.NewClient(base, opts...)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", base, err)
	}
	return c
}

// testContext bounds a test that talks to a server, so that a bug hangs
// nothing for long.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// staticSource is a TokenSource that counts its calls; its tokens have no
// Expiry, as many custom sources do.
type staticSource struct {
	token string
	calls atomic.Int32
}

func (s *staticSource) Token(context.Context) (*hubsoft.Token, error) {
	s.calls.Add(1)
	return &hubsoft.Token{AccessToken: s.token, TokenType: "Bearer"}, nil
}

// adhoc serves h on a loopback test server, and returns a client for it
// that authorizes with the token "tok".
func adhoc(t *testing.T, h http.HandlerFunc, opts ...hubsoft.Option) *hubsoft.Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return newClientURL(t, ts.URL, append([]hubsoft.Option{hubsoft.WithTokenSource(&staticSource{token: "tok"})}, opts...)...)
}

const disconnectPath = "/api/v1/integracao/cliente/solicitar_desconexao/"

// errorAs is errors.As that fails the test when err is not a *E.
func errorAs[E error](t *testing.T, err error) E {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("got error %T %v, want a %T", err, err, target)
	}
	return target
}

func wantClass(t *testing.T, err error, want hubsoft.Class) {
	t.Helper()
	if got := hubsoft.Classify(err); got != want {
		t.Errorf("Classify(%v): got %s, want %s", err, got, want)
	}
}

func TestDisconnect(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testContext(t)

	tests := []struct {
		name    string
		outcome hubsofttest.Outcome
		want    hubsoft.Disconnection
		wantOK  bool
	}{
		{
			name:    "success",
			outcome: hubsofttest.Outcome{Status: "success", Login: "hubsoft"},
			want:    hubsoft.Disconnection{Status: "success", Msg: "A desconexão foi bem sucedida para o login hubsoft!", Login: "hubsoft", HTTPStatus: 200},
			wantOK:  true,
		},
		{
			name:    "suscess misspelling is success",
			outcome: hubsofttest.Outcome{Status: "suscess", Login: "joao.silva"},
			want:    hubsoft.Disconnection{Status: "success", Msg: "A desconexão foi bem sucedida para o login joao.silva!", Login: "joao.silva", HTTPStatus: 200},
			wantOK:  true,
		},
		{
			name:    "error takes its login from msg",
			outcome: hubsofttest.Outcome{Status: "error", Login: "maria"},
			want:    hubsoft.Disconnection{Status: "error", Msg: "A desconexão não foi bem sucedida para o login maria!", Login: "maria", HTTPStatus: 200},
		},
		{
			name:    "error with errors list",
			outcome: hubsofttest.Outcome{Status: "error", Login: "pppoe@isp", Errors: []string{"Concentrador sem comunicação", "Tente novamente"}},
			want: hubsoft.Disconnection{Status: "error", Msg: "A desconexão não foi bem sucedida para o login pppoe@isp!", Login: "pppoe@isp",
				Errors: []string{"Concentrador sem comunicação", "Tente novamente"}, HTTPStatus: 200},
		},
		{
			name:    "error whose msg names no login",
			outcome: hubsofttest.Outcome{Status: "error", Msg: "Cliente não encontrado.", Errors: []string{"x"}},
			want:    hubsoft.Disconnection{Status: "error", Msg: "Cliente não encontrado.", Errors: []string{"x"}, HTTPStatus: 200},
		},
		{
			name:    "success login field wins over msg",
			outcome: hubsofttest.Outcome{Status: "success", Login: "field", Msg: "A desconexão foi bem sucedida para o login other!"},
			want:    hubsoft.Disconnection{Status: "success", Msg: "A desconexão foi bem sucedida para o login other!", Login: "field", HTTPStatus: 200},
			wantOK:  true,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := int64(1000 + i)
			srv.SetOutcome(id, tt.outcome)
			got, err := c.Disconnect(ctx, id)
			if err != nil {
				t.Fatalf("Disconnect(%d): got error %v, want nil", id, err)
			}
			if got.Status != tt.want.Status || got.Msg != tt.want.Msg || got.Login != tt.want.Login ||
				got.HTTPStatus != tt.want.HTTPStatus || !slices.Equal(got.Errors, tt.want.Errors) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
			if got.OK() != tt.wantOK {
				t.Errorf("OK(): got %v, want %v", got.OK(), tt.wantOK)
			}
			if n := srv.Calls(id); n != 1 {
				t.Errorf("Calls(%d): got %d, want 1", id, n)
			}
			if n := srv.Answered(id); n != 1 {
				t.Errorf("Answered(%d): got %d, want 1", id, n)
			}
		})
	}
}

// recorder wraps a handler and records what disconnect requests looked
// like, and the access token the token route issued.
type recorder struct {
	next http.Handler

	mu          sync.Mutex
	accessToken string
	requests    []recorded
}

type recorded struct {
	method, path  string
	header        http.Header
	proto         int
	contentLength int64
	chunked       bool
	bodyLen       int
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if r.URL.Path == "/oauth/token" {
		tw := &teeWriter{ResponseWriter: w}
		rec.next.ServeHTTP(tw, r)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(tw.buf.Bytes(), &tok)
		rec.mu.Lock()
		rec.accessToken = tok.AccessToken
		rec.mu.Unlock()
		return
	}
	rec.mu.Lock()
	rec.requests = append(rec.requests, recorded{
		method: r.Method, path: r.URL.Path, header: r.Header.Clone(), proto: r.ProtoMajor,
		contentLength: r.ContentLength, chunked: slices.Contains(r.TransferEncoding, "chunked"), bodyLen: len(body),
	})
	rec.mu.Unlock()
	rec.next.ServeHTTP(w, r)
}

func (rec *recorder) snapshot() (string, []recorded) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.accessToken, slices.Clone(rec.requests)
}

func TestDisconnectRequest(t *testing.T) {
	srv := newServer(t)
	rec := &recorder{next: srv.Handler()}
	ts := httptest.NewServer(rec)
	defer ts.Close()
	c := newClientURL(t, ts.URL, hubsoft.WithCredentials(credentials(srv)))

	if _, err := c.Disconnect(testContext(t), 11000); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	tok, reqs := rec.snapshot()
	if len(reqs) != 1 {
		t.Fatalf("got %d disconnect requests, want 1", len(reqs))
	}
	r := reqs[0]
	checks := []struct{ name, got, want string }{
		{"method", r.method, http.MethodGet},
		{"path", r.path, disconnectPath + "11000"},
		{"Accept", r.header.Get("Accept"), "application/json"},
		{"Authorization", r.header.Get("Authorization"), "Bearer " + tok},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if tok == "" {
		t.Error("got no access token from the token route")
	}
	if r.contentLength != 0 || r.chunked || r.bodyLen != 0 {
		t.Errorf("got Content-Length %d, chunked %v, %d body bytes; want a GET with no body", r.contentLength, r.chunked, r.bodyLen)
	}
}

// TestDisconnectHTTP2 checks that the noReplay body does not upset an
// HTTP/2 server: the GET arrives with an empty body and is answered.
func TestDisconnectHTTP2(t *testing.T) {
	srv := newServer(t)
	rec := &recorder{next: srv.Handler()}
	ts := httptest.NewUnstartedServer(rec)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	c := newClientURL(t, ts.URL, hubsoft.WithCredentials(credentials(srv)), hubsoft.WithTransport(ts.Client().Transport))

	d, err := c.Disconnect(testContext(t), 7)
	if err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if !d.OK() || d.Login != "cliente7" {
		t.Errorf("got %+v, want success for cliente7", *d)
	}
	_, reqs := rec.snapshot()
	if len(reqs) != 1 || reqs[0].proto != 2 || reqs[0].bodyLen != 0 {
		t.Fatalf("got requests %+v, want one HTTP/2 GET with an empty body", reqs)
	}
}

func TestTokenReused(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testContext(t)
	for id := int64(1); id <= 20; id++ {
		if _, err := c.Disconnect(ctx, id); err != nil {
			t.Fatalf("Disconnect(%d): %v", id, err)
		}
	}
	if got := srv.TokenRequests(); got != 1 {
		t.Errorf("TokenRequests: got %d, want 1", got)
	}
}

// TestTokenSourceWithoutExpiry checks that a token without Expiry, as custom
// token sources give, is cached rather than fetched for every call.
func TestTokenSourceWithoutExpiry(t *testing.T) {
	src := &staticSource{token: "tok"}
	var auth atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		fmt.Fprint(w, `{"status":"success","msg":"ok","login":"x"}`)
	}))
	defer ts.Close()
	c := newClientURL(t, ts.URL, hubsoft.WithTokenSource(src))
	for id := int64(1); id <= 5; id++ {
		if _, err := c.Disconnect(testContext(t), id); err != nil {
			t.Fatalf("Disconnect(%d): %v", id, err)
		}
	}
	if got := src.calls.Load(); got != 1 {
		t.Errorf("token source calls: got %d, want 1", got)
	}
	if got := auth.Load(); got != "Bearer tok" {
		t.Errorf("Authorization: got %q, want %q", got, "Bearer tok")
	}
}

func TestSingleFlightReauth(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testContext(t)
	if _, err := c.Disconnect(ctx, 1000); err != nil {
		t.Fatalf("first Disconnect: %v", err)
	}
	if got := srv.TokenRequests(); got != 1 {
		t.Fatalf("TokenRequests after the first call: got %d, want 1", got)
	}

	srv.RevokeTokens()
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.Disconnect(ctx, int64(i+1))
		})
	}
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("Disconnect(%d): %v", i+1, err)
		}
	}
	if got := srv.TokenRequests(); got != 2 {
		t.Errorf("TokenRequests after the revocation: got %d, want 2", got)
	}
	for id := int64(1); id <= n; id++ {
		if got := srv.Answered(id); got != 1 {
			t.Errorf("Answered(%d): got %d, want 1", id, got)
		}
		// One call with the revoked token, at most, and one with the new.
		if got := srv.Calls(id); got < 1 || got > 2 {
			t.Errorf("Calls(%d): got %d, want 1 or 2", id, got)
		}
	}
}

// TestUnauthorized checks the renewal on a 401: one 401 is answered by a
// fresh token and one more try; a 401 to the fresh token stops the batch.
func TestUnauthorized(t *testing.T) {
	tests := []struct {
		name         string
		faults       []hubsofttest.Fault
		wantErr      bool
		wantCalls    int
		wantAnswered int
	}{
		{"one 401 renews the token", []hubsofttest.Fault{hubsofttest.FaultUnauthorized}, false, 2, 1},
		{"401 to a fresh token", []hubsofttest.Fault{hubsofttest.FaultUnauthorized, hubsofttest.FaultUnauthorized}, true, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv)
			srv.InjectFaults(5, tt.faults...)
			d, err := c.Disconnect(testContext(t), 5)
			if tt.wantErr {
				ae := errorAs[*hubsoft.AuthError](t, err)
				if ae.StatusCode != http.StatusUnauthorized || ae.Code != "" {
					t.Errorf("got AuthError %+v, want status 401 and no code", *ae)
				}
				if !strings.Contains(err.Error(), "freshly issued token") {
					t.Errorf("error %q: want it to say a fresh token was refused", err)
				}
				wantClass(t, err, hubsoft.Stop)
			} else if err != nil || !d.OK() {
				t.Fatalf("got %v, %v; want success", d, err)
			}
			if got := srv.TokenRequests(); got != 2 {
				t.Errorf("TokenRequests: got %d, want 2", got)
			}
			if got := srv.Calls(5); got != tt.wantCalls {
				t.Errorf("Calls: got %d, want %d", got, tt.wantCalls)
			}
			if got := srv.Answered(5); got != tt.wantAnswered {
				t.Errorf("Answered: got %d, want %d", got, tt.wantAnswered)
			}
		})
	}
}

func TestCredentialsRejected(t *testing.T) {
	srv := newServer(t)
	srv.RejectCredentials(true)
	passport := func(code int, body string) *httptest.Server {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/oauth/token" {
				t.Errorf("got a call to %s, want none but the token route", r.URL.Path)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			io.WriteString(w, body)
		}))
		t.Cleanup(ts.Close)
		return ts
	}

	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantCode   string
	}{
		{"fake server rejects", srv.URL, 401, "invalid_credentials"},
		{"400 invalid_grant", passport(400, `{"error":"invalid_grant","error_description":"The provided authorization grant is invalid.","message":"The provided authorization grant is invalid."}`).URL, 400, "invalid_grant"},
		{"401 invalid_client", passport(401, `{"error":"invalid_client","error_description":"Client authentication failed","message":"Client authentication failed"}`).URL, 401, "invalid_client"},
		{"401 without an OAuth error", passport(401, `{"message":"Unauthenticated."}`).URL, 401, "unauthorized"},
	}
	creds := credentials(srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClientURL(t, tt.url, hubsoft.WithCredentials(creds))
			_, err := c.Disconnect(testContext(t), 1)
			ae := errorAs[*hubsoft.AuthError](t, err)
			if ae.StatusCode != tt.wantStatus || ae.Code != tt.wantCode {
				t.Errorf("got AuthError{%d, %q}, want {%d, %q}", ae.StatusCode, ae.Code, tt.wantStatus, tt.wantCode)
			}
			var te *hubsoft.TransportError
			if errors.As(err, &te) {
				t.Errorf("got %v wrapped in a TransportError, want the AuthError itself", err)
			}
			wantClass(t, err, hubsoft.Stop)
			msg := err.Error()
			for _, env := range []string{"HUBSOFT_CLIENT_ID", "HUBSOFT_CLIENT_SECRET", "HUBSOFT_USERNAME", "HUBSOFT_PASSWORD"} {
				if !strings.Contains(msg, env) {
					t.Errorf("error %q: want it to name %s", msg, env)
				}
			}
			for _, secret := range []string{creds.ClientSecret, creds.Password} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q: reveals the secret %q", msg, secret)
				}
			}
		})
	}
	if got := srv.Calls(1); got != 0 {
		t.Errorf("Calls: got %d, want 0: no disconnect without a token", got)
	}
}

// TestTokenRouteErrors covers token route answers that are not a token and
// not a rejection of the credentials.
func TestTokenRouteErrors(t *testing.T) {
	const secret = "eyJsecretTokenValue"
	tests := []struct {
		name      string
		code      int
		header    map[string]string
		body      string
		wantClass hubsoft.Class
		check     func(t *testing.T, err error)
	}{
		{
			name: "login page with 200", code: 200, header: map[string]string{"Content-Type": "text/html"},
			body: "<html><title>Login - HubSoft</title></html>", wantClass: hubsoft.Fail,
			check: func(t *testing.T, err error) {
				api := errorAs[*hubsoft.APIError](t, err)
				if api.Op != "token request" || !strings.Contains(api.Reason, "access_token") || !strings.Contains(api.Snippet, "Login - HubSoft") {
					t.Errorf("got %+v, want a token request APIError quoting the page", *api)
				}
			},
		},
		{
			name: "malformed token answer is not quoted", code: 200,
			body: `{"access_token":["` + secret + `"],"refresh_token":"def502` + secret + `"}`, wantClass: hubsoft.Fail,
			check: func(t *testing.T, err error) {
				errorAs[*hubsoft.APIError](t, err)
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q: reveals the token", err)
				}
			},
		},
		{
			name: "502 page", code: 502, body: "<html>502 Bad Gateway</html>", wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				if api := errorAs[*hubsoft.APIError](t, err); api.StatusCode != 502 || api.Op != "token request" {
					t.Errorf("got %+v, want a 502 token request APIError", *api)
				}
			},
		},
		{
			name: "429", code: 429, header: map[string]string{"Retry-After": "7"}, body: `{"message":"Too Many Attempts."}`, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				if d, ok := hubsoft.RetryAfter(err); !ok || d != 7*time.Second {
					t.Errorf("RetryAfter: got %s, %v; want 7s, true", d, ok)
				}
			},
		},
		{
			name: "403", code: 403, body: `{"message":"Host not in allowlist"}`, wantClass: hubsoft.Stop,
			check: func(t *testing.T, err error) {
				if pe := errorAs[*hubsoft.PermissionError](t, err); pe.Msg != "Host not in allowlist" {
					t.Errorf("Msg: got %q, want %q", pe.Msg, "Host not in allowlist")
				}
			},
		},
		{
			name: "redirect", code: 302, header: map[string]string{"Location": "/login"}, wantClass: hubsoft.Stop,
			check: func(t *testing.T, err error) {
				if api := errorAs[*hubsoft.APIError](t, err); api.StatusCode != 302 || !strings.Contains(api.Reason, "/login") {
					t.Errorf("got %+v, want a 302 APIError naming /login", *api)
				}
			},
		},
		{
			name: "400 page without an OAuth error", code: 400, body: "<html>Bad Request</html>", wantClass: hubsoft.Fail,
			check: func(t *testing.T, err error) {
				if api := errorAs[*hubsoft.APIError](t, err); api.StatusCode != 400 {
					t.Errorf("got %+v, want a 400 APIError", *api)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/oauth/token" {
					calls.Add(1)
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			c := newClientURL(t, ts.URL, hubsoft.WithCredentials(hubsoft.Credentials{ClientID: "1", ClientSecret: "s", Username: "u@example.com", Password: "p"}))
			_, err := c.Disconnect(testContext(t), 1)
			if err == nil {
				t.Fatal("got no error, want one")
			}
			tt.check(t, err)
			wantClass(t, err, tt.wantClass)
			if n := calls.Load(); n != 0 {
				t.Errorf("got %d calls beyond the token route, want 0", n)
			}
		})
	}
}

// TestTokenExpiresInHuge checks that an absurd expires_in cannot overflow
// into a token that is always expired.
func TestTokenExpiresInHuge(t *testing.T) {
	var tokens atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			tokens.Add(1)
			fmt.Fprint(w, `{"access_token":"tok","expires_in":10000000000,"token_type":"Bearer"}`)
			return
		}
		fmt.Fprint(w, `{"status":"success","msg":"ok","login":"x"}`)
	}))
	defer ts.Close()
	c := newClientURL(t, ts.URL, hubsoft.WithCredentials(hubsoft.Credentials{ClientID: "1", ClientSecret: "s", Username: "u", Password: "p"}))
	for id := int64(1); id <= 3; id++ {
		if _, err := c.Disconnect(testContext(t), id); err != nil {
			t.Fatalf("Disconnect(%d): %v", id, err)
		}
	}
	if got := tokens.Load(); got != 1 {
		t.Errorf("token requests: got %d, want 1", got)
	}
}

func TestForbidden(t *testing.T) {
	srv := newServer(t)
	srv.SetForbidden(true)
	c := newClient(t, srv)
	_, err := c.Disconnect(testContext(t), 3)
	pe := errorAs[*hubsoft.PermissionError](t, err)
	if pe.StatusCode != http.StatusForbidden || pe.Msg != "O Usuário não possui a permissão desejada!" {
		t.Errorf("got %+v, want 403 with HubSoft's message", *pe)
	}
	if !strings.Contains(err.Error(), "allowlist") {
		t.Errorf("error %q: want a hint about the allowlist", err)
	}
	wantClass(t, err, hubsoft.Stop)
	if got := hubsoft.StatusCode(err); got != http.StatusForbidden {
		t.Errorf("StatusCode: got %d, want 403", got)
	}
}

// TestFaults checks that every fault of the fake server becomes the right
// typed error and class, and is sent exactly once.
func TestFaults(t *testing.T) {
	srv := newServer(t)
	srv.SetRetryAfter(3 * time.Second)

	tests := []struct {
		name      string
		fault     hubsofttest.Fault
		timeout   time.Duration
		wantClass hubsoft.Class
		check     func(t *testing.T, err error)
	}{
		{
			name: "500 HTML", fault: hubsofttest.FaultHTML500, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				api := errorAs[*hubsoft.APIError](t, err)
				if api.StatusCode != 500 || !strings.Contains(api.Snippet, "Server Error") || !strings.HasPrefix(api.ContentType, "text/html") {
					t.Errorf("got %+v, want a 500 text/html APIError quoting the page", *api)
				}
			},
		},
		{
			name: "502 HTML", fault: hubsofttest.FaultHTML502, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				api := errorAs[*hubsoft.APIError](t, err)
				if api.StatusCode != 502 || !strings.Contains(api.Snippet, "502 Bad Gateway") {
					t.Errorf("got %+v, want a 502 APIError quoting the page", *api)
				}
				if strings.ContainsAny(api.Snippet, "\r\n") {
					t.Errorf("snippet %q: want one line", api.Snippet)
				}
			},
		},
		{
			name: "503 with Retry-After", fault: hubsofttest.FaultHTML503, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				rl := errorAs[*hubsoft.RateLimitError](t, err)
				if rl.StatusCode != 503 || rl.RetryAfter != 3*time.Second {
					t.Errorf("got %+v, want 503 with RetryAfter 3s", *rl)
				}
			},
		},
		{
			name: "429", fault: hubsofttest.Fault429, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				rl := errorAs[*hubsoft.RateLimitError](t, err)
				if rl.StatusCode != 429 || rl.RetryAfter != 3*time.Second {
					t.Errorf("got %+v, want 429 with RetryAfter 3s", *rl)
				}
				if d, ok := hubsoft.RetryAfter(err); !ok || d != 3*time.Second {
					t.Errorf("RetryAfter: got %s, %v; want 3s, true", d, ok)
				}
			},
		},
		{
			name: "reset", fault: hubsofttest.FaultReset, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				if te := errorAs[*hubsoft.TransportError](t, err); te.Timeout || te.Op != "solicitar_desconexao" {
					t.Errorf("got %+v, want a solicitar_desconexao TransportError, not a timeout", *te)
				}
			},
		},
		{
			name: "truncated", fault: hubsofttest.FaultTruncated, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				errorAs[*hubsoft.TransportError](t, err)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("got %v, want an unexpected EOF", err)
				}
			},
		},
		{
			name: "login page with 200", fault: hubsofttest.FaultLogin200, wantClass: hubsoft.Fail,
			check: func(t *testing.T, err error) {
				api := errorAs[*hubsoft.APIError](t, err)
				if api.StatusCode != 200 || !strings.Contains(api.Reason, "not a HubSoft answer") || !strings.HasPrefix(api.Snippet, "<!DOCTYPE html>") {
					t.Errorf("got %+v, want a 200 APIError that is not a HubSoft answer", *api)
				}
			},
		},
		{
			name: "hang", fault: hubsofttest.FaultHang, timeout: 200 * time.Millisecond, wantClass: hubsoft.Retry,
			check: func(t *testing.T, err error) {
				if te := errorAs[*hubsoft.TransportError](t, err); !te.Timeout {
					t.Errorf("got %+v, want a timeout", *te)
				}
				if errors.Is(err, context.Canceled) {
					t.Errorf("got %v, want no cancellation", err)
				}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []hubsoft.Option
			if tt.timeout > 0 {
				opts = append(opts, hubsoft.WithTimeout(tt.timeout))
			}
			c := newClient(t, srv, opts...)
			ctx := testContext(t)
			// Warm the token and a keep-alive connection first.
			warm := int64(100 + i)
			if _, err := c.Disconnect(ctx, warm); err != nil {
				t.Fatalf("warm-up Disconnect: %v", err)
			}
			id := int64(200 + i)
			srv.InjectFaults(id, tt.fault)
			d, err := c.Disconnect(ctx, id)
			if err == nil {
				t.Fatalf("got %+v, want an error", *d)
			}
			tt.check(t, err)
			wantClass(t, err, tt.wantClass)
			if got := srv.Calls(id); got != 1 {
				t.Errorf("Calls: got %d, want 1", got)
			}
			if got := srv.Answered(id); got != 0 {
				t.Errorf("Answered: got %d, want 0", got)
			}
		})
	}
}

// connTrace records, through httptrace, which connections a call used and
// when a connection went back to the idle pool.
type connTrace struct {
	mu     sync.Mutex
	reused []bool
	idle   chan struct{}
}

func newConnTrace() *connTrace { return &connTrace{idle: make(chan struct{}, 16)} }

func (ct *connTrace) context(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			ct.mu.Lock()
			ct.reused = append(ct.reused, info.Reused)
			ct.mu.Unlock()
		},
		PutIdleConn: func(err error) {
			if err == nil {
				ct.idle <- struct{}{}
			}
		},
	})
}

func (ct *connTrace) conns() []bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return slices.Clone(ct.reused)
}

// waitIdle waits until the connection of every request traced so far has
// gone back to the idle pool, so that the next call reuses one.
func (ct *connTrace) waitIdle(t *testing.T) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range len(ct.conns()) {
		select {
		case <-ct.idle:
		case <-timeout:
			t.Fatal("a connection never went back to the idle pool")
		}
	}
}

// TestNoHiddenReplay checks that a disconnect whose reused keep-alive
// connection is reset is not sent again behind the caller's back, as
// net/http does for idempotent requests. The control case shows that the
// test would see such a replay.
func TestNoHiddenReplay(t *testing.T) {
	tests := []struct {
		name string
		// disconnect sends one disconnect of id with ctx.
		disconnect func(t *testing.T, srv *hubsofttest.Server) func(ctx context.Context, id int64) error
		wantCalls  int
		wantConns  []bool
	}{
		{
			name: "client",
			disconnect: func(t *testing.T, srv *hubsofttest.Server) func(context.Context, int64) error {
				c := newClient(t, srv)
				return func(ctx context.Context, id int64) error {
					_, err := c.Disconnect(ctx, id)
					return err
				}
			},
			wantCalls: 1,
			wantConns: []bool{true},
		},
		{
			name: "control: plain GET is replayed by net/http",
			disconnect: func(t *testing.T, srv *hubsofttest.Server) func(context.Context, int64) error {
				hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
				t.Cleanup(hc.CloseIdleConnections)
				resp, err := hc.PostForm(srv.URL+"/oauth/token", url.Values{
					"grant_type": {"password"}, "client_id": {srv.ClientID}, "client_secret": {srv.ClientSecret},
					"username": {srv.Username}, "password": {srv.Password},
				})
				if err != nil {
					t.Fatal(err)
				}
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				json.NewDecoder(resp.Body).Decode(&tok)
				resp.Body.Close()
				return func(ctx context.Context, id int64) error {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprint(srv.URL, disconnectPath, id), http.NoBody)
					req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
					resp, err := hc.Do(req)
					if err != nil {
						return err
					}
					io.Copy(io.Discard, resp.Body)
					return resp.Body.Close()
				}
			},
			wantCalls: 2,
			wantConns: []bool{true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			disconnect := tt.disconnect(t, srv)
			ctx := testContext(t)

			warm := newConnTrace()
			if err := disconnect(warm.context(ctx), 1); err != nil {
				t.Fatalf("warm-up: %v", err)
			}
			warm.waitIdle(t)

			srv.InjectFaults(2, hubsofttest.FaultReset)
			ct := newConnTrace()
			err := disconnect(ct.context(ctx), 2)
			if got := srv.Calls(2); got != tt.wantCalls {
				t.Errorf("Calls: got %d, want %d (error %v)", got, tt.wantCalls, err)
			}
			if got := ct.conns(); !slices.Equal(got, tt.wantConns) {
				t.Errorf("connections used (reused?): got %v, want %v", got, tt.wantConns)
			}
		})
	}
}

func TestContextCancelled(t *testing.T) {
	t.Run("before the call", func(t *testing.T) {
		srv := newServer(t)
		c := newClient(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.Disconnect(ctx, 1)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		wantClass(t, err, hubsoft.Stop)
		if got := srv.TotalCalls() + srv.TokenRequests(); got != 0 {
			t.Errorf("got %d requests, want 0", got)
		}
	})
	t.Run("during the call", func(t *testing.T) {
		srv := newServer(t)
		c := newClient(t, srv)
		srv.InjectFaults(1, hubsofttest.FaultHang)
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := c.Disconnect(ctx, 1)
			errc <- err
		}()
		if err := srv.WaitFor(testContext(t), func() bool { return srv.Calls(1) == 1 }); err != nil {
			t.Fatalf("the call never arrived: %v", err)
		}
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		wantClass(t, err, hubsoft.Stop)
	})
	t.Run("parent deadline", func(t *testing.T) {
		srv := newServer(t)
		c := newClient(t, srv)
		srv.InjectFaults(1, hubsofttest.FaultHang)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Disconnect(ctx, 1)
		// The run's own deadline is the caller's business, not a timeout of
		// one request: it is returned as is, and stops.
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
		var te *hubsoft.TransportError
		if errors.As(err, &te) {
			t.Errorf("got a TransportError %v, want the context's error", err)
		}
		wantClass(t, err, hubsoft.Stop)
	})
}

// endless writes a body of code that never ends, until the client goes
// away.
func endless(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		io.WriteString(w, `{"status":"success","msg":"`)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	twoMiB := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			w.Write(bytes.Repeat([]byte("x"), 2<<20))
		}
	}
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantClass  hubsoft.Class
	}{
		{"2 MiB answer", twoMiB(200), 200, hubsoft.Fail},
		{"2 MiB 502 page", twoMiB(502), 502, hubsoft.Retry},
		{"endless answer", endless(200), 200, hubsoft.Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := adhoc(t, tt.handler)
			_, err := c.Disconnect(testContext(t), 1)
			api := errorAs[*hubsoft.APIError](t, err)
			if api.StatusCode != tt.wantStatus || !strings.Contains(api.Reason, "larger than") {
				t.Errorf("got %+v, want status %d and a reason about the size", *api, tt.wantStatus)
			}
			wantClass(t, err, tt.wantClass)
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		header string
		min    time.Duration
		max    time.Duration
		want   string // the type of error
	}{
		{"429 with a date", 429, time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat), 118 * time.Second, 2 * time.Minute, "ratelimit"},
		{"503 with a date", 503, time.Now().Add(time.Minute).UTC().Format(http.TimeFormat), 58 * time.Second, time.Minute, "ratelimit"},
		{"429 with a date a day away", 429, time.Now().Add(24 * time.Hour).UTC().Format(http.TimeFormat), 10 * time.Minute, 10 * time.Minute, "ratelimit"},
		{"429 with a past date", 429, "Mon, 02 Jan 2006 15:04:05 GMT", 0, 0, "ratelimit"},
		{"503 with a past date is a plain 503", 503, "Mon, 02 Jan 2006 15:04:05 GMT", 0, 0, "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := adhoc(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tt.header)
				w.WriteHeader(tt.code)
				io.WriteString(w, "<html>busy</html>")
			})
			_, err := c.Disconnect(testContext(t), 1)
			wantClass(t, err, hubsoft.Retry)
			if tt.want == "api" {
				if api := errorAs[*hubsoft.APIError](t, err); api.StatusCode != tt.code {
					t.Errorf("StatusCode: got %d, want %d", api.StatusCode, tt.code)
				}
				return
			}
			rl := errorAs[*hubsoft.RateLimitError](t, err)
			if rl.StatusCode != tt.code || rl.RetryAfter < tt.min || rl.RetryAfter > tt.max {
				t.Errorf("got %+v, want status %d and RetryAfter in [%s, %s]", *rl, tt.code, tt.min, tt.max)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var login atomic.Int32
	c := adhoc(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			login.Add(1)
			io.WriteString(w, `{"status":"success","msg":"not an answer"}`)
			return
		}
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	_, err := c.Disconnect(testContext(t), 1)
	api := errorAs[*hubsoft.APIError](t, err)
	if api.StatusCode != http.StatusFound || !strings.Contains(api.Reason, "redirected to /login") {
		t.Errorf("got %+v, want a 302 naming /login", *api)
	}
	wantClass(t, err, hubsoft.Stop)
	if n := login.Load(); n != 0 {
		t.Errorf("got %d requests to /login, want 0: redirects must not be followed", n)
	}
}

// TestUnusualAnswers covers HubSoft answers the fake does not give.
func TestUnusualAnswers(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		body    string
		want    hubsoft.Disconnection
		wantErr func(t *testing.T, err error)
	}{
		{
			name: "errors as a map",
			code: 200,
			body: `{"status":"error","msg":"Erro de validação","errors":{"id_cliente_servico":["O campo é obrigatório.","Deve ser inteiro."]}}`,
			want: hubsoft.Disconnection{Status: "error", Msg: "Erro de validação", HTTPStatus: 200,
				Errors: []string{"id_cliente_servico: O campo é obrigatório.", "id_cliente_servico: Deve ser inteiro."}},
		},
		{
			name: "envelope with a 500 is HubSoft's answer",
			code: 500,
			body: `{"status":"error","msg":"A desconexão não foi bem sucedida para o login ana!","errors":[],"file":"/var/www/app/Http/Controller.php","line":12}`,
			want: hubsoft.Disconnection{Status: "error", Msg: "A desconexão não foi bem sucedida para o login ana!", Login: "ana", HTTPStatus: 500},
		},
		{
			name: "complete but cut JSON with 200 is retried",
			code: 200,
			body: `{"status":"success","msg":"A descon`,
			wantErr: func(t *testing.T, err error) {
				if api := errorAs[*hubsoft.APIError](t, err); api.StatusCode != 200 || !strings.Contains(api.Reason, "cut short") {
					t.Errorf("got %+v, want a 200 APIError about a cut body", *api)
				}
				wantClass(t, err, hubsoft.Retry)
			},
		},
		{
			name: "404 with Laravel's message fails",
			code: 404,
			body: `{"message":"Not Found"}`,
			wantErr: func(t *testing.T, err error) {
				if api := errorAs[*hubsoft.APIError](t, err); api.StatusCode != 404 || api.Snippet != `{"message":"Not Found"}` {
					t.Errorf("got %+v, want a 404 APIError quoting the body", *api)
				}
				wantClass(t, err, hubsoft.Fail)
			},
		},
		{
			name: "503 without Retry-After is retried",
			code: 503,
			body: `<html>down</html>`,
			wantErr: func(t *testing.T, err error) {
				errorAs[*hubsoft.APIError](t, err)
				wantClass(t, err, hubsoft.Retry)
				if _, ok := hubsoft.RetryAfter(err); ok {
					t.Error("RetryAfter: got ok, want none")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := adhoc(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			})
			got, err := c.Disconnect(testContext(t), 1)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %+v, want an error", *got)
				}
				tt.wantErr(t, err)
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %+v", err, tt.want)
			}
			if got.Status != tt.want.Status || got.Msg != tt.want.Msg || got.Login != tt.want.Login ||
				got.HTTPStatus != tt.want.HTTPStatus || !slices.Equal(got.Errors, tt.want.Errors) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestUntrustedCertificateStops(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("got a request to %s, want none to pass the TLS handshake", r.URL.Path)
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake error is expected
	ts.StartTLS()
	defer ts.Close()
	c := newClientURL(t, ts.URL, hubsoft.WithCredentials(hubsoft.Credentials{ClientID: "1", ClientSecret: "s", Username: "u", Password: "p"}))
	_, err := c.Disconnect(testContext(t), 1)
	if err == nil || !strings.Contains(err.Error(), "certificate is not trusted") {
		t.Fatalf("got %v, want an untrusted certificate error", err)
	}
	if strings.Count(err.Error(), "not trusted") != 1 {
		t.Errorf("error %q: want the hint once", err)
	}
	wantClass(t, err, hubsoft.Stop)
}

func TestServerDown(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	base := ts.URL
	ts.Close()
	c := newClientURL(t, base, hubsoft.WithCredentials(hubsoft.Credentials{ClientID: "1", ClientSecret: "s", Username: "u", Password: "p"}))
	_, err := c.Disconnect(testContext(t), 1)
	te := errorAs[*hubsoft.TransportError](t, err)
	// The token request failed: the disconnect was never sent.
	if te.Op != "token request" {
		t.Errorf("Op: got %q, want %q", te.Op, "token request")
	}
	wantClass(t, err, hubsoft.Retry)
}

func TestDisconnectInvalidID(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	for _, id := range []int64{0, -1} {
		_, err := c.Disconnect(testContext(t), id)
		if err == nil || !strings.Contains(err.Error(), "greater than 0") {
			t.Errorf("Disconnect(%d): got %v, want an error about the id", id, err)
		}
		wantClass(t, err, hubsoft.Fail)
	}
	if got := srv.TotalCalls() + srv.TokenRequests(); got != 0 {
		t.Errorf("got %d requests, want 0", got)
	}
}

func TestNewClientOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []hubsoft.Option
		wantErr string
	}{
		{"no credentials", nil, "no credentials"},
		{"missing password", []hubsoft.Option{hubsoft.WithCredentials(hubsoft.Credentials{ClientID: "1", ClientSecret: "s", Username: "u"})}, "HUBSOFT_PASSWORD"},
		{"blank client id", []hubsoft.Option{hubsoft.WithCredentials(hubsoft.Credentials{ClientID: " ", ClientSecret: "s", Username: "u", Password: "p"})}, "HUBSOFT_CLIENT_ID"},
		{"zero timeout", []hubsoft.Option{hubsoft.WithTokenSource(&staticSource{}), hubsoft.WithTimeout(0)}, "timeout must be positive"},
		{"token source", []hubsoft.Option{hubsoft.WithTokenSource(&staticSource{})}, ""},
		{"credentials", []hubsoft.Option{hubsoft.WithCredentials(hubsoft.Credentials{ClientID: "1", ClientSecret: "s", Username: "u", Password: "p"})}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hubsoft.NewClient("https://isp.hubsoft.com.br", tt.opts...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseBaseURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr []string // substrings of the error; nil means no error
		secret  string   // must not appear in the error
	}{
		{name: "https", raw: "https://isp.hubsoft.com.br", want: "https://isp.hubsoft.com.br"},
		{name: "spaces trimmed", raw: "  https://isp.hubsoft.com.br\n", want: "https://isp.hubsoft.com.br"},
		{name: "upper-case scheme", raw: "HTTPS://isp.hubsoft.com.br", want: "https://isp.hubsoft.com.br"},
		{name: "trailing slash trimmed", raw: "https://isp.hubsoft.com.br/", want: "https://isp.hubsoft.com.br"},
		{name: "path prefix kept", raw: "https://isp.example.com/hubsoft//", want: "https://isp.example.com/hubsoft"},
		{name: "port kept", raw: "https://isp.example.com:8443", want: "https://isp.example.com:8443"},
		{name: "http 127.0.0.1", raw: "http://127.0.0.1:8089", want: "http://127.0.0.1:8089"},
		{name: "http localhost", raw: "http://localhost:8089", want: "http://localhost:8089"},
		{name: "http LOCALHOST", raw: "http://LOCALHOST", want: "http://LOCALHOST"},
		{name: "http ::1", raw: "http://[::1]:8089", want: "http://[::1]:8089"},
		{name: "http example.com refused", raw: "http://example.com", wantErr: []string{"plain http", "https"}},
		{name: "http private address refused", raw: "http://192.168.0.10", wantErr: []string{"https"}},
		{name: "http localhost look-alike refused", raw: "http://localhost.example.com", wantErr: []string{"https"}},
		{name: "empty", raw: "", wantErr: []string{"HUBSOFT_BASE_URL is empty"}},
		{name: "blank", raw: "   ", wantErr: []string{"HUBSOFT_BASE_URL is empty"}},
		{name: "ftp", raw: "ftp://isp.example.com", wantErr: []string{"https://"}},
		{name: "no scheme", raw: "isp.hubsoft.com.br", wantErr: []string{"https://"}},
		{name: "no host", raw: "https://", wantErr: []string{"https://"}},
		{name: "user and password", raw: "https://user:hunter2@isp.example.com", wantErr: []string{"user"}, secret: "hunter2"},
		{name: "ftp with password", raw: "ftp://user:hunter2@isp.example.com", wantErr: []string{"https://"}, secret: "hunter2"},
		{name: "unparsable with password", raw: "https://user:hunter2@isp.example.com:port/", wantErr: []string{"not a URL"}, secret: "hunter2"},
		{name: "query", raw: "https://isp.example.com/?token=x", wantErr: []string{"query"}},
		{name: "empty query", raw: "https://isp.example.com?", wantErr: []string{"query"}},
		{name: "fragment", raw: "https://isp.example.com/#x", wantErr: []string{"fragment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := hubsoft.ParseBaseURL(tt.raw)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want %s", err, tt.want)
				}
				if got := u.String(); got != tt.want {
					t.Errorf("got %s, want %s", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %s, want an error", u)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q: want it to contain %q", err, s)
				}
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q: reveals the password", err)
			}
		})
	}
}

// TestPathPrefix checks that a base URL with a path sends every request
// under it.
func TestPathPrefix(t *testing.T) {
	srv := newServer(t)
	var outside atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/hubsoft/", http.StripPrefix("/hubsoft", srv.Handler()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		outside.Add(1)
		http.NotFound(w, r)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	c := newClientURL(t, ts.URL+"/hubsoft/", hubsoft.WithCredentials(credentials(srv)))
	d, err := c.Disconnect(testContext(t), 42)
	if err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if !d.OK() || d.Login != "cliente42" {
		t.Errorf("got %+v, want success for cliente42", *d)
	}
	if srv.TokenRequests() != 1 || srv.Calls(42) != 1 || outside.Load() != 0 {
		t.Errorf("got %d token requests, %d calls, %d requests outside the prefix; want 1, 1, 0",
			srv.TokenRequests(), srv.Calls(42), outside.Load())
	}
}
