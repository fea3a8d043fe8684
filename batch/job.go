package batch

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hsbatch/hsbatch/report"
)

// A job is one input file and its results file. Beside the results file
// live three small files:
//
//   - RESULTS.job, JSON, written atomically before the first row: what the
//     results belong to (the input's size and SHA-256, the settings that
//     change outcomes, the number of rows).
//   - RESULTS.inflight, the line of every request about to be sent, one
//     per line, written (not fsynced) before each attempt. A row that is in
//     it but not in the results file was in flight when a run died; its
//     attempts count on when it is sent again. It survives a killed
//     process; a power cut may lose its tail, and then only the count.
//   - RESULTS.lock, held with flock(2) while a run goes. The kernel drops
//     the lock when the process dies, however it dies, so it cannot go
//     stale.
//
// The results file itself is the checkpoint: a row is done when its line is
// in the file.

// Meta is the content of a job file.
type Meta struct {
	Version  int               `json:"version"`
	Input    string            `json:"input"` // absolute path, for people; the identity is what is checked
	Identity Identity          `json:"identity"`
	Rows     int               `json:"rows"`
	Settings map[string]string `json:"settings"` // those that change outcomes, such as the server
	Created  time.Time         `json:"created"`
	// Flags are the run flags last used (such as --rate=20), so that
	// "hsbatch status" can suggest a command that runs the same way. They
	// are not pinned: a resume may change its speed.
	Flags []string `json:"flags,omitempty"`
}

const metaVersion = 1

// MetaPath and LockPath name a job's files beside its results file.
func MetaPath(results string) string { return results + ".job" }

// InflightPath names the attempts journal of the job whose results file is
// results.
func InflightPath(results string) string { return results + ".inflight" }

// LockPath names the lock file of the job whose results file is results.
func LockPath(results string) string { return results + ".lock" }

// JobOptions say how to open a job.
type JobOptions struct {
	// Settings are pinned with the job: resuming with other values is
	// refused. Put there what changes outcomes (the server, the action),
	// not what changes speed.
	Settings map[string]string
	// Restart sets the old results aside under a new name and starts over.
	Restart bool
	// RetryFailed forgets the rows whose status is failed, so that they are
	// sent again; their new result replaces the old.
	RetryFailed bool
	// Now is the clock, for the names of set-aside files.
	Now func() time.Time
	// Flags are recorded in the job file; see Meta.Flags.
	Flags []string
}

// Job is an opened, locked job, ready to run.
type Job struct {
	Input    string
	Results  string
	Meta     Meta
	Plan     *Plan
	Resumed  bool   // the results file already had rows
	SetAside string // where --restart moved the old results, if it did

	done     report.Bitset
	counts   report.Counts // rows already in the results file
	retried  int           // failed rows forgotten by RetryFailed
	prior    map[int]int   // attempts made by runs that died with the row in flight
	writer   *report.Writer
	inflight *os.File
	lock     *os.File
	in       *os.File // the input, open since it was scanned
	created  bool     // OpenJob created the results and job files
}

// MismatchError is a job whose input or settings changed since it began.
type MismatchError struct {
	Results string
	Changes []string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s belongs to another job: %s. For a new job, give another results file with -o. To start this one over, run the same command with --restart: it keeps the old results under a new name, but sends every row again, even those already done",
		e.Results, strings.Join(e.Changes, "; "))
}

