package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/envtestenv"
)

// The gateway runs as the operator does in a cluster: in a manager whose
// client authenticates as the manager's ServiceAccount, with the RBAC and
// the admission policy that config/default installs, against a real
// kube-apiserver (envtest). Clients authenticate with real ServiceAccount
// tokens (TokenRequest), so TokenReviews and SubjectAccessReviews are the
// API server's own answers. No controller runs: the specs read the Purges
// the gateway created, and set a Purge's status themselves where they
// test waiting.

const (
	// managerNamespace and managerServiceAccount are where config/default
	// installs the manager.
	managerNamespace      = "purge-operator-system"
	managerServiceAccount = "purge-operator-controller-manager"
	// purgeEditorRole is config/rbac's role for whoever may purge.
	purgeEditorRole = "purge-operator-purge-editor-role"
)

var (
	// kube is the cluster admin's client; specs arrange the world with it.
	kube client.Client
	// gw serves with the default coalescing window and the real clock.
	gw    *Gateway
	gwURL string
	// managerCfg authenticates as the manager's ServiceAccount.
	managerCfg *rest.Config
	scheme     = runtime.NewScheme()
	stopSuite  context.CancelFunc
)

func TestGateway(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Purge gateway suite")
}

var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(cachev1alpha1.AddToScheme(scheme)).To(Succeed())

	env := envtestenv.Start(envtestenv.Options{Scheme: scheme})
	kube = env.Client

	ctx, cancel := context.WithCancel(context.Background())
	stopSuite = cancel
	installConfigDefault(ctx)
	awaitRequestedByPolicy(ctx)
	managerCfg = configFor(env.Config, tokenFor(ctx, managerNamespace, managerServiceAccount))
	gw = startGateway(ctx, Options{})
	// Serve as Start does (its header limit included), on a free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ctx, ln) }()
	DeferCleanup(func() { Expect(<-served).To(Succeed()) })
	gwURL = "http://" + ln.Addr().String()
})

var _ = AfterSuite(func() {
	if stopSuite != nil {
		stopSuite()
	}
})

// installConfigDefault applies what `kubectl kustomize config/default`
// renders, but the CRDs (envtest installed them) and the manager's
// Deployment and Services (the manager runs in this process).
func installConfigDefault(ctx context.Context) {
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	out, err := exec.Command(kubectl, "kustomize", filepath.Join("..", "..", "config", "default")).Output()
	Expect(err).NotTo(HaveOccurred(), "kubectl kustomize config/default")
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else {
			Expect(err).NotTo(HaveOccurred())
		}
		switch u.GetKind() {
		case "", "CustomResourceDefinition", "Deployment", "Service":
			continue
		}
		Expect(kube.Create(ctx, u)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
	}
}

// awaitRequestedByPolicy waits until the admission policy that keeps the
// requested-by annotations to the manager is in force: the API server
// loads a new ValidatingAdmissionPolicy within about a second.
func awaitRequestedByPolicy(ctx context.Context) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		forged := &cachev1alpha1.Purge{
			ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, GenerateName: "forged-",
				Annotations: map[string]string{cachev1alpha1.AnnotationRequestedBy: "someone"}},
			Spec: cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, URLs: []string{"https://www.example.com/a"}},
		}
		err := kube.Create(ctx, forged, client.DryRunAll)
		g.Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(ContainSubstring("only the purge-operator may set or change them"))
	}).WithContext(ctx).Should(Succeed())
}

// tokenFor returns a token of the ServiceAccount, as kubectl create token does.
func tokenFor(ctx context.Context, namespace, name string) string {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	Expect(kube.SubResource("token").Create(ctx, sa, tr)).To(Succeed())
	return tr.Status.Token
}

// configFor is cfg authenticating with token instead of the kube's
// client certificate.
func configFor(cfg *rest.Config, token string) *rest.Config {
	c := rest.AnonymousClientConfig(cfg)
	c.BearerToken = token
	return c
}

