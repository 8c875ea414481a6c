package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// The three proxies under test.
const (
	KindCacheproxy = "cacheproxy"
	KindVarnish    = "varnish"
	KindNginx      = "nginx"
)

// Kinds is the order servers run in, round after round (A B C A B C).
var Kinds = []string{KindCacheproxy, KindVarnish, KindNginx}

// KindCacheproxyBefore is cacheproxy built from an earlier commit
// (Env.BaselineBin), run beside the current one in the data path so that
// one run shows before and after under the same load.
const KindCacheproxyBefore = "cacheproxy-before"

// ErrUnsupported says a server cannot do what a benchmark asks (nginx
// without the cache purge module cannot purge, for instance).
var ErrUnsupported = errors.New("not supported by this server")

// Env is what every benchmark needs: where the binaries and the
// configuration templates are, a scratch directory, the processes it
// started, and the shared origin.
type Env struct {
	BinDir string // bin/cacheproxy, bin/manager, bin/k8s
	// BaselineBin, if set, is a cacheproxy binary of an earlier commit the
	// data path also runs, as KindCacheproxyBefore.
	BaselineBin string
	ConfigDir   string // hack/bench: bench.lua, varnish.vcl, nginx.conf
	WorkDir     string // scratch space of this run, removed at the end
	ShmDir      string // a tmpfs directory for nginx's cache, or "" for WorkDir
	Wrk         string // wrk binary
	Procs       *Procs
	Origin      *Origin
	// OriginAddr is the origin's "127.0.0.1:port".
	OriginAddr string
	// Logf reports progress on the terminal.
	Logf func(format string, args ...any)
	// Short marks a quick run (fewer rounds, shorter loads, fewer objects).
	Short bool
}

// Script is the path of the wrk script.
func (e *Env) Script() string { return filepath.Join(e.ConfigDir, "bench.lua") }

// ServerOptions sizes a server for a benchmark.
type ServerOptions struct {
	// CacheSize is the memory (cacheproxy, Varnish malloc) or disk (nginx
	// max_size is fixed far above it) a server may fill.
	CacheSize int64
	// ExtraArgs are appended to the cacheproxy command line.
	ExtraArgs []string
}

// Server is one running proxy in front of the origin.
type Server struct {
	Kind string
	Addr string // "127.0.0.1:port", public port
	Proc *Proc

	adminURL string       // cacheproxy: admin API base URL
	admin    admin.Client // cacheproxy: admin client with its token
	cli      *VarnishCLI  // varnish: management CLI
	nameDir  string       // varnish: -n directory
	canPurge bool         // nginx: cache purge module loaded
	cleanup  func()
}

// URL is the server's public base URL.
func (s *Server) URL() string { return "http://" + s.Addr }

// Stop stops the server and removes what it wrote.
func (s *Server) Stop() {
	if s.cli != nil {
		_ = s.cli.Close()
	}
	s.Proc.Stop()
	if s.cleanup != nil {
		s.cleanup()
	}
}

// Usage is the CPU time and RSS of the server's processes.
func (s *Server) Usage() (GroupUsage, error) { return s.Proc.Usage() }

// IsHit reports whether a response was served from the cache without
// contacting the origin.
func (s *Server) IsHit(h http.Header) bool {
	if s.Kind == KindCacheproxy || s.Kind == KindCacheproxyBefore {
		return strings.HasPrefix(h.Get("Cache-Status"), "cacheproxy; hit")
	}
	return h.Get("X-Cache") == "HIT"
}

// StartServer starts a server of kind in front of the origin.
func StartServer(ctx context.Context, env *Env, kind string, opts ServerOptions) (*Server, error) {
	var err error
	// Ports are picked free just before the server binds them; another
	// process could take one in between, so a failed start is retried.
	for range 3 {
		var s *Server
		switch kind {
		case KindCacheproxy:
			s, err = startCacheproxy(ctx, env, KindCacheproxy, filepath.Join(env.BinDir, "cacheproxy"), opts)
		case KindCacheproxyBefore:
			s, err = startCacheproxy(ctx, env, KindCacheproxyBefore, env.BaselineBin, opts)
		case KindVarnish:
			s, err = startVarnish(ctx, env, opts)
		case KindNginx:
			s, err = startNginx(ctx, env)
		default:
			return nil, fmt.Errorf("unknown server kind %q", kind)
		}
		if err == nil {
			return s, nil
		}
	}
	return nil, err
}

