package hubsoft

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Fail},
		{"plain error", errors.New("boom"), Fail},
		{"auth", &AuthError{StatusCode: 401, Code: "invalid_credentials"}, Stop},
		{"wrapped auth", fmt.Errorf("row 3: %w", &AuthError{StatusCode: 401}), Stop},
		{"permission", &PermissionError{StatusCode: 403}, Stop},
		{"cancelled", context.Canceled, Stop},
		{"wrapped cancelled", fmt.Errorf("x: %w", context.Canceled), Stop},
		{"caller's deadline", context.DeadlineExceeded, Stop},
		{"request timeout", &TransportError{Op: "op", Timeout: true, Err: context.DeadlineExceeded}, Retry},
		{"transport", &TransportError{Op: "op", Err: io.ErrUnexpectedEOF}, Retry},
		{"untrusted certificate", fmt.Errorf("op: %w", x509.UnknownAuthorityError{}), Stop},
		{"wrong host certificate", fmt.Errorf("op: %w", x509.HostnameError{Host: "x"}), Stop},
		{"rate limit", &RateLimitError{StatusCode: 429}, Retry},
		{"500", &APIError{StatusCode: 500}, Retry},
		{"502", &APIError{StatusCode: 502}, Retry},
		{"504", &APIError{StatusCode: 504}, Retry},
		{"408", &APIError{StatusCode: 408}, Retry},
		{"404", &APIError{StatusCode: 404}, Fail},
		{"302: the address is wrong for every request", &APIError{StatusCode: 302}, Stop},
		{"404 on the token route", &APIError{Op: opToken, StatusCode: 404}, Stop},
		{"404 on a row", &APIError{Op: "solicitar_desconexao", StatusCode: 404}, Fail},
		{"200 not an answer", &APIError{StatusCode: 200, Reason: "not a HubSoft answer"}, Fail},
		{"200 cut short", &APIError{StatusCode: 200, Reason: reasonTruncated}, Retry},
		{"too large", &APIError{StatusCode: 200, Reason: errTooLarge.Error()}, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v): got %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

func TestClassString(t *testing.T) {
	tests := []struct {
		c    Class
		want string
	}{
		{Retry, "retry"}, {Fail, "fail"}, {Stop, "stop"}, {Class(9), "Class(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRetryAfterAndStatusCode(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantAfter  time.Duration
		wantOK     bool
		wantStatus int
	}{
		{"rate limit with delay", fmt.Errorf("x: %w", &RateLimitError{StatusCode: 429, RetryAfter: 5 * time.Second}), 5 * time.Second, true, 429},
		{"rate limit without delay", &RateLimitError{StatusCode: 503}, 0, false, 503},
		{"auth", &AuthError{StatusCode: 400}, 0, false, 400},
		{"permission", &PermissionError{StatusCode: 403}, 0, false, 403},
		{"api", &APIError{StatusCode: 502}, 0, false, 502},
		{"transport", &TransportError{Err: io.EOF}, 0, false, 0},
		{"nil", nil, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := RetryAfter(tt.err)
			if d != tt.wantAfter || ok != tt.wantOK {
				t.Errorf("RetryAfter: got %s, %v; want %s, %v", d, ok, tt.wantAfter, tt.wantOK)
			}
			if got := StatusCode(tt.err); got != tt.wantStatus {
				t.Errorf("StatusCode: got %d, want %d", got, tt.wantStatus)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"auth credentials", &AuthError{StatusCode: 401, Code: "invalid_credentials", Description: "The user credentials were incorrect."},
			[]string{"HTTP 401 invalid_credentials", "HUBSOFT_CLIENT_ID", "HUBSOFT_PASSWORD"}},
		{"auth token", &AuthError{StatusCode: 401}, []string{"freshly issued token", "HTTP 401"}},
		{"permission", &PermissionError{StatusCode: 403, Msg: "Host not in allowlist"}, []string{"HTTP 403: Host not in allowlist", "allowlist this machine"}},
		{"permission without msg", &PermissionError{StatusCode: 403}, []string{"HTTP 403: forbidden"}},
		{"rate limit", &RateLimitError{StatusCode: 429, RetryAfter: 2 * time.Second}, []string{"HTTP 429", "Retry-After 2s"}},
		{"api", &APIError{Op: "solicitar_desconexao", StatusCode: 502, ContentType: "text/html", Snippet: "<html>", Reason: "why"},
			[]string{"solicitar_desconexao: unexpected answer HTTP 502 (text/html): why: \"<html>\""}},
		{"transport timeout", &TransportError{Op: "op", Timeout: true, Err: context.DeadlineExceeded}, []string{"op: no answer within the timeout"}},
		{"transport", &TransportError{Op: "op", Err: io.ErrUnexpectedEOF}, []string{"op: unexpected EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.err.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name string
		v    string
		want time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "120", 2 * time.Minute},
		{"seconds with spaces", " 5 ", 5 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"garbage", "soon", 0},
		{"fraction", "1.5", 0},
		{"huge seconds", "999999", maxRetryAfter},
		{"overflowing seconds", "99999999999999999999", maxRetryAfter},
		{"overflowing negative", "-99999999999999999999", 0},
		{"just the cap", "600", maxRetryAfter},
		{"HTTP date", date(90 * time.Second), 90 * time.Second},
		{"RFC 850 date", now.Add(time.Minute).Format(time.RFC850), time.Minute},
		{"past date", date(-time.Hour), 0},
		{"date now", date(0), 0},
		{"far date", date(72 * time.Hour), maxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.v, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q): got %s, want %s", tt.v, got, tt.want)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("é", 500)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty", "", ""},
		{"short", `{"message":"Not Found"}`, `{"message":"Not Found"}`},
		{"folded", "<html>\r\n<head>\t<title>502</title>\n</head>", "<html> <head> <title>502</title> </head>"},
		{"long is cut", long, strings.Repeat("é", snippetLen) + "…"},
		{"invalid UTF-8", "ok\xff\xfeok", "ok\uFFFDok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := snippet([]byte(tt.body))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n") {
				t.Errorf("got %q, want one line of valid UTF-8", got)
			}
		})
	}
}

