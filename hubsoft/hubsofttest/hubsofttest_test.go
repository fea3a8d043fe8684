package hubsofttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hsbatch/hsbatch/hubsoft/hubsofttest"
)

const disconnectPath = "/api/v1/integracao/cliente/solicitar_desconexao/"

// guard bounds waits that should end at once; it is a deadline for a
// failing test, never a means of synchronisation.
const guard = 10 * time.Second

func newServer(t *testing.T) *hubsofttest.Server {
	t.Helper()
	s := hubsofttest.NewServer()
	t.Cleanup(s.Close)
	return s
}

// newClient returns a client that never reuses connections: net/http
// silently retries a GET that fails on a reused connection, which would
// blur the fault tests' call counts.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// waitFor waits until cond holds, failing the test after guard.
func waitFor(t *testing.T, s *hubsofttest.Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := s.WaitFor(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: got %v, want nil", what, err)
	}
}

func jsonCreds(s *hubsofttest.Server) string {
	b, _ := json.Marshal(map[string]string{
		"grant_type":    "password",
		"client_id":     s.ClientID,
		"client_secret": s.ClientSecret,
		"username":      s.Username,
		"password":      s.Password,
	})
	return string(b)
}

func formCreds(s *hubsofttest.Server) url.Values {
	return url.Values{
		"grant_type":    {"password"},
		"client_id":     {s.ClientID},
		"client_secret": {s.ClientSecret},
		"username":      {s.Username},
		"password":      {s.Password},
	}
}

func postToken(t *testing.T, c *http.Client, baseURL, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/oauth/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST /oauth/token: got error %v, want nil", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading token answer: got error %v, want nil", err)
	}
	return resp, b
}

// getToken returns an Authorization header value with a fresh token.
func getToken(t *testing.T, c *http.Client, baseURL string, s *hubsofttest.Server) string {
	t.Helper()
	resp, body := postToken(t, c, baseURL, "application/json", jsonCreds(s))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token status: got %d, want 200 (body %s)", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatalf("decoding token: %v", err)
	}
	return tok.TokenType + " " + tok.AccessToken
}

func doCall(ctx context.Context, c *http.Client, baseURL, auth, id string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+disconnectPath+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return c.Do(req)
}

// call makes a disconnect call that must get a complete HTTP answer.
func call(t *testing.T, c *http.Client, baseURL, auth, id string) (*http.Response, []byte) {
	t.Helper()
	resp, err := doCall(context.Background(), c, baseURL, auth, id)
	if err != nil {
		t.Fatalf("GET %s: got error %v, want nil", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading answer for %s: got error %v, want nil", id, err)
	}
	return resp, b
}

// checkJSON decodes body and compares it field by field with want. JSON
// lists in want are written as []any.
func checkJSON(t *testing.T, body []byte, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("field %q: missing, want %#v", k, w)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %q: got %#v, want %#v", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("field %q: got %#v, want no such field", k, g)
		}
	}
}

func checkStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Errorf("status: got %d, want %d", resp.StatusCode, want)
	}
}

func checkType(t *testing.T, resp *http.Response, want string) {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != want {
		t.Errorf("Content-Type: got %q, want %s", resp.Header.Get("Content-Type"), want)
	}
}

