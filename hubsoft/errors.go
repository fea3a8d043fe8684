package hubsoft

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AuthError means HubSoft rejected the credentials or, after a fresh token,
// still refused the token. Nothing succeeds until an operator fixes it, so
// a batch must stop rather than fail every row.
type AuthError struct {
	StatusCode  int
	Code        string // "invalid_credentials", "invalid_grant", ... or "" for a refused token
	Description string
}

func (e *AuthError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HubSoft refused a freshly issued token (HTTP %d): the API user may lack access to the API", e.StatusCode)
	}
	return fmt.Sprintf("HubSoft rejected the credentials (HTTP %d %s): check HUBSOFT_CLIENT_ID, HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME and HUBSOFT_PASSWORD", e.StatusCode, e.Code)
}

// PermissionError is a 403: the API user lacks a permission, or the
// caller's address is not on HubSoft's allowlist. It holds for every row, so
// a batch must stop.
type PermissionError struct {
	StatusCode int
	Msg        string
}

func (e *PermissionError) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = "forbidden"
	}
	return fmt.Sprintf("HubSoft refused access (HTTP %d: %s): give the API user the permission, or allowlist this machine's IP", e.StatusCode, msg)
}

// RateLimitError is a 429, or a 503 that carries Retry-After.
type RateLimitError struct {
	StatusCode int
	RetryAfter time.Duration // zero when the server did not say
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("HubSoft is throttling requests (HTTP %d, Retry-After %s)", e.StatusCode, e.RetryAfter)
	}
	return fmt.Sprintf("HubSoft is throttling requests (HTTP %d)", e.StatusCode)
}

// APIError is an answer that is not a HubSoft envelope: an HTML error or
// login page, a non-JSON or truncated body, an unexpected status.
type APIError struct {
	Op          string
	StatusCode  int
	ContentType string
	Snippet     string // the start of the body, for the operator
	Reason      string // optional hint
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: unexpected answer HTTP %d", e.Op, e.StatusCode)
	if e.ContentType != "" {
		fmt.Fprintf(&b, " (%s)", e.ContentType)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.Snippet != "" {
		fmt.Fprintf(&b, ": %q", e.Snippet)
	}
	return b.String()
}

// TransportError is a failure to get an answer at all: a connection
// refused or reset, a timeout, a body cut short.
type TransportError struct {
	Op      string
	Timeout bool
	Err     error
}

func (e *TransportError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("%s: no answer within the timeout", e.Op)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// errTooLarge is returned for answers longer than maxBody.
var errTooLarge = fmt.Errorf("answer larger than %d bytes", maxBody)

// Class is what a caller should do about an error.
type Class int

const (
	// Retry: a transient failure; the same request may succeed later.
	Retry Class = iota
	// Fail: this request will not succeed as it is; give up on it.
	Fail
	// Stop: no request will succeed until an operator acts, or the caller
	// was cancelled. Stop the whole batch.
	Stop
)

func (c Class) String() string {
	switch c {
	case Retry:
		return "retry"
	case Fail:
		return "fail"
	case Stop:
		return "stop"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Classify is the one place that decides whether an error is worth a retry,
// fails one request, or must stop a batch.
func Classify(err error) Class {
	var (
		auth *AuthError
		perm *PermissionError
		rl   *RateLimitError
		api  *APIError
		tr   *TransportError
	)
	switch {
	case err == nil:
		return Fail
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &tr):
		return Stop
	case errors.As(err, &auth), errors.As(err, &perm):
		return Stop
	case isCertError(err):
		return Stop
	case errors.As(err, &rl):
		return Retry
	case errors.As(err, &api):
		switch {
		case api.StatusCode >= 500, api.StatusCode == http.StatusRequestTimeout:
			return Retry
		case api.StatusCode == http.StatusOK && api.Reason == reasonTruncated:
			return Retry
		case isRedirect(api.StatusCode), api.StatusCode == http.StatusNotFound && api.Op == opToken:
			// The address is wrong for every request, not for this one.
			return Stop
		}
		return Fail
	case errors.As(err, &tr):
		return Retry
	}
	return Fail
}

// RetryAfter returns how long the server asked callers to wait, if it did.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitError
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		return rl.RetryAfter, true
	}
	return 0, false
}

// StatusCode returns the HTTP status carried by err, or 0.
func StatusCode(err error) int {
	var (
		auth *AuthError
		perm *PermissionError
		rl   *RateLimitError
		api  *APIError
	)
	switch {
	case errors.As(err, &auth):
		return auth.StatusCode
	case errors.As(err, &perm):
		return perm.StatusCode
	case errors.As(err, &rl):
		return rl.StatusCode
	case errors.As(err, &api):
		return api.StatusCode
	}
	return 0
}

const reasonTruncated = "the body is not valid JSON (cut short?)"

// requestError wraps an error from sending a request or reading its answer.
// When the caller's own context is done, its error is returned as is. An
// error of the token source that is already typed (an AuthError, a "token
// request" TransportError, ...) is returned as is too, not wrapped as a
// failure of the request that needed the token.
func requestError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ts *tokenSourceError
	if errors.As(err, &ts) && isTyped(ts.err) {
		return ts.err
	}
	// Certificate problems are configuration, not weather: keep them visible.
	if isCertError(err) {
		return fmt.Errorf("%s: the server's TLS certificate is not trusted: %w", op, err)
	}
	return &TransportError{Op: op, Timeout: isTimeout(err), Err: err}
}