// OpenJob locks the job whose results file is results, checks the input
// against the job file, loads what is done and repairs a torn last line.
// The caller must Close the job.
func OpenJob(input, results string, o JobOptions) (j *Job, err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	// The input first: a missing or broken input leaves no file behind.
	// The job keeps it open, so that a run reads the file that was
	// scanned, even if another is renamed over it.
	in, err := os.Open(input)
	if err != nil {
		return nil, &InputError{input, err}
	}
	if st, err := in.Stat(); err == nil && !st.Mode().IsRegular() {
		in.Close()
		return nil, &InputError{input, errors.New("not a regular file")}
	}
	j = &Job{Input: input, Results: results, in: in}
	defer func() {
		if err != nil {
			j.Close()
			j = nil
		}
	}()
	if j.Plan, err = scanFile(in); err != nil {
		return j, err
	}
	if j.lock, err = acquireLock(LockPath(results)); err != nil {
		return j, err
	}
	abs, _ := filepath.Abs(input)
	want := Meta{Version: metaVersion, Input: abs, Identity: j.Plan.Identity, Rows: j.Plan.Rows, Settings: o.Settings, Created: o.Now().UTC(), Flags: o.Flags}

	_, statErr := os.Stat(results)
	exists := statErr == nil
	if exists && o.Restart {
		if j.SetAside, err = setAside(results, o.Now()); err != nil {
			return j, err
		}
		exists = false
	}
	if !exists {
		if !errors.Is(statErr, fs.ErrNotExist) && statErr != nil {
			return j, statErr
		}
		// The job file first: a results file without one is never ours.
		if err = writeMeta(MetaPath(results), want); err != nil {
			return j, fmt.Errorf("write job file: %w", err)
		}
		j.Meta = want
		j.created = true
		if err = os.Remove(InflightPath(results)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return j, err
		}
		if j.writer, err = report.Create(results); err != nil {
			return j, err
		}
		err = j.openInflight()
		return j, err
	}

	j.Meta, err = ReadMeta(MetaPath(results))
	if errors.Is(err, fs.ErrNotExist) {
		return j, fmt.Errorf("%s exists but has no job file (%s), so it was not started by hsbatch or its job file was removed. Choose another output with -o, or run with --restart to keep it aside and start over",
			results, filepath.Base(MetaPath(results)))
	}
	if err != nil {
		return j, err
	}
	changes := diffMeta(j.Meta, want)

	var failed report.Bitset
	sc, err := report.Load(results, func(r report.Row) error {
		j.done.Set(r.Line)
		if o.RetryFailed && r.Status == report.StatusFailed {
			failed.Set(r.Line)
			return nil
		}
		j.counts.Add(r.Status)
		return nil
	})
	if err != nil {
		return j, err
	}
	if j.prior, err = readInflight(InflightPath(results), &j.done); err != nil {
		return j, err
	}
	if len(changes) > 0 {
		if sc.Rows > 0 || len(j.prior) > 0 {
			return j, &MismatchError{Results: results, Changes: changes}
		}
		// Nothing was done or even sent yet (a run that could not
		// authenticate, say): the job is free to begin again with this
		// input and server.
		if err = writeMeta(MetaPath(results), want); err != nil {
			return j, fmt.Errorf("write job file: %w", err)
		}
		j.Meta = want
	} else if !slices.Equal(j.Meta.Flags, o.Flags) {
		j.Meta.Flags = o.Flags
		if err = writeMeta(MetaPath(results), j.Meta); err != nil {
			return j, fmt.Errorf("write job file: %w", err)
		}
	}
	j.done.Subtract(&failed)
	if err = report.Repair(results, sc); err != nil {
		return j, fmt.Errorf("repair the torn last line of %s: %w", results, err)
	}
	j.Resumed = sc.Rows > 0
	if o.RetryFailed && sc.Counts.Failed > 0 {
		j.retried = sc.Counts.Failed
		if err = report.Rewrite(results, func(r report.Row) bool { return r.Status != report.StatusFailed }); err != nil {
			return j, fmt.Errorf("set failed rows aside for a retry: %w", err)
		}
	}
	if j.writer, err = report.Append(results); err != nil {
		return j, err
	}
	err = j.openInflight()
	return j, err
}

// readInflight returns, for each line not in done, how many attempts the
// journal at path records. It streams: the journal has a line for every
// attempt of a run.
func readInflight(path string, done *report.Bitset) (map[int]int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var prior map[int]int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil || line <= 0 || done.Has(line) {
			continue // a torn last entry, or a row that finished
		}
		if prior == nil {
			prior = map[int]int{}
		}
		prior[line]++
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return nil, err
	}
	// A line too long to be an entry is the garbage a power cut can leave
	// at the end (zeros on some file systems): what came before it counts.
	return prior, nil
}

// openInflight rewrites the attempts journal with only the rows still in
// flight, and opens it for appending.
func (j *Job) openInflight() error {
	path := InflightPath(j.Results)
	var b []byte
	for _, line := range slices.Sorted(maps.Keys(j.prior)) {
		for range j.prior[line] {
			b = strconv.AppendInt(b, int64(line), 10)
			b = append(b, '\n')
		}
	}
	if err := report.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, report.FileMode)
	if err != nil {
		return err
	}
	j.inflight = f
	return nil
}

// attempt records, in the attempts journal, that line is about to be
// sent.
func (j *Job) attempt(line int) error {
	var buf [24]byte
	b := strconv.AppendInt(buf[:0], int64(line), 10)
	_, err := j.inflight.Write(append(b, '\n'))
	return err
}