func TestTokenGrant(t *testing.T) {
	badCreds := func(s *hubsofttest.Server) string {
		v := formCreds(s)
		v.Set("client_secret", "wrong")
		return v.Encode()
	}
	tests := []struct {
		name        string
		setup       func(s *hubsofttest.Server)
		contentType string
		body        func(s *hubsofttest.Server) string
		wantCode    int
		wantError   string // "" for success
		wantHint    string
	}{
		{
			name:        "json",
			contentType: "application/json",
			body:        jsonCreds,
			wantCode:    http.StatusOK,
		},
		{
			name:        "form",
			contentType: "application/x-www-form-urlencoded",
			body:        func(s *hubsofttest.Server) string { return formCreds(s).Encode() },
			wantCode:    http.StatusOK,
		},
		{
			name:     "json without content type",
			body:     jsonCreds,
			wantCode: http.StatusOK,
		},
		{
			name:        "numeric client id",
			setup:       func(s *hubsofttest.Server) { s.ClientID = "2" },
			contentType: "application/json",
			body: func(s *hubsofttest.Server) string {
				return fmt.Sprintf(`{"grant_type":"password","client_id":2,"client_secret":%q,"username":%q,"password":%q}`,
					s.ClientSecret, s.Username, s.Password)
			},
			wantCode: http.StatusOK,
		},
		{
			name:        "wrong password",
			contentType: "application/json",
			body: func(s *hubsofttest.Server) string {
				return strings.Replace(jsonCreds(s), s.Password, "nope", 1)
			},
			wantCode:  http.StatusUnauthorized,
			wantError: "invalid_credentials",
		},
		{
			name:        "wrong client secret",
			contentType: "application/x-www-form-urlencoded",
			body:        badCreds,
			wantCode:    http.StatusUnauthorized,
			wantError:   "invalid_credentials",
		},
		{
			name:        "missing grant type",
			contentType: "application/x-www-form-urlencoded",
			body: func(s *hubsofttest.Server) string {
				v := formCreds(s)
				v.Del("grant_type")
				return v.Encode()
			},
			wantCode:  http.StatusBadRequest,
			wantError: "unsupported_grant_type",
			wantHint:  "Check that all required parameters have been provided",
		},
		{
			name:        "client credentials grant",
			contentType: "application/x-www-form-urlencoded",
			body: func(s *hubsofttest.Server) string {
				v := formCreds(s)
				v.Set("grant_type", "client_credentials")
				return v.Encode()
			},
			wantCode:  http.StatusBadRequest,
			wantError: "unsupported_grant_type",
			wantHint:  "Check that all required parameters have been provided",
		},
		{
			name:        "missing username",
			contentType: "application/x-www-form-urlencoded",
			body: func(s *hubsofttest.Server) string {
				v := formCreds(s)
				v.Del("username")
				return v.Encode()
			},
			wantCode:  http.StatusBadRequest,
			wantError: "invalid_request",
			wantHint:  "Check the `username` parameter",
		},
		{
			name:        "malformed json",
			contentType: "application/json",
			body:        func(*hubsofttest.Server) string { return `{"grant_type":` },
			wantCode:    http.StatusBadRequest,
			wantError:   "unsupported_grant_type",
			wantHint:    "Check that all required parameters have been provided",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			c := newClient(t)
			resp, body := postToken(t, c, s.URL, tt.contentType, tt.body(s))
			checkStatus(t, resp, tt.wantCode)
			checkType(t, resp, "application/json")
			if got := s.TokenRequests(); got != 1 {
				t.Errorf("TokenRequests: got %d, want 1", got)
			}

			if tt.wantError != "" {
				var got map[string]any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("decoding %s: %v", body, err)
				}
				if got["error"] != tt.wantError {
					t.Errorf("error: got %v, want %s", got["error"], tt.wantError)
				}
				if tt.wantError == "invalid_credentials" {
					const msg = "The user credentials were incorrect."
					checkJSON(t, body, map[string]any{
						"error":             "invalid_credentials",
						"error_description": msg,
						"message":           msg,
					})
				}
				if got["hint"] != nil && got["hint"] != tt.wantHint {
					t.Errorf("hint: got %v, want %s", got["hint"], tt.wantHint)
				}
				return
			}

			var tok struct {
				AccessToken  string `json:"access_token"`
				ExpiresIn    int    `json:"expires_in"`
				RefreshToken string `json:"refresh_token"`
				TokenType    string `json:"token_type"`
			}
			if err := json.Unmarshal(body, &tok); err != nil {
				t.Fatalf("decoding %s: %v", body, err)
			}
			if tok.AccessToken == "" {
				t.Errorf("access_token: got empty, want a token")
			}
			if tok.ExpiresIn != 2592000 {
				t.Errorf("expires_in: got %d, want 2592000", tok.ExpiresIn)
			}
			if !strings.HasPrefix(tok.RefreshToken, "def50200") {
				t.Errorf("refresh_token: got %q, want prefix def50200", tok.RefreshToken)
			}
			if tok.TokenType != "Bearer" {
				t.Errorf("token_type: got %q, want Bearer", tok.TokenType)
			}
			// The token opens the API.
			resp, _ = call(t, c, s.URL, tok.TokenType+" "+tok.AccessToken, "5")
			checkStatus(t, resp, http.StatusOK)
		})
	}
}

func TestTokenDistinct(t *testing.T) {
	s := newServer(t)
	c := newClient(t)
	a, b := getToken(t, c, s.URL, s), getToken(t, c, s.URL, s)
	if a == b {
		t.Errorf("two token requests: got the same token twice, want distinct tokens")
	}
	if got := s.TokenRequests(); got != 2 {
		t.Errorf("TokenRequests: got %d, want 2", got)
	}
}

