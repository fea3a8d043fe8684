package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Summary describes one job at the end of a run.
type Summary struct {
	Input   string
	Results string
	Total   int    // data rows in the input
	Counts  Counts // rows with a result, per status, this run and earlier ones
	Sent    int    // rows that got a result from this run's requests
	Elapsed time.Duration
	Stopped string // why the run stopped early; "" when it did not
}

// Done is the number of rows with a result.
func (s *Summary) Done() int { return s.Counts.Total() }

// Complete reports whether every input row has a result.
func (s *Summary) Complete() bool { return s.Done() >= s.Total }

// Clean reports whether every row was answered by HubSoft or is a
// duplicate: nothing failed and nothing was invalid.
func (s *Summary) Clean() bool { return s.Counts.Failed == 0 && s.Counts.Invalid == 0 }

// Rate is this run's rows per second.
func (s *Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// WriteText writes the summary for a person.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	state := "complete"
	if !s.Complete() {
		state = fmt.Sprintf("incomplete: %d of %d rows still to do", s.Total-s.Done(), s.Total)
	}
	fmt.Fprintf(&b, "%s: %d rows, %s\n", s.Input, s.Total, state)
	for _, st := range Statuses {
		fmt.Fprintf(&b, "  %-10s %d\n", st, s.Counts.Get(st))
	}
	fmt.Fprintf(&b, "  this run: %d rows in %s (%.1f rows/s)\n", s.Sent, s.Elapsed.Round(time.Millisecond), s.Rate())
	fmt.Fprintf(&b, "  results:  %s\n", s.Results)
	if s.Stopped != "" {
		fmt.Fprintf(&b, "  stopped:  %s\n", s.Stopped)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ErrorsJSON renders HubSoft's errors list as the results file stores it:
// a JSON array on one line, with "<", ">" and "&" as they are, since people
// read the file.
func ErrorsJSON(errs []string) string {
	if len(errs) == 0 {
		return "[]"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(errs); err != nil {
		return "[]"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
