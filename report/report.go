// Package report writes and reads hsbatch's results file and prints the
// end-of-run summary.
//
// The results file is a CSV with one row per input line, written with
// gocsv. It is append-only while a run goes: rows arrive in the order they
// finish, each on one physical line, and are fsynced in groups before they
// count as done. That makes the file its own checkpoint: after any crash,
// the complete lines are the rows that are done, and a torn last line is the
// only damage a crash can leave.
package report

import (
	"fmt"
	"strconv"
	"strings"
)

// The statuses of a result row.
const (
	// StatusSuccess: HubSoft said the disconnect succeeded.
	StatusSuccess = "success"
	// StatusError: HubSoft answered that the disconnect failed.
	StatusError = "error"
	// StatusFailed: no valid answer from HubSoft, even after the retries.
	StatusFailed = "failed"
	// StatusInvalid: the id is not an integer greater than 0; not sent.
	StatusInvalid = "invalid"
	// StatusDuplicate: the id appeared on an earlier line; not sent again.
	StatusDuplicate = "duplicate"
)

// Statuses lists every status in the order summaries show them.
var Statuses = []string{StatusSuccess, StatusError, StatusFailed, StatusInvalid, StatusDuplicate}

// Row is one row of the results file. The csv tags are the file's columns,
// in order.
type Row struct {
	Line       int    `csv:"line"`
	ID         string `csv:"id_cliente_servico"`
	Status     string `csv:"status"`
	Msg        string `csv:"msg"`
	Login      string `csv:"login"`
	Errors     string `csv:"errors"`      // HubSoft's errors list as JSON; empty when HubSoft did not answer
	HTTPStatus Int    `csv:"http_status"` // empty when nothing was sent
	Attempts   int    `csv:"attempts"`
	DurationMS int64  `csv:"duration_ms"`
	FinishedAt string `csv:"finished_at"` // RFC 3339, milliseconds, UTC
}

// Columns are the results file's header, in order.
var Columns = []string{"line", "id_cliente_servico", "status", "msg", "login", "errors", "http_status", "attempts", "duration_ms", "finished_at"}

// TimeFormat is the format of FinishedAt.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Int is an integer column that is empty when zero.
type Int int

// MarshalCSV writes "" for 0.
func (i Int) MarshalCSV() (string, error) {
	if i == 0 {
		return "", nil
	}
	return strconv.Itoa(int(i)), nil
}

// UnmarshalCSV reads "" as 0.
func (i *Int) UnmarshalCSV(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		*i = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("http_status %q is not a number", s)
	}
	*i = Int(n)
	return nil
}

// Counts are rows per status.
type Counts struct {
	Success, Error, Failed, Invalid, Duplicate int
}

// Add counts one row of status s. It reports false for an unknown status.
func (c *Counts) Add(s string) bool {
	switch s {
	case StatusSuccess:
		c.Success++
	case StatusError:
		c.Error++
	case StatusFailed:
		c.Failed++
	case StatusInvalid:
		c.Invalid++
	case StatusDuplicate:
		c.Duplicate++
	default:
		return false
	}
	return true
}

// Get returns the count of status s.
func (c Counts) Get(s string) int {
	switch s {
	case StatusSuccess:
		return c.Success
	case StatusError:
		return c.Error
	case StatusFailed:
		return c.Failed
	case StatusInvalid:
		return c.Invalid
	case StatusDuplicate:
		return c.Duplicate
	}
	return 0
}

// Total is the number of rows counted.
func (c Counts) Total() int {
	return c.Success + c.Error + c.Failed + c.Invalid + c.Duplicate
}
