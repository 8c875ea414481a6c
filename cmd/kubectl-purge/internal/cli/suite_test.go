package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/envtestenv"
)

// The plugin runs in-process (Main with argument and buffers) against a
// real kube-apiserver and etcd (envtest) with the CRDs of config/crd/bases,
// so every request, validation message and RBAC refusal is the API
// server's own.
//
// No operator runs: where a spec needs a Purge's status to move, the test
// plays the operator and writes the status itself, as the controller
// would, with the operator's own code (controllers/purgestatus). The
// controller is tested on its own (controllers/purge), and playing it here lets
// each spec decide when each pod answers, so "a line per pod as it
// answers" and the timeout can be asserted exactly. The real plugin and
// the real operator meet in the localcluster session of the README.

var (
	env       *envtestenv.Env
	k8sClient client.Client
	// adminKubeconfig is a kubeconfig file of a cluster administrator.
	adminKubeconfig string
)

func TestKubectlPurge(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl-purge suite")
}

var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	env = envtestenv.Start(envtestenv.Options{Scheme: scheme})
	k8sClient = env.Client
	adminKubeconfig = env.Kubeconfig(envtest.User{Name: "admin", Groups: []string{"system:masters"}})
})

// result is what one command line did.
type result struct {
	code        int
	out, errOut string
}

// invocation is one command line to run: its namespace, its stdin, its
// kubeconfig (the administrator's unless set) and its Env.
type invocation struct {
	ns, kubeconfig string
	stdin          string
	env            Env
}

func (inv invocation) args(args []string) []string {
	kc := inv.kubeconfig
	if kc == "" {
		kc = adminKubeconfig
	}
	return append([]string{"--kubeconfig", kc, "-n", inv.ns}, args...)
}

// run runs a command line to its end.
func (inv invocation) run(args ...string) result {
	GinkgoHelper()
	var out, errOut bytes.Buffer
	env := inv.env
	env.IOStreams = genericiooptions.IOStreams{In: strings.NewReader(inv.stdin), Out: &out, ErrOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Main(ctx, env, inv.args(args))
	GinkgoWriter.Printf("kubectl purge %s\n-> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// running is a command line running in the background.
type running struct {
	out, errOut *gbytes.Buffer
	// done receives the exit status.
	done chan int
	// exited is closed once the command line has returned.
	exited chan struct{}
	cancel context.CancelFunc
}

// start runs a command line in the background.
func (inv invocation) start(args ...string) *running {
	r := &running{out: gbytes.NewBuffer(), errOut: gbytes.NewBuffer(), done: make(chan int, 1), exited: make(chan struct{})}
	env := inv.env
	env.IOStreams = genericiooptions.IOStreams{In: strings.NewReader(inv.stdin), Out: r.out, ErrOut: r.errOut}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	full := inv.args(args)
	go func() {
		defer GinkgoRecover()
		defer close(r.exited)
		r.done <- Main(ctx, env, full)
	}()
	DeferCleanup(func() {
		cancel()
		Eventually(r.exited).Should(BeClosed())
		GinkgoWriter.Printf("kubectl purge %s\n%s%s", strings.Join(args, " "), r.out.Contents(), r.errOut.Contents())
	})
	return r
}

// newNamespace creates a namespace for one spec.
func newNamespace() string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "kubectl-purge-"}}
	Expect(k8sClient.Create(context.Background(), ns)).To(Succeed())
	return ns.Name
}

// newCacheProxy creates a CacheProxy (no operator runs: it stays an object).
func newCacheProxy(ns, name string) {
	GinkgoHelper()
	Expect(k8sClient.Create(context.Background(), &cachev1alpha1.CacheProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       cachev1alpha1.CacheProxySpec{Origin: cachev1alpha1.OriginSpec{URL: "http://web.web.svc:8080"}},
	})).To(Succeed())
}

// purgesIn lists the Purges of a namespace.
func purgesIn(ns string) []cachev1alpha1.Purge {
	GinkgoHelper()
	var list cachev1alpha1.PurgeList
	Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	return list.Items
}

// onlyPurge is the one Purge of a namespace.
func onlyPurge(ns string) cachev1alpha1.Purge {
	GinkgoHelper()
	purges := purgesIn(ns)
	Expect(purges).To(HaveLen(1))
	return purges[0]
}

// playOperator writes the status the operator would write once the pods
// stand as given (an unstarted Purge if started is false).
func playOperator(ns, name string, started bool, pods ...cachev1alpha1.PodPurgeStatus) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		var p cachev1alpha1.Purge
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p)).To(Succeed())
		playedStatus(&p.Status, p.Generation, p.Spec.CacheProxyRef.Name, pods, started)
		g.Expect(k8sClient.Status().Update(context.Background(), &p)).To(Succeed())
	}).Should(Succeed())
}

// grant gives a new user the verbs on purges in ns, and returns its
// kubeconfig.
func grant(ns, user string, verbs ...string) string {
	GinkgoHelper()
	ctx := context.Background()
	Expect(k8sClient.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{group}, Resources: []string{resourcePurges}, Verbs: verbs}},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	})).To(Succeed())
	Expect(verbs).NotTo(BeEmpty())
	envtestenv.AwaitAllowed(ctx, k8sClient, user, authzv1.ResourceAttributes{
		Namespace: ns, Verb: verbs[0], Group: group, Resource: resourcePurges})
	return env.Kubeconfig(envtest.User{Name: user})
}