// freePort returns a loopback port nothing listens on right now.
func freePort(ctx context.Context) (int, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serverDir makes a fresh directory for one server under the work dir.
func serverDir(env *Env, kind string) (string, error) {
	return os.MkdirTemp(env.WorkDir, kind+"-")
}

func startCacheproxy(ctx context.Context, env *Env, kind, bin string, opts ServerOptions) (*Server, error) {
	dir, err := serverDir(env, kind)
	if err != nil {
		return nil, err
	}
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	token := randomHex(16)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := make([]string, 0, 8+len(opts.ExtraArgs))
	args = append(args,
		"--origin=http://"+env.OriginAddr,
		"--listen="+addr,
		"--admin-listen=127.0.0.1:"+strconv.Itoa(adminPort),
		"--admin-token-file="+tokenFile,
		"--cache-size="+strconv.FormatInt(opts.CacheSize, 10),
		"--shutdown-delay=0s",
		"--log-level=warn",
	)
	args = append(args, opts.ExtraArgs...)
	p, err := env.Procs.Start(kind, filepath.Join(dir, "log"), bin, args...)
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: kind, Addr: addr, Proc: p,
		adminURL: "http://127.0.0.1:" + strconv.Itoa(adminPort),
		admin:    admin.Client{Token: token, HTTPClient: &http.Client{Transport: newTransport(16)}}}
	if err := waitHTTP(ctx, s.adminURL+admin.ReadyzPath, p); err != nil {
		p.Stop()
		return nil, err
	}
	return s, nil
}

func startVarnish(ctx context.Context, env *Env, opts ServerOptions) (*Server, error) {
	dir, err := serverDir(env, KindVarnish)
	if err != nil {
		return nil, err
	}
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	cliPort, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	_, originPort, _ := net.SplitHostPort(env.OriginAddr)
	vcl := filepath.Join(dir, "bench.vcl")
	if err := renderTemplate(filepath.Join(env.ConfigDir, "varnish.vcl"), vcl, map[string]any{"OriginPort": originPort}); err != nil {
		return nil, err
	}
	secret := []byte(randomHex(16) + "\n")
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cliAddr := "127.0.0.1:" + strconv.Itoa(cliPort)
	nameDir := filepath.Join(dir, "n")
	// -F: foreground, so the process group holds the manager and its
	// cache child. -j none: no privilege separation, so the scratch
	// directories need no varnish user (the benchmark is root or not).
	// Everything else is Varnish's defaults (2 thread pools of 100-5000
	// threads), which suit this load.
	args := []string{
		"-F", "-j", "none", "-n", nameDir,
		"-a", addr, "-T", cliAddr, "-S", secretFile,
		"-f", vcl,
		"-s", "malloc," + strconv.FormatInt(opts.CacheSize>>20, 10) + "m",
	}
	p, err := env.Procs.Start(KindVarnish, filepath.Join(dir, "log"), "varnishd", args...)
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: KindVarnish, Addr: addr, Proc: p, nameDir: nameDir}
	if err := waitHTTP(ctx, s.URL()+"/_bench/ready", p); err != nil {
		p.Stop()
		return nil, err
	}
	if s.cli, err = DialVarnishCLI(ctx, cliAddr, secret); err != nil {
		p.Stop()
		return nil, err
	}
	return s, nil
}

// nginxPurgeModule is where Debian's libnginx-mod-http-cache-purge puts
// the module.
const nginxPurgeModule = "/usr/lib/nginx/modules/ngx_http_cache_purge_module.so"

