package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"
)

// MaxLine is the largest input line a results file may name. It bounds
// the memory that a damaged line column can make Load and the Bitsets of
// done lines take (12.5 MB at most); an input file must be split before it
// grows past it.
const MaxLine = 100_000_000

// headerLine is the header as Create writes it: no column name needs quotes.
var headerLine = strings.Join(Columns, ",") + "\n"

// FileMode is the mode of every file hsbatch writes: logins are personal
// data under LGPD, so only the owner may read them.
const FileMode = 0o600

// Writer appends rows to a results file. It is not safe for concurrent
// use: one goroutine owns it.
type Writer struct {
	f  *os.File
	cw *gocsv.SafeCSVWriter
}

// Create creates a results file holding only the header, durably. It
// refuses to replace an existing file.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, cw: gocsv.NewSafeCSVWriter(csv.NewWriter(f))}
	if err := w.cw.Write(Columns); err == nil {
		w.cw.Flush()
		err = w.cw.Error()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = SyncDir(filepath.Dir(path))
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("create results file: %w", err)
	}
	return w, nil
}

// Append opens an existing results file, which Load has checked and
// repaired, to add rows at its end.
func Append(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, FileMode)
	if err != nil {
		return nil, err
	}
	return &Writer{f: f, cw: gocsv.NewSafeCSVWriter(csv.NewWriter(f))}, nil
}

// Commit writes rows and fsyncs them. When it returns nil, the rows survive
// a crash or a power cut. After an error, the file may end in a torn line,
// which the next Load repairs.
//
// Line breaks in text fields (a server's message, an id cell) are folded
// into spaces, so that every row is one physical line: Load's torn-line
// check depends on it. rows itself is not changed.
func (w *Writer) Commit(rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	if err := marshalRows(w.cw, rows); err != nil {
		return err
	}
	return w.f.Sync()
}

// marshalRows writes rows, each on one line, and flushes cw.
func marshalRows(cw gocsv.CSVWriter, rows []Row) error {
	for i := range rows {
		if !rows[i].oneLine() {
			folded := slices.Clone(rows)
			for j := i; j < len(folded); j++ {
				folded[j].fold()
			}
			rows = folded
			break
		}
	}
	return gocsv.MarshalCSVWithoutHeaders(rows, cw)
}

// oneLine reports whether no text field of r holds a line break.
func (r *Row) oneLine() bool {
	for _, s := range r.text() {
		if strings.ContainsFunc(*s, isLineBreak) {
			return false
		}
	}
	return true
}

// fold replaces each run of line breaks in r's text fields with a space.
func (r *Row) fold() {
	for _, s := range r.text() {
		*s = foldLines(*s)
	}
}

func (r *Row) text() [6]*string {
	return [...]*string{&r.ID, &r.Status, &r.Msg, &r.Login, &r.Errors, &r.FinishedAt}
}