func TestRequestError(t *testing.T) {
	live := t.Context()
	done, cancel := context.WithCancel(t.Context())
	cancel()
	auth := &AuthError{StatusCode: 401, Code: "invalid_credentials"}
	tokenTransport := &TransportError{Op: "token request", Err: io.EOF}
	tests := []struct {
		name  string
		ctx   context.Context
		err   error
		check func(t *testing.T, got error)
	}{
		{"caller cancelled wins", done, io.EOF, func(t *testing.T, got error) {
			if got != context.Canceled {
				t.Errorf("got %v, want context.Canceled itself", got)
			}
		}},
		{"token source auth error surfaces", live, fmt.Errorf("Get x: %w", &tokenSourceError{auth}), func(t *testing.T, got error) {
			if got != error(auth) {
				t.Errorf("got %v, want the AuthError itself", got)
			}
		}},
		{"token source transport error surfaces", live, fmt.Errorf("Get x: %w", &tokenSourceError{tokenTransport}), func(t *testing.T, got error) {
			if got != error(tokenTransport) {
				t.Errorf("got %v, want the token request's TransportError", got)
			}
		}},
		{"token source timeout is this request's", live, fmt.Errorf("Get x: %w", &tokenSourceError{context.DeadlineExceeded}), func(t *testing.T, got error) {
			var te *TransportError
			if !errors.As(got, &te) || !te.Timeout || te.Op != "op" {
				t.Errorf("got %v, want an op timeout", got)
			}
		}},
		{"untyped token source error is wrapped", live, &tokenSourceError{errors.New("vault down")}, func(t *testing.T, got error) {
			var te *TransportError
			if !errors.As(got, &te) || te.Op != "op" || !strings.Contains(got.Error(), "vault down") {
				t.Errorf("got %v, want an op TransportError naming the cause", got)
			}
		}},
		{"net timeout", live, fmt.Errorf("x: %w", timeoutErr{}), func(t *testing.T, got error) {
			var te *TransportError
			if !errors.As(got, &te) || !te.Timeout {
				t.Errorf("got %v, want a timeout", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, requestError(tt.ctx, "op", tt.err))
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