// Prior returns the rows the results file held when the job was opened.
func (j *Job) Prior() report.Counts { return j.counts }

// Retried is the number of failed rows that RetryFailed will send again.
func (j *Job) Retried() int { return j.retried }

// Done reports whether input line has a result already.
func (j *Job) Done(line int) bool { return j.done.Has(line) }

// finish ends a complete job: the results file is put in input order and
// the attempts journal, now empty of rows in flight, is removed.
func (j *Job) finish() error {
	if err := j.writer.Close(); err != nil {
		return &WriteError{Path: j.Results, Err: err}
	}
	j.writer = nil
	if err := report.Sort(j.Results); err != nil {
		return &WriteError{Path: j.Results, Err: fmt.Errorf("put the complete results in input order: %w", err)}
	}
	if j.inflight != nil {
		j.inflight.Close()
		j.inflight = nil
	}
	if err := os.Remove(InflightPath(j.Results)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &WriteError{Path: InflightPath(j.Results), Err: err}
	}
	return nil
}

// Abandon closes a job that this OpenJob created and that never ran, such
// as one whose first token request was refused, and removes its files: an
// operator who fixes the cause should find no half-made job. A job that
// existed before is only closed.
func (j *Job) Abandon() error {
	if !j.created {
		return j.Close()
	}
	for _, p := range []string{j.Results, MetaPath(j.Results), InflightPath(j.Results)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.Close()
			return err
		}
	}
	if j.SetAside != "" {
		// --restart set the old results aside for nothing: put them back.
		if err := renameNoReplace(MetaPath(j.SetAside), MetaPath(j.Results)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.Close()
			return err
		}
		if err := renameNoReplace(j.SetAside, j.Results); err != nil {
			j.Close()
			return err
		}
		j.SetAside = ""
	}
	return j.Close()
}

// Close releases the results file and the lock.
func (j *Job) Close() error {
	var err error
	if j.writer != nil {
		err = j.writer.Close()
		j.writer = nil
	}
	if j.inflight != nil {
		j.inflight.Close()
		j.inflight = nil
	}
	if j.in != nil {
		j.in.Close()
		j.in = nil
	}
	if j.lock != nil {
		releaseLock(j.lock)
		j.lock = nil
	}
	return err
}

// diffMeta says, for a person, how want differs from the job file.
func diffMeta(have, want Meta) []string {
	var c []string
	if have.Identity != want.Identity {
		c = append(c, fmt.Sprintf("the input changed since the job began (was %d bytes, SHA-256 %.12s…; now %d bytes, SHA-256 %.12s…)",
			have.Identity.Size, have.Identity.SHA256, want.Identity.Size, want.Identity.SHA256))
	}
	keys := slices.Sorted(maps.Keys(want.Settings))
	for k := range have.Settings {
		if _, ok := want.Settings[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if have.Settings[k] != want.Settings[k] {
			c = append(c, fmt.Sprintf("%s was %q, now %q", k, have.Settings[k], want.Settings[k]))
		}
	}
	return c
}

// ReadMeta reads a job file.
func ReadMeta(path string) (Meta, error) {
	var m Meta
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s is damaged: %w", path, err)
	}
	if m.Version != metaVersion {
		return m, fmt.Errorf("%s has version %d; this hsbatch reads version %d", path, m.Version, metaVersion)
	}
	return m, nil
}

func writeMeta(path string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return report.WriteFileAtomic(path, append(b, '\n'))
}

// setAside renames a results file and its job file out of the way, never
// over an existing file. It returns the new name of the results file.
func setAside(results string, now time.Time) (string, error) {
	ext := filepath.Ext(results)
	base := strings.TrimSuffix(results, ext)
	stamp := now.Format("20060102-150405")
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s.before-restart-%s%s", base, stamp, ext)
		if i > 0 {
			name = fmt.Sprintf("%s.before-restart-%s-%d%s", base, stamp, i, ext)
		}
		err := renameNoReplace(results, name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("keep old results as %s: %w", name, err)
		}
		if err := os.Remove(InflightPath(results)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if _, err := os.Stat(MetaPath(results)); err == nil {
			if err := os.Rename(MetaPath(results), MetaPath(name)); err != nil {
				return "", err
			}
		}
		return name, report.SyncDir(filepath.Dir(results))
	}
}
