//go:build unix

package batch

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hsbatch/hsbatch/report"
)

// LockedError is a job that another hsbatch process is running.
type LockedError struct {
	Lock   string
	Holder string // what the running process wrote into the lock file
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h == "" {
		h = "another process"
	}
	return fmt.Sprintf("another hsbatch run holds this job (%s; lock %s). Wait for it to end, or stop it first; two runs on one results file could send rows twice", h, e.Lock)
}

const (
	lockTries = 10
	lockPause = 20 * time.Millisecond
)

// acquireLock takes an exclusive flock on path, or fails at once naming the
// holder. The lock lives as long as the returned file is open.
func acquireLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, report.FileMode)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	// "hsbatch status" takes a shared lock for an instant to see whether a
	// run holds the job; a run that starts in that instant tries again
	// for a moment rather than refuse.
	for try := 0; ; try++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || try == lockTries {
			break
		}
		time.Sleep(lockPause)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			return nil, &LockedError{Lock: path, Holder: strings.TrimSpace(string(b))}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	host, _ := os.Hostname()
	who := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(who+"\n"), 0)
	}
	return f, nil
}

// Running reports who runs the job whose results file is results, or ""
// when nobody does. It takes the lock for an instant to find out.
func Running(results string) string {
	path := LockPath(results)
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		if h := strings.TrimSpace(string(b)); h != "" {
			return h
		}
		return "another process"
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return ""
}

// releaseLock empties the lock file, so that it names no process once the
// run is over, and drops the lock.
func releaseLock(f *os.File) {
	f.Truncate(0)
	f.Close() // closing drops the flock
}
