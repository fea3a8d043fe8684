package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// Sort rewrites a complete results file in input order, atomically, so that
// it reads like the input in a spreadsheet. While a run goes, rows are
// appended in the order they finish; that order is what makes the file a
// checkpoint, and Sort changes nothing a resume relies on: the same rows,
// each still on one line. It costs 16 bytes of memory per row, and does
// nothing when the file is already in order.
func Sort(path string) error {
	type span struct {
		line int32
		n    int32
		off  int64
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var (
		spans  []span
		off    int64
		sorted = true
	)
	for first := true; ; first = false {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A very long row: read on to its end.
			head := slices.Clone(b) // b points into br's buffer
			rest, err2 := br.ReadBytes('\n')
			b, err = append(head, rest...), err2
		}
		if errors.Is(err, io.EOF) {
			break // a torn tail, if any, is not ours to sort
		}
		if err != nil {
			return err
		}
		n := int64(len(b))
		if !first {
			// The line column is first, never quoted: Writer writes it
			// from an int.
			comma := bytes.IndexByte(b, ',')
			line, perr := strconv.Atoi(string(b[:max(comma, 0)]))
			if comma < 0 || perr != nil || line <= 0 || line > MaxLine || n > 1<<31-1 {
				return &Damage{Path: path, Line: len(spans) + 2, Reason: "not a results row"}
			}
			if len(spans) > 0 && int32(line) < spans[len(spans)-1].line {
				sorted = false
			}
			spans = append(spans, span{line: int32(line), n: int32(n), off: off})
		}
		off += n
	}
	if sorted {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.line - b.line) })
	return replace(path, func(out *os.File) error {
		bw := bufio.NewWriterSize(out, 64<<10)
		if _, err := bw.WriteString(headerLine); err != nil {
			return err
		}
		var buf []byte
		for _, s := range spans {
			buf = slices.Grow(buf[:0], int(s.n))[:s.n]
			if _, err := f.ReadAt(buf, s.off); err != nil {
				return fmt.Errorf("read row at byte %d: %w", s.off, err)
			}
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}
