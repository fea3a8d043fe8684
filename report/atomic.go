package report

import (
	"encoding/csv"
	"os"
	"path/filepath"

	"github.com/gocarina/gocsv"
)

// WriteFileAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename, fsync of the directory. A crash leaves either
// the old file or the new one, never a mix.
func WriteFileAtomic(path string, data []byte) error {
	return replace(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Rewrite replaces the results file at path, atomically, with the rows for
// which keep returns true, in their order. It is how --retry-failed forgets
// failed rows without ever leaving a line with two rows, or none. A torn
// last line is dropped; any other damage is an error, and the file is left
// as it was.
func Rewrite(path string, keep func(Row) bool) error {
	return replace(path, func(f *os.File) error {
		cw := gocsv.NewSafeCSVWriter(csv.NewWriter(f))
		if err := cw.Write(Columns); err != nil {
			return err
		}
		batch := make([]Row, 0, 1024)
		flush := func() error {
			err := marshalRows(cw, batch)
			batch = batch[:0]
			return err
		}
		_, err := Load(path, func(r Row) error {
			if !keep(r) {
				return nil
			}
			batch = append(batch, r)
			if len(batch) == cap(batch) {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
}

// replace writes a new version of path through fill.
func replace(path string, fill func(*os.File) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(FileMode); err != nil {
		return err
	}
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}