// isLineBreak reports whether c ends a line for some reader of the file:
// encoding/csv and spreadsheets break at '\n' and '\r', editors and
// Python's splitlines also at the others.
func isLineBreak(c rune) bool {
	switch c {
	case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

func foldLines(s string) string {
	if !strings.ContainsFunc(s, isLineBreak) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inBreak := false
	for _, c := range s {
		if isLineBreak(c) {
			if !inBreak {
				b.WriteByte(' ')
			}
			inBreak = true
			continue
		}
		inBreak = false
		b.WriteRune(c)
	}
	return b.String()
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// Damage is a results file that hsbatch cannot trust: a complete line that
// does not parse, a wrong header, a line number twice. Only a torn last
// line, which a crash leaves, is repaired; anything else could be a
// person's edit, and guessing could send rows twice.
type Damage struct {
	Path   string
	Line   int // physical line of the results file
	Reason string
}

func (e *Damage) Error() string {
	return fmt.Sprintf("%s line %d: %s; hsbatch will not guess which rows are done. Restore the file, or start over with --restart (the old file is kept)", e.Path, e.Line, e.Reason)
}

// Scan is what Load found.
type Scan struct {
	Size     int64 // bytes in the file
	ValidEnd int64 // bytes up to the end of the last complete line
	Rows     int
	Counts   Counts
	noHeader bool // the file is empty or holds a torn header: Create crashed
}

// Torn reports whether the file ends in a partial line.
func (s Scan) Torn() bool { return s.ValidEnd < s.Size }

// Load reads every complete row of the results file at path and calls fn
// for each, in file order. It changes nothing; see Repair.
//
// Bytes after the last '\n' are a torn line, which only a crash leaves:
// Load ignores them and Repair cuts them off. So is an empty file or a
// partial header, which a crash inside Create leaves: Load finds no rows
// and Repair writes the header. Anything else that is not what Writer
// writes is a *Damage.
func Load(path string, fn func(Row) error) (Scan, error) {
	f, err := os.Open(path)
	if err != nil {
		return Scan{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Scan{}, err
	}
	sc := Scan{Size: st.Size()}
	sc.ValidEnd, err = lastNewline(f, sc.Size)
	if err != nil {
		return sc, err
	}
	if sc.ValidEnd == 0 {
		if sc.Size <= int64(len(headerLine)) {
			b := make([]byte, sc.Size)
			if _, err := io.ReadFull(f, b); err != nil {
				return sc, err
			}
			if strings.HasPrefix(headerLine, string(b)) {
				sc.noHeader = true
				return sc, nil
			}
		}
		return sc, &Damage{Path: path, Line: 1, Reason: "no complete header line"}
	}

	// FieldsPerRecord 0: every row must have as many cells as the header,
	// which must be Columns.
	cr := csv.NewReader(io.LimitReader(f, sc.ValidEnd))
	header, err := cr.Read()
	if err != nil {
		return sc, &Damage{Path: path, Line: 1, Reason: "unreadable header: " + err.Error()}
	}
	if !slices.Equal(header, Columns) {
		return sc, &Damage{Path: path, Line: 1, Reason: fmt.Sprintf("the header is not hsbatch's (got %q)", header)}
	}
	var seen Bitset
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := sc.Rows + 2
			if perr, ok := errors.AsType[*csv.ParseError](err); ok {
				line = perr.StartLine
			}
			return sc, &Damage{Path: path, Line: line, Reason: "unreadable row: " + err.Error()}
		}
		line, _ := cr.FieldPos(0)
		row, err := parseRow(rec)
		switch {
		case err != nil:
			return sc, &Damage{Path: path, Line: line, Reason: err.Error()}
		case seen.Has(row.Line):
			return sc, &Damage{Path: path, Line: line, Reason: "input line " + strconv.Itoa(row.Line) + " has two rows"}
		case !sc.Counts.Add(row.Status):
			return sc, &Damage{Path: path, Line: line, Reason: fmt.Sprintf("unknown status %q", row.Status)}
		}
		seen.Set(row.Line)
		sc.Rows++
		if fn != nil {
			if err := fn(row); err != nil {
				return sc, err
			}
		}
	}
	return sc, nil
}

// parseRow decodes a record in the order of Columns. It is stricter than
// gocsv, which would read the line "010" as 8 (octal) and "5.9" as 5: the
// line column says which input rows are done, so it must be exactly what
// Writer wrote.
func parseRow(rec []string) (Row, error) {
	r := Row{ID: rec[1], Status: rec[2], Msg: rec[3], Login: rec[4], Errors: rec[5], FinishedAt: rec[9]}
	n, err := strconv.Atoi(rec[0])
	switch {
	case err != nil || strconv.Itoa(n) != rec[0]:
		return r, fmt.Errorf("line %q is not a number", clip(rec[0]))
	case n <= 0:
		return r, errors.New("line must be a positive number")
	case n > MaxLine:
		return r, fmt.Errorf("line %d is beyond any input hsbatch reads (at most %d lines)", n, MaxLine)
	}
	r.Line = n
	if err := r.HTTPStatus.UnmarshalCSV(rec[6]); err != nil {
		return r, err
	}
	if r.Attempts, err = atoi(rec[7]); err != nil {
		return r, fmt.Errorf("attempts %q is not a number", clip(rec[7]))
	}
	d, err := atoi(rec[8])
	if err != nil {
		return r, fmt.Errorf("duration_ms %q is not a number", clip(rec[8]))
	}
	r.DurationMS = int64(d)
	return r, nil
}

// atoi reads a decimal integer, "" as 0.
func atoi(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// clip shortens s for an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// lastNewline returns the offset just past the last '\n' of f.
func lastNewline(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			_, err := f.Seek(0, io.SeekStart)
			return start + int64(i) + 1, err
		}
		end = start
	}
	_, err := f.Seek(0, io.SeekStart)
	return 0, err
}

// Repair cuts a torn last line off the results file, durably. When Create
// crashed before the header was whole, Repair writes it.
func Repair(path string, sc Scan) error {
	if !sc.Torn() && !sc.noHeader {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, FileMode)
	if err != nil {
		return err
	}
	err = f.Truncate(sc.ValidEnd)
	if err == nil && sc.noHeader {
		_, err = f.WriteAt([]byte(headerLine), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory, so that a file created or renamed in it
// survives a power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Bitset is a set of small positive integers, such as line numbers: one bit
// each, so a million lines take 125 KiB.
type Bitset struct{ words []uint64 }

// Set adds n, which must not be negative. Memory grows with the largest n.
func (b *Bitset) Set(n int) {
	w := n / 64
	if w >= len(b.words) {
		b.words = append(b.words, make([]uint64, w-len(b.words)+1+len(b.words)/4)...)
	}
	b.words[w] |= 1 << (uint(n) % 64)
}

// Has reports whether n was added.
func (b *Bitset) Has(n int) bool {
	w := n / 64
	return n >= 0 && w < len(b.words) && b.words[w]&(1<<(uint(n)%64)) != 0
}

// Subtract removes every member of o.
func (b *Bitset) Subtract(o *Bitset) {
	for i := range min(len(b.words), len(o.words)) {
		b.words[i] &^= o.words[i]
	}
}
