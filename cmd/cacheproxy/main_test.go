package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy"
)

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	emptyFile := filepath.Join(dir, "empty")
	twoLines := filepath.Join(dir, "two-lines")
	for file, content := range map[string]string{tokenFile: "  file-token\n", emptyFile: "\n", twoLines: "tok\nsecond\n"} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(string) string { return "" }
	base := []string{"--origin=http://web.web.svc:8080"}
	for _, tc := range []struct {
		name  string
		args  []string
		err   string
		check func(t *testing.T, o options)
	}{
		{"operator's command line", []string{"--origin=http://web:8080", "--listen=127.0.0.7:8080", "--admin-listen=127.0.0.7:9090", "--admin-token-file=" + tokenFile, "--cache-size=256Mi", "--host=www.example.com", "--host=static.example.com", "--max-object-size=1Mi"}, "", func(t *testing.T, o options) {
			c := o.config
			if c.AdminTokenFile != tokenFile || c.AdminToken != "" || c.CacheSize != 256<<20 || c.MaxObjectSize != 1<<20 || len(c.Hosts) != 2 || o.listen != "127.0.0.7:8080" || o.adminListen != "127.0.0.7:9090" || c.Origin.Host != "web:8080" {
				t.Fatalf("options %+v", o)
			}
		}},
		{"defaults", append(base, "--admin-token-file", tokenFile), "", func(t *testing.T, o options) {
			if o.listen != ":8080" || o.adminListen != ":9090" || o.config.AdminTokenFile != tokenFile || o.config.CacheSize != cacheproxy.DefaultCacheSize || o.memoryLimit != 256<<20+(256<<20)/4+32<<20 || !o.fastPath || o.gcHeadroom != cacheproxy.DefaultGCHeadroom {
				t.Fatalf("options %+v", o)
			}
		}},
		{"quantities", append(base, "--admin-token-file="+tokenFile, "--cache-size=1Gi", "--max-object-size=500M", "--memory-limit=off"), "", func(t *testing.T, o options) {
			if o.config.CacheSize != 1<<30 || o.config.MaxObjectSize != 500_000_000 || o.memoryLimit != 0 {
				t.Fatalf("options %+v", o)
			}
		}},
		{"gc headroom", append(base, "--admin-token-file="+tokenFile, "--gc-headroom=128Mi"), "", func(t *testing.T, o options) {
			if o.gcHeadroom != 128<<20 {
				t.Fatalf("gc headroom %d", o.gcHeadroom)
			}
		}},
		{"gc headroom off", append(base, "--admin-token-file="+tokenFile, "--gc-headroom=0"), "", func(t *testing.T, o options) {
			if o.gcHeadroom != 0 {
				t.Fatalf("gc headroom %d", o.gcHeadroom)
			}
		}},
		{"negative gc headroom", append(base, "--admin-token-file="+tokenFile, "--gc-headroom=-1"), "non-negative", nil},
		{"net/http alone", append(base, "--admin-token-file="+tokenFile, "--fast-path=false"), "", func(t *testing.T, o options) {
			if o.fastPath {
				t.Fatal("fast path on")
			}
		}},
		{"plain bytes", append(base, "--admin-token-file="+tokenFile, "--cache-size=1048576"), "", func(t *testing.T, o options) {
			if o.config.CacheSize != 1<<20 {
				t.Fatalf("cache size %d", o.config.CacheSize)
			}
		}},
		{"hosts comma separated", append(base, "--admin-token-file="+tokenFile, "--host=a.com,b.com"), "", func(t *testing.T, o options) {
			if len(o.config.Hosts) != 2 {
				t.Fatalf("hosts %q", o.config.Hosts)
			}
		}},
		{"unsafe-method invalidation off", append(base, "--admin-token-file="+tokenFile, "--invalidate-on-unsafe-methods=false", "--write-timeout=5s"), "", func(t *testing.T, o options) {
			if !o.config.DisableUnsafeMethodInvalidation || o.config.WriteTimeout != 5*time.Second {
				t.Fatalf("options %+v", o.config)
			}
		}},
		{"unsafe-method invalidation on by default", append(base, "--admin-token-file="+tokenFile), "", func(t *testing.T, o options) {
			if o.config.DisableUnsafeMethodInvalidation {
				t.Fatal("unsafe-method invalidation is off by default")
			}
		}},
		{"token file of two lines", append(base, "--admin-token-file", twoLines), "more than one line", nil},
		{"no read-header timeout", append(base, "--admin-token-file="+tokenFile, "--read-header-timeout=0"), "--read-header-timeout must be positive", nil},
		{"no request-body timeout", append(base, "--admin-token-file="+tokenFile, "--request-body-timeout=0"), "--request-body-timeout and --request-body-min-rate must be positive", nil},
		{"no request-body rate", append(base, "--admin-token-file="+tokenFile, "--request-body-min-rate=0"), "must be positive", nil},
		{"request-body bounds", append(base, "--admin-token-file="+tokenFile, "--request-body-timeout=5s", "--request-body-min-rate=1000"), "", func(t *testing.T, o options) {
			if o.config.RequestBodyTimeout != 5*time.Second || o.config.RequestBodyMinRate != 1000 {
				t.Fatalf("options %+v", o.config)
			}
		}},
		{"no origin", []string{"--admin-token-file=" + tokenFile}, "--origin is required", nil},
		{"bad origin", []string{"--origin=web:8080", "--admin-token-file=" + tokenFile}, "absolute http", nil},
		{"no token", base, "--admin-token-file is required", nil},
		{"token from the environment, no longer supported", append(base, "--admin-token-env=ADMIN_TOKEN"), "flag provided but not defined: -admin-token-env", nil},
		{"empty file", append(base, "--admin-token-file", emptyFile), "is empty", nil},
		{"missing file", append(base, "--admin-token-file", filepath.Join(dir, "nope")), "no such file", nil},
		{"bad size", append(base, "--admin-token-file="+tokenFile, "--cache-size=lots"), "quantity", nil},
		{"object larger than cache", append(base, "--admin-token-file="+tokenFile, "--cache-size=1Mi", "--max-object-size=2Mi"), "exceeds", nil},
		{"bad log level", append(base, "--admin-token-file="+tokenFile, "--log-level=loud"), "--log-level", nil},
		{"stray argument", append(base, "--admin-token-file="+tokenFile, "extra"), "unexpected arguments", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, getenv, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseFlags: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			tc.check(t, o)
		})
	}
}

