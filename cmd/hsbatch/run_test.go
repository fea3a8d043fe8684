package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResultsPath(t *testing.T) {
	tests := []struct{ in, out, want string }{
		{"clientes.csv", "", "clientes.results.csv"},
		{"dir/IDS.CSV", "", "dir/IDS.results.csv"},
		{"ids.txt", "", "ids.results.csv"},
		{"ids.tsv", "", "ids.results.csv"},
		{"ids", "", "ids.results.csv"},
		{"export.2026-12-04", "", "export.2026-12-04.results.csv"},
		{"a.csv", "out/x.csv", "out/x.csv"},
	}
	for _, tt := range tests {
		if got := resultsPath(tt.in, tt.out); got != tt.want {
			t.Errorf("resultsPath(%q, %q): got %q, want %q", tt.in, tt.out, got, tt.want)
		}
	}
}

func TestResumeCommandNeverRestarts(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plain", []string{"a.csv"}, "hsbatch run a.csv"},
		{"flags kept, after the file too", []string{"a.csv", "--rate", "2", "--concurrency=8"}, "hsbatch run --concurrency=8 --rate=2 a.csv"},
		{"restart dropped", []string{"--restart", "a.csv"}, "hsbatch run a.csv"},
		{"restart in other spellings dropped", []string{"-restart=T", "a.csv"}, "hsbatch run a.csv"},
		{"retry-failed dropped", []string{"--retry-failed", "a.csv"}, "hsbatch run a.csv"},
		{"output kept", []string{"-o", "out dir/r.csv", "a.csv"}, "hsbatch run -o 'out dir/r.csv' a.csv"},
		{"quoting", []string{"it's.csv"}, `hsbatch run 'it'\''s.csv'`},
		{"inputs after --, one starting with a dash", []string{"--rate", "5", "--", "a.csv", "-b.csv"}, "hsbatch run --rate=5 -- a.csv -b.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultRunOptions()
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o.flags(fs)
			inputs, err := parseInterspersed(fs, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			o.Inputs = inputs
			if got := resumeCommand(runFlags(fs), o.Output, o.Inputs); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"HUBSOFT_BASE_URL":      "https://isp.hubsoft.com.br",
		"HUBSOFT_CLIENT_ID":     "7",
		"HUBSOFT_CLIENT_SECRET": "cs",
		"HUBSOFT_USERNAME":      "api@isp.com.br",
		"HUBSOFT_PASSWORD":      "pw",
	}
	tests := []struct {
		name    string
		change  map[string]string
		wantErr string
		check   func(t *testing.T, c config)
	}{
		{"all set", nil, "", func(t *testing.T, c config) {
			if c.Creds.Password != "pw" || c.BaseURL != "https://isp.hubsoft.com.br" {
				t.Errorf("got %v", c.Creds)
			}
		}},
		{"password from a file, newline dropped", map[string]string{"HUBSOFT_PASSWORD": "", "HUBSOFT_PASSWORD_FILE": secretFile}, "", func(t *testing.T, c config) {
			if c.Creds.Password != "s3cr3t" {
				t.Errorf("got a password of %d bytes, want the file's", len(c.Creds.Password))
			}
		}},
		{"both value and file", map[string]string{"HUBSOFT_PASSWORD_FILE": secretFile}, "keep one", nil},
		{"unreadable file", map[string]string{"HUBSOFT_PASSWORD": "", "HUBSOFT_PASSWORD_FILE": filepath.Join(dir, "none")}, "HUBSOFT_PASSWORD_FILE", nil},
		{"missing ones listed together", map[string]string{"HUBSOFT_USERNAME": "", "HUBSOFT_PASSWORD": ""}, "HUBSOFT_USERNAME, HUBSOFT_PASSWORD", nil},
		{"plain http refused", map[string]string{"HUBSOFT_BASE_URL": "http://isp.hubsoft.com.br"}, "https", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.change {
				env[k] = v
			}
			c, err := configFromEnv(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "pw") {
					t.Errorf("the error %q shows a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestExitCodeMapping(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"not clean", errNotClean, exitNotClean},
		{"usage", usagef("x"), exitStart},
		{"stopped", &stoppedError{Err: io.EOF}, exitStopped},
		{"anything else", io.ErrUnexpectedEOF, exitStart},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}
