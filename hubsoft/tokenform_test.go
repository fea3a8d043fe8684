package hubsoft

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A server that reads only form bodies, as some OAuth servers do, gets the
// grant again as a form, and every later token request goes as a form.
func TestTokenFallsBackToFormBody(t *testing.T) {
	var jsonPosts, formPosts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth/token":
			if r.Header.Get("Content-Type") == "application/json" {
				jsonPosts.Add(1)
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"error": "unsupported_grant_type", "error_description": "The authorization grant type is not supported by the authorization server."})
				return
			}
			formPosts.Add(1)
			if r.PostFormValue("grant_type") != "password" || r.PostFormValue("password") != "pw" || r.PostFormValue("client_secret") != "sec" {
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(map[string]string{"error": "invalid_credentials"})
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 60})
		default:
			if r.Header.Get("Authorization") != "Bearer tok" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"status": "success", "msg": "ok", "login": "l"})
		}
	}))
	defer srv.Close()

	c, err := NewClient(srv.URL, WithCredentials(Credentials{ClientID: "id", ClientSecret: "sec", Username: "u@x", Password: "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Disconnect(context.Background(), 5)
	if err != nil || !d.OK() {
		t.Fatalf("Disconnect: got %+v, %v", d, err)
	}
	c.tokens.invalidate(c.tokens.tok)
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatalf("second token: %v", err)
	}
	if j, f := jsonPosts.Load(), formPosts.Load(); j != 1 || f != 2 {
		t.Errorf("got %d JSON and %d form token requests, want 1 and 2", j, f)
	}
}
