package cacheproxy

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func testCacheProxy(mutate func(*cachev1alpha1.CacheProxy)) *cachev1alpha1.CacheProxy {
	cp := &cachev1alpha1.CacheProxy{
		ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "web", UID: "uid-1"},
		Spec: cachev1alpha1.CacheProxySpec{
			Replicas: ptr.To[int32](3),
			Origin:   cachev1alpha1.OriginSpec{URL: "http://web.web.svc:8080", TimeoutSeconds: 30},
			Cache:    cachev1alpha1.CacheSpec{MaxSize: ptr.To(resource.MustParse("256Mi"))},
		},
	}
	if mutate != nil {
		mutate(cp)
	}
	return cp
}

func TestDeploymentFor(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*cachev1alpha1.CacheProxy)
		image    string
		wantArgs []string
		noArgs   []string
		replicas int32
		cpu, mem string
		memLimit string
	}{{
		name:  "defaults",
		image: "ghcr.io/cacheops/cacheproxy:v1",
		wantArgs: []string{
			"--origin=http://web.web.svc:8080", "--listen=:8080", "--admin-listen=:9090",
			"--admin-token-file=/etc/cacheproxy/admin-token/token", "--cache-size=256Mi", "--origin-timeout=30s",
		},
		noArgs:   []string{"--host=", "--max-object-size=", "--invalidate-on-unsafe-methods"},
		replicas: 3, cpu: "100m", mem: "384Mi", memLimit: "384Mi",
	}, {
		name: "hosts sorted, max object size, image override",
		mutate: func(cp *cachev1alpha1.CacheProxy) {
			cp.Spec.Hosts = []string{"www.example.com", "api.example.com"}
			cp.Spec.Cache.MaxObjectSize = ptr.To(resource.MustParse("8Mi"))
			cp.Spec.Cache.InvalidateOnUnsafeMethods = ptr.To(false)
			cp.Spec.Image = "registry.local/cacheproxy:dev"
		},
		image:    "registry.local/cacheproxy:dev",
		wantArgs: []string{"--host=api.example.com", "--host=www.example.com", "--max-object-size=8Mi", "--invalidate-on-unsafe-methods=false"},
		replicas: 3, cpu: "100m", mem: "384Mi",
	}, {
		name: "nil replicas defaults to one; user requests and limits kept",
		mutate: func(cp *cachev1alpha1.CacheProxy) {
			cp.Spec.Replicas = nil
			cp.Spec.Resources = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			}
		},
		image:    "ghcr.io/cacheops/cacheproxy:v1",
		replicas: 1, cpu: "2", mem: "384Mi", memLimit: "1Gi",
	}, {
		name: "a memory request below the cache's need leaves the limit at the need",
		mutate: func(cp *cachev1alpha1.CacheProxy) {
			cp.Spec.Resources = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
			}
		},
		image:    "ghcr.io/cacheops/cacheproxy:v1",
		replicas: 3, cpu: "100m", mem: "32Mi", memLimit: "384Mi",
	}, {
		name: "a memory request above the cache's need is the limit",
		mutate: func(cp *cachev1alpha1.CacheProxy) {
			cp.Spec.Resources = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
			}
		},
		image:    "ghcr.io/cacheops/cacheproxy:v1",
		replicas: 3, cpu: "100m", mem: "2Gi", memLimit: "2Gi",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := testCacheProxy(tt.mutate)
			d := deploymentFor(cp, "ghcr.io/cacheops/cacheproxy:v1")
			if got := *d.Spec.Replicas; got != tt.replicas {
				t.Errorf("replicas = %d, want %d", got, tt.replicas)
			}
			c := d.Spec.Template.Spec.Containers[0]
			if c.Image != tt.image {
				t.Errorf("image = %q, want %q", c.Image, tt.image)
			}
			for _, a := range tt.wantArgs {
				if !slices.Contains(c.Args, a) {
					t.Errorf("args %q lack %q", c.Args, a)
				}
			}
			for _, prefix := range tt.noArgs {
				if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
					t.Errorf("args %q have %q", c.Args, prefix)
				}
			}
			if hosts := slices.DeleteFunc(slices.Clone(c.Args), func(a string) bool { return !strings.HasPrefix(a, "--host=") }); !slices.IsSorted(hosts) {
				t.Errorf("--host flags not sorted: %q", hosts)
			}
			if got := c.Resources.Requests[corev1.ResourceCPU]; got.String() != tt.cpu {
				t.Errorf("cpu request = %s, want %s", got.String(), tt.cpu)
			}
			if got := c.Resources.Requests[corev1.ResourceMemory]; got.String() != tt.mem {
				t.Errorf("memory request = %s, want %s", got.String(), tt.mem)
			}
			if got, ok := c.Resources.Limits[corev1.ResourceMemory]; tt.memLimit != "" && (!ok || got.String() != tt.memLimit) {
				t.Errorf("memory limit = %s, want %s", got.String(), tt.memLimit)
			}
			if d.Spec.Selector.MatchLabels[cachev1alpha1.LabelCacheProxy] != "edge" || d.Spec.Template.Labels[cachev1alpha1.LabelManagedBy] != cachev1alpha1.ManagedBy {
				t.Errorf("labels: selector %v, template %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
			}
			if d.OwnerReferences[0].UID != "uid-1" || !*d.OwnerReferences[0].Controller {
				t.Errorf("owner reference %+v", d.OwnerReferences)
			}
		})
	}
}

