package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// Identity pins an input file: a changed file must not be resumed as if it
// were the same.
type Identity struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Plan is what a first pass over an input file learned.
type Plan struct {
	Identity
	Rows int // data rows
	// Dups maps each id that occurs more than once to the line of its
	// first occurrence. Ids that occur once are not kept, so the map stays
	// small however large the file.
	Dups map[int64]int
	// blocks holds the SHA-256 of each blockSize bytes of the file (32
	// bytes per MiB), so that a run can check every block before it sends
	// a row read from it.
	blocks [][sha256.Size]byte
}

// blockSize is the unit in which a run checks the input against the scan.
const blockSize = 1 << 20

// InputError is an input file that cannot be read as hsbatch's input.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// ScanInput reads the input file once to pin it, count its rows, check that
// every line parses, and find repeated ids. Nothing is sent before a file
// has passed this scan, so a broken last line cannot stop a half-done run.
// The Identity is of the bytes read, so that it matches the rows counted
// even when the file changes meanwhile.
func ScanInput(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{path, err}
	}
	defer f.Close()
	return scanFile(f)
}

// scanFile is ScanInput on an open file, which it reads from the start.
func scanFile(f *os.File) (*Plan, error) {
	path := f.Name()
	p := &Plan{}
	seen := idSet{}
	var dupIDs map[int64]int
	h := &hashCounter{h: sha256.New(), block: sha256.New()}
	err := eachRow(f, h, func(r Row) {
		p.Rows++
		if r.ID == 0 {
			return
		}
		if seen.add(r.ID) {
			return
		}
		if dupIDs == nil {
			dupIDs = map[int64]int{}
		}
		dupIDs[r.ID] = 0
	})
	if err != nil {
		return nil, err
	}
	p.Size = h.n
	p.SHA256 = hex.EncodeToString(h.h.Sum(nil))
	p.blocks = h.finish()
	if dupIDs != nil {
		// A second pass finds where each repeated id first appeared.
		h2 := &hashCounter{h: sha256.New()}
		err = eachRow(f, h2, func(r Row) {
			if first, ok := dupIDs[r.ID]; ok && first == 0 {
				dupIDs[r.ID] = r.Line
			}
		})
		if err != nil {
			return nil, err
		}
		if h2.n != p.Size || hex.EncodeToString(h2.h.Sum(nil)) != p.SHA256 {
			return nil, &InputError{path, errors.New("the file changed while it was read; wait until whatever writes it is done")}
		}
	}
	p.Dups = dupIDs
	return p, nil
}

// hashCounter hashes and counts the bytes written to it, and, when block
// is set, hashes each blockSize bytes apart too.
type hashCounter struct {
	h      hash.Hash
	n      int64
	block  hash.Hash
	blocks [][sha256.Size]byte
}

func (c *hashCounter) Write(b []byte) (int, error) {
	n := len(b)
	c.h.Write(b)
	for c.block != nil && len(b) > 0 {
		k := min(len(b), blockSize-int(c.n%blockSize))
		c.block.Write(b[:k])
		c.n += int64(k)
		b = b[k:]
		if c.n%blockSize == 0 {
			c.blocks = append(c.blocks, [sha256.Size]byte(c.block.Sum(nil)))
			c.block.Reset()
		}
	}
	if c.block == nil {
		c.n += int64(n)
	}
	return n, nil
}

// finish returns the block hashes, the last (short) block included.
func (c *hashCounter) finish() [][sha256.Size]byte {
	if c.n%blockSize != 0 {
		c.blocks = append(c.blocks, [sha256.Size]byte(c.block.Sum(nil)))
		c.block.Reset()
	}
	return c.blocks
}

// eachRow calls fn for every row of f, from its start, copying the bytes
// it reads to tee when tee is not nil.
func eachRow(f *os.File, tee io.Writer, fn func(Row)) error {
	path := f.Name()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &InputError{path, err}
	}
	var r io.Reader = f
	if tee != nil {
		r = io.TeeReader(f, tee)
	}
	rd, err := NewReader(r)
	if err != nil {
		return &InputError{path, err}
	}
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &InputError{path, err}
		}
		fn(row)
	}
	if tee != nil {
		// Whatever the readers left unread (nothing, as a rule) counts too.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return &InputError{path, err}
		}
	}
	return nil
}

// idSet is a set of ids held as 64-bit words keyed by id/64. Ids in a
// HubSoft base are mostly dense, so a million ids take well under 1 MiB;
// scattered ids degrade to one map entry each.
type idSet map[int64]uint64

// add adds id and reports whether it was new.
func (s idSet) add(id int64) bool {
	k, bit := id>>6, uint64(1)<<(uint64(id)&63)
	w := s[k]
	if w&bit != 0 {
		return false
	}
	s[k] = w | bit
	return true
}

// pinnedInput reads the rows of a job's input for a run, from the file the
// job scanned (a file renamed over it is not read). Every block of bytes is
// checked against the scan before any row in it is released, and nothing
// past the scanned size is read: a file changed or appended to in place
// stops the run before a row that was not scanned is sent.
type pinnedInput struct {
	name string
	rd   *Reader
	v    *verifiedReader
}

// openInput starts reading the job's input from the start.
func (j *Job) openInput() (*pinnedInput, error) {
	if _, err := j.in.Seek(0, io.SeekStart); err != nil {
		return nil, &InputError{j.Input, err}
	}
	v := &verifiedReader{r: io.LimitReader(j.in, j.Plan.Size), sums: j.Plan.blocks}
	rd, err := NewReader(v)
	if err != nil {
		return nil, &InputError{j.Input, err}
	}
	return &pinnedInput{name: j.Input, rd: rd, v: v}, nil
}

// Next returns the next row, or io.EOF.
func (p *pinnedInput) Next() (Row, error) { return p.rd.Next() }

// check reports an input that ended before its scanned size.
func (p *pinnedInput) check() error {
	if _, err := io.Copy(io.Discard, p.v); err != nil {
		return &InputError{p.name, err}
	}
	if p.v.i != len(p.v.sums) {
		return &InputError{p.name, errChanged}
	}
	return nil
}

var errChanged = errors.New("the file changed during the run; the rows read before the change are done and safe. Put the original back and run the same command, or start over with --restart")

// verifiedReader passes on the bytes of r one block at a time, each only
// after its SHA-256 matched the scan's.
type verifiedReader struct {
	r    io.Reader
	sums [][sha256.Size]byte
	i    int // next block
	buf  []byte
	off  int
}

func (v *verifiedReader) Read(p []byte) (int, error) {
	if v.off == len(v.buf) {
		if v.buf == nil {
			v.buf = make([]byte, blockSize)
		}
		n, err := io.ReadFull(v.r, v.buf[:blockSize])
		if n == 0 {
			if errors.Is(err, io.EOF) {
				if v.i != len(v.sums) {
					return 0, errChanged // shorter than scanned
				}
				return 0, io.EOF
			}
			return 0, err
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, err
		}
		if v.i >= len(v.sums) || sha256.Sum256(v.buf[:n]) != v.sums[v.i] {
			return 0, errChanged
		}
		v.i++
		v.buf, v.off = v.buf[:n], 0
	}
	n := copy(p, v.buf[v.off:])
	v.off += n
	return n, nil
}
