package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy"
	fleetnames "github.com/cacheops/purge-operator/controllers/fleet"
)

const testHost = "www.example.com"

// newOrigin is an origin whose answers are cacheable for an hour; objects
// under /products/ID/ carry the tags product-ID and products.
func newOrigin() *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if rest, ok := strings.CutPrefix(r.URL.Path, "/products/"); ok {
			id, _, _ := strings.Cut(rest, "/")
			w.Header().Set("Surrogate-Key", "product-"+id+" products")
		}
		fmt.Fprintf(w, "%s from the origin", r.URL.RequestURI())
	}))
	DeferCleanup(o.Close)
	return o
}

// pod is one pod of a fleet: a Pod object whose address is served by a
// real cacheproxy (public and admin ports, both ephemeral, the admin one
// in the pod's spec as the operator's pods name it).
type pod struct {
	name             string
	public, adminURL string
	// stopAdmin closes the admin port: calls to it are refused;
	// startAdmin opens it again, on the same address.
	stopAdmin, startAdmin func()
}

// fleet is a CacheProxy whose pods the spec created and serves.
type fleet struct {
	cp   *cachev1alpha1.CacheProxy
	pods []*pod
}

// newFleet creates CacheProxy name in ns with n pods, each served by a
// real cacheproxy, and plays the Deployment controller so the fleet
// reports n of n pods ready.
func newFleet(ns, name string, n int) *fleet {
	GinkgoHelper()
	ctx := context.Background()
	ip := hostIP()
	if ip == "" {
		Skip("this machine has no non-loopback IPv4 address for the pods (the API server's pod proxy refuses loopback)")
	}
	origin := newOrigin()
	f := &fleet{cp: &cachev1alpha1.CacheProxy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cachev1alpha1.CacheProxySpec{
			Replicas: ptr.To(int32(n)),
			Origin:   cachev1alpha1.OriginSpec{URL: origin.URL},
			Hosts:    []string{testHost},
		},
	}}
	Expect(k8sClient.Create(ctx, f.cp)).To(Succeed())
	var secret corev1.Secret
	Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: fleetnames.TokenSecretName(name)}, &secret)
	}).Should(Succeed())
	var deploy appsv1.Deployment
	Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(f.cp), &deploy) }).Should(Succeed())
	originURL, err := url.Parse(origin.URL)
	Expect(err).NotTo(HaveOccurred())
	for i := range n {
		f.pods = append(f.pods, servePod(ns, fmt.Sprintf("%s-%d", name, i), ip, originURL, string(secret.Data[fleetnames.TokenKey]), &deploy.Spec.Template))
	}
	deploy.Status = appsv1.DeploymentStatus{
		Replicas: int32(n), ReadyReplicas: int32(n), AvailableReplicas: int32(n), UpdatedReplicas: int32(n),
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}},
	}
	Expect(k8sClient.Status().Update(ctx, &deploy)).To(Succeed())
	return f
}

// servePod starts a cacheproxy on ip and creates its Pod from the
// Deployment's template, running and ready at that address.
func servePod(ns, name, ip string, origin *url.URL, token string, tmpl *corev1.PodTemplateSpec) *pod {
	GinkgoHelper()
	proxy, err := cacheproxy.New(cacheproxy.Config{
		Origin:     origin,
		Hosts:      []string{testHost},
		AdminToken: token,
		CacheSize:  16 << 20,
		Logger:     slog.New(slog.NewTextHandler(GinkgoWriter, nil)),
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(proxy.Close)
	listen := func(addr string, h http.Handler) (srv *http.Server, port int32) {
		ln, err := net.Listen("tcp", addr)
		Expect(err).NotTo(HaveOccurred())
		srv = &http.Server{Handler: h}
		go func() { _ = srv.Serve(ln) }()
		DeferCleanup(srv.Close)
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		n, _ := strconv.Atoi(p)
		return srv, int32(n)
	}
	_, publicPort := listen(net.JoinHostPort(ip, "0"), proxy)
	adminSrv, adminPort := listen(net.JoinHostPort(ip, "0"), proxy.AdminHandler())
	adminAddr := net.JoinHostPort(ip, strconv.Itoa(int(adminPort)))

	spec := tmpl.Spec.DeepCopy()
	for i := range spec.Containers {
		for j := range spec.Containers[i].Ports {
			if spec.Containers[i].Ports[j].Name == "admin" {
				spec.Containers[i].Ports[j].ContainerPort = adminPort
			}
		}
	}
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: tmpl.Labels}, Spec: *spec}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	Expect(k8sClient.Status().Update(ctx, p)).To(Succeed())
	return &pod{
		name: name, public: net.JoinHostPort(ip, strconv.Itoa(int(publicPort))), adminURL: "http://" + adminAddr,
		stopAdmin:  func() { _ = adminSrv.Close() },
		startAdmin: func() { adminSrv, _ = listen(adminAddr, proxy.AdminHandler()) },
	}
}

// warm requests each path through every pod until it is cached there.
func (f *fleet) warm(paths ...string) {
	GinkgoHelper()
	for _, p := range f.pods {
		for _, path := range paths {
			for range 2 {
				req, err := http.NewRequest(http.MethodGet, "http://"+p.public+path, nil)
				Expect(err).NotTo(HaveOccurred())
				req.Host = testHost
				resp, err := http.DefaultClient.Do(req)
				Expect(err).NotTo(HaveOccurred())
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				Expect(resp.StatusCode).To(Equal(http.StatusOK))
			}
		}
	}
}
