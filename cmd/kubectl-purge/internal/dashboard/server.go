package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Options configure a dashboard.
type Options struct {
	// Config reaches the API server as the user (from their kubeconfig).
	// Required.
	Config *rest.Config
	// Client makes the typed requests and watches, as the user. Required.
	Client client.WithWatch
	// Namespace is the namespace the page opens on (-n, else the
	// kubeconfig context's). Required.
	Namespace string
	// Stamp marks a Purge about to be created as the plugin marks its own
	// (labels, the user it runs as), so `kubectl purge list` tells it
	// apart. Nil leaves the Purge as the page built it.
	Stamp func(context.Context, *cachev1alpha1.Purge)
	// CreatedBy says who created a Purge, as `kubectl purge list` does.
	// Nil shows "-".
	CreatedBy func(*cachev1alpha1.Purge) string
	// HostRootBans lists the patterns of a ban that cover a whole host,
	// which the API accepts only with confirmHostRootBan. Nil: none.
	HostRootBans func(mode cachev1alpha1.PurgeMode, urls []string) []string
}

// server is a dashboard's HTTP handler: the page, its assets and the
// /api endpoints, all made as the user.
type server struct {
	opts  Options
	kube  kubernetes.Interface
	token string
	mux   *http.ServeMux
}

// newServer builds the handler of a dashboard. token is the run's token
// (see TokenHeader); Listen wraps the handler in the Host, Origin and
// token checks.
func newServer(opts Options, token string) (*server, error) {
	if opts.Config == nil || opts.Client == nil || opts.Namespace == "" {
		return nil, errors.New("dashboard: Config, Client and Namespace are required")
	}
	kube, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("dashboard: connecting to the API server: %w", err)
	}
	s := &server{opts: opts, kube: kube, token: token, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// namespaceParam is the query parameter, and the path wildcard, that
// names a namespace; an empty value means every namespace.
const namespaceParam = "namespace"

func (s *server) routes() {
	s.mux.Handle("GET /assets/", assetHandler())
	for _, page := range []string{"/{$}", "/history", "/fleets", "/purges/{namespace}/{name}"} {
		s.mux.HandleFunc("GET "+page, s.servePage)
	}
	s.mux.HandleFunc("GET /api/context", s.serveContext)
	s.mux.HandleFunc("GET /api/access", s.serveAccess)
	s.mux.HandleFunc("GET /api/cacheproxies", s.serveCacheProxies)
	s.mux.HandleFunc("GET /api/fleets/watch", s.serveFleetsStream)
	s.mux.HandleFunc("GET /api/purges/watch", s.serveHistoryStream)
	s.mux.HandleFunc("GET /api/purges/{namespace}/{name}/watch", s.serveDetailStream)
	s.mux.HandleFunc("POST /api/purges", s.serveCreate)
	s.mux.HandleFunc("POST /api/purges/validate", s.serveValidate)
}

// contentSecurityPolicy lets the page load only its own scripts, its one
// inline script and its one inline style (by hash), and its own API.
var contentSecurityPolicy = "default-src 'none'; script-src 'self' " + pageBootHash + "; style-src " + pageStyleHash +
	"; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	s.mux.ServeHTTP(w, r)
}

// Dashboard is a dashboard listening on its address.
type Dashboard struct {
	// URL is the address to open: http://ADDRESS:PORT/.
	URL string
	ln  net.Listener
	srv *http.Server
}

// Listen builds a dashboard and binds address:port (port 0: any free
// port). It serves nothing until Serve.
func Listen(ctx context.Context, opts Options, address string, port int) (*Dashboard, error) {
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	s, err := newServer(opts, token)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(address, strconv.Itoa(port))
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	g := &guard{hosts: ownHosts(ln.Addr()), token: token, next: s}
	return &Dashboard{
		URL: "http://" + ln.Addr().String() + "/",
		ln:  ln,
		srv: &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// Serve answers requests until ctx is cancelled, then closes open streams
// and returns.
func (d *Dashboard) Serve(ctx context.Context) error {
	d.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- d.srv.Serve(d.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the dashboard: %w", err)
	case <-ctx.Done():
	}
	// Streams end with ctx (their requests' base context); give the
	// rest a moment to finish.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(shutdownCtx); err != nil {
		_ = d.srv.Close()
	}
	// Serve returns http.ErrServerClosed after Shutdown or Close: the
	// expected end, not an error of the dashboard.
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the dashboard: %w", err)
	}
	return nil
}
