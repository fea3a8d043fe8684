package hubsoft

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Token is an OAuth access token issued by HubSoft's /oauth/token route.
type Token struct {
	AccessToken string
	TokenType   string // "Bearer" in practice
	Expiry      time.Time
}

// header is the value of the Authorization header for t.
func (t *Token) header() string {
	typ := t.TokenType
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	return typ + " " + t.AccessToken
}

// String hides the token, so that it can never be logged by accident. It
// and GoString have value receivers so that a Token printed by value, or
// with %#v, is hidden too.
func (t Token) String() string { return "hubsoft.Token(REDACTED)" }

// GoString hides the token from %#v too.
func (t Token) GoString() string { return t.String() }

// TokenSource returns tokens. Implementations must be safe for concurrent use.
//
// Token takes a context, unlike oauth2.TokenSource, so that a token request
// can be cancelled with the run.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// Credentials are what HubSoft's password grant needs.
type Credentials struct {
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
}

// String hides the secrets.
func (c Credentials) String() string {
	return fmt.Sprintf("hubsoft.Credentials{ClientID: %q, Username: %q, secrets REDACTED}", c.ClientID, c.Username)
}

// GoString hides the secrets from %#v too.
func (c Credentials) GoString() string { return c.String() }

// Validate reports which credential is missing, if any.
func (c Credentials) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"HUBSOFT_CLIENT_ID", c.ClientID},
		{"HUBSOFT_CLIENT_SECRET", c.ClientSecret},
		{"HUBSOFT_USERNAME", c.Username},
		{"HUBSOFT_PASSWORD", c.Password},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing credentials: set %s", strings.Join(missing, ", "))
	}
	return nil
}

// maxTokenLifetime caps how long a token is used, whatever expires_in or
// Token.Expiry says: HubSoft advises a new token every 24 hours. A token
// with a zero Expiry is used for that long too.
const maxTokenLifetime = 24 * time.Hour

// expiryDelta makes tokens expire a little early, so that a request never
// leaves with a token that dies on the way. For tokens that live less than
// twice as long, half their lifetime is used instead, so that a short-lived
// token is still reused.
const expiryDelta = time.Minute

// passwordGrant fetches tokens with HubSoft's password grant.
type passwordGrant struct {
	tokenURL string
	creds    Credentials
	hc       *http.Client
	timeout  time.Duration
	now      func() time.Time
	form     atomic.Bool // the server reads only form bodies
}

// Token requests a new token. It is not cached; see cachedSource.
//
// HubSoft documents a JSON body; servers that read only form bodies answer
// 400 unsupported_grant_type or invalid_request (they saw no grant_type),
// or 415. Then the request is sent once more, form-encoded, and that
// encoding is kept for later tokens.
func (g *passwordGrant) Token(ctx context.Context) (*Token, error) {
	form := g.form.Load()
	resp, data, err := g.post(ctx, form)
	if err != nil {
		return nil, err
	}
	if !form && wantsForm(resp.StatusCode, data) {
		if resp, data, err = g.post(ctx, true); err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			g.form.Store(true)
		}
	}
	return g.parse(resp, data)
}

// wantsForm reports whether a token answer says the server did not read a
// JSON body.
func wantsForm(status int, body []byte) bool {
	if status == http.StatusUnsupportedMediaType {
		return true
	}
	var e struct {
		Error string `json:"error"`
	}
	return status == http.StatusBadRequest && json.Unmarshal(body, &e) == nil &&
		(e.Error == "unsupported_grant_type" || e.Error == "invalid_request")
}

// post sends the password grant, as JSON or as a form, and reads the
// answer. The body of resp is already read into data and closed.
func (g *passwordGrant) post(ctx context.Context, form bool) (*http.Response, []byte, error) {
	fields := map[string]string{
		"grant_type":    "password",
		"client_id":     g.creds.ClientID,
		"client_secret": g.creds.ClientSecret,
		"username":      g.creds.Username,
		"password":      g.creds.Password,
	}
	var (
		body        []byte
		contentType string
	)
	if form {
		v := url.Values{}
		for k, f := range fields {
			v.Set(k, f)
		}
		body, contentType = []byte(v.Encode()), "application/x-www-form-urlencoded"
	} else {
		var err error
		if body, err = json.Marshal(fields); err != nil {
			return nil, nil, err
		}
		contentType = "application/json"
	}
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, g.tokenURL, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := g.hc.Do(req)
	if err != nil {
		return nil, nil, requestError(ctx, opToken, err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp.Body)
	if err != nil {
		return nil, nil, bodyError(ctx, opToken, resp, err)
	}
	return resp, data, nil
}

// parse turns a token answer into a token or a typed error.
func (g *passwordGrant) parse(resp *http.Response, data []byte) (*Token, error) {
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	jsonErr := json.Unmarshal(data, &tr)

	switch {
	case resp.StatusCode == http.StatusOK && jsonErr == nil && tr.AccessToken != "":
		return &Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, Expiry: g.now().Add(tokenLifetime(tr.ExpiresIn))}, nil
	case resp.StatusCode == http.StatusUnauthorized,
		resp.StatusCode == http.StatusBadRequest && jsonErr == nil && tr.Error != "":
		// 401 invalid_credentials (or any 401: nothing else is meant on
		// this route), 400 invalid_grant, invalid_client, invalid_request:
		// retrying with the same credentials can only fail again, and many
		// failed logins may lock the API user.
		code := tr.Error
		if jsonErr != nil || code == "" {
			code = "unauthorized"
		}
		return nil, &AuthError{StatusCode: resp.StatusCode, Code: code, Description: tr.Description}
	case isRedirect(resp.StatusCode):
		return nil, redirectError(opToken, resp)
	case resp.StatusCode == http.StatusOK:
		// A 200 without a token: an HTML login page or a proxy page.
		return nil, &APIError{Op: opToken, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Snippet: tokenSnippet(data),
			Reason: "the answer holds no access_token; check HUBSOFT_BASE_URL"}
	default:
		err := checkStatus(opToken, resp, data)
		var api *APIError
		if errors.As(err, &api) {
			api.Snippet = tokenSnippet(data)
		}
		return nil, err
	}
}