func TestTokenMethodNotAllowed(t *testing.T) {
	s := newServer(t)
	resp, err := newClient(t).Get(s.URL + "/oauth/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checkStatus(t, resp, http.StatusMethodNotAllowed)
	if got := resp.Header.Get("Allow"); got != "POST" {
		t.Errorf("Allow: got %q, want POST", got)
	}
	if got := s.TokenRequests(); got != 0 {
		t.Errorf("TokenRequests: got %d, want 0", got)
	}
}

func TestRejectCredentials(t *testing.T) {
	s := newServer(t)
	c := newClient(t)
	tests := []struct {
		name     string
		reject   bool
		wantCode int
	}{
		{"rejecting", true, http.StatusUnauthorized},
		{"accepting again", false, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.RejectCredentials(tt.reject)
			resp, body := postToken(t, c, s.URL, "application/json", jsonCreds(s))
			checkStatus(t, resp, tt.wantCode)
			if tt.reject {
				checkJSON(t, body, map[string]any{
					"error":             "invalid_credentials",
					"error_description": "The user credentials were incorrect.",
					"message":           "The user credentials were incorrect.",
				})
			}
		})
	}
}

func TestUnauthenticated(t *testing.T) {
	s := newServer(t)
	c := newClient(t)
	valid := getToken(t, c, s.URL, s)
	tests := []struct {
		name string
		auth string
	}{
		{"no header", ""},
		{"unknown token", "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.forged.token"},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic b3BzOnNlY3JldA=="},
		{"bare token", strings.TrimPrefix(valid, "Bearer ")},
		{"lower-case scheme", "bearer " + strings.TrimPrefix(valid, "Bearer ")},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, c, s.URL, tt.auth, "7")
			checkStatus(t, resp, http.StatusUnauthorized)
			checkType(t, resp, "application/json")
			checkJSON(t, body, map[string]any{"message": "Unauthenticated."})
			if got, want := s.Calls(7), i+1; got != want {
				t.Errorf("Calls(7): got %d, want %d", got, want)
			}
			if got := s.Answered(7); got != 0 {
				t.Errorf("Answered(7): got %d, want 0", got)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *hubsofttest.Server)
		id    int64
		want  map[string]any
	}{
		{
			name: "built-in default",
			id:   11000,
			want: map[string]any{
				"status": "success",
				"msg":    "A desconexão foi bem sucedida para o login cliente11000!",
				"login":  "cliente11000",
			},
		},
		{
			name: "success",
			setup: func(s *hubsofttest.Server) {
				s.SetOutcome(7, hubsofttest.Outcome{Status: "success", Login: "hubsoft"})
			},
			id: 7,
			want: map[string]any{
				"status": "success",
				"msg":    "A desconexão foi bem sucedida para o login hubsoft!",
				"login":  "hubsoft",
			},
		},
		{
			name: "error with empty errors",
			setup: func(s *hubsofttest.Server) {
				s.SetOutcome(7, hubsofttest.Outcome{Status: "error", Login: "hubsoft"})
			},
			id: 7,
			want: map[string]any{
				"status": "error",
				"msg":    "A desconexão não foi bem sucedida para o login hubsoft!",
				"errors": []any{},
			},
		},
		{
			name: "error with errors and message",
			setup: func(s *hubsofttest.Server) {
				s.SetOutcome(7, hubsofttest.Outcome{
					Status: "error",
					Login:  "joao",
					Msg:    "Concentrador inacessível.",
					Errors: []string{"Timeout no RADIUS.", "Porta INCOMING fechada."},
				})
			},
			id: 7,
			want: map[string]any{
				"status": "error",
				"msg":    "Concentrador inacessível.",
				"errors": []any{"Timeout no RADIUS.", "Porta INCOMING fechada."},
			},
		},
		{
			name: "misspelt status",
			setup: func(s *hubsofttest.Server) {
				s.SetOutcome(7, hubsofttest.Outcome{Status: "suscess", Login: "ana"})
			},
			id: 7,
			want: map[string]any{
				"status": "suscess",
				"msg":    "A desconexão foi bem sucedida para o login ana!",
				"login":  "ana",
			},
		},
		{
			name: "default function",
			setup: func(s *hubsofttest.Server) {
				s.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
					return hubsofttest.Outcome{Status: "error", Login: fmt.Sprintf("off%d", id)}
				})
			},
			id: 42,
			want: map[string]any{
				"status": "error",
				"msg":    "A desconexão não foi bem sucedida para o login off42!",
				"errors": []any{},
			},
		},
		{
			name: "SetOutcome beats default function",
			setup: func(s *hubsofttest.Server) {
				s.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
					return hubsofttest.Outcome{Status: "error"}
				})
				s.SetOutcome(42, hubsofttest.Outcome{Status: "success", Login: "x"})
			},
			id: 42,
			want: map[string]any{
				"status": "success",
				"msg":    "A desconexão foi bem sucedida para o login x!",
				"login":  "x",
			},
		},
		{
			name: "default function reset",
			setup: func(s *hubsofttest.Server) {
				s.SetDefaultOutcome(func(id int64) hubsofttest.Outcome {
					return hubsofttest.Outcome{Status: "error"}
				})
				s.SetDefaultOutcome(nil)
			},
			id: 3,
			want: map[string]any{
				"status": "success",
				"msg":    "A desconexão foi bem sucedida para o login cliente3!",
				"login":  "cliente3",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			c := newClient(t)
			resp, body := call(t, c, s.URL, getToken(t, c, s.URL, s), strconv.FormatInt(tt.id, 10))
			checkStatus(t, resp, http.StatusOK)
			checkType(t, resp, "application/json")
			checkJSON(t, body, tt.want)
			if got := s.Calls(tt.id); got != 1 {
				t.Errorf("Calls(%d): got %d, want 1", tt.id, got)
			}
			if got := s.Answered(tt.id); got != 1 {
				t.Errorf("Answered(%d): got %d, want 1", tt.id, got)
			}
		})
	}
}