func TestDeploymentForPodSpec(t *testing.T) {
	envOf := func(d *appsv1.Deployment) map[string]corev1.EnvVar {
		env := map[string]corev1.EnvVar{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e
		}
		return env
	}
	d := deploymentFor(testCacheProxy(nil), "img")
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	env := envOf(d)
	if len(env) != 0 {
		t.Errorf("env = %v, want none: the admin token is a mounted file", env)
	}
	// The token: the Secret mounted read-only, readable by the pod's
	// fsGroup only, its file the one --admin-token-file names.
	if len(spec.Volumes) != 1 || spec.Volumes[0].Secret == nil || spec.Volumes[0].Secret.SecretName != "edge-admin-token" ||
		*spec.Volumes[0].Secret.DefaultMode != 0o440 || *spec.SecurityContext.FSGroup != 65532 {
		t.Errorf("volumes %+v, fsGroup %v: want the token Secret, mode 0440, fsGroup 65532", spec.Volumes, spec.SecurityContext.FSGroup)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != spec.Volumes[0].Name || !c.VolumeMounts[0].ReadOnly ||
		!slices.Contains(c.Args, "--admin-token-file="+c.VolumeMounts[0].MountPath+"/"+spec.Volumes[0].Secret.Items[0].Path) {
		t.Errorf("mounts %+v, args %q: want the token volume read-only at the file --admin-token-file names", c.VolumeMounts, c.Args)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.StrVal != "admin" {
		t.Errorf("readiness probe %+v, want /readyz on the admin port", c.ReadinessProbe.HTTPGet)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want /healthz", c.LivenessProbe.HTTPGet)
	}
	if !*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.AllowPrivilegeEscalation || !*spec.SecurityContext.RunAsNonRoot ||
		!slices.Equal(c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("security context too loose: pod %+v, container %+v", spec.SecurityContext, c.SecurityContext)
	}
	if *spec.AutomountServiceAccountToken {
		t.Error("the pods call no Kubernetes API and need no token")
	}
}

func TestConfigHash(t *testing.T) {
	base := deploymentFor(testCacheProxy(nil), "img").Spec.Template.Annotations[AnnotationConfigHash]
	if again := deploymentFor(testCacheProxy(nil), "img").Spec.Template.Annotations[AnnotationConfigHash]; again != base {
		t.Errorf("hash not deterministic: %s then %s", base, again)
	}
	changes := map[string]*string{
		"image":   ptr.To(deploymentFor(testCacheProxy(nil), "img2").Spec.Template.Annotations[AnnotationConfigHash]),
		"origin":  ptr.To(deploymentFor(testCacheProxy(func(cp *cachev1alpha1.CacheProxy) { cp.Spec.Origin.URL = "http://x" }), "img").Spec.Template.Annotations[AnnotationConfigHash]),
		"size":    ptr.To(deploymentFor(testCacheProxy(func(cp *cachev1alpha1.CacheProxy) { cp.Spec.Cache.MaxSize = ptr.To(resource.MustParse("1Gi")) }), "img").Spec.Template.Annotations[AnnotationConfigHash]),
		"hostset": ptr.To(deploymentFor(testCacheProxy(func(cp *cachev1alpha1.CacheProxy) { cp.Spec.Hosts = []string{"a.example"} }), "img").Spec.Template.Annotations[AnnotationConfigHash]),
	}
	for what, h := range changes {
		if *h == base {
			t.Errorf("changing the %s leaves the config hash %s: pods would not roll", what, base)
		}
	}
	if replicas := deploymentFor(testCacheProxy(func(cp *cachev1alpha1.CacheProxy) { cp.Spec.Replicas = ptr.To[int32](9) }), "img"); replicas.Spec.Template.Annotations[AnnotationConfigHash] != base {
		t.Error("scaling must not roll the pods")
	}
}

func TestServiceFor(t *testing.T) {
	svc := serviceFor(testCacheProxy(nil))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("ports = %+v, want only the public port 8080", svc.Spec.Ports)
	}
	if svc.Spec.Selector[cachev1alpha1.LabelCacheProxy] != "edge" || svc.Spec.Selector[cachev1alpha1.LabelManagedBy] != "" {
		t.Errorf("selector = %v, want the pod selector labels", svc.Spec.Selector)
	}
}

func TestTokenSecretFor(t *testing.T) {
	s := tokenSecretFor(testCacheProxy(nil), "t0k3n")
	if s.Name != "edge-admin-token" || string(s.Data["token"]) != "t0k3n" || s.Immutable != nil {
		t.Errorf("secret = %s %q immutable=%v: want a mutable Secret, so the token can be rotated", s.Name, s.Data, s.Immutable)
	}
	a, _ := newToken(strings.NewReader(strings.Repeat("a", 32)))
	b, _ := newToken(strings.NewReader(strings.Repeat("b", 32)))
	if a == b || len(a) != 43 {
		t.Errorf("tokens %q and %q: want distinct 43-character tokens", a, b)
	}
	if _, err := newToken(strings.NewReader("short")); err == nil {
		t.Error("a short random source must fail, not yield a weak token")
	}
}

func TestPurgeServiceFor(t *testing.T) {
	const gateway = "purge-operator-purge-gateway.purge-operator-system.svc.cluster.local"
	if s := purgeServiceFor(testCacheProxy(nil), gateway); s != nil {
		t.Fatalf("no spec.purgeGateway: got a Service %s", s.Name)
	}
	enabled := testCacheProxy(func(cp *cachev1alpha1.CacheProxy) {
		cp.Spec.PurgeGateway = &cachev1alpha1.PurgeGatewaySpec{Enabled: true}
	})
	if s := purgeServiceFor(enabled, ""); s != nil {
		t.Fatalf("no gateway host: got a Service %s", s.Name)
	}
	s := purgeServiceFor(enabled, gateway)
	if s == nil || s.Name != "edge-purge" || s.Namespace != "web" || s.Spec.Type != corev1.ServiceTypeExternalName || s.Spec.ExternalName != gateway {
		t.Fatalf("got %+v", s)
	}
	if !metav1.IsControlledBy(s, enabled) {
		t.Fatal("the Service is not owned by its CacheProxy")
	}
}