// tokenLifetime reads expires_in, in seconds, as a JSON number or string.
// It is capped at maxTokenLifetime, which is also the lifetime when
// expires_in is absent or unusable.
func tokenLifetime(raw json.RawMessage) time.Duration {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return maxTokenLifetime
	}
	s, err := n.Int64()
	if err != nil || s <= 0 || s >= int64(maxTokenLifetime/time.Second) {
		return maxTokenLifetime
	}
	return time.Duration(s) * time.Second
}

// tokenSnippet is snippet for answers of the token route, which are never
// quoted when they might hold a token.
func tokenSnippet(body []byte) string {
	if bytes.Contains(body, []byte("access_token")) || bytes.Contains(body, []byte("refresh_token")) {
		return "(body withheld: it may hold a token)"
	}
	return snippet(body)
}

// cachedSource caches a token and fetches a new one when it has expired or
// was invalidated. However many goroutines ask at once, one request is sent:
// the first becomes the leader and the others wait for its result.
type cachedSource struct {
	new TokenSource
	now func() time.Time

	mu       sync.Mutex
	tok      *Token
	useUntil time.Time // tok is used while now is before it; see expiresAt
	inflight *tokenCall
}

// tokenCall is one fetch in progress; done is closed when tok/err are set.
type tokenCall struct {
	done       chan struct{}
	tok        *Token
	err        error
	leaderDone bool // the leader's context ended: err is not the server's
}

var _ TokenSource = (*cachedSource)(nil)
var _ TokenSource = (*passwordGrant)(nil)

// Token returns the cached token, or fetches one (once) if there is none.
func (s *cachedSource) Token(ctx context.Context) (*Token, error) {
	for {
		s.mu.Lock()
		if t := s.tok; t != nil && s.now().Before(s.useUntil) {
			s.mu.Unlock()
			return t, nil
		}
		c := s.inflight
		leader := c == nil
		if leader {
			c = &tokenCall{done: make(chan struct{})}
			s.inflight = c
		}
		s.mu.Unlock()

		if leader {
			c.tok, c.err = s.new.Token(ctx)
			c.leaderDone = ctx.Err() != nil
			if c.err == nil && c.tok == nil {
				c.err = errors.New("hubsoft: the token source returned no token")
			}
			s.mu.Lock()
			s.inflight = nil
			if c.err == nil {
				s.tok, s.useUntil = c.tok, expiresAt(c.tok, s.now())
			}
			s.mu.Unlock()
			close(c.done)
			return c.tok, c.err
		}

		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
		}
		// The leader's own context may have ended its fetch; ours has not,
		// so try again rather than report someone else's cancellation. A
		// fetch that failed on its own (a timeout, a refusal) is everyone's
		// answer: asking again, one waiter after another, would multiply
		// the requests to a struggling server.
		if c.err != nil && c.leaderDone && ctx.Err() == nil {
			continue
		}
		return c.tok, c.err
	}
}

// expiresAt returns when a token fetched at now stops being used: its
// Expiry, or maxTokenLifetime after now if that is sooner or Expiry is zero,
// less expiryDelta (or half the lifetime, if that is shorter).
func expiresAt(t *Token, now time.Time) time.Time {
	end := now.Add(maxTokenLifetime)
	if !t.Expiry.IsZero() && t.Expiry.Before(end) {
		end = t.Expiry
	}
	life := end.Sub(now)
	return end.Add(-min(expiryDelta, life/2))
}

// invalidate drops t from the cache if it is still the cached token. Workers
// that all saw the same revoked token thus cause one new fetch, not many.
func (s *cachedSource) invalidate(t *Token) {
	s.mu.Lock()
	if s.tok == t {
		s.tok = nil
	}
	s.mu.Unlock()
}

// readBody reads at most maxBody bytes of an answer.
func readBody(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBody {
		return nil, errTooLarge
	}
	return data, nil
}