func TestInvalidID(t *testing.T) {
	const msg = "O campo id cliente servico deve ser um número inteiro maior que 0."
	ids := []string{"abc", "0", "-3", "1.5", "99999999999999999999"}
	s := newServer(t)
	c := newClient(t)
	auth := getToken(t, c, s.URL, s)
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			resp, body := call(t, c, s.URL, auth, id)
			checkStatus(t, resp, http.StatusOK)
			checkType(t, resp, "application/json")
			checkJSON(t, body, map[string]any{
				"status": "error",
				"msg":    msg,
				"errors": []any{msg},
			})
		})
	}
	if got, want := s.TotalCalls(), len(ids); got != want {
		t.Errorf("TotalCalls: got %d, want %d", got, want)
	}
	if got := s.CallCounts(); len(got) != 0 {
		t.Errorf("CallCounts: got %v, want empty", got)
	}
	if got := s.AnsweredCounts(); len(got) != 0 {
		t.Errorf("AnsweredCounts: got %v, want empty", got)
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		path      string
		wantCode  int
		wantAllow string
	}{
		{"unknown path", http.MethodGet, "/api/v1/integracao/cliente", http.StatusNotFound, ""},
		{"root", http.MethodGet, "/", http.StatusNotFound, ""},
		{"missing id", http.MethodGet, disconnectPath, http.StatusNotFound, ""},
		{"extra segment", http.MethodGet, disconnectPath + "7/x", http.StatusNotFound, ""},
		{"post to disconnect", http.MethodPost, disconnectPath + "7", http.StatusMethodNotAllowed, "GET"},
		{"delete to disconnect", http.MethodDelete, disconnectPath + "7", http.StatusMethodNotAllowed, "GET"},
	}
	s := newServer(t)
	c := newClient(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkStatus(t, resp, tt.wantCode)
			checkType(t, resp, "application/json")
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
			}
			if tt.wantCode == http.StatusNotFound {
				checkJSON(t, body, map[string]any{"message": "Not Found"})
			}
		})
	}
	if got := s.TotalCalls(); got != 0 {
		t.Errorf("TotalCalls: got %d, want 0", got)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name           string
		fault          hubsofttest.Fault
		retryAfter     time.Duration // 0 keeps the default
		wantCode       int
		wantType       string
		wantHeader     map[string]string
		wantBody       string // a substring
		wantCallErr    bool   // the request itself fails
		wantReadErr    error  // reading the body fails with this
		wantNoRetryHdr bool
	}{
		{name: "500", fault: hubsofttest.FaultHTML500, wantCode: 500, wantType: "text/html", wantBody: "Server Error", wantNoRetryHdr: true},
		{name: "502", fault: hubsofttest.FaultHTML502, wantCode: 502, wantType: "text/html", wantBody: "<h1>502 Bad Gateway</h1>", wantHeader: map[string]string{"Server": "nginx"}, wantNoRetryHdr: true},
		{name: "503 default Retry-After", fault: hubsofttest.FaultHTML503, wantCode: 503, wantType: "text/html", wantBody: "Service Unavailable", wantHeader: map[string]string{"Retry-After": "1"}},
		{name: "503 Retry-After rounded up", fault: hubsofttest.FaultHTML503, retryAfter: 2500 * time.Millisecond, wantCode: 503, wantType: "text/html", wantHeader: map[string]string{"Retry-After": "3"}},
		{name: "429 default Retry-After", fault: hubsofttest.Fault429, wantCode: 429, wantType: "application/json", wantBody: `{"message":"Too Many Attempts."}`, wantHeader: map[string]string{"Retry-After": "1"}},
		{name: "429 Retry-After at least 1", fault: hubsofttest.Fault429, retryAfter: 100 * time.Millisecond, wantCode: 429, wantType: "application/json", wantHeader: map[string]string{"Retry-After": "1"}},
		{name: "429 Retry-After whole seconds", fault: hubsofttest.Fault429, retryAfter: 4 * time.Second, wantCode: 429, wantType: "application/json", wantHeader: map[string]string{"Retry-After": "4"}},
		{name: "reset", fault: hubsofttest.FaultReset, wantCallErr: true},
		{name: "truncated", fault: hubsofttest.FaultTruncated, wantCode: 200, wantType: "application/json", wantReadErr: io.ErrUnexpectedEOF, wantNoRetryHdr: true},
		{name: "login200", fault: hubsofttest.FaultLogin200, wantCode: 200, wantType: "text/html", wantBody: "Login - HubSoft", wantNoRetryHdr: true},
		{name: "401", fault: hubsofttest.FaultUnauthorized, wantCode: 401, wantType: "application/json", wantBody: `{"message":"Unauthenticated."}`, wantNoRetryHdr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := newClient(t)
			auth := getToken(t, c, s.URL, s)
			if tt.retryAfter != 0 {
				s.SetRetryAfter(tt.retryAfter)
			}
			s.InjectFaults(7, tt.fault)

			resp, err := doCall(context.Background(), c, s.URL, auth, "7")
			if tt.wantCallErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("call: got status %d, want a transport error", resp.StatusCode)
				}
				t.Logf("call error, as wanted: %v", err)
			} else {
				if err != nil {
					t.Fatalf("call: got error %v, want an answer", err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if tt.wantReadErr != nil {
					if !errors.Is(err, tt.wantReadErr) {
						t.Errorf("reading body: got error %v, want %v", err, tt.wantReadErr)
					}
				} else if err != nil {
					t.Errorf("reading body: got error %v, want nil", err)
				}
				checkStatus(t, resp, tt.wantCode)
				checkType(t, resp, tt.wantType)
				for k, want := range tt.wantHeader {
					if got := resp.Header.Get(k); got != want {
						t.Errorf("header %s: got %q, want %q", k, got, want)
					}
				}
				if tt.wantNoRetryHdr && resp.Header.Get("Retry-After") != "" {
					t.Errorf("Retry-After: got %q, want none", resp.Header.Get("Retry-After"))
				}
				if !strings.Contains(string(body), tt.wantBody) {
					t.Errorf("body: got %q, want it to contain %q", body, tt.wantBody)
				}
			}
			if got := s.Calls(7); got != 1 {
				t.Errorf("Calls(7) after fault: got %d, want 1", got)
			}
			if got := s.Answered(7); got != 0 {
				t.Errorf("Answered(7) after fault: got %d, want 0", got)
			}

			// The fault was for one call only; the token still works.
			resp, body := call(t, c, s.URL, auth, "7")
			checkStatus(t, resp, http.StatusOK)
			checkJSON(t, body, map[string]any{
				"status": "success",
				"msg":    "A desconexão foi bem sucedida para o login cliente7!",
				"login":  "cliente7",
			})
			if got := s.Answered(7); got != 1 {
				t.Errorf("Answered(7) after normal call: got %d, want 1", got)
			}
		})
	}
}

