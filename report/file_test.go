package report

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gocarina/gocsv"
)

// sampleRows are rows of every status, with fields that need quoting.
func sampleRows() []Row {
	return []Row{
		{Line: 2, ID: "11000", Status: StatusSuccess, Msg: "Serviço desconectado com sucesso", Login: "ana.silva", Errors: "[]", HTTPStatus: 200, Attempts: 1, DurationMS: 153, FinishedAt: "2026-03-01T12:00:00.123Z"},
		{Line: 4, ID: "11002", Status: StatusError, Msg: `Cliente "inativo", já desconectado; nada a fazer`, Login: "bruno,s", Errors: ErrorsJSON([]string{`status "suspenso"`, "a, b; c"}), HTTPStatus: 422, Attempts: 2, DurationMS: 1500, FinishedAt: "2026-03-01T12:00:01.000Z"},
		{Line: 3, ID: "11001", Status: StatusFailed, Msg: "Post \"https://api/x\": context deadline exceeded", Attempts: 4, DurationMS: 30000, FinishedAt: "2026-03-01T12:00:02.000Z"},
		{Line: 5, ID: "12.5", Status: StatusInvalid, Msg: "id_cliente_servico must be an integer greater than 0, got \"12.5\"", FinishedAt: "2026-03-01T12:00:03.000Z"},
		{Line: 6, ID: "11000", Status: StatusDuplicate, Msg: "duplicate of line 2; sent only once", FinishedAt: "2026-03-01T12:00:04.000Z"},
		{Line: 7, ID: "", Status: StatusInvalid, Msg: "id_cliente_servico is empty", FinishedAt: "2026-03-01T12:00:05.000Z"},
		{Line: 1000000, ID: " 7 ", Status: StatusSuccess, Msg: "ünïcødé ✓ 中文", Login: "\u00a0x\t", Errors: `[]`, HTTPStatus: 200, Attempts: 1, DurationMS: 1, FinishedAt: "2026-03-01T12:00:06.000Z"},
	}
}

// newResults creates a results file holding rows and returns its path.
func newResults(t *testing.T, rows []Row) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "results.csv")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadAll loads the results file at path.
func loadAll(t *testing.T, path string) ([]Row, Scan) {
	t.Helper()
	var rows []Row
	sc, err := Load(path, func(r Row) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, sc
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, FileMode); err != nil {
		t.Fatal(err)
	}
}

func checkMode(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != FileMode {
		t.Errorf("%s: got mode %v, want %v", filepath.Base(path), got, fs.FileMode(FileMode))
	}
}

// checkOnlyFiles fails unless dir holds exactly names: no temporary file
// is left behind.
func checkOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("got files %q in %s, want %q", got, dir, names)
	}
}

