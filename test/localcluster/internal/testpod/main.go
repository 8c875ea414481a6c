// Command testpod is the image of the local cluster's own tests: a
// tiny HTTP server that listens where --listen=HOST:PORT says and reports
// what it was started with, so tests can check that the kubelet resolved
// args and env as the kubelet would, without depending on the product's
// binaries.
//
//	GET /        "<name>\n", the value of --name= (or the host name)
//	GET /echo    JSON {"args": [...], "env": [...], "pid": N}
//	GET /readyz  200 "ok"
//	GET /hog?mib=N  runs a child process that allocates and touches N MiB,
//	             and answers how it ended ("exit status 0", "signal:
//	             killed" when the OOM killer took it)
//
// With --print-args first, it prints its arguments, one per line, and
// exits: the command the tests run with kubectl exec. With --hog N first,
// it allocates N MiB, touches every page and exits (the child /hog runs).
//
// It exits 0 on SIGTERM after closing its listener.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	// --print-args ARG...: print each argument on a line and exit (a
	// command for kubectl exec, in an image with no shell).
	if len(os.Args) > 1 && os.Args[1] == "--print-args" {
		for _, a := range os.Args[1:] {
			fmt.Println(a)
		}
		return
	}
	if len(os.Args) > 2 && os.Args[1] == "--hog" {
		hog(os.Args[2])
		return
	}
	listen, name := "", os.Getenv("HOSTNAME")
	for _, arg := range os.Args[1:] {
		if v, ok := strings.CutPrefix(arg, "--listen="); ok {
			listen = v
		}
		if v, ok := strings.CutPrefix(arg, "--name="); ok {
			name = v
		}
	}
	if listen == "" {
		fmt.Fprintln(os.Stderr, "testpod: --listen=HOST:PORT is required")
		os.Exit(2)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, name)
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"args": os.Args[1:], "env": os.Environ(), "pid": os.Getpid()})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /hog", func(w http.ResponseWriter, r *http.Request) {
		err := exec.CommandContext(r.Context(), "/proc/self/exe", "--hog", r.URL.Query().Get("mib")).Run()
		if err == nil {
			fmt.Fprintln(w, "exit status 0")
			return
		}
		fmt.Fprintln(w, err)
	})
	srv := &http.Server{Addr: listen, Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	fmt.Printf("testpod %s listening on %s\n", name, listen)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "testpod:", err)
		os.Exit(1)
	}
	fmt.Println("testpod: terminated")
}

// hog allocates mib MiB and writes to every page, so the memory is charged
// to the container's cgroup.
func hog(mib string) {
	n, err := strconv.Atoi(mib)
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "testpod: --hog needs a positive number of MiB")
		os.Exit(2)
	}
	b := make([]byte, n<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	fmt.Println("testpod: allocated", n, "MiB")
}