// startHangingCall starts a call for id 7, which must hang, in a goroutine,
// and waits until the server holds it. The returned channel yields the
// client's error.
func startHangingCall(t *testing.T, ctx context.Context, s *hubsofttest.Server) <-chan error {
	t.Helper()
	c := newClient(t)
	auth := getToken(t, c, s.URL, s)
	s.InjectFaults(7, hubsofttest.FaultHang)
	errc := make(chan error, 1)
	go func() {
		resp, err := doCall(ctx, c, s.URL, auth, "7")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, s, "the call to hang", func() bool { return hubsofttest.Hanging(s) == 1 })
	return errc
}

func TestHangUnblocksWhenClientGoesAway(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := startHangingCall(t, ctx, s)

	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error: got %v, want %v", err, context.Canceled)
	}
	// The handler gives up by itself, before any Close.
	waitFor(t, s, "the hang to end", func() bool { return hubsofttest.Hanging(s) == 0 })
	if got := s.Answered(7); got != 0 {
		t.Errorf("Answered(7): got %d, want 0", got)
	}
}

// closeWithin runs s.Close and fails the test if it does not return.
func closeWithin(t *testing.T, s *hubsofttest.Server) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(guard):
		t.Fatalf("Close: still blocked after %v, want it to return", guard)
	}
}

