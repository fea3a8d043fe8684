package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRewrite(t *testing.T) {
	rows := sampleRows()
	notFailed := func(r Row) bool { return r.Status != StatusFailed }
	tests := []struct {
		name string
		keep func(Row) bool
	}{
		{"drop failed", notFailed},
		{"keep all", func(Row) bool { return true }},
		{"keep none", func(Row) bool { return false }},
		{"drop every other", func(r Row) bool { return r.Line%2 == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := newResults(t, rows)
			// The rewritten file is 0600 even if someone loosened the old.
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := Rewrite(path, tt.keep); err != nil {
				t.Fatal(err)
			}
			want := slices.DeleteFunc(slices.Clone(rows), func(r Row) bool { return !tt.keep(r) })
			got, sc := loadAll(t, path)
			if !slices.Equal(got, want) {
				t.Errorf("got rows %+v, want %+v", got, want)
			}
			if sc.Rows != len(want) || sc.Torn() {
				t.Errorf("got scan %+v, want %d rows, not torn", sc, len(want))
			}
			checkMode(t, path)
			checkOnlyFiles(t, filepath.Dir(path), "results.csv")

			// The file goes on as a results file.
			w, err := Append(path)
			if err != nil {
				t.Fatal(err)
			}
			more := Row{Line: 99, ID: "99", Status: StatusSuccess}
			if err := w.Commit([]Row{more}); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if got, _ := loadAll(t, path); len(got) != len(want)+1 || got[len(got)-1] != more {
				t.Errorf("after appending got %+v, want %+v then %+v", got, want, more)
			}
		})
	}

	t.Run("many rows", func(t *testing.T) {
		// More than one batch of 1024 rows.
		var many []Row
		for i := range 3000 {
			st := StatusSuccess
			if i%3 == 0 {
				st = StatusFailed
			}
			many = append(many, Row{Line: i + 2, ID: "1", Status: st})
		}
		path := newResults(t, many)
		if err := Rewrite(path, notFailed); err != nil {
			t.Fatal(err)
		}
		got, _ := loadAll(t, path)
		want := slices.DeleteFunc(many, func(r Row) bool { return !notFailed(r) })
		if !slices.Equal(got, want) {
			t.Errorf("got %d rows, want %d", len(got), len(want))
		}
	})

	t.Run("a torn last line is dropped", func(t *testing.T) {
		path := newResults(t, rows)
		b := readFile(t, path)
		writeFile(t, path, b[:len(b)-5])
		if err := Rewrite(path, notFailed); err != nil {
			t.Fatal(err)
		}
		got, sc := loadAll(t, path)
		want := slices.DeleteFunc(slices.Clone(rows[:len(rows)-1]), func(r Row) bool { return !notFailed(r) })
		if !slices.Equal(got, want) || sc.Torn() {
			t.Errorf("got rows %+v (torn %v), want %+v", got, sc.Torn(), want)
		}
	})

	t.Run("damage leaves the file as it was", func(t *testing.T) {
		path := newResults(t, rows)
		damaged := append(readFile(t, path), []byte("garbage\n")...)
		writeFile(t, path, damaged)
		err := Rewrite(path, notFailed)
		var d *Damage
		if !errors.As(err, &d) {
			t.Fatalf("got %v, want a *Damage", err)
		}
		if got := readFile(t, path); !bytes.Equal(got, damaged) {
			t.Error("Rewrite changed a damaged file")
		}
		checkOnlyFiles(t, filepath.Dir(path), "results.csv")
	})

	t.Run("line breaks are folded", func(t *testing.T) {
		// A row over two lines, as an older writer could leave it.
		path := filepath.Join(t.TempDir(), "results.csv")
		writeFile(t, path, []byte(headerLine+"2,1,error,\"a\nb\",,,,1,1,x\n3,2,failed,,,,,1,1,x\n"))
		if err := Rewrite(path, notFailed); err != nil {
			t.Fatal(err)
		}
		if got, want := string(readFile(t, path)), headerLine+"2,1,error,a b,,,,1,1,x\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		dir := t.TempDir()
		if err := Rewrite(filepath.Join(dir, "results.csv"), notFailed); err == nil {
			t.Error("got nil, want an error")
		}
		checkOnlyFiles(t, dir)
	})
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "job.json")
	for _, content := range []string{"first\n", "", "second, longer than the first\n"} {
		if err := WriteFileAtomic(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got := string(readFile(t, path)); got != content {
			t.Errorf("got %q, want %q", got, content)
		}
		checkMode(t, path)
		checkOnlyFiles(t, dir, "job.json")
	}

	t.Run("replaces a looser file with a 0600 one", func(t *testing.T) {
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, 0o644)
		if err := WriteFileAtomic(path, []byte("new")); err != nil {
			t.Fatal(err)
		}
		checkMode(t, path)
	})
	t.Run("missing directory", func(t *testing.T) {
		if err := WriteFileAtomic(filepath.Join(dir, "nope", "x"), []byte("x")); err == nil {
			t.Error("got nil, want an error")
		}
	})
	t.Run("a directory in the way leaves no temporary file", func(t *testing.T) {
		d := t.TempDir()
		if err := os.Mkdir(filepath.Join(d, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "x", "inside"), nil, 0o600)
		if err := WriteFileAtomic(filepath.Join(d, "x"), []byte("x")); err == nil {
			t.Error("got nil, want an error")
		}
		checkOnlyFiles(t, d, "x")
	})
}
