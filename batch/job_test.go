package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hsbatch/hsbatch/report"
)

func TestLockRefusesASecondRun(t *testing.T) {
	input := writeInput(t, t.TempDir(), "1", "2")
	j := openJob(t, input, JobOptions{})
	_, err := OpenJob(input, j.Results, JobOptions{})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second OpenJob: got %v, want a LockedError", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("message %q should name the running process", err)
	}
	if got := Running(j.Results); !strings.Contains(got, "pid") {
		t.Errorf("Running: got %q, want the holder", got)
	}
	j.Close()
	if got := Running(j.Results); got != "" {
		t.Errorf("Running after Close: got %q, want none", got)
	}
	j2, err := OpenJob(input, j.Results, JobOptions{})
	if err != nil {
		t.Fatalf("OpenJob after the first closed: %v", err)
	}
	j2.Close()
}

func TestChangedInputIsRefused(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1", "2")
	j := openJob(t, input, JobOptions{Settings: map[string]string{"base_url": "https://a"}})
	if _, err := newRunner(&fakeSender{}, 1).Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	j.Close()

	tests := []struct {
		name     string
		ids      []string
		settings map[string]string
		want     string
	}{
		{"input changed", []string{"1", "2", "3"}, map[string]string{"base_url": "https://a"}, "the input changed"},
		{"server changed", []string{"1", "2"}, map[string]string{"base_url": "https://b"}, `base_url was "https://a", now "https://b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeInput(t, dir, tt.ids...)
			_, err := OpenJob(input, j.Results, JobOptions{Settings: tt.settings})
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want a MismatchError", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--restart") {
				t.Errorf("message %q should say %q and how to start over", err, tt.want)
			}
		})
	}
}

func TestRestartKeepsOldResults(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1", "2")
	j := openJob(t, input, JobOptions{})
	if _, err := newRunner(&fakeSender{}, 1).Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	j.Close()
	old, _ := os.ReadFile(j.Results)

	writeInput(t, dir, "1", "2", "3")
	now := func() time.Time { return time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC) }
	j2 := openJob(t, input, JobOptions{Restart: true, Now: now})
	want := filepath.Join(dir, "out.before-restart-20261204-030000.csv")
	if j2.SetAside != want {
		t.Errorf("set aside as %q, want %q", j2.SetAside, want)
	}
	kept, err := os.ReadFile(want)
	if err != nil || string(kept) != string(old) {
		t.Errorf("old results not kept intact: %v", err)
	}
	if _, err := os.Stat(MetaPath(want)); err != nil {
		t.Errorf("old job file not kept: %v", err)
	}
	if j2.Resumed || j2.Prior().Total() != 0 || j2.Plan.Rows != 3 {
		t.Errorf("restarted job: got resumed %v, %d done, %d rows", j2.Resumed, j2.Prior().Total(), j2.Plan.Rows)
	}
}

func TestTornLastLineIsRepaired(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, seqIDs(1, 5)...)
	j := openJob(t, input, JobOptions{})
	if _, err := newRunner(&fakeSender{}, 1).Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	j.Close()
	b, _ := os.ReadFile(j.Results)
	lines := strings.SplitAfter(string(b), "\n")
	// Keep the header, three rows, and half of the fourth, as a crash would.
	torn := strings.Join(lines[:4], "") + lines[4][:len(lines[4])/2]
	if err := os.WriteFile(j.Results, []byte(torn), 0o600); err != nil {
		t.Fatal(err)
	}

	s := &fakeSender{}
	j2 := openJob(t, input, JobOptions{})
	if got := j2.Prior().Total(); got != 3 {
		t.Fatalf("after repair: got %d rows done, want 3", got)
	}
	if _, err := newRunner(s, 1).Run(context.Background(), j2); err != nil {
		t.Fatal(err)
	}
	if rows := loadRows(t, j.Results); len(rows) != 5 {
		t.Errorf("got %d rows, want 5", len(rows))
	}
	if s.total() != 2 {
		t.Errorf("resumed run sent %d rows, want the 2 not done", s.total())
	}
}

func TestResultsWithoutJobFileAreRefused(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1")
	if err := os.WriteFile(filepath.Join(dir, "out.csv"), []byte("something else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenJob(input, filepath.Join(dir, "out.csv"), JobOptions{})
	if err == nil || !strings.Contains(err.Error(), "no job file") {
		t.Fatalf("got %v, want a refusal naming the missing job file", err)
	}
}

func TestRetryFailedSendsOnlyFailedRows(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1", "2", "3", "x", "4")
	down := true
	s := &fakeSender{fn: func(_ context.Context, id int64, _ int) (Answer, error) {
		if down && id%2 == 0 {
			return Answer{}, testErr{action: Fail}
		}
		return Answer{OK: true, HTTPStatus: 200}, nil
	}}
	j := openJob(t, input, JobOptions{})
	if _, err := newRunner(s, 2).Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if n := loadRows(t, j.Results); n[3].Status != report.StatusFailed || n[6].Status != report.StatusFailed {
		t.Fatalf("setup: got %+v", n)
	}

	down = false
	j2 := openJob(t, input, JobOptions{RetryFailed: true})
	if j2.Retried() != 2 {
		t.Errorf("Retried: got %d, want 2", j2.Retried())
	}
	sum, err := newRunner(s, 2).Run(context.Background(), j2)
	if err != nil || !sum.Complete() || sum.Counts.Failed != 0 {
		t.Fatalf("retry run: got %v, %+v", err, sum.Counts)
	}
	rows := loadRows(t, j.Results)
	if len(rows) != 5 {
		t.Fatalf("got %d rows, want 5 (one per line)", len(rows))
	}
	for _, line := range []int{3, 6} {
		if rows[line].Status != report.StatusSuccess {
			t.Errorf("line %d: got %s, want success", line, rows[line].Status)
		}
	}
	for id, want := range map[int64]int{1: 1, 2: 2, 3: 1, 4: 2} {
		if got := s.count(id); got != want {
			t.Errorf("id %d sent %d times, want %d", id, got, want)
		}
	}
}

func TestAttemptsOfADeadRunCarryOver(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1", "2")
	j := openJob(t, input, JobOptions{})
	// A run that died with line 2 in flight, twice, and line 3 once.
	for _, line := range []int{2, 2, 3} {
		if err := j.attempt(line); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	j2 := openJob(t, input, JobOptions{})
	if _, err := newRunner(&fakeSender{}, 1).Run(context.Background(), j2); err != nil {
		t.Fatal(err)
	}
	rows := loadRows(t, j2.Results)
	if rows[2].Attempts != 3 || rows[3].Attempts != 2 {
		t.Errorf("attempts: got %d and %d, want 3 and 2", rows[2].Attempts, rows[3].Attempts)
	}
}

// A job with nothing done yet, such as one whose first run could not
// authenticate against a mistyped server, may start again with other
// settings or another input: there is nothing to lose.
func TestNothingDoneAcceptsNewSettings(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1", "2")
	j := openJob(t, input, JobOptions{Settings: map[string]string{"base_url": "https://typo"}})
	j.Close()
	writeInput(t, dir, "1", "2", "3")
	j2 := openJob(t, input, JobOptions{Settings: map[string]string{"base_url": "https://right"}})
	if got := j2.Meta.Settings["base_url"]; got != "https://right" || j2.Meta.Rows != 3 {
		t.Errorf("job file: got base_url %q and %d rows, want the new ones", got, j2.Meta.Rows)
	}
	if m, err := ReadMeta(MetaPath(j2.Results)); err != nil || m.Settings["base_url"] != "https://right" {
		t.Errorf("job file on disk: got %+v, %v", m.Settings, err)
	}
}

// A --restart whose run could not start (its first token was refused)
// puts the old results back where they were.
func TestAbandonedRestartPutsOldResultsBack(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1", "2")
	j := openJob(t, input, JobOptions{})
	if _, err := newRunner(&fakeSender{}, 1).Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	j.Close()
	old, _ := os.ReadFile(j.Results)

	j2, err := OpenJob(input, j.Results, JobOptions{Restart: true})
	if err != nil {
		t.Fatal(err)
	}
	if j2.SetAside == "" {
		t.Fatal("the restart set nothing aside")
	}
	aside := j2.SetAside
	if err := j2.Abandon(); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	if got, _ := os.ReadFile(j.Results); string(got) != string(old) {
		t.Errorf("the old results are not back in %s", j.Results)
	}
	if _, err := os.Stat(aside); !os.IsNotExist(err) {
		t.Errorf("the set-aside copy %s is still there (%v)", aside, err)
	}
	if _, err := ReadMeta(MetaPath(j.Results)); err != nil {
		t.Errorf("the old job file is not back: %v", err)
	}
}

// A new job whose run could not start leaves no files but its lock.
func TestAbandonedNewJobLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	input := writeInput(t, dir, "1")
	j, err := OpenJob(input, filepath.Join(dir, "out.csv"), JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Abandon(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{j.Results, MetaPath(j.Results), InflightPath(j.Results)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
}