func TestCloseReleasesHang(t *testing.T) {
	s := newServer(t)
	errc := startHangingCall(t, context.Background(), s)

	closeWithin(t, s)
	if err := <-errc; err == nil {
		t.Errorf("client error: got nil, want the connection dropped")
	}
	if got := hubsofttest.Hanging(s); got != 0 {
		t.Errorf("Hanging after Close: got %d, want 0", got)
	}
	s.Close() // a second Close is harmless
}

func TestLatency(t *testing.T) {
	t.Run("delays the answer", func(t *testing.T) {
		const d = 30 * time.Millisecond
		s := newServer(t)
		c := newClient(t)
		auth := getToken(t, c, s.URL, s)
		s.SetLatency(d)
		start := time.Now()
		resp, _ := call(t, c, s.URL, auth, "7")
		if got := time.Since(start); got < d {
			t.Errorf("answer time: got %v, want at least %v", got, d)
		}
		checkStatus(t, resp, http.StatusOK)
	})

	t.Run("client goes away", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t)
		auth := getToken(t, c, s.URL, s)
		s.SetLatency(time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			resp, err := doCall(ctx, c, s.URL, auth, "7")
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		waitFor(t, s, "the call to arrive", func() bool { return s.Calls(7) == 1 })
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("client error: got %v, want %v", err, context.Canceled)
		}
		if got := s.Answered(7); got != 0 {
			t.Errorf("Answered(7): got %d, want 0", got)
		}
	})

	t.Run("Close cuts it short", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t)
		auth := getToken(t, c, s.URL, s)
		s.SetLatency(time.Hour)
		errc := make(chan error, 1)
		go func() {
			resp, err := doCall(context.Background(), c, s.URL, auth, "7")
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		waitFor(t, s, "the call to arrive", func() bool { return s.Calls(7) == 1 })
		closeWithin(t, s)
		if err := <-errc; err == nil {
			t.Errorf("client error: got nil, want the connection dropped")
		}
	})
}

func TestInjectFaultsQueue(t *testing.T) {
	s := newServer(t)
	c := newClient(t)
	auth := getToken(t, c, s.URL, s)
	s.InjectFaults(7, hubsofttest.FaultHTML502, hubsofttest.FaultNone)
	s.InjectFaults(7, hubsofttest.Fault429) // appended to the queue

	steps := []struct {
		id       string
		wantCode int
	}{
		{"7", http.StatusBadGateway},
		{"8", http.StatusOK}, // other ids are not affected
		{"7", http.StatusOK},
		{"7", http.StatusTooManyRequests},
		{"7", http.StatusOK},
		{"7", http.StatusOK},
	}
	for i, st := range steps {
		resp, _ := call(t, c, s.URL, auth, st.id)
		if resp.StatusCode != st.wantCode {
			t.Errorf("call %d (id %s): got status %d, want %d", i, st.id, resp.StatusCode, st.wantCode)
		}
	}
	if got := s.Calls(7); got != 5 {
		t.Errorf("Calls(7): got %d, want 5", got)
	}
	if got := s.Answered(7); got != 3 {
		t.Errorf("Answered(7): got %d, want 3", got)
	}
	if got := s.Answered(8); got != 1 {
		t.Errorf("Answered(8): got %d, want 1", got)
	}
}

func TestInjectFaultsInvalid(t *testing.T) {
	s := newServer(t)
	defer func() {
		if recover() == nil {
			t.Errorf("InjectFaults(Fault(99)): got no panic, want one")
		}
	}()
	s.InjectFaults(1, hubsofttest.Fault(99))
}

