package localcluster_test

import (
	"os"

	"github.com/cacheops/purge-operator/test/internal/procs"
)

// processesUsing lists live processes (not zombies) that are children of
// this test or that mention one of needles: what a clean Stop must leave
// none of.
func processesUsing(needles ...string) []string {
	return procs.Strings(procs.Of(os.Getpid(), needles...))
}

// processes returns processesUsing's findings by process id.
func processes(needles ...string) map[int]string {
	found := map[int]string{}
	for _, p := range procs.Of(os.Getpid(), needles...) {
		found[p.PID] = p.String()
	}
	return found
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool { return procs.Alive(pid) }
