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

	"github.com/gocarina/gocsv"
)

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
func (w *Writer) Commit(rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	if err := gocsv.MarshalCSVWithoutHeaders(rows, w.cw); err != nil {
		return err
	}
	return w.f.Sync()
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
}

// Torn reports whether the file ends in a partial line.
func (s Scan) Torn() bool { return s.ValidEnd < s.Size }

// Load reads every complete row of the results file at path and calls fn
// for each, in file order. It changes nothing; see Repair.
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
		return sc, &Damage{Path: path, Line: 1, Reason: "no complete header line"}
	}

	cr := csv.NewReader(io.LimitReader(f, sc.ValidEnd))
	cr.ReuseRecord = false
	um, err := gocsv.NewUnmarshaller(cr, Row{})
	if err != nil {
		return sc, &Damage{Path: path, Line: 1, Reason: "unreadable header: " + err.Error()}
	}
	if !slices.Equal(um.Headers, Columns) {
		return sc, &Damage{Path: path, Line: 1, Reason: fmt.Sprintf("the header is not hsbatch's (got %q)", um.Headers)}
	}
	seen := Bitset{}
	for {
		v, err := um.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line := sc.Rows + 2 // rows are one line each, after the header
		if err != nil {
			return sc, &Damage{Path: path, Line: line, Reason: "unreadable row: " + err.Error()}
		}
		row := v.(Row)
		switch {
		case row.Line <= 0:
			return sc, &Damage{Path: path, Line: line, Reason: "line must be a positive number"}
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

// Repair cuts a torn last line off the results file, durably.
func Repair(path string, sc Scan) error {
	if !sc.Torn() {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, FileMode)
	if err != nil {
		return err
	}
	err = f.Truncate(sc.ValidEnd)
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

// Set adds n.
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
