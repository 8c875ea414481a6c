package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// received is what the test server saw of a request.
type received struct {
	method, path, host, body string
	header                   http.Header
}

// server answers every request with status, recording it.
func server(t *testing.T, status int) (string, *received) {
	t.Helper()
	got := &received{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = received{method: r.Method, path: r.URL.RequestURI(), host: r.Host, body: string(b), header: r.Header.Clone()}
		w.Header().Set("X-Purge-Name", "edge-varnish-abcde")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"purges":["edge-varnish-abcde"]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

// TestSendsTheRequestAsGiven: method, headers, Host, body and a bearer
// token from a file arrive as given; the answer is printed as curl -i
// prints it.
func TestSendsTheRequestAsGiven(t *testing.T) {
	url, got := server(t, http.StatusOK)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("abc.def\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(t.Context(), []string{"-X", "PURGE", "-H", "X-Magento-Tags-Pattern: ((^|,)cat_p_1(,|$))",
		"-H", "Host: edge-purge.web.svc:8090", "-d", "x=1", "--bearer-file", token, url + "/a?b=c"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := received{method: "PURGE", path: "/a?b=c", host: "edge-purge.web.svc:8090", body: "x=1"}
	if got.method != want.method || got.path != want.path || got.host != want.host || got.body != want.body {
		t.Errorf("received %+v, want %+v", *got, want)
	}
	if p := got.header.Get("X-Magento-Tags-Pattern"); p != "((^|,)cat_p_1(,|$))" {
		t.Errorf("X-Magento-Tags-Pattern = %q", p)
	}
	if a := got.header.Get("Authorization"); a != "Bearer abc.def" {
		t.Errorf("Authorization = %q", a)
	}
	printed := out.String()
	for _, s := range []string{"HTTP/1.1 200 OK\n", "X-Purge-Name: edge-varnish-abcde\n", "\n\n" + `{"purges":["edge-varnish-abcde"]}`} {
		if !strings.Contains(printed, s) {
			t.Errorf("output lacks %q:\n%s", s, printed)
		}
	}
}

// TestFailsOnAnAnswerOutside2xx: the answer is printed, and the exit says
// it was not a success.
func TestFailsOnAnAnswerOutside2xx(t *testing.T) {
	url, _ := server(t, http.StatusUnauthorized)
	var out bytes.Buffer
	err := run(t.Context(), []string{"-X", "BAN", url + "/"}, &out)
	if !errors.Is(err, errNot2xx) || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("error %v, want a 401 that is not 2xx", err)
	}
	if !strings.HasPrefix(out.String(), "HTTP/1.1 401 Unauthorized\n") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// TestRefusesBadUsage: each bad command line is a usage error naming what
// is wrong, and nothing is sent.
func TestRefusesBadUsage(t *testing.T) {
	url, got := server(t, http.StatusOK)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{nil, "want one URL, got 0 arguments"},
		{[]string{url, url}, "want one URL, got 2 arguments"},
		{[]string{"-H", "no colon", url}, `header "no colon" is not 'Name: value'`},
		{[]string{"-X", "BAD METHOD", url}, "invalid method"},
		{[]string{"--nope", url}, "flag provided but not defined: -nope"},
	} {
		err := run(t.Context(), tt.args, io.Discard)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: error %v, want a usage error with %q", tt.args, err, tt.msg)
		}
	}
	if got.method != "" {
		t.Errorf("a request was sent: %+v", *got)
	}
	if err := run(t.Context(), []string{"--bearer-file", "/nonexistent", url}, io.Discard); err == nil || !strings.Contains(err.Error(), "reading the bearer token") {
		t.Errorf("a missing token file: %v", err)
	}
}