func startNginx(ctx context.Context, env *Env) (*Server, error) {
	dir, err := serverDir(env, KindNginx)
	if err != nil {
		return nil, err
	}
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	cacheParent := env.ShmDir
	if cacheParent == "" {
		cacheParent = dir
	}
	cacheDir, err := os.MkdirTemp(cacheParent, "nginx-cache-")
	if err != nil {
		return nil, err
	}
	module := ""
	if _, err := os.Stat(nginxPurgeModule); err == nil {
		module = nginxPurgeModule
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	conf := filepath.Join(dir, "nginx.conf")
	err = renderTemplate(filepath.Join(env.ConfigDir, "nginx.conf"), conf, map[string]any{
		"Dir": dir, "CacheDir": cacheDir, "OriginAddr": env.OriginAddr, "Listen": addr,
		"Workers": runtime.NumCPU(), "Root": os.Geteuid() == 0, "PurgeModule": module,
	})
	if err != nil {
		return nil, err
	}
	p, err := env.Procs.Start(KindNginx, filepath.Join(dir, "log"), "nginx", "-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: KindNginx, Addr: addr, Proc: p, canPurge: module != "",
		cleanup: func() { _ = os.RemoveAll(cacheDir) }}
	if err := waitHTTP(ctx, s.URL()+"/_bench/ready", p); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func renderTemplate(src, dst string, data any) error {
	t, err := template.ParseFiles(src)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return fmt.Errorf("rendering %s: %w", src, err)
	}
	return os.WriteFile(dst, b.Bytes(), 0o644)
}

// invalidationIDs makes admin request ids unique within a run.
var invalidationIDs atomic.Int64

func nextID(what string) string {
	return "bench-" + what + "-" + strconv.FormatInt(invalidationIDs.Add(1), 10)
}

// PurgeURL invalidates one path, simple or soft, the way the server's
// operator would: cacheproxy's admin API, an HTTP PURGE/SOFTPURGE for
// Varnish and (with the module) nginx.
func (s *Server) PurgeURL(ctx context.Context, path string, soft bool) error {
	switch s.Kind {
	case KindCacheproxy, KindCacheproxyBefore:
		mode := admin.ModeSimple
		if soft {
			mode = admin.ModeSoft
		}
		_, err := s.Invalidate(ctx, admin.InvalidationRequest{ID: nextID("url"), Mode: mode, URLs: []string{"https://" + Host + path}})
		return err
	case KindNginx:
		if !s.canPurge || soft {
			return ErrUnsupported
		}
		return s.httpPurge(ctx, http.MethodGet, "/_purge"+path) // see hack/bench/nginx.conf
	default:
		method := "PURGE"
		if soft {
			method = "SOFTPURGE"
		}
		return s.httpPurge(ctx, method, path)
	}
}

// CanPurge reports whether PurgeURL works for simple (and soft) purges.
func (s *Server) CanPurge(soft bool) bool {
	return s.Kind != KindNginx || (s.canPurge && !soft)
}

func (s *Server) httpPurge(ctx context.Context, method, path string) error {
	return httpPurgeWith(ctx, quickClient, s.URL(), method, path)
}

func httpPurgeWith(ctx context.Context, c *http.Client, base, method, path string) error {
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return err
	}
	req.Host = Host
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	// nginx's purge module answers 404 for an object it does not hold.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return nil
}

// Invalidate calls cacheproxy's admin API.
func (s *Server) Invalidate(ctx context.Context, req admin.InvalidationRequest) (admin.InvalidationResult, error) {
	if !s.isCacheproxy() {
		return admin.InvalidationResult{}, ErrUnsupported
	}
	return s.admin.Invalidate(ctx, s.adminURL, req)
}

// isCacheproxy reports whether s is cacheproxy, of this commit or the
// baseline's: both have the admin API.
func (s *Server) isCacheproxy() bool {
	return s.Kind == KindCacheproxy || s.Kind == KindCacheproxyBefore
}

// Stats is cacheproxy's /v1/stats.
func (s *Server) Stats(ctx context.Context) (admin.Stats, error) {
	if !s.isCacheproxy() {
		return admin.Stats{}, ErrUnsupported
	}
	return s.admin.Stats(ctx, s.adminURL)
}

// VarnishCommand runs a management CLI command (ban, ban.list...).
func (s *Server) VarnishCommand(cmd string) (string, error) {
	if s.cli == nil {
		return "", ErrUnsupported
	}
	return s.cli.Do(cmd)
}

// VarnishCounter reads one varnishstat counter, e.g. MAIN.n_object.
func (s *Server) VarnishCounter(ctx context.Context, name string) (int64, error) {
	if s.Kind != KindVarnish {
		return 0, ErrUnsupported
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "varnishstat", "-n", s.nameDir, "-1", "-f", name).Output()
	if err != nil {
		return 0, fmt.Errorf("varnishstat %s: %w", name, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != name {
		return 0, fmt.Errorf("varnishstat %s: unexpected output %q", name, out)
	}
	return strconv.ParseInt(f[1], 10, 64)
}

// goHeapGoal is cacheproxy's go_memstats_next_gc_bytes from its metrics,
// 0 for other servers or when unreadable.
func (s *Server) goHeapGoal(ctx context.Context) int64 {
	if !s.isCacheproxy() {
		return 0
	}
	v, err := scrapeGauge(ctx, s.adminURL+admin.MetricsPath, "go_memstats_next_gc_bytes")
	if err != nil {
		return 0
	}
	return int64(v)
}

// scrapeGauge reads one unlabelled sample from a Prometheus text endpoint.
func scrapeGauge(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := quickClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no sample %s", url, name)
}
