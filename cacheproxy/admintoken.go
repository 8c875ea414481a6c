package cacheproxy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// adminToken is the bearer token the admin API requires: fixed
// (Config.AdminToken) or kept in a file (Config.AdminTokenFile) that is
// read again whenever it changes, so that a token mounted from a
// Kubernetes Secret rotates without a restart. The kubelet replaces a
// Secret volume's files atomically (a new file behind a symlink), so a
// read never sees half a token.
type adminToken struct {
	path string // empty: fixed
	log  *slog.Logger

	mu   sync.Mutex  // guards the fields below
	seen os.FileInfo // the file as last read; nil before the first read or after an error
	sum  [sha256.Size]byte
	err  error // why the file gives no token; every call is refused meanwhile
}

// newAdminToken returns the token of token or, if path is set, of the file
// at path, which must hold a valid token now.
func newAdminToken(token, path string, log *slog.Logger) (*adminToken, error) {
	t := &adminToken{path: path, log: log}
	if path == "" {
		if token == "" {
			t.err = errors.New("no admin token configured")
		}
		t.sum = sha256.Sum256([]byte(token))
		return t, nil
	}
	if _, err := t.current(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return t, nil
}

// current returns the digest of the token in force, re-reading the file
// if it changed since the last call (a stat per call: the admin API is
// called a few times per Purge, never on the serving path).
func (t *adminToken) current() ([sha256.Size]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.path == "" {
		return t.sum, t.err
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		return t.fail(fmt.Errorf("admin token file: %w", err))
	}
	if t.seen != nil && os.SameFile(t.seen, fi) && fi.ModTime().Equal(t.seen.ModTime()) && fi.Size() == t.seen.Size() {
		return t.sum, nil
	}
	token, err := ReadAdminTokenFile(t.path)
	if err != nil {
		return t.fail(err)
	}
	sum := sha256.Sum256([]byte(token))
	if t.seen != nil && sum != t.sum {
		t.log.Info("Admin token changed; the previous one is refused from now on", "file", t.path)
	}
	t.seen, t.sum, t.err = fi, sum, nil
	return t.sum, nil
}

// fail records that the file gives no token, logging it once until it
// changes, and refuses meanwhile.
func (t *adminToken) fail(err error) ([sha256.Size]byte, error) {
	if t.err == nil || t.err.Error() != err.Error() {
		t.log.Error("Refusing every admin call: the admin token file gives no token", "error", err)
	}
	t.seen, t.sum, t.err = nil, [sha256.Size]byte{}, err
	return t.sum, err
}

// ReadAdminTokenFile reads an admin token from a file: its content less
// surrounding whitespace, which must be one non-empty line (a token with a
// line break could never be sent in a header).
func ReadAdminTokenFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("admin token file %s is empty; refusing to run the admin API without a token", path)
	}
	if strings.ContainsAny(token, "\r\n") {
		return "", fmt.Errorf("admin token file %s holds more than one line; a token with a line break could never be sent in a header", path)
	}
	return token, nil
}
