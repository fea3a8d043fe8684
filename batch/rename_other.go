//go:build !linux

package batch

import (
	"io/fs"
	"os"
)

// renameNoReplace renames old to new, failing with fs.ErrExist rather than
// replace a file. Without renameat2, it checks first, then renames.
func renameNoReplace(old, new string) error {
	if _, err := os.Lstat(new); err == nil {
		return fs.ErrExist
	}
	return os.Rename(old, new)
}
