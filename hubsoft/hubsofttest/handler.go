package hubsofttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	tokenPath        = "/oauth/token"
	disconnectPrefix = "/api/v1/integracao/cliente/solicitar_desconexao/"

	// tokenLifetime is HubSoft's expires_in: 30 days, in seconds.
	tokenLifetime = 30 * 24 * 60 * 60

	invalidIDMsg = "O campo id cliente servico deve ser um número inteiro maior que 0."
	forbiddenMsg = "O Usuário não possui a permissão desejada!"
)

// message is Laravel's bare {"message": ...} body.
type message struct {
	Message string `json:"message"`
}

// oauthError is the body of a Passport (League OAuth2) error.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Hint        string `json:"hint,omitempty"`
	Message     string `json:"message"`
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

// The envelopes are structs, not maps, to keep HubSoft's field order.
type (
	successEnvelope struct {
		Status string `json:"status"`
		Msg    string `json:"msg"`
		Login  string `json:"login"`
	}
	errorEnvelope struct {
		Status string   `json:"status"`
		Msg    string   `json:"msg"`
		Errors []string `json:"errors"`
	}
	bareEnvelope struct {
		Status string `json:"status"`
		Msg    string `json:"msg"`
	}
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == tokenPath:
		s.serveToken(w, r)
	case strings.HasPrefix(p, disconnectPrefix) && isSegment(p[len(disconnectPrefix):]):
		s.serveDisconnect(w, r, p[len(disconnectPrefix):])
	default:
		writeJSON(w, http.StatusNotFound, message{"Not Found"})
	}
}

// isSegment reports whether s is one non-empty path segment.
func isSegment(s string) bool {
	return s != "" && !strings.Contains(s, "/")
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow, route string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, message{fmt.Sprintf(
		"The %s method is not supported for route %s. Supported methods: %s.",
		r.Method, route, allow)})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost, "oauth/token")
		return
	}
	s.mu.Lock()
	s.tokenRequests++
	s.notifyLocked()
	s.mu.Unlock()

	p := tokenParams(r)
	if p["grant_type"] != "password" {
		writeJSON(w, http.StatusBadRequest, oauthError{
			Error:       "unsupported_grant_type",
			Description: "The authorization grant type is not supported by the authorization server.",
			Hint:        "Check that all required parameters have been provided",
			Message:     "The authorization grant type is not supported by the authorization server.",
		})
		return
	}
	for _, k := range []string{"client_id", "client_secret", "username", "password"} {
		if p[k] == "" {
			const d = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed."
			writeJSON(w, http.StatusBadRequest, oauthError{
				Error:       "invalid_request",
				Description: d,
				Hint:        "Check the `" + k + "` parameter",
				Message:     d,
			})
			return
		}
	}

	s.mu.Lock()
	reject := s.reject
	s.mu.Unlock()
	if reject || p["client_id"] != s.ClientID || p["client_secret"] != s.ClientSecret ||
		p["username"] != s.Username || p["password"] != s.Password {
		const d = "The user credentials were incorrect."
		writeJSON(w, http.StatusUnauthorized, oauthError{
			Error:       "invalid_credentials",
			Description: d,
			Message:     d,
		})
		return
	}

	tok := tokenAnswer{
		AccessToken:  newAccessToken(),
		ExpiresIn:    tokenLifetime,
		RefreshToken: "def50200" + randomHex(96),
		TokenType:    "Bearer",
	}
	s.mu.Lock()
	s.tokens[tok.AccessToken] = struct{}{}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tok)
}

// tokenParams reads the parameters of a token request from a JSON or a
// form-encoded body. Anything unreadable yields no parameters, which the
// caller answers as a missing grant_type, as Passport does.
func tokenParams(r *http.Request) map[string]string {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		(mt == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")))
	if !isJSON {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil
		}
		p := make(map[string]string, len(q))
		for k, v := range q {
			p[k] = v[0]
		}
		return p
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // Passport client ids are often numbers: {"client_id": 2}
	if err := dec.Decode(&raw); err != nil {
		return nil
	}
	p := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			p[k] = v
		case json.Number:
			p[k] = v.String()
		}
	}
	return p
}

// newAccessToken returns an opaque, JWT-shaped access token.
func newAccessToken() string {
	const header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9" // {"typ":"JWT","alg":"RS256"}
	return header + "." + randomBase64(48) + "." + randomBase64(64)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	return b
}

func randomHex(n int) string    { return hex.EncodeToString(randomBytes(n)) }
func randomBase64(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func (s *Server) serveDisconnect(w http.ResponseWriter, r *http.Request, rawID string) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, http.MethodGet, "api/v1/integracao/cliente/solicitar_desconexao/{id_cliente_servico}")
		return
	}
	id, err := strconv.ParseInt(rawID, 10, 64)
	validID := err == nil && id > 0

	// Faults and latency come from the proxy in front of HubSoft, so they
	// apply before authentication and validation.
	fault, latency := s.arrive(id, validID)
	if !s.pause(r.Context(), latency) {
		panic(http.ErrAbortHandler)
	}
	if fault != FaultNone {
		s.serveFault(w, r, fault, id, validID)
		return
	}

	if !s.authenticated(r) {
		writeJSON(w, http.StatusUnauthorized, message{"Unauthenticated."})
		return
	}
	s.mu.Lock()
	forbidden := s.forbidden
	s.mu.Unlock()
	if forbidden {
		writeJSON(w, http.StatusForbidden, bareEnvelope{"error", forbiddenMsg})
		return
	}
	if !validID {
		writeJSON(w, http.StatusOK, errorEnvelope{"error", invalidIDMsg, []string{invalidIDMsg}})
		return
	}

	body := s.envelope(id)
	// Count before writing: the disconnect is done even if the answer is
	// lost, and a client that has read the answer sees the count.
	s.mu.Lock()
	s.answered[id]++
	s.notifyLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// arrive records a disconnect call and chooses its fault and latency.