// startGateway runs a manager as the manager's ServiceAccount with a
// gateway in it (not listening: specs serve it with httptest).
func startGateway(ctx context.Context, opts Options) *Gateway {
	mgr, err := ctrl.NewManager(managerCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	g, err := SetupWithManager(mgr, opts)
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	DeferCleanup(func() { <-done })
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
	return g
}

// site is one namespace with a CacheProxy "edge" and a ServiceAccount
// "cms" that may create Purges there.
type site struct {
	ns    string
	cp    *cachev1alpha1.CacheProxy
	token string
}

// newSite creates a site whose CacheProxy serves hosts.
func newSite(ctx context.Context, hosts ...string) *site {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}}
	Expect(kube.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(kube.Delete(ctx, ns)).To(Succeed()) })
	cp := &cachev1alpha1.CacheProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "edge"},
		Spec: cachev1alpha1.CacheProxySpec{
			Origin: cachev1alpha1.OriginSpec{URL: "http://web:8080"},
			Hosts:  hosts,
		},
	}
	Expect(kube.Create(ctx, cp)).To(Succeed())
	s := &site{ns: ns.Name, cp: cp}
	s.token = s.serviceAccount(ctx, "cms", true)
	s.seen(ctx)
	return s
}

// seen waits until the gateway's cache holds the CacheProxy as the spec
// last wrote it.
func (s *site) seen(ctx context.Context) {
	Eventually(func(g Gomega) {
		var cached cachev1alpha1.CacheProxy
		g.Expect(gw.client.Get(ctx, client.ObjectKeyFromObject(s.cp), &cached)).To(Succeed())
		g.Expect(cached.ResourceVersion).To(Equal(s.cp.ResourceVersion))
	}).Should(Succeed())
}

// serviceAccount creates a ServiceAccount in the site's namespace, bound
// to the purge-editor role if mayPurge, and returns a token of it.
func (s *site) serviceAccount(ctx context.Context, name string, mayPurge bool) string {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}}
	Expect(kube.Create(ctx, sa)).To(Succeed())
	if mayPurge {
		s.grant(ctx, name)
	}
	return tokenFor(ctx, s.ns, name)
}

// grant binds the site's ServiceAccount name to the purge-editor role and
// waits until RBAC lets it create Purges.
func (s *site) grant(ctx context.Context, name string) {
	GinkgoHelper()
	Expect(kube.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name + "-purges"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: purgeEditorRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: s.ns, Name: name}},
	})).To(Succeed())
	envtestenv.AwaitAllowed(ctx, kube, s.user(name), authzv1.ResourceAttributes{
		Namespace: s.ns, Verb: "create", Group: cachev1alpha1.GroupVersion.Group, Resource: "purges"})
}

// id names the site's CacheProxy in Fastly and Cloudflare paths.
func (s *site) id() string { return s.ns + ".edge" }

// purgeHost is the Host of the site's <name>-purge Service.
func (s *site) purgeHost() string { return "edge-purge." + s.ns + ".svc:8090" }

// purges lists the site's Purges.
func (s *site) purges(ctx context.Context) []cachev1alpha1.Purge {
	var list cachev1alpha1.PurgeList
	Expect(kube.List(ctx, &list, client.InNamespace(s.ns))).To(Succeed())
	return list.Items
}

// purge reads one of the site's Purges.
func (s *site) purge(ctx context.Context, name string) *cachev1alpha1.Purge {
	var p cachev1alpha1.Purge
	Expect(kube.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: name}, &p)).To(Succeed())
	return &p
}

// answer is a response, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// send sends a request to base and reads the answer. host, if set, is the
// Host header.
func send(ctx context.Context, base, method, path, host string, header map[string]string, body string) answer {
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return answer{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// bearer is the Authorization header of token.
func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// with adds a header to h.
func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range h {
		out[kk] = vv
	}
	return out
}

// requestedBy is the user name of site's ServiceAccount name.
func (s *site) user(name string) string {
	return fmt.Sprintf("system:serviceaccount:%s:%s", s.ns, name)
}