// TestGOGCTurnsTheGCTunerOff: an operator who sets GOGC chose the
// collector's pacing; the default --gc-headroom does not override it.
func TestGOGCTurnsTheGCTunerOff(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(name string) string {
		if name == "GOGC" {
			return "50"
		}
		return ""
	}
	o, err := parseFlags([]string{"--origin=http://web:8080", "--admin-token-file=" + tokenFile}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.gcHeadroom != 0 {
		t.Errorf("gc headroom %d with GOGC set, want 0", o.gcHeadroom)
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--help"}, func(string) string { return "" }, &out, nil, nil); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, flag := range []string{"origin", "listen", "admin-listen", "admin-token-file", "host", "cache-size", "max-object-size",
		"origin-timeout", "fetch-timeout", "soft-purge-grace", "refetch-concurrency", "idempotency-entries", "idempotency-ttl", "idempotency-bytes",
		"ban-sweep-interval", "rewrite-host", "fast-path", "shutdown-delay", "shutdown-grace", "memory-limit", "gc-headroom", "log-level", "log-format"} {
		if !strings.Contains(out.String(), "\n  --"+flag+" ") && !strings.Contains(out.String(), "\n  --"+flag+"\n") {
			t.Errorf("--help does not document --%s", flag)
		}
	}
	if code := run(nil, func(string) string { return "" }, io.Discard, nil, nil); code != 2 {
		t.Fatalf("no flags exited %d, want 2", code)
	}
}

// signalWriter collects the log and closes draining when it says so.
type signalWriter struct {
	mu       sync.Mutex // guards buf and once
	buf      bytes.Buffer
	draining chan struct{}
	once     sync.Once
}

func (w *signalWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if strings.Contains(w.buf.String(), "msg=Draining") {
		w.once.Do(func() { close(w.draining) })
	}
	return len(b), nil
}

func TestRunServesAndDrainsOnSIGTERM(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "hello")
	}))
	defer origin.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	signals := make(chan os.Signal, 2)
	addrs := make(chan [2]net.Addr, 1)
	logs := &signalWriter{draining: make(chan struct{})}
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"--origin=" + origin.URL, "--listen=127.0.0.1:0", "--admin-listen=127.0.0.1:0", "--admin-token-file=" + tokenFile, "--cache-size=16Mi", "--shutdown-delay=1h"},
			func(string) string { return "" }, logs, signals, func(p, a net.Addr) { addrs <- [2]net.Addr{p, a} })
	}()
	var pub, adm string
	select {
	case a := <-addrs:
		pub, adm = "http://"+a[0].String(), "http://"+a[1].String()
	case code := <-exit:
		t.Fatalf("exited %d early: %s", code, logs.buf.String())
	}
	status := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Cache-Status")
	}
	status(pub + "/x")
	if code, cs := status(pub + "/x"); code != 200 || !strings.HasPrefix(cs, "cacheproxy; hit") {
		t.Fatalf("second GET: %d %q", code, cs)
	}
	if code, _ := status(adm + "/readyz"); code != 200 {
		t.Fatalf("/readyz %d before SIGTERM", code)
	}
	signals <- syscall.SIGTERM
	<-logs.draining
	if code, _ := status(adm + "/readyz"); code != 503 {
		t.Fatalf("/readyz %d while draining, want 503", code)
	}
	if code, _ := status(pub + "/x"); code != 200 {
		t.Fatalf("public port %d during the shutdown delay, want still serving", code)
	}
	signals <- syscall.SIGTERM // a second signal skips the delay
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, logs.buf.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not exit after the second signal")
	}
}
