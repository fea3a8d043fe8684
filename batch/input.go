package batch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// IDColumn is the header of the column that holds the ids.
const IDColumn = "id_cliente_servico"

// Row is one data row of an input file.
type Row struct {
	Line int    // line of the file where the row starts; the header is line 1
	Raw  string // the id cell as written, trimmed and on one line
	ID   int64  // the id, or 0 when Raw is not an integer greater than 0
}

// Reader streams the rows of an input file. It finds the id column by its
// header (ignoring case, surrounding spaces and a UTF-8 BOM) or reads a
// headerless single-column file, and detects the delimiter (',', ';' or
// tab) from the first line.
type Reader struct {
	cr      *csv.Reader
	col     int
	first   []string // the first record, when it is data (headerless file)
	Comma   rune     // the detected delimiter
	Header  bool     // whether the file has a header line
	Columns int      // number of columns of the first line
}

// maxFirstLine bounds how much is read to find the first line.
const maxFirstLine = 64 << 10

// NewReader prepares to read rows from r. It reads the first line, and
// returns an error naming the problem when the file is not one hsbatch can
// read.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, maxFirstLine)
	head, err := br.Peek(maxFirstLine)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, errors.New("the file is UTF-16 (Excel \"Unicode text\"); save it as \"CSV UTF-8\" or \"CSV (separado por vírgulas)\" instead")
	case bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")):
		br.Discard(3)
		head = head[3:]
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, errors.New("the file is empty: it needs an " + IDColumn + " column or one id per line")
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, errors.New("the file holds NUL bytes: it is not a text CSV file (an .xlsx? save it as CSV)")
	}

	rd := &Reader{Comma: detectComma(firstLine(head))}
	cr := csv.NewReader(br)
	cr.Comma = rd.Comma
	cr.FieldsPerRecord = -1 // extra or missing cells in other columns are not our business
	// Quotes are strict: a lazy reader would let one stray quote swallow
	// the following lines into a single cell, silently losing rows.
	cr.ReuseRecord = true
	rd.cr = cr

	rec, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}
	rd.Columns = len(rec)
	rd.col = -1
	for i, f := range rec {
		if normHeader(f) == IDColumn {
			if rd.col >= 0 {
				return nil, fmt.Errorf("line 1: the header has two %s columns (%d and %d)", IDColumn, rd.col+1, i+1)
			}
			rd.col = i
		}
	}
	switch {
	case rd.col >= 0:
		rd.Header = true
	case len(rec) == 1 && looksNumeric(rec[0]):
		rd.col = 0
		rd.first = append([]string(nil), rec...)
	case len(rec) == 1:
		return nil, fmt.Errorf("line 1 is %q: it is neither a header with an %s column nor an id; a file without a header must hold one id per line", clip(rec[0]), IDColumn)
	default:
		names := make([]string, len(rec))
		for i, f := range rec {
			names[i] = strconv.Quote(clip(strings.TrimSpace(f)))
		}
		return nil, fmt.Errorf("line 1: no %s column in the header (found %s, delimiter %q)", IDColumn, strings.Join(names, ", "), rd.Comma)
	}
	return rd, nil
}

// Next returns the next row, or io.EOF after the last. A malformed line is
// an error that names it; it is never skipped.
func (rd *Reader) Next() (Row, error) {
	var rec []string
	line := 1
	if rd.first != nil {
		rec, rd.first = rd.first, nil
	} else {
		var err error
		rec, err = rd.cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Row{}, io.EOF
			}
			return Row{}, err // csv.ParseError names the line
		}
		line, _ = rd.cr.FieldPos(0)
	}
	row := Row{Line: line}
	if rd.col < len(rec) {
		row.Raw = oneLine(strings.TrimSpace(rec[rd.col]))
	}
	row.ID = parseID(row.Raw)
	return row, nil
}

// parseID returns the id written in s, or 0 when s is not a plain decimal
// integer greater than zero. Leading zeros are allowed; signs, decimals,
// thousands separators and spaces inside are not, since guessing at them
// could disconnect the wrong subscriber.
func parseID(s string) int64 {
	if s == "" || len(s) > 19 {
		return 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// InvalidReason explains why raw is not a valid id.
func InvalidReason(raw string) string {
	if raw == "" {
		return IDColumn + " is empty"
	}
	return fmt.Sprintf("%s must be an integer greater than 0, got %q", IDColumn, clip(raw))
}

func normHeader(s string) string {
	return strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "\uFEFF")))
}

// looksNumeric tells a headerless file's first id (even an invalid one such
// as "-5" or "12.5") from a header word.
func looksNumeric(s string) bool {
	s = strings.TrimSpace(s)
	digits := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case strings.ContainsRune("+-.,", c):
		default:
			return false
		}
	}
	return digits > 0
}

// firstLine returns the first line of head, not counting newlines inside
// quotes.
func firstLine(head []byte) []byte {
	inQuote := false
	for i, c := range head {
		switch {
		case c == '"':
			inQuote = !inQuote
		case (c == '\n' || c == '\r') && !inQuote:
			return head[:i]
		}
	}
	return head
}

// detectComma picks the delimiter that occurs most often outside quotes in
// the first line. Excel in pt-BR writes ';'. Without any, the file has one
// column and ',' is as good as any.
func detectComma(line []byte) rune {
	counts := map[byte]int{}
	inQuote := false
	for _, c := range line {
		switch {
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best, n := byte(','), 0
	for _, c := range []byte{';', '\t', ','} { // ties go to ';', then tab
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	return rune(best)
}

// oneLine folds newlines, which a quoted cell may hold, so that every
// result row stays on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}
