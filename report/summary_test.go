package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "update the golden files in testdata")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got\n%s\nwant (%s)\n%s", got, path, want)
	}
}

func TestSummaryWriteText(t *testing.T) {
	tests := []struct {
		name string
		s    Summary
	}{
		{
			name: "complete",
			s: Summary{
				Input: "clientes.csv", Results: "clientes.results.csv", Total: 10,
				Counts: Counts{Success: 6, Error: 1, Failed: 1, Invalid: 1, Duplicate: 1},
				Sent:   8, Elapsed: 4*time.Second + 123456789*time.Nanosecond,
			},
		},
		{
			name: "incomplete",
			s: Summary{
				Input: "/dados/lote 2.csv", Results: "/dados/lote 2.results.csv", Total: 1_000_000,
				Counts: Counts{Success: 250_000, Error: 10, Failed: 3},
				Sent:   50_000, Elapsed: 2*time.Hour + 3*time.Minute, Stopped: "interrupted",
			},
		},
		{
			name: "nothing sent",
			s:    Summary{Input: "a.csv", Results: "a.results.csv", Stopped: "HubSoft rejected the credentials"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.s.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, "summary-"+strings.ReplaceAll(tt.name, " ", "-")+".golden", b.Bytes())
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name     string
		s        Summary
		done     int
		complete bool
		clean    bool
		rate     float64
	}{
		{"empty", Summary{}, 0, true, true, 0},
		{"all done", Summary{Total: 3, Counts: Counts{Success: 2, Duplicate: 1}, Sent: 2, Elapsed: time.Second}, 3, true, true, 2},
		{"half done", Summary{Total: 4, Counts: Counts{Error: 2}, Sent: 2, Elapsed: 4 * time.Second}, 2, false, true, 0.5},
		{"failed", Summary{Total: 1, Counts: Counts{Failed: 1}, Sent: 1}, 1, true, false, 0},
		{"invalid", Summary{Total: 1, Counts: Counts{Invalid: 1}}, 1, true, false, 0},
		{"negative elapsed", Summary{Sent: 5, Elapsed: -time.Second}, 0, true, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Done(); got != tt.done {
				t.Errorf("Done: got %d, want %d", got, tt.done)
			}
			if got := tt.s.Complete(); got != tt.complete {
				t.Errorf("Complete: got %v, want %v", got, tt.complete)
			}
			if got := tt.s.Clean(); got != tt.clean {
				t.Errorf("Clean: got %v, want %v", got, tt.clean)
			}
			if got := tt.s.Rate(); got != tt.rate {
				t.Errorf("Rate: got %v, want %v", got, tt.rate)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	var c Counts
	for i, s := range Statuses {
		for range i + 1 {
			if !c.Add(s) {
				t.Errorf("Add(%q): got false, want true", s)
			}
		}
	}
	for _, s := range []string{"", "ok", "Success", " success"} {
		if c.Add(s) {
			t.Errorf("Add(%q): got true, want false", s)
		}
	}
	want := Counts{Success: 1, Error: 2, Failed: 3, Invalid: 4, Duplicate: 5}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
	for i, s := range Statuses {
		if got := c.Get(s); got != i+1 {
			t.Errorf("Get(%q): got %d, want %d", s, got, i+1)
		}
	}
	if got := c.Get("ok"); got != 0 {
		t.Errorf(`Get("ok"): got %d, want 0`, got)
	}
	if got := c.Total(); got != 15 {
		t.Errorf("Total: got %d, want 15", got)
	}
	if len(Statuses) != 5 {
		t.Errorf("got %d statuses, want 5", len(Statuses))
	}
}

func TestErrorsJSON(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"nil", nil, "[]"},
		{"empty", []string{}, "[]"},
		{"one", []string{"cliente não encontrado"}, `["cliente não encontrado"]`},
		{"two", []string{"a", "b"}, `["a","b"]`},
		{"quotes and delimiters", []string{`status "suspenso"`, "a, b; c"}, `["status \"suspenso\"","a, b; c"]`},
		{"HTML is left alone", []string{"<b>Serviço</b> & cia"}, `["<b>Serviço</b> & cia"]`},
		{"newlines are escaped", []string{"a\nb\r\nc"}, `["a\nb\r\nc"]`},
		{"line separators are escaped", []string{"a\u2028b\u2029c"}, `["a\u2028b\u2029c"]`},
		{"empty string", []string{""}, `[""]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorsJSON(tt.in)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if strings.ContainsFunc(got, isLineBreak) {
				t.Errorf("got %q, want it on one line", got)
			}
			var back []string
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatalf("got invalid JSON %s: %v", got, err)
			}
			if len(back) != len(tt.in) {
				t.Errorf("got %d errors back, want %d", len(back), len(tt.in))
			}
		})
	}
}
