// Command demo-origin serves the demo web origin of package test/origin:
// pages, images and JSON with realistic caching headers and a visible
// version counter per URL, plus a control surface (/_origin/fail,
// /_origin/recover, /_origin/edit, /_origin/stats) for demos and tests.
//
//	go run ./test/cmd/demo-origin --listen 127.0.0.1:0 [--release v2]
//
// --release names the release it serves (pages show it, X-Origin-Release
// carries it), so a Deployment of it can roll out a new release:
// `kubectl set env deployment/web RELEASE=v2` with args
// ["--release=$(RELEASE)"].
//
// It prints the URL it serves on stdout ("http://127.0.0.1:PORT") once it
// listens, so a script can read it, and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/cacheops/purge-operator/test/origin"
)

// validRelease is what a release may be: it goes into a header and pages.
var validRelease = regexp.MustCompile(`^[A-Za-z0-9._-]{0,32}$`)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo-origin:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	release := flag.String("release", "", "release of the site to show on every page, such as v2: at most 32 letters, digits, '.', '_' or '-'")
	flag.Parse()
	if !validRelease.MatchString(*release) {
		return fmt.Errorf("--release %q: want at most 32 letters, digits, '.', '_' or '-'", *release)
	}

	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	srv := &http.Server{
		Handler:           origin.New(origin.Options{Release: *release}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Printf("http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