func TestRandomFaults(t *testing.T) {
	// statuses makes n sequential calls under the given random faults and
	// returns their status codes.
	statuses := func(t *testing.T, rate float64, seed int64, n int, faults ...hubsofttest.Fault) []int {
		t.Helper()
		s := newServer(t)
		c := newClient(t)
		s.SetRandomFaults(rate, seed, faults...)
		auth := getToken(t, c, s.URL, s) // token calls are never faulted
		var got []int
		for i := range n {
			resp, _ := call(t, c, s.URL, auth, strconv.Itoa(i+1))
			got = append(got, resp.StatusCode)
		}
		return got
	}
	count := func(codes []int, code int) int {
		n := 0
		for _, c := range codes {
			if c == code {
				n++
			}
		}
		return n
	}

	tests := []struct {
		name   string
		rate   float64
		faults []hubsofttest.Fault
		want   map[int]int // status -> count
	}{
		{"rate 1", 1, []hubsofttest.Fault{hubsofttest.FaultHTML502}, map[int]int{502: 20}},
		{"rate 0", 0, []hubsofttest.Fault{hubsofttest.FaultHTML502}, map[int]int{200: 20}},
		{"no faults", 1, nil, map[int]int{200: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := statuses(t, tt.rate, 1, 20, tt.faults...)
			for code, want := range tt.want {
				if n := count(got, code); n != want {
					t.Errorf("status %d: got %d times, want %d (all: %v)", code, n, want, got)
				}
			}
		})
	}

	t.Run("same seed, same faults", func(t *testing.T) {
		faults := []hubsofttest.Fault{hubsofttest.FaultHTML500, hubsofttest.FaultHTML503, hubsofttest.Fault429}
		a := statuses(t, 0.5, 42, 40, faults...)
		b := statuses(t, 0.5, 42, 40, faults...)
		if !slices.Equal(a, b) {
			t.Errorf("second run: got %v, want %v", b, a)
		}
		if n := count(a, 200); n == 0 || n == len(a) {
			t.Errorf("rate 0.5: got %d answers of %d normal, want a mix (all: %v)", n, len(a), a)
		}
	})
}

func TestRevokeTokens(t *testing.T) {
	s := newServer(t)
	c := newClient(t)
	old := getToken(t, c, s.URL, s)
	resp, _ := call(t, c, s.URL, old, "7")
	checkStatus(t, resp, http.StatusOK)

	s.RevokeTokens()
	resp, body := call(t, c, s.URL, old, "7")
	checkStatus(t, resp, http.StatusUnauthorized)
	checkJSON(t, body, map[string]any{"message": "Unauthenticated."})

	fresh := getToken(t, c, s.URL, s)
	resp, _ = call(t, c, s.URL, fresh, "7")
	checkStatus(t, resp, http.StatusOK)
	resp, _ = call(t, c, s.URL, old, "7")
	checkStatus(t, resp, http.StatusUnauthorized)

	if got := s.Answered(7); got != 2 {
		t.Errorf("Answered(7): got %d, want 2", got)
	}
	if got := s.Calls(7); got != 4 {
		t.Errorf("Calls(7): got %d, want 4", got)
	}
}

func TestForbidden(t *testing.T) {
	s := newServer(t)
	c := newClient(t)
	auth := getToken(t, c, s.URL, s)

	s.SetForbidden(true)
	resp, body := call(t, c, s.URL, auth, "7")
	checkStatus(t, resp, http.StatusForbidden)
	checkType(t, resp, "application/json")
	checkJSON(t, body, map[string]any{
		"status": "error",
		"msg":    "O Usuário não possui a permissão desejada!",
	})
	if got := s.Answered(7); got != 0 {
		t.Errorf("Answered(7) while forbidden: got %d, want 0", got)
	}

	s.SetForbidden(false)
	resp, _ = call(t, c, s.URL, auth, "7")
	checkStatus(t, resp, http.StatusOK)
	if got := s.Answered(7); got != 1 {
		t.Errorf("Answered(7): got %d, want 1", got)
	}
}

