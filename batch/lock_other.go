//go:build !unix

package batch

import (
	"os"

	"github.com/hsbatch/hsbatch/report"
)

// LockedError is a job that another hsbatch process is running.
type LockedError struct {
	Lock   string
	Holder string
}

func (e *LockedError) Error() string { return "another hsbatch run holds this job (" + e.Lock + ")" }

// acquireLock opens the lock file. Without flock(2) this system gets no
// protection against two runs on one job: hsbatch is built for Linux.
func acquireLock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, report.FileMode)
}

// releaseLock closes the lock file.
func releaseLock(f *os.File) { f.Close() }

// Running cannot tell on this system.
func Running(string) string { return "" }
