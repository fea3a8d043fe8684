package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSortPutsRowsInInputOrder(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // longer than Sort's read buffer
	tests := []struct {
		name  string
		lines []int
	}{
		{"shuffled", []int{5, 2, 9, 3, 4, 7, 6, 8}},
		{"reversed", []int{9, 8, 7, 6, 5, 4, 3, 2}},
		{"one row", []int{2}},
		{"already in order", []int{2, 3, 4, 10}},
		{"no rows", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.csv")
			w, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			var rows []Row
			for i, l := range tt.lines {
				msg := "m"
				if i == 1 {
					msg = long
				}
				rows = append(rows, Row{Line: l, ID: "1", Status: StatusSuccess, Msg: msg, Attempts: l})
			}
			if err := w.Commit(rows); err != nil {
				t.Fatal(err)
			}
			w.Close()
			before, _ := os.Stat(path)

			if err := Sort(path); err != nil {
				t.Fatalf("Sort: %v", err)
			}
			var got []Row
			if _, err := Load(path, func(r Row) error { got = append(got, r); return nil }); err != nil {
				t.Fatalf("Load after Sort: %v", err)
			}
			if len(got) != len(rows) {
				t.Fatalf("got %d rows, want %d", len(got), len(rows))
			}
			for i, r := range got {
				if i > 0 && r.Line <= got[i-1].Line {
					t.Errorf("row %d: line %d after %d", i, r.Line, got[i-1].Line)
				}
				if r.Attempts != r.Line || (r.Msg != "m" && r.Msg != long) {
					t.Errorf("line %d: row changed: attempts %d, msg of %d bytes", r.Line, r.Attempts, len(r.Msg))
				}
			}
			after, _ := os.Stat(path)
			if after.Mode().Perm() != FileMode {
				t.Errorf("mode: got %v, want %v", after.Mode().Perm(), os.FileMode(FileMode))
			}
			sorted := tt.name == "already in order" || len(tt.lines) < 2
			if sorted != os.SameFile(before, after) {
				t.Errorf("file replaced: %v, want %v", !os.SameFile(before, after), !sorted)
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("got %d files in the directory, want only the results", len(entries))
			}
		})
	}
}