func TestColumnsAreTheTags(t *testing.T) {
	s, err := gocsv.MarshalString([]Row{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s, headerLine; got != want {
		t.Errorf("got gocsv header %q, want %q", got, want)
	}
	want := "line,id_cliente_servico,status,msg,login,errors,http_status,attempts,duration_ms,finished_at\n"
	if headerLine != want {
		t.Errorf("got header %q, want %q", headerLine, want)
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.csv")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := string(readFile(t, path)); got != headerLine {
		t.Errorf("got %q, want %q", got, headerLine)
	}
	checkMode(t, path)
	rows, sc := loadAll(t, path)
	if len(rows) != 0 || sc.Rows != 0 || sc.Torn() || sc.Size != int64(len(headerLine)) {
		t.Errorf("got rows %v and scan %+v, want an empty, whole file", rows, sc)
	}

	t.Run("refuses an existing file", func(t *testing.T) {
		writeFile(t, path, []byte("precious"))
		if _, err := Create(path); !errors.Is(err, fs.ErrExist) {
			t.Errorf("got %v, want an error wrapping fs.ErrExist", err)
		}
		if got := string(readFile(t, path)); got != "precious" {
			t.Errorf("got %q, want the file untouched", got)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		if _, err := Create(filepath.Join(dir, "nope", "results.csv")); err == nil {
			t.Error("got nil, want an error")
		}
	})
}

func TestCommitLoadRoundTrip(t *testing.T) {
	want := sampleRows()
	path := newResults(t, want[:3])
	checkMode(t, path)

	w, err := Append(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(nil); err != nil {
		t.Fatalf("Commit(nil): %v", err)
	}
	if err := w.Commit(want[3:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	got, sc := loadAll(t, path)
	if !slices.Equal(got, want) {
		t.Errorf("got rows\n%+v\nwant\n%+v", got, want)
	}
	b := readFile(t, path)
	if sc.Size != int64(len(b)) || sc.ValidEnd != sc.Size || sc.Torn() {
		t.Errorf("got scan %+v for %d bytes, want a whole file", sc, len(b))
	}
	if sc.Rows != len(want) {
		t.Errorf("got %d rows, want %d", sc.Rows, len(want))
	}
	wantCounts := Counts{Success: 2, Error: 1, Failed: 1, Invalid: 2, Duplicate: 1}
	if sc.Counts != wantCounts {
		t.Errorf("got counts %+v, want %+v", sc.Counts, wantCounts)
	}
	if n := bytes.Count(b, []byte("\n")); n != len(want)+1 {
		t.Errorf("got %d lines, want %d: one per row", n, len(want)+1)
	}
	// A failed row has no HTTP status: the column is empty, not 0.
	if !bytes.Contains(b, []byte("\n3,11001,failed,")) || !bytes.Contains(b, []byte(",,4,30000,")) {
		t.Errorf("got\n%s\nwant an empty http_status for the failed row", b)
	}
}

func TestCommitKeepsEveryRowOnOneLine(t *testing.T) {
	in := []Row{
		{Line: 2, ID: "110\n00", Status: StatusInvalid, Msg: "id_cliente_servico must be an integer greater than 0, got \"110\\n00\""},
		{Line: 3, ID: "11001", Status: StatusError, Msg: "first line\nsecond line\r\nthird\rfourth", Login: "a\r\nb", Errors: "[\n\"x\"\n]", HTTPStatus: 200, Attempts: 1},
		{Line: 4, ID: "11002", Status: StatusFailed, Msg: "line\u2028separator\u2029paragraph\u0085next\vtab\fform", Attempts: 1},
		{Line: 5, ID: "11003", Status: StatusFailed, Msg: "\n\n\nleading and trailing\r\n\r\n"},
		{Line: 6, ID: "11004", Status: StatusSuccess, Msg: "plain"},
	}
	orig := slices.Clone(in)
	path := newResults(t, in)
	if !slices.Equal(in, orig) {
		t.Errorf("Commit changed its argument: got %+v, want %+v", in, orig)
	}

	b := readFile(t, path)
	if n := bytes.Count(b, []byte("\n")); n != len(in)+1 {
		t.Errorf("got %d lines, want %d:\n%s", n, len(in)+1, b)
	}
	if bytes.ContainsAny(b, "\r\v\f\u2028\u2029\u0085") {
		t.Errorf("got a line break other than the row ends:\n%q", b)
	}
	got, _ := loadAll(t, path)
	want := []struct{ id, msg, login, errors string }{
		{"110 00", in[0].Msg, "", ""},
		{"11001", "first line second line third fourth", "a b", `[ "x" ]`},
		{"11002", "line separator paragraph next tab form", "", ""},
		{"11003", " leading and trailing ", "", ""},
		{"11004", "plain", "", ""},
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].Msg != w.msg || got[i].Login != w.login || got[i].Errors != w.errors {
			t.Errorf("row %d: got %q %q %q %q, want %q %q %q %q", i, got[i].ID, got[i].Msg, got[i].Login, got[i].Errors, w.id, w.msg, w.login, w.errors)
		}
	}
}

func TestFoldLines(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"a\nb", "a b"},
		{"a\r\nb", "a b"},
		{"a\n\n\nb", "a b"},
		{"a \n b", "a   b"},
		{"\na\n", " a "},
		{"a\u2028b", "a b"},
		{"ç\nã", "ç ã"},
	}
	for _, tt := range tests {
		if got := foldLines(tt.in); got != tt.want {
			t.Errorf("foldLines(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoadTornLastLine(t *testing.T) {
	rows := sampleRows()
	full := readFile(t, newResults(t, rows))
	lastStart := bytes.LastIndexByte(full[:len(full)-1], '\n') + 1

	// Every cut inside the last row, including the one that loses only its
	// '\n', leaves the rows before it and a torn line.
	for cut := lastStart + 1; cut < len(full); cut++ {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.csv")
			writeFile(t, path, full[:cut])

			got, sc := loadAll(t, path)
			if !slices.Equal(got, rows[:len(rows)-1]) {
				t.Fatalf("got rows %+v, want all but the last", got)
			}
			if !sc.Torn() || sc.ValidEnd != int64(lastStart) || sc.Size != int64(cut) {
				t.Errorf("got scan %+v, want torn, valid up to %d of %d", sc, lastStart, cut)
			}
			if sc.Rows != len(rows)-1 {
				t.Errorf("got %d rows, want %d", sc.Rows, len(rows)-1)
			}
			if got := readFile(t, path); len(got) != cut {
				t.Errorf("Load changed the file: got %d bytes, want %d", len(got), cut)
			}

			if err := Repair(path, sc); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); !bytes.Equal(got, full[:lastStart]) {
				t.Fatalf("after Repair got %q, want %q", got, full[:lastStart])
			}
			if _, sc := loadAll(t, path); sc.Torn() {
				t.Errorf("after Repair got scan %+v, want it whole", sc)
			}

			w, err := Append(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(rows[len(rows)-1:]); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if got := readFile(t, path); !bytes.Equal(got, full) {
				t.Errorf("after appending the last row again got\n%q\nwant\n%q", got, full)
			}
		})
	}

	t.Run("cut at a row boundary is not torn", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "results.csv")
		writeFile(t, path, full[:lastStart])
		got, sc := loadAll(t, path)
		if !slices.Equal(got, rows[:len(rows)-1]) || sc.Torn() {
			t.Errorf("got %d rows, scan %+v, want %d rows and not torn", len(got), sc, len(rows)-1)
		}
		if err := Repair(path, sc); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path); !bytes.Equal(got, full[:lastStart]) {
			t.Errorf("Repair changed a whole file")
		}
	})
}

func TestLoadTornLineLongerThanTheReadBuffer(t *testing.T) {
	// The torn line, and the row before it, are longer than the 64 KiB
	// that lastNewline reads at a time.
	rows := []Row{
		{Line: 2, ID: "1", Status: StatusSuccess, Msg: strings.Repeat("a", 70<<10)},
		{Line: 3, ID: "2", Status: StatusSuccess, Msg: strings.Repeat("b", 150<<10)},
	}
	full := readFile(t, newResults(t, rows))
	lastStart := bytes.LastIndexByte(full[:len(full)-1], '\n') + 1
	for _, cut := range []int{lastStart + 1, lastStart + 64<<10, lastStart + 64<<10 + 1, len(full) - 64<<10, len(full) - 1} {
		path := filepath.Join(t.TempDir(), "results.csv")
		writeFile(t, path, full[:cut])
		got, sc := loadAll(t, path)
		if len(got) != 1 || got[0].Msg != rows[0].Msg || sc.ValidEnd != int64(lastStart) {
			t.Errorf("cut %d: got %d rows, valid end %d, want 1 row, valid end %d", cut, len(got), sc.ValidEnd, lastStart)
		}
	}
}

func TestLoadTornHeader(t *testing.T) {
	// A crash inside Create leaves the file empty or its header torn.
	for _, content := range []string{"", "l", "line,id_cliente_servico,st", headerLine[:len(headerLine)-1]} {
		t.Run(fmt.Sprintf("%q", content), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.csv")
			writeFile(t, path, []byte(content))
			got, sc := loadAll(t, path)
			if len(got) != 0 || sc.Rows != 0 {
				t.Errorf("got %d rows, want none", len(got))
			}
			if sc.Torn() != (content != "") {
				t.Errorf("got Torn %v for %d bytes", sc.Torn(), len(content))
			}
			if err := Repair(path, sc); err != nil {
				t.Fatal(err)
			}
			if got := string(readFile(t, path)); got != headerLine {
				t.Errorf("after Repair got %q, want the header", got)
			}
			w, err := Append(path)
			if err != nil {
				t.Fatal(err)
			}
			w.Commit(sampleRows()[:1])
			w.Close()
			if got, _ := loadAll(t, path); len(got) != 1 {
				t.Errorf("got %d rows after appending one, want 1", len(got))
			}
		})
	}
	t.Run("a zero Scan repairs nothing", func(t *testing.T) {
		path := newResults(t, sampleRows())
		before := readFile(t, path)
		if err := Repair(path, Scan{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(readFile(t, path), before) {
			t.Error("Repair(Scan{}) changed the file")
		}
	})
}

func TestLoadDamage(t *testing.T) {
	good := func(line int, status string) string {
		return fmt.Sprintf("%d,%d,%s,ok,,[],200,1,10,2026-03-01T12:00:00.000Z\n", line, 11000+line, status)
	}
	tests := []struct {
		name    string
		content string
		line    int // physical line of the results file
		reason  string
	}{
		{"not a results file", "hello world", 1, "no complete header line"},
		{"another CSV without newline", "a,b,c", 1, "no complete header line"},
		{"wrong header", "id,status\n1,success\n", 1, "not hsbatch's"},
		{"columns in another order", "id_cliente_servico,line,status,msg,login,errors,http_status,attempts,duration_ms,finished_at\n", 1, "not hsbatch's"},
		{"extra column", strings.TrimSuffix(headerLine, "\n") + ",extra\n", 1, "not hsbatch's"},
		{"header saved by Excel pt-BR", strings.ReplaceAll(headerLine, ",", ";"), 1, "not hsbatch's"},
		{"header with a BOM", "\xEF\xBB\xBF" + headerLine, 1, "not hsbatch's"},
		{"header with a stray quote", "\"line," + headerLine, 1, "unreadable header"},
		{"garbage line in the middle", headerLine + good(2, "success") + "garbage\n" + good(3, "success"), 3, "unreadable row"},
		{"stray quote in the middle", headerLine + good(2, "success") + "4,1\"2,success,,,,,1,1,x\n" + good(3, "success"), 3, "unreadable row"},
		{"missing cells", headerLine + good(2, "success") + "3,11003,success\n", 3, "unreadable row"},
		{"duplicate line", headerLine + good(2, "success") + good(3, "error") + good(2, "failed"), 4, "input line 2 has two rows"},
		{"unknown status", headerLine + good(2, "success") + good(3, "ok"), 3, `unknown status "ok"`},
		{"empty status", headerLine + good(2, ""), 2, `unknown status ""`},
		{"status in capitals", headerLine + good(2, "SUCCESS"), 2, `unknown status "SUCCESS"`},
		{"line 0", headerLine + good(0, "success"), 2, "positive"},
		{"negative line", headerLine + good(-3, "success"), 2, "positive"},
		{"empty line column", headerLine + ",1,success,,,,,1,1,x\n", 2, "not a number"},
		{"octal-looking line", headerLine + "010,1,success,,,,,1,1,x\n", 2, `line "010" is not a number`},
		{"fractional line", headerLine + "5.9,1,success,,,,,1,1,x\n", 2, "not a number"},
		{"hex line", headerLine + "0x10,1,success,,,,,1,1,x\n", 2, "not a number"},
		{"line with spaces", headerLine + " 5,1,success,,,,,1,1,x\n", 2, "not a number"},
		{"line past MaxLine", headerLine + good(MaxLine+1, "success"), 2, "beyond any input"},
		{"line past int64", headerLine + "99999999999999999999,1,success,,,,,1,1,x\n", 2, "not a number"},
		{"bad http_status", headerLine + "2,1,success,,,,abc,1,1,x\n", 2, "http_status"},
		{"bad attempts", headerLine + "2,1,success,,,,200,one,1,x\n", 2, "attempts"},
		{"bad duration", headerLine + "2,1,success,,,,200,1,1.5,x\n", 2, "duration_ms"},
		{"damage after a blank line names its own line", headerLine + good(2, "success") + "\n" + good(2, "success"), 4, "two rows"},
		{"damage after a multi-line row names its own line", headerLine + "2,1,success,\"a\nb\",,,,1,1,x\n" + good(3, "nope"), 4, "unknown status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.csv")
			writeFile(t, path, []byte(tt.content))
			_, err := Load(path, nil)
			var d *Damage
			if !errors.As(err, &d) {
				t.Fatalf("got %v, want a *Damage", err)
			}
			if d.Path != path || d.Line != tt.line || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("got %s line %d %q, want %s line %d %q", d.Path, d.Line, d.Reason, path, tt.line, tt.reason)
			}
			if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("%s line %d: ", path, tt.line)) || !strings.Contains(msg, "--restart") {
				t.Errorf("got message %q, want it to name the file, line and --restart", msg)
			}
			if got := string(readFile(t, path)); got != tt.content {
				t.Errorf("Load changed the damaged file")
			}
		})
	}
}

