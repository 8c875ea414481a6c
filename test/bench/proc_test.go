package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A /proc/<pid>/stat line whose command name holds spaces and parentheses.
const statLine = "4242 (cache main (x)) S 1 4240 4240 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	st, err := parseStat(statLine)
	if err != nil {
		t.Fatal(err)
	}
	if st.pgrp != 4240 || st.utime != 250 || st.stime != 50 || st.rssPages != 300 {
		t.Errorf("parseStat = %+v", st)
	}
	if _, err := parseStat("4242 (x) S 1 2"); err == nil {
		t.Error("short line: no error")
	}
}

func TestGroupUsage(t *testing.T) {
	root := t.TempDir()
	write := func(pid, line string) {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("4242", statLine)
	write("4243", "4243 (worker) S 4242 4240 4240 0 -1 0 0 0 0 0 100 100 0 0 20 0 1 0 100 1000 100 0\n")
	write("5000", "5000 (other) S 1 5000 5000 0 -1 0 0 0 0 0 999 999 0 0 20 0 1 0 100 1000 999 0\n")
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	u, err := groupUsage(root, 4240)
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	if u.Processes != 2 || u.CPU != 5*time.Second || u.RSS != 400*page {
		t.Errorf("groupUsage = %+v; want 2 processes, 5s, %d bytes", u, 400*page)
	}
	if _, err := groupUsage(root, 1); err == nil {
		t.Error("empty group: no error")
	}
}