// bodyError is requestError for a failure to read the body of resp.
func bodyError(ctx context.Context, op string, resp *http.Response, err error) error {
	if ctx.Err() == nil && errors.Is(err, errTooLarge) {
		return &APIError{Op: op, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Reason: err.Error()}
	}
	return requestError(ctx, op, err)
}

// isTyped reports whether err is, or wraps, an error this package has
// already classified.
func isTyped(err error) bool {
	var (
		auth *AuthError
		perm *PermissionError
		rl   *RateLimitError
		api  *APIError
		tr   *TransportError
	)
	return errors.As(err, &auth) || errors.As(err, &perm) || errors.As(err, &rl) ||
		errors.As(err, &api) || errors.As(err, &tr) || isCertError(err)
}

func isCertError(err error) bool {
	var (
		cert  *tls.CertificateVerificationError
		unkCA x509.UnknownAuthorityError
		host  x509.HostnameError
	)
	return errors.As(err, &cert) || errors.As(err, &unkCA) || errors.As(err, &host)
}

// isTimeout reports whether err is a deadline: the request's own, or one of
// net/http's (such as its response header timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

const (
	reasonRedirect = "redirected to "
	// opToken is the Op of errors from the token route.
	opToken = "token request"
)

func isRedirect(code int) bool { return code >= 300 && code < 400 }

// redirectError reports a redirect, which is never followed: HubSoft does
// not redirect API calls, and a redirect to a login page must not look like
// an answer.
func redirectError(op string, resp *http.Response) error {
	return &APIError{Op: op, StatusCode: resp.StatusCode, Reason: reasonRedirect + resp.Header.Get("Location") + "; check HUBSOFT_BASE_URL"}
}

// checkStatus turns a non-envelope answer into a typed error.
func checkStatus(op string, resp *http.Response, body []byte) error {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return &RateLimitError{StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case http.StatusServiceUnavailable:
		if d := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); d > 0 {
			return &RateLimitError{StatusCode: resp.StatusCode, RetryAfter: d}
		}
	case http.StatusForbidden:
		return &PermissionError{StatusCode: resp.StatusCode, Msg: forbiddenMsg(body)}
	}
	reason := ""
	switch resp.StatusCode {
	case http.StatusOK:
		reason = "not a HubSoft answer; check HUBSOFT_BASE_URL"
	case http.StatusNotFound:
		reason = "no such route; check HUBSOFT_BASE_URL: give the root address, such as https://ispname.hubsoft.com.br, without /api/v1"
	}
	return &APIError{Op: op, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Snippet: snippet(body), Reason: reason}
}

// maxRetryAfter bounds a server's Retry-After, so that a bogus header cannot
// park a batch for days.
const maxRetryAfter = 10 * time.Minute

// parseRetryAfter reads delay-seconds or an HTTP date. It returns 0 when the
// header is absent or unusable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	// A number too large for int64 is huge, not garbage: ParseInt then
	// returns the largest int64, which is capped below.
	if s, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if s <= 0 {
			return 0
		}
		if s > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// snippetLen is how much of an unexpected body an error quotes.
const snippetLen = 120

// snippet returns the start of body as one printable line.
func snippet(body []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body[:min(len(body), 4*snippetLen)]), "\uFFFD")), " ")
	if utf8.RuneCountInString(s) > snippetLen {
		s = string([]rune(s)[:snippetLen]) + "…"
	}
	return s
}
