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

	"github.com/hsbatch/hsbatch/report"
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
	firstAt int      // the line of first
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
	if len(bytes.TrimSpace(head)) == 0 && len(head) < maxFirstLine {
		return nil, errEmpty
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, errors.New("the file holds NUL bytes: it is not a text CSV file (an .xlsx? save it as CSV)")
	}
	if bytes.IndexByte(head, '\n') < 0 && bytes.IndexByte(bytes.TrimRight(head, "\r"), '\r') >= 0 {
		// encoding/csv would read the whole file as one line.
		return nil, errors.New("the lines of the file end in CR only (old Mac format); save it as \"CSV UTF-8\"")
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
	if errors.Is(err, io.EOF) {
		return nil, errEmpty
	}
	if err != nil {
		return nil, quoteHint(err)
	}
	// encoding/csv skips blank lines, so the first record may not be on
	// line 1.
	line, _ := cr.FieldPos(0)
	rd.Columns = len(rec)
	rd.col = -1
	for i, f := range rec {
		if normHeader(f) == IDColumn {
			if rd.col >= 0 {
				return nil, fmt.Errorf("line %d: the header has two %s columns (%d and %d)", line, IDColumn, rd.col+1, i+1)
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
		rd.firstAt = line
	case len(rec) == 1:
		return nil, fmt.Errorf("line %d is %q: it is neither a header with an %s column nor an id; a file without a header must hold one id per line", line, clip(rec[0]), IDColumn)
	default:
		names := make([]string, len(rec))
		for i, f := range rec {
			names[i] = strconv.Quote(clip(strings.TrimSpace(f)))
		}
		return nil, fmt.Errorf("line %d: no %s column in the header (found %s, delimiter %q)", line, IDColumn, strings.Join(names, ", "), rd.Comma)
	}
	return rd, nil
}

var errEmpty = errors.New("the file is empty: it needs an " + IDColumn + " column or one id per line")

// Next returns the next row, or io.EOF after the last. A malformed line is
// an error that names it; it is never skipped. Blank lines are skipped, as
// encoding/csv does, but every row keeps the line it has in the file.
func (rd *Reader) Next() (Row, error) {
	var rec []string
	var line int
	if rd.first != nil {
		rec, rd.first, line = rd.first, nil, rd.firstAt
	} else {
		var err error
		rec, err = rd.cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Row{}, io.EOF
			}
			return Row{}, quoteHint(err) // csv.ParseError names the line
		}
		line, _ = rd.cr.FieldPos(0)
	}
	if line > report.MaxLine {
		return Row{}, fmt.Errorf("line %d: the file has more than %d lines; split it into smaller files", line, report.MaxLine)
	}
	row := Row{Line: line}
	switch {
	case !rd.Header && len(rec) > 1:
		// One id per line: "1,5" is not id 1. The whole line is kept,
		// so that the row is reported invalid rather than guessed at.
		row.Raw = oneLine(strings.TrimSpace(strings.Join(rec, string(rd.Comma))))
	case rd.col < len(rec):
		row.Raw = oneLine(strings.TrimSpace(rec[rd.col]))
	}
	row.ID = parseID(row.Raw)
	return row, nil
}

// quoteHint adds advice to encoding/csv's quote errors, which name the line
// but not the usual cause.
func quoteHint(err error) error {
	if errors.Is(err, csv.ErrQuote) || errors.Is(err, csv.ErrBareQuote) {
		return fmt.Errorf("%w (a stray \"? a quoted cell must start and end with \", and a \" inside it is written \"\")", err)
	}
	return err
}

// parseID returns the id written in s, or 0 when s is not a plain decimal
// integer greater than zero. Leading zeros are allowed; signs, decimals,
// thousands separators and spaces inside are not, since guessing at them
// could disconnect the wrong subscriber.
func parseID(s string) int64 {
	if s == "" {
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

// detectComma picks the delimiter of the first line: the one that makes a
// cell of it the id column's header, or else the one that occurs most often
// outside quotes. Excel in pt-BR writes ';'. Ties go to ';', then tab, as
// commas are common inside pt-BR cells. Without any, the file has one
// column and ',' is as good as any.
func detectComma(line []byte) rune {
	candidates := []byte{';', '\t', ','}
	counts := map[byte]int{}
	inQuote := false
	for _, c := range line {
		switch {
		case c == '"':
			inQuote = !inQuote
		case !inQuote && bytes.IndexByte(candidates, c) >= 0:
			counts[c]++
		}
	}
	best, n := byte(','), 0
	for _, c := range candidates {
		if counts[c] > 0 && hasIDCell(line, c) {
			return rune(c)
		}
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	return rune(best)
}

// hasIDCell reports whether line, split at comma outside quotes, has a cell
// that names the id column.
func hasIDCell(line []byte, comma byte) bool {
	inQuote := false
	start := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) {
			switch c := line[i]; {
			case c == '"':
				inQuote = !inQuote
				continue
			case c != comma || inQuote:
				continue
			}
		}
		cell := strings.Trim(normHeader(string(line[start:i])), `"`)
		if strings.TrimSpace(cell) == IDColumn {
			return true
		}
		start = i + 1
	}
	return false
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
