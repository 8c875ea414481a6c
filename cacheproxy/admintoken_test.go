package cacheproxy

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// secretVolume writes token into dir the way the kubelet updates a Secret
// volume: a new timestamped directory, then the ..data symlink swapped to
// it by rename, the file reached through the symlink. It returns the
// file's path.
type secretVolume struct {
	t   *testing.T
	dir string
	n   int
}

func (v *secretVolume) write(token string) string {
	v.t.Helper()
	v.n++
	version := fmt.Sprintf("..v%d", v.n)
	if err := os.MkdirAll(filepath.Join(v.dir, version), 0o755); err != nil {
		v.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, version, "token"), []byte(token), 0o644); err != nil {
		v.t.Fatal(err)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
	path := filepath.Join(v.dir, "token")
	if _, err := os.Lstat(path); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", "token"), path); err != nil {
			v.t.Fatal(err)
		}
	}
	return path
}

func TestAdminTokenFileRotatesWithoutRestart(t *testing.T) {
	vol := &secretVolume{t: t, dir: t.TempDir()}
	path := vol.write("first-token\n")
	e := newEnv(t, counting("Cache-Control", "max-age=60"), func(c *Config) {
		c.AdminToken, c.AdminTokenFile = "", path
	})
	calls := 0
	status := func(token string) int {
		t.Helper()
		calls++
		body := fmt.Sprintf(`{"id":"call-%d","mode":"simple","urls":["https://www.example.com/a"]}`, calls)
		code, _ := e.postAdmin(admin.InvalidationsPath, token, []byte(body))
		return code
	}
	expect := func(step string, want map[string]int) {
		t.Helper()
		for token, code := range want {
			if got := status(token); got != code {
				t.Errorf("%s: token %q got %d, want %d", step, token, got, code)
			}
		}
	}

	expect("at start", map[string]int{"first-token": 200, "second-token": 401, "": 401})
	vol.write("second-token")
	expect("after rotation", map[string]int{"first-token": 401, "second-token": 200})
	vol.write("  \n")
	expect("while the file is blank", map[string]int{"first-token": 401, "second-token": 401, "": 401})
	vol.write("third-token")
	expect("once it holds a token again", map[string]int{"second-token": 401, "third-token": 200})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expect("while the file is missing", map[string]int{"third-token": 401})
}

func TestAdminTokenFileRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "tok")
	for _, tc := range []struct {
		name      string
		token     string
		file, msg string
	}{
		{"missing", "", filepath.Join(dir, "nope"), "no such file"},
		{"empty", "", write("empty", " \n"), "is empty"},
		{"two lines", "", write("two", "a\nb\n"), "more than one line"},
		{"both token and file", "tok", good, "only one of AdminToken and AdminTokenFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Origin: &url.URL{Scheme: "http", Host: "origin.test"}, AdminToken: tc.token, AdminTokenFile: tc.file}
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("New: %v, want an error with %q", err, tc.msg)
			}
		})
	}
}
