package repo

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs("../../.."); root != want {
		t.Errorf("Root() = %q from test/internal/repo, want %q", root, want)
	}

	t.Chdir(t.TempDir())
	if _, err := Root(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Root() in a temporary directory: %v, want ErrNotFound", err)
	}
}
