package hubsoft

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoginFromMsg(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{"error answer", "A desconexão não foi bem sucedida para o login hubsoft!", "hubsoft"},
		{"success answer", "A desconexão foi bem sucedida para o login hubsoft!", "hubsoft"},
		{"without the bang", "A desconexão não foi bem sucedida para o login hubsoft", "hubsoft"},
		{"trailing spaces", "A desconexão não foi bem sucedida para o login maria!  ", "maria"},
		{"dotted login", "... para o login joao.silva!", "joao.silva"},
		{"e-mail login", "... para o login pppoe@isp.com.br!", "pppoe@isp.com.br"},
		{"digits", "... para o login 12345!", "12345"},
		{"start of msg", "Para o login ana!", "ana"},
		{"empty login", "A desconexão não foi bem sucedida para o login !", ""},
		{"no login", "A desconexão não foi bem sucedida para o login", ""},
		{"login with a bang inside", "... para o login ab!c!", ""},
		{"two bangs", "... para o login abc!!", ""},
		{"ends with a period", "... para o login hubsoft.", ""},
		{"text after the login", "... para o login hubsoft! Tente novamente.", ""},
		{"two words", "... para o login João Silva!", ""},
		{"phrase inside a word", "... separa o login hubsoft!", ""},
		{"unrelated msg", "Cliente não encontrado.", ""},
		{"empty msg", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loginFromMsg(tt.msg); got != tt.want {
				t.Errorf("loginFromMsg(%q): got %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"no user", "https://isp.example.com/x", "https://isp.example.com/x"},
		{"user and password", "https://u:p4ss@isp.example.com/x", "https://REDACTED@isp.example.com/x"},
		{"at sign in the path", "https://isp.example.com/a@b", "https://isp.example.com/a@b"},
		{"at sign in the password", "https://u:p@ss@isp.example.com", "https://REDACTED@isp.example.com"},
		{"no scheme", "u:p4ss@isp.example.com", "REDACTED@isp.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactURL(tt.raw); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(code int) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"message":"Unauthenticated."}`))}
}

// TestTransportRetry checks that the transport sends a request a second
// time only after a 401, only once, and only for a GET.
func TestTransportRetry(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		codes      []int // answers, in order
		wantSends  int
		wantStatus int
		wantTokens int32
	}{
		{"GET 200", http.MethodGet, []int{200}, 1, 200, 1},
		{"GET 401 then 200", http.MethodGet, []int{401, 200}, 2, 200, 2},
		{"GET 401 twice", http.MethodGet, []int{401, 401}, 2, 401, 2},
		{"POST 401 is not sent again", http.MethodPost, []int{401}, 1, 401, 1},
		{"GET 500 is not sent again", http.MethodGet, []int{500}, 1, 500, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fetches atomic.Int32
			src := &cachedSource{now: time.Now, new: tokenFunc(func(context.Context) (*Token, error) {
				n := fetches.Add(1)
				return &Token{AccessToken: "t" + string(rune('0'+n)), Expiry: time.Now().Add(time.Hour)}, nil
			})}
			var auths []string
			base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				auths = append(auths, r.Header.Get("Authorization"))
				return answer(tt.codes[len(auths)-1]), nil
			})
			req, err := http.NewRequestWithContext(t.Context(), tt.method, "http://127.0.0.1/x", noReplay{})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&transport{Source: src, Base: base}).RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			resp.Body.Close()
			if len(auths) != tt.wantSends || resp.StatusCode != tt.wantStatus || fetches.Load() != tt.wantTokens {
				t.Errorf("got %d sends, status %d, %d token fetches; want %d, %d, %d",
					len(auths), resp.StatusCode, fetches.Load(), tt.wantSends, tt.wantStatus, tt.wantTokens)
			}
			if len(auths) == 2 && auths[0] == auths[1] {
				t.Errorf("got %q twice, want a new token on the second send", auths[0])
			}
			if req.Header.Get("Authorization") != "" {
				t.Error("the caller's request was modified, want a clone authorized")
			}
		})
	}
}

// tokenFunc is a TokenSource made of a function.
type tokenFunc func(context.Context) (*Token, error)

func (f tokenFunc) Token(ctx context.Context) (*Token, error) { return f(ctx) }
