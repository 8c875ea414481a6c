package envtestenv

import (
	"context"
	"os"
	"path/filepath"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/internal/repo"
)

// Env is a running envtest control plane.
type Env struct {
	*envtest.Environment
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Client is a client of Config, on Options.Scheme.
	Client client.Client
}

// Options say what differs between suites.
type Options struct {
	// Scheme is the scheme of Env.Client. Nil means client-go's
	// scheme.Scheme with the types of api/v1alpha1 added to it.
	Scheme *runtime.Scheme
	// MoreCRDs are directories of CRDs to install beside
	// config/crd/bases, such as a suite's testdata.
	MoreCRDs []string
}

// Start starts the control plane; call it from a BeforeSuite. It stops
// the control plane when the suite ends, after every AfterSuite, so a
// suite stops its manager there and the manager never outlives the API
// server.
func Start(opts Options) *Env {
	ginkgo.GinkgoHelper()
	logf.SetLogger(zap.New(zap.WriteTo(ginkgo.GinkgoWriter), zap.UseDevMode(true)))
	gomega.Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(gomega.BeEmpty(),
		"KUBEBUILDER_ASSETS is unset: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)")
	root, err := repo.Root()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	scheme := opts.Scheme
	if scheme == nil {
		scheme = clientgoscheme.Scheme
		gomega.Expect(cachev1alpha1.AddToScheme(scheme)).To(gomega.Succeed())
	}

	env := &Env{Environment: &envtest.Environment{
		CRDDirectoryPaths:     append([]string{filepath.Join(root, "config", "crd", "bases")}, opts.MoreCRDs...),
		ErrorIfCRDPathMissing: true,
	}}
	env.Config, err = env.Start()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	ginkgo.DeferCleanup(func() { gomega.Expect(env.Stop()).To(gomega.Succeed()) })
	env.Client, err = client.New(env.Config, client.Options{Scheme: scheme})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return env
}

// Kubeconfig writes a kubeconfig file for a user of the API server into a
// directory the suite removes, and returns its path.
func (e *Env) Kubeconfig(u envtest.User) string {
	ginkgo.GinkgoHelper()
	user, err := e.AddUser(u, nil)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	data, err := user.KubeConfig()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	path := filepath.Join(ginkgo.GinkgoT().TempDir(), u.Name+".kubeconfig")
	gomega.Expect(os.WriteFile(path, data, 0o600)).To(gomega.Succeed())
	return path
}

// StartManager runs mgr in the background. stop cancels it, waits until
// it has returned and fails the spec that calls it if it returned an
// error: nothing fails off the spec's goroutine.
func StartManager(mgr manager.Manager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- mgr.Start(ctx) }()
	return func() {
		ginkgo.GinkgoHelper()
		cancel()
		gomega.Expect(<-errc).To(gomega.Succeed())
	}
}

// AwaitAllowed waits until the API server lets user do what attrs say.
// Its RBAC authorizer reads Roles and RoleBindings from an informer, so a
// binding created a moment ago may not be in force yet, and a request
// made at once can be refused; a spec that grants and then acts calls
// this between the two. The review names the user alone, without groups:
// it waits for a binding to the user (or ServiceAccount), not to a group.
func AwaitAllowed(ctx context.Context, c client.Client, user string, attrs authzv1.ResourceAttributes) {
	ginkgo.GinkgoHelper()
	gomega.Eventually(func(g gomega.Gomega) {
		review := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &attrs}}
		g.Expect(c.Create(ctx, review)).To(gomega.Succeed())
		g.Expect(review.Status.Allowed).To(gomega.BeTrue(), "%s may %s %s in %q", user, attrs.Verb, attrs.Resource, attrs.Namespace)
	}).WithContext(ctx).Should(gomega.Succeed())
}