func (s *Server) arrive(id int64, validID bool) (Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.totalCalls++
	s.notifyLocked()
	if validID {
		s.calls[id]++
		if q := s.queued[id]; len(q) > 0 {
			if len(q) == 1 {
				delete(s.queued, id)
			} else {
				s.queued[id] = q[1:]
			}
			return q[0], s.latency
		}
	}
	if s.randRate > 0 && len(s.randFaults) > 0 && s.rng.Float64() < s.randRate {
		return s.randFaults[s.rng.IntN(len(s.randFaults))], s.latency
	}
	return FaultNone, s.latency
}

// pause waits for d and reports whether it did; it gives up when the client
// goes away or the server is closing.
func (s *Server) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

func (s *Server) authenticated(r *http.Request) bool {
	// Passport matches the scheme case-sensitively.
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	tok = strings.TrimSpace(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok = s.tokens[tok]
	return ok
}

// envelope returns the answer body for id from its Outcome.
func (s *Server) envelope(id int64) any {
	s.mu.Lock()
	o, ok := s.outcomes[id]
	def := s.defaultOutcome
	s.mu.Unlock()
	if !ok {
		if def != nil {
			o = def(id) // without the lock: def may call s's methods
		} else {
			o = Outcome{Status: "success", Login: fmt.Sprintf("cliente%d", id)}
		}
	}
	status := o.Status
	if status == "" {
		status = "success"
	}
	if status == "error" {
		msg := o.Msg
		if msg == "" {
			msg = "A desconexão não foi bem sucedida para o login " + o.Login + "!"
		}
		errs := o.Errors
		if errs == nil {
			errs = []string{}
		}
		return errorEnvelope{status, msg, errs}
	}
	msg := o.Msg
	if msg == "" {
		msg = "A desconexão foi bem sucedida para o login " + o.Login + "!"
	}
	return successEnvelope{status, msg, o.Login}
}

func (s *Server) retryAfterSeconds() string {
	s.mu.Lock()
	d := s.retryAfter
	s.mu.Unlock()
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	return strconv.FormatInt(secs, 10)
}

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault, id int64, validID bool) {
	h := w.Header()
	switch f {
	case FaultHTML500:
		writeHTML(w, http.StatusInternalServerError, html500)
	case FaultHTML502:
		h.Set("Server", "nginx")
		writeHTML(w, http.StatusBadGateway, html502)
	case FaultHTML503:
		h.Set("Retry-After", s.retryAfterSeconds())
		writeHTML(w, http.StatusServiceUnavailable, html503)
	case Fault429:
		h.Set("Retry-After", s.retryAfterSeconds())
		h.Set("X-RateLimit-Limit", "60")
		h.Set("X-RateLimit-Remaining", "0")
		writeJSON(w, http.StatusTooManyRequests, message{"Too Many Attempts."})
	case FaultReset:
		reset(w)
	case FaultHang:
		s.mu.Lock()
		s.hanging++
		s.notifyLocked()
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.hanging--
			s.notifyLocked()
			s.mu.Unlock()
		}()
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		// Drop the connection rather than let net/http send an empty 200.
		panic(http.ErrAbortHandler)
	case FaultTruncated:
		var v any = errorEnvelope{"error", invalidIDMsg, []string{invalidIDMsg}}
		if validID {
			v = s.envelope(id)
		}
		body := marshal(v)
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // close the connection mid-body
	case FaultLogin200:
		writeHTML(w, http.StatusOK, htmlLogin)
	case FaultUnauthorized:
		writeJSON(w, http.StatusUnauthorized, message{"Unauthenticated."})
	}
}

// reset closes the request's connection with a TCP RST and no answer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // cannot hijack: dropping is the closest
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only our own plain structs are encoded
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body := marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

func writeHTML(w http.ResponseWriter, code int, page string) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(code)
	io.WriteString(w, page)
}

const html500 = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Server Error</title>
</head>
<body>
<div class="flex-center position-ref full-height">
<div class="code">500</div>
<div class="message" style="padding: 10px;">Server Error</div>
</div>
</body>
</html>
`

const html502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
	"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

const html503 = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Service Unavailable</title>
</head>
<body>
<div class="flex-center position-ref full-height">
<div class="code">503</div>
<div class="message" style="padding: 10px;">Service Unavailable</div>
</div>
</body>
</html>
`

const htmlLogin = `<!DOCTYPE html>
<html lang="pt-br">
<head>
<meta charset="utf-8">
<title>Login - HubSoft</title>
</head>
<body>
<form method="POST" action="/login">
<input type="hidden" name="_token" value="Zm9yZ2VkLWNzcmYtdG9rZW4">
<input type="email" name="email" placeholder="E-mail">
<input type="password" name="password" placeholder="Senha">
<button type="submit">Entrar</button>
</form>
</body>
</html>
`
