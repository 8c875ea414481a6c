// Package repo finds the repository the tests, the demo and the benchmarks
// run from, whatever directory `go test` or a binary starts them in.
package repo

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrNotFound is Root's error when no directory above holds go.mod.
var ErrNotFound = errors.New("no go.mod above the working directory")

// Root walks up from the working directory to the directory holding
// go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotFound
		}
		dir = parent
	}
}