func TestLoadStopsAtCallbackError(t *testing.T) {
	path := newResults(t, sampleRows())
	stop := errors.New("stop")
	n := 0
	_, err := Load(path, func(Row) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("got %v after %d rows, want %v after 2", err, n, stop)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.csv"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want fs.ErrNotExist", err)
	}
}

func TestLoadAcceptsCRLF(t *testing.T) {
	// A results file someone saved with CRLF line ends still loads.
	path := newResults(t, sampleRows())
	b := bytes.ReplaceAll(readFile(t, path), []byte("\n"), []byte("\r\n"))
	writeFile(t, path, b)
	got, sc := loadAll(t, path)
	if !slices.Equal(got, sampleRows()) || sc.Torn() {
		t.Errorf("got %d rows, scan %+v, want the sample rows, not torn", len(got), sc)
	}
}

func TestBitset(t *testing.T) {
	var b Bitset
	if b.Has(0) || b.Has(1) || b.Has(-1) {
		t.Error("zero Bitset: got a member, want none")
	}
	in := []int{0, 1, 63, 64, 65, 127, 128, 1000, 1_000_000, MaxLine}
	for _, n := range in {
		b.Set(n)
	}
	b.Set(64) // twice
	for _, n := range in {
		if !b.Has(n) {
			t.Errorf("Has(%d): got false, want true", n)
		}
	}
	for _, n := range []int{-1, -64, 2, 62, 66, 126, 129, 999, 1001, 999_999, MaxLine - 1, MaxLine + 1, MaxLine * 10} {
		if b.Has(n) {
			t.Errorf("Has(%d): got true, want false", n)
		}
	}

	t.Run("Subtract", func(t *testing.T) {
		var a, o Bitset
		for _, n := range []int{1, 2, 3, 100, 5000} {
			a.Set(n)
		}
		o.Set(2)
		o.Set(100)
		o.Set(1 << 20) // beyond a: ignored
		a.Subtract(&o)
		for n, want := range map[int]bool{1: true, 2: false, 3: true, 100: false, 5000: true, 1 << 20: false} {
			if got := a.Has(n); got != want {
				t.Errorf("Has(%d): got %v, want %v", n, got, want)
			}
		}
		if !o.Has(1 << 20) {
			t.Error("Subtract changed its argument")
		}
		var short Bitset
		short.Set(1)
		short.Subtract(&a) // a is longer
		if short.Has(1) {
			t.Error("Has(1) after subtracting a set holding 1: got true, want false")
		}
		var empty Bitset
		a.Subtract(&empty)
		if !a.Has(5000) {
			t.Error("subtracting an empty set removed 5000")
		}
	})
	t.Run("growth stays near the largest member", func(t *testing.T) {
		var g Bitset
		for n := range 100_000 {
			g.Set(n)
		}
		if words := len(g.words); words > 100_000/64*2 {
			t.Errorf("got %d words for 100000 bits", words)
		}
	})
}

func TestInt(t *testing.T) {
	for _, tt := range []struct {
		i Int
		s string
	}{{0, ""}, {200, "200"}, {-1, "-1"}} {
		if got, _ := tt.i.MarshalCSV(); got != tt.s {
			t.Errorf("MarshalCSV(%d): got %q, want %q", tt.i, got, tt.s)
		}
		var back Int
		if err := back.UnmarshalCSV(tt.s); err != nil || back != tt.i {
			t.Errorf("UnmarshalCSV(%q): got %d, %v, want %d", tt.s, back, err, tt.i)
		}
	}
	var i Int = 5
	if err := i.UnmarshalCSV(" "); err != nil || i != 0 {
		t.Errorf(`UnmarshalCSV(" "): got %d, %v, want 0`, i, err)
	}
	if err := i.UnmarshalCSV("2xx"); err == nil {
		t.Error(`UnmarshalCSV("2xx"): got nil, want an error`)
	}
}
