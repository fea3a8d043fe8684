package hubsoft

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    envelope
		wantErr error
	}{
		{
			name: "success",
			body: `{"status":"success","msg":"A desconexão foi bem sucedida para o login hubsoft!","login":"hubsoft"}`,
			want: envelope{status: StatusSuccess, msg: "A desconexão foi bem sucedida para o login hubsoft!", login: "hubsoft"},
		},
		{
			name: "error with empty errors",
			body: `{"status":"error","msg":"A desconexão não foi bem sucedida para o login hubsoft!","errors":[]}`,
			want: envelope{status: StatusError, msg: "A desconexão não foi bem sucedida para o login hubsoft!"},
		},
		{
			name: "suscess misspelling",
			body: `{"status":"suscess","msg":"ok"}`,
			want: envelope{status: StatusSuccess, msg: "ok"},
		},
		{
			name: "status case and spaces",
			body: ` {"status":" Success ","msg":"ok"} `,
			want: envelope{status: StatusSuccess, msg: "ok"},
		},
		{
			name: "Portuguese status",
			body: `{"status":"erro","msg":"falhou"}`,
			want: envelope{status: StatusError, msg: "falhou"},
		},
		{
			name: "errors as list of strings",
			body: `{"status":"error","msg":"m","errors":["O campo id produto é obrigatório.","Outro."]}`,
			want: envelope{status: StatusError, msg: "m", errors: []string{"O campo id produto é obrigatório.", "Outro."}},
		},
		{
			name: "errors as list of numbers and objects",
			body: `{"status":"error","msg":"m","errors":[42, 1.5, true, {"campo": "id"}, null, "", ["nested", 7]]}`,
			want: envelope{status: StatusError, msg: "m", errors: []string{"42", "1.5", "true", `{"campo":"id"}`, "nested", "7"}},
		},
		{
			name: "errors as a map",
			body: `{"status":"error","msg":"m","errors":{"login":["O login é inválido."],"id":["O campo id é obrigatório.","Deve ser um número."],"x":"só um"}}`,
			want: envelope{status: StatusError, msg: "m", errors: []string{
				"id: O campo id é obrigatório.", "id: Deve ser um número.", "login: O login é inválido.", "x: só um"}},
		},
		{
			name: "errors as a string",
			body: `{"status":"error","msg":"m","errors":"Concentrador sem comunicação"}`,
			want: envelope{status: StatusError, msg: "m", errors: []string{"Concentrador sem comunicação"}},
		},
		{
			name: "errors null",
			body: `{"status":"error","msg":"m","errors":null}`,
			want: envelope{status: StatusError, msg: "m"},
		},
		{
			name: "errors with newlines",
			body: `{"status":"error","msg":"m","errors":["linha 1\nlinha 2"]}`,
			want: envelope{status: StatusError, msg: "m", errors: []string{"linha 1 linha 2"}},
		},
		{
			name: "message instead of msg",
			body: `{"status":"error","message":"Erro interno"}`,
			want: envelope{status: StatusError, msg: "Erro interno"},
		},
		{
			name: "msg wins over message",
			body: `{"status":"error","msg":"a","message":"b"}`,
			want: envelope{status: StatusError, msg: "a"},
		},
		{
			name: "msg and login as numbers",
			body: `{"status":"success","msg":404,"login":12345}`,
			want: envelope{status: StatusSuccess, msg: "404", login: "12345"},
		},
		{
			name: "exception fields are not copied",
			body: `{"status":"error","msg":"Falha","code":500,"line":231,"file":"/var/www/hubsoft/app/Services/Radius.php",` +
				`"trace":[{"file":"/var/www/hubsoft/vendor/laravel/Router.php","line":12,"function":"dispatch"}]}`,
			want: envelope{status: StatusError, msg: "Falha"},
		},
		{
			name: "newlines in msg folded",
			body: `{"status":"error","msg":"  A desconexão\r\nnão foi\t\tbem sucedida  ","errors":[]}`,
			want: envelope{status: StatusError, msg: "A desconexão não foi bem sucedida"},
		},
		{
			name: "surrounding whitespace",
			body: "\n\t{\"status\":\"success\",\"msg\":\"ok\"}\n",
			want: envelope{status: StatusSuccess, msg: "ok"},
		},
		{
			name: "UTF-8 byte order mark",
			body: "\ufeff{\"status\":\"success\",\"msg\":\"ok\"}",
			want: envelope{status: StatusSuccess, msg: "ok"},
		},
		{name: "Laravel Unauthenticated", body: `{"message":"Unauthenticated."}`, wantErr: errNotEnvelope},
		{name: "Too Many Attempts", body: `{"message":"Too Many Attempts."}`, wantErr: errNotEnvelope},
		{name: "unknown status", body: `{"status":"pending","msg":"x"}`, wantErr: errNotEnvelope},
		{name: "status not a string", body: `{"status":{"ok":true},"msg":"x"}`, wantErr: errNotEnvelope},
		{name: "array", body: `[{"status":"success"}]`, wantErr: errNotEnvelope},
		{name: "JSON string", body: `"success"`, wantErr: errNotEnvelope},
		{name: "HTML", body: `<!DOCTYPE html><html><title>Login - HubSoft</title></html>`, wantErr: errNotEnvelope},
		{name: "empty", body: ``, wantErr: errNotEnvelope},
		{name: "null", body: `null`, wantErr: errNotEnvelope},
		{name: "truncated object", body: `{"status":"success","msg":"A descon`, wantErr: errTruncatedJSON},
		{name: "truncated after a comma", body: `{"status":"success",`, wantErr: errTruncatedJSON},
		{name: "just a brace", body: `{`, wantErr: errTruncatedJSON},
		{name: "broken but complete", body: `{"status":"success" "msg":"x"}`, wantErr: errNotEnvelope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEnvelope([]byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %+v, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %+v", err, tt.want)
			}
			if got.status != tt.want.status || got.msg != tt.want.msg || got.login != tt.want.login || !slices.Equal(got.errors, tt.want.errors) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
			for _, field := range append([]string{got.status, got.msg, got.login}, got.errors...) {
				if strings.Contains(field, "/var/www") || strings.ContainsAny(field, "\r\n\t") {
					t.Errorf("field %q: want one line, with no exception fields", field)
				}
			}
		})
	}
}

func TestForbiddenMsg(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"HubSoft envelope", `{"status":"error","msg":"O Usuário não possui a permissão desejada!"}`, "O Usuário não possui a permissão desejada!"},
		{"Laravel message", `{"message":"Host not in allowlist"}`, "Host not in allowlist"},
		{"HTML", "<html>\n<h1>403 Forbidden</h1>\n</html>", "<html> <h1>403 Forbidden</h1> </html>"},
		{"JSON without a message", `{"error":"forbidden"}`, `{"error":"forbidden"}`},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forbiddenMsg([]byte(tt.body)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
