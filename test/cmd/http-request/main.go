// Command http-request sends one HTTP request, as `curl -sS -i` would,
// from inside a pod: the demo-origin image carries it (/http-request), so
// a test pod of the demo site can send the invalidations a content system
// sends on a save, through the cluster's DNS and Services, from the pod's
// own address. The cluster's images have no curl.
//
//	http-request [-X METHOD] [-H 'Name: value']... [-d BODY] [--bearer-file FILE] URL
//
// -H 'Host: name' sets the Host header; --bearer-file adds
// `Authorization: Bearer <the file's content>` (a pod's ServiceAccount
// token is /var/run/secrets/kubernetes.io/serviceaccount/token). It prints
// the status line, the response headers (sorted) and the body on stdout and
// exits 0 on a 2xx answer, 1 on any other answer or error, 2 on bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// errUsage marks a command line the program cannot run.
var errUsage = errors.New("usage: http-request [-X METHOD] [-H 'Name: value']... [-d BODY] [--bearer-file FILE] URL")

// errNot2xx is the error of an answer outside 2xx, printed in full already.
var errNot2xx = errors.New("the answer is not 2xx")

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "http-request:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "http-request:", err)
		os.Exit(1)
	}
}

// headers is a repeatable -H flag.
type headers []string

func (h *headers) String() string     { return strings.Join(*h, "; ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("http-request", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	method := fs.String("X", http.MethodGet, "request method, such as PURGE or BAN")
	var hs headers
	fs.Var(&hs, "H", "a request header 'Name: value' (repeatable); Host sets the Host header")
	body := fs.String("d", "", "request body")
	bearerFile := fs.String("bearer-file", "", "file holding a bearer token to send as Authorization: Bearer")
	timeout := fs.Duration("timeout", 90*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one URL, got %d arguments", errUsage, fs.NArg())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, *method, fs.Arg(0), strings.NewReader(*body))
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	for _, h := range hs {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("%w: header %q is not 'Name: value'", errUsage, h)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if http.CanonicalHeaderKey(name) == "Host" {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	if *bearerFile != "" {
		token, err := os.ReadFile(*bearerFile)
		if err != nil {
			return fmt.Errorf("reading the bearer token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	}

	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", *method, fs.Arg(0), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	fmt.Fprintf(out, "%s %s\n", resp.Proto, resp.Status)
	for _, name := range slices.Sorted(maps.Keys(resp.Header)) {
		for _, v := range resp.Header[name] {
			fmt.Fprintf(out, "%s: %s\n", name, v)
		}
	}
	fmt.Fprintf(out, "\n%s\n", data)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %s: %w", *method, fs.Arg(0), resp.Status, errNot2xx)
	}
	return nil
}