func TestConcurrentCounting(t *testing.T) {
	const (
		workers = 50
		ids     = 20
	)
	s := newServer(t)
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	auth := getToken(t, c, s.URL, s)

	wantCalls := make(map[int64]int)
	wantAnswered := make(map[int64]int)
	for id := int64(1); id <= ids; id++ {
		wantCalls[id] = workers
		wantAnswered[id] = workers
		if id%5 == 0 {
			// 429 is a complete answer, so net/http does not retry it.
			s.InjectFaults(id, slices.Repeat([]hubsofttest.Fault{hubsofttest.Fault429}, 10)...)
			wantAnswered[id] -= 10
		}
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for id := 1; id <= ids; id++ {
				resp, err := doCall(context.Background(), c, s.URL, auth, strconv.Itoa(id))
				if err != nil {
					t.Errorf("call %d: got error %v, want nil", id, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusTooManyRequests {
					t.Errorf("call %d: got status %d, want 200 or 429", id, resp.StatusCode)
				}
			}
		})
	}
	// Knobs and records are safe to use while calls are served.
	wg.Go(func() {
		for i := range 100 {
			s.SetOutcome(int64(1000+i), hubsofttest.Outcome{Status: "error"})
			s.SetLatency(0)
			s.SetRetryAfter(time.Second)
			s.SetForbidden(false)
			s.RejectCredentials(false)
			_ = s.CallCounts()
			_ = s.AnsweredCounts()
			_ = s.TotalCalls()
		}
	})
	wg.Wait()

	if got := s.CallCounts(); !maps.Equal(got, wantCalls) {
		t.Errorf("CallCounts: got %v, want %v", got, wantCalls)
	}
	if got := s.AnsweredCounts(); !maps.Equal(got, wantAnswered) {
		t.Errorf("AnsweredCounts: got %v, want %v", got, wantAnswered)
	}
	if got, want := s.TotalCalls(), workers*ids; got != want {
		t.Errorf("TotalCalls: got %d, want %d", got, want)
	}
	if got := s.Calls(5); got != workers {
		t.Errorf("Calls(5): got %d, want %d", got, workers)
	}
	if got := s.Answered(5); got != workers-10 {
		t.Errorf("Answered(5): got %d, want %d", got, workers-10)
	}
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    hubsofttest.Fault
		wantErr bool
	}{
		{"none", hubsofttest.FaultNone, false},
		{"500", hubsofttest.FaultHTML500, false},
		{"502", hubsofttest.FaultHTML502, false},
		{"503", hubsofttest.FaultHTML503, false},
		{"429", hubsofttest.Fault429, false},
		{"reset", hubsofttest.FaultReset, false},
		{"hang", hubsofttest.FaultHang, false},
		{"truncated", hubsofttest.FaultTruncated, false},
		{"login200", hubsofttest.FaultLogin200, false},
		{"401", hubsofttest.FaultUnauthorized, false},
		{" HANG ", hubsofttest.FaultHang, false},
		{"504", hubsofttest.FaultNone, true},
		{"", hubsofttest.FaultNone, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := hubsofttest.ParseFault(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseFault(%q) error: got %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseFault(%q): got %v, want %v", tt.in, got, tt.want)
			}
			if tt.wantErr {
				return
			}
			back, err := hubsofttest.ParseFault(got.String())
			if err != nil || back != got {
				t.Errorf("ParseFault(%v.String()): got %v, %v, want %v, nil", got, back, err, got)
			}
		})
	}
	if got, want := hubsofttest.Fault(99).String(), "Fault(99)"; got != want {
		t.Errorf("Fault(99).String(): got %q, want %q", got, want)
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		name       string
		addr       string
		wantPrefix []string // URL starts with one of these
	}{
		{"loopback", "127.0.0.1:0", []string{"http://127.0.0.1:"}},
		{"any address", ":0", []string{"http://127.0.0.1:", "http://[::1]:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := hubsofttest.Listen(tt.addr)
			if err != nil {
				t.Fatalf("Listen(%q): got error %v, want nil", tt.addr, err)
			}
			defer s.Close()
			if !slices.ContainsFunc(tt.wantPrefix, func(p string) bool { return strings.HasPrefix(s.URL, p) }) {
				t.Errorf("URL: got %q, want a prefix in %q", s.URL, tt.wantPrefix)
			}
			if strings.HasSuffix(s.URL, "/") {
				t.Errorf("URL: got %q, want no trailing slash", s.URL)
			}
			c := newClient(t)
			resp, _ := call(t, c, s.URL, getToken(t, c, s.URL, s), "7")
			checkStatus(t, resp, http.StatusOK)
		})
	}

	t.Run("bad address", func(t *testing.T) {
		if s, err := hubsofttest.Listen("127.0.0.1:99999"); err == nil {
			s.Close()
			t.Errorf("Listen(bad port): got nil error, want one")
		}
	})
}

func TestHandler(t *testing.T) {
	s := newServer(t)
	own := httptest.NewServer(s.Handler())
	defer own.Close()
	c := newClient(t)
	resp, _ := call(t, c, own.URL, getToken(t, c, own.URL, s), "7")
	checkStatus(t, resp, http.StatusOK)
	if got := s.Answered(7); got != 1 {
		t.Errorf("Answered(7) via own listener: got %d, want 1", got)
	}
}

func TestWaitForContext(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WaitFor(ctx, func() bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor on a cancelled context: got %v, want %v", err, context.Canceled)
	}
	if err := s.WaitFor(ctx, func() bool { return true }); err != nil {
		t.Errorf("WaitFor on a true condition: got %v, want nil", err)
	}
}
