// Package hubsoft is a client for the parts of the HubSoft API that hsbatch
// uses: the password-grant token route and per-service actions such as
// solicitar_desconexao.
//
// Every answer is classified in one place (Classify): a HubSoft envelope
// ({"status": ..., "msg": ...}) is HubSoft's answer whatever its HTTP status;
// everything else (HTML pages, throttling, timeouts, resets) is a typed
// error that is either worth a retry, fails one request, or must stop a
// batch.
package hubsoft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	userAgent = "hsbatch/1"
	// maxBody caps what is read of any answer. HubSoft's answers are a few
	// hundred bytes; an HTML error page is a few kilobytes.
	maxBody = 1 << 20
	// DefaultTimeout bounds each request, body included.
	DefaultTimeout = 30 * time.Second
)

// Client talks to one HubSoft server. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	hc      *http.Client
	tokens  *cachedSource
	timeout time.Duration
}

// Option configures a Client.
type Option func(*config)

type config struct {
	creds     Credentials
	hasCreds  bool
	source    TokenSource
	timeout   time.Duration
	transport http.RoundTripper
	now       func() time.Time
}

// WithCredentials sets the credentials for HubSoft's password grant.
func WithCredentials(c Credentials) Option {
	return func(cfg *config) { cfg.creds, cfg.hasCreds = c, true }
}

// WithTokenSource replaces the password grant with another token source.
// Tokens are still cached and renewed on a 401; a token without Expiry is
// used for up to 24 hours, like any other.
func WithTokenSource(s TokenSource) Option {
	return func(cfg *config) { cfg.source = s }
}

// WithTimeout bounds every request, its body included. The default is
// DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(cfg *config) { cfg.timeout = d }
}

// WithTransport sets the underlying RoundTripper, for tests and proxies.
func WithTransport(rt http.RoundTripper) Option {
	return func(cfg *config) { cfg.transport = rt }
}

// NewClient returns a client for the HubSoft server at baseURL, such as
// "https://ispname.hubsoft.com.br". The URL must use https; plain http is
// accepted only for loopback addresses, such as a local fake server.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	base, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	cfg := config{timeout: DefaultTimeout, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("timeout must be positive, got %s", cfg.timeout)
	}
	rt := cfg.transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 0
		t.MaxIdleConnsPerHost = 256
		t.ResponseHeaderTimeout = cfg.timeout
		rt = t
	}
	// Redirects are reported, not followed: HubSoft does not redirect API
	// calls, and a redirect to a login page must not look like an answer.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	plain := &http.Client{Transport: rt, CheckRedirect: noRedirect}

	src := cfg.source
	if src == nil {
		if !cfg.hasCreds {
			return nil, errors.New("hubsoft: no credentials: use WithCredentials or WithTokenSource")
		}
		if err := cfg.creds.Validate(); err != nil {
			return nil, err
		}
		src = &passwordGrant{
			tokenURL: base.JoinPath("oauth", "token").String(),
			creds:    cfg.creds,
			hc:       plain,
			timeout:  cfg.timeout,
			now:      cfg.now,
		}
	}
	cache := &cachedSource{new: src, now: cfg.now}
	return &Client{
		base:    base,
		tokens:  cache,
		timeout: cfg.timeout,
		hc: &http.Client{
			Transport:     &transport{Source: cache, Base: rt},
			CheckRedirect: noRedirect,
		},
	}, nil
}

// ParseBaseURL checks a HubSoft base URL: https, or http on loopback only,
// with no credentials, query or fragment in it. Trailing slashes are
// trimmed; a path prefix is kept, and API paths are joined under it.
// Error messages never repeat a password found in raw.
func ParseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("HUBSOFT_BASE_URL is empty: set it to your HubSoft address, such as https://ispname.hubsoft.com.br")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("HUBSOFT_BASE_URL %q is not a URL: %v", redactURL(raw), err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("HUBSOFT_BASE_URL %q must start with https:// and name a host", redactURL(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, errors.New("HUBSOFT_BASE_URL must not hold a user, query or fragment; give only scheme, host and optional path")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("HUBSOFT_BASE_URL %q uses plain http: tokens and passwords would cross the network unencrypted; use https (http is allowed only for loopback addresses)", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// redactURL returns raw with any user information replaced, for error
// messages.
func redactURL(raw string) string {
	rest, prefix := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		prefix, rest = raw[:i+3], raw[i+3:]
	}
	authority := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority = rest[:j]
	}
	if k := strings.LastIndex(authority, "@"); k >= 0 {
		return prefix + "REDACTED@" + rest[k+1:]
	}
	return raw
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Disconnection is HubSoft's answer to solicitar_desconexao.
type Disconnection struct {
	Status     string   // "success" or "error"
	Msg        string   // HubSoft's message, in Portuguese
	Login      string   // the subscriber's login, when HubSoft gives it
	Errors     []string // HubSoft's errors list; may be empty
	HTTPStatus int
}

// OK reports whether HubSoft said the disconnect succeeded.
func (d *Disconnection) OK() bool { return d.Status == StatusSuccess }

// The two statuses of a HubSoft envelope.
const (
	StatusSuccess = "success"
	StatusError   = "error"
)

// Authenticate gets a token now, if the client has none. A batch calls it
// before its first row, so that rejected credentials, a wrong address or a
// server that is down stop the run before any row is touched.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.tokens.Token(ctx)
	return err
}

// Disconnect asks HubSoft to drop the session of service id: GET
// /api/v1/integracao/cliente/solicitar_desconexao/{id}. A HubSoft answer,
// success or error, comes back as a Disconnection with a nil error; every
// other outcome is an error for Classify.
func (c *Client) Disconnect(ctx context.Context, id int64) (*Disconnection, error) {
	if id <= 0 {
		return nil, fmt.Errorf("id_cliente_servico must be an integer greater than 0, got %d", id)
	}
	const op = "solicitar_desconexao"
	status, env, err := c.get(ctx, op, "api", "v1", "integracao", "cliente", "solicitar_desconexao", strconv.FormatInt(id, 10))
	if err != nil {
		return nil, err
	}
	login := env.login
	if login == "" {
		login = loginFromMsg(env.msg)
	}
	return &Disconnection{Status: env.status, Msg: env.msg, Login: login, Errors: env.errors, HTTPStatus: status}, nil
}

// loginInMsg matches the end of HubSoft's disconnect messages, "... para o
// login hubsoft!". It is strict on purpose: the phrase must start the
// message or follow a space, the login is one run of non-space characters
// without "!" that does not end in punctuation, and only an optional "!"
// may follow it.
var loginInMsg = regexp.MustCompile(`(?:^|\s)[Pp]ara o login ([^\s!]*[^\s!.,;:])!?$`)

// loginFromMsg returns the login named at the end of msg, or "". HubSoft's
// error answers carry no login field, but their message ends with it.
func loginFromMsg(msg string) string {
	m := loginInMsg.FindStringSubmatch(strings.TrimSpace(msg))
	if m == nil {
		return ""
	}
	return m[1]
}

// get sends one GET and returns HubSoft's envelope, or a typed error.
func (c *Client) get(ctx context.Context, op string, path ...string) (int, *envelope, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(rctx, http.MethodGet, path...)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, requestError(ctx, op, err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body)
	if err != nil {
		return 0, nil, bodyError(ctx, op, resp, err)
	}
	env, err := checkResponse(op, resp, body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, env, nil
}

func (c *Client) newRequest(ctx context.Context, method string, path ...string) (*http.Request, error) {
	u := c.base.JoinPath(path...)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), noReplay{})
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

// checkResponse decides what an answer is. Status codes that mean "stop" or
// "wait" win over the body; otherwise a HubSoft envelope is the answer,
// whatever the status; anything else is an APIError.
func checkResponse(op string, resp *http.Response, body []byte) (*envelope, error) {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		// The transport already fetched a new token and tried again.
		return nil, &AuthError{StatusCode: resp.StatusCode}
	case http.StatusForbidden, http.StatusTooManyRequests:
		return nil, checkStatus(op, resp, body)
	case http.StatusServiceUnavailable:
		if resp.Header.Get("Retry-After") != "" {
			return nil, checkStatus(op, resp, body)
		}
	}
	if isRedirect(resp.StatusCode) {
		return nil, redirectError(op, resp)
	}
	env, perr := parseEnvelope(body)
	if perr == nil {
		return env, nil
	}
	err := checkStatus(op, resp, body)
	var api *APIError
	if errors.As(err, &api) && resp.StatusCode == http.StatusOK && errors.Is(perr, errTruncatedJSON) {
		api.Reason = reasonTruncated
	}
	return nil, err
}

// transport is an http.RoundTripper that authorizes each request with a
// token from Source. When the server answers 401 to a token, it drops that
// token, gets a new one (once, however many requests saw the 401) and
// sends the request again, once: a 401 means the request was not carried
// out. Only GETs are sent again.
type transport struct {
	Source *cachedSource
	Base   http.RoundTripper
}

var _ http.RoundTripper = (*transport)(nil)

// RoundTrip authorizes and sends req.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := t.Source.Token(req.Context())
		if err != nil {
			return nil, &tokenSourceError{err}
		}
		r := req.Clone(req.Context())
		r.Header.Set("Authorization", tok.header())
		resp, err := t.Base.RoundTrip(r)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || attempt > 0 || req.Method != http.MethodGet {
			return resp, err
		}
		drain(resp)
		t.Source.invalidate(tok)
	}
}

// tokenSourceError marks an error of the token source, so that
// requestError can report it as it is rather than as a failure of the
// request that needed the token.
type tokenSourceError struct{ err error }

func (e *tokenSourceError) Error() string { return e.err.Error() }
func (e *tokenSourceError) Unwrap() error { return e.err }

// noReplay is an empty request body. net/http silently sends a bodiless
// GET a second time when a reused connection breaks after the request was
// written; a disconnect is not a read, so every send must be one the
// caller counts. A body that is not http.NoBody, without GetBody, makes the
// request non-replayable (TestNoHiddenReplay checks it). Over HTTP/1
// net/http still sends no body, since it probes an empty body on a GET and
// drops it; over HTTP/2 the request ends with an empty DATA frame.
type noReplay struct{}

func (noReplay) Read([]byte) (int, error) { return 0, io.EOF }
func (noReplay) Close() error             { return nil }

// drain reads up to 4 KiB of a body we throw away, so that the connection
// can be reused when the body is short, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
}
