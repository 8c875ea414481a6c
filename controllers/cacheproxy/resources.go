package cacheproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

// Names of what the CacheProxy controller creates beyond those of
// controllers/fleet, which the Purge controller shares.
const (
	// AnnotationConfigHash on the pod template changes whenever the pods'
	// configuration does, so they roll. The admin token is not part of
	// it: the pods read it from their mounted Secret, again whenever the
	// kubelet updates the file, so a new token needs no restart.
	AnnotationConfigHash = "cache.cacheops.io/config-hash"

	containerName = "cacheproxy"
	httpPortName  = "http"
	httpPort      = 8080
	tokenVolume   = "admin-token"
	tokenDir      = "/etc/cacheproxy/admin-token"
	// nonRootGroup is the group of the cacheproxy image's user; the pods
	// run with it as fsGroup so the token file (mode 0440) is theirs to
	// read whatever user an image of spec.image runs as.
	nonRootGroup    = 65532
	defaultCPU      = "100m"
	memoryOverhead  = "64Mi"
	terminationWait = 30
)

// childMeta is the metadata of a child of cp named name: in its namespace,
// labelled as part of its fleet, owned and controlled by it, so the
// garbage collector removes it with cp.
func childMeta(cp *cachev1alpha1.CacheProxy, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       cp.Namespace,
		Labels:          fleet.ObjectLabels(cp.Name),
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cp, cachev1alpha1.GroupVersion.WithKind("CacheProxy"))},
	}
}

// tokenSecretFor is the admin-token Secret a CacheProxy starts with. The
// operator creates it once and never changes it; users rotate the token by
// writing a new one into it (the pods and the Purge controller pick it up
// without a restart), or by deleting it (the operator makes a new one).
func tokenSecretFor(cp *cachev1alpha1.CacheProxy, token string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: childMeta(cp, fleet.TokenSecretName(cp.Name)),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{fleet.TokenKey: []byte(token)},
	}
}

// serviceFor is the Service clients use. It carries only the public port:
// the admin API is reached pod by pod, never through the Service.
func serviceFor(cp *cachev1alpha1.CacheProxy) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: childMeta(cp, cp.Name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: fleet.SelectorLabels(cp.Name),
			Ports: []corev1.ServicePort{{
				Name:       httpPortName,
				Protocol:   corev1.ProtocolTCP,
				Port:       httpPort,
				TargetPort: intstr.FromString(httpPortName),
			}},
		},
	}
}

// purgeServiceName is the name of the ExternalName Service that points a
// CacheProxy's content systems at the purge gateway.
func purgeServiceName(cacheProxy string) string { return cacheProxy + "-purge" }

// purgeServiceFor is the ExternalName Service <name>-purge pointing at the
// purge gateway's Service (gatewayHost, a DNS name), or nil when the
// CacheProxy does not ask for it. Content systems configure
// <name>-purge.<namespace>.svc:8090 as their Varnish server, and the
// gateway reads from the Host header which CacheProxy they mean.
func purgeServiceFor(cp *cachev1alpha1.CacheProxy, gatewayHost string) *corev1.Service {
	if cp.Spec.PurgeGateway == nil || !cp.Spec.PurgeGateway.Enabled || gatewayHost == "" {
		return nil
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: childMeta(cp, purgeServiceName(cp.Name)),
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: gatewayHost,
		},
	}
}

// deploymentFor is the Deployment running the fleet; defaultImage is the
// cacheproxy image of a CacheProxy that names none (the operator's
// --cacheproxy-image).
func deploymentFor(cp *cachev1alpha1.CacheProxy, defaultImage string) *appsv1.Deployment {
	image := defaultImage
	if cp.Spec.Image != "" {
		image = cp.Spec.Image
	}
	args := cacheProxyArgs(cp)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: childMeta(cp, cp.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(ptr.Deref(cp.Spec.Replicas, 1)),
			Selector: &metav1.LabelSelector{MatchLabels: fleet.SelectorLabels(cp.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      fleet.ObjectLabels(cp.Name),
					Annotations: map[string]string{AnnotationConfigHash: configHash(image, args)},
				},
				Spec: podSpecFor(cp, image, args),
			},
		},
	}
}

// podSpecFor is the fleet's pod: restricted, with no environment (the
// admin token is a mounted file, never an environment variable, which
// would leak into `kubectl describe` of the pod's spec and could not
// change).
func podSpecFor(cp *cachev1alpha1.CacheProxy, image string, args []string) corev1.PodSpec {
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString(fleet.AdminPortName), Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds:    period,
			TimeoutSeconds:   2,
			FailureThreshold: failures,
		}
	}
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](terminationWait),
		// The pods call no Kubernetes API: no token in their file system.
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			FSGroup:        ptr.To[int64](nonRootGroup),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Volumes: []corev1.Volume{{
			Name: tokenVolume,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName:  fleet.TokenSecretName(cp.Name),
				Items:       []corev1.KeyToPath{{Key: fleet.TokenKey, Path: fleet.TokenKey}},
				DefaultMode: ptr.To[int32](0o440),
			}},
		}},
		Containers: []corev1.Container{{
			Name:  containerName,
			Image: image,
			Args:  args,
			VolumeMounts: []corev1.VolumeMount{{
				Name: tokenVolume, MountPath: tokenDir, ReadOnly: true,
			}},
			Ports: []corev1.ContainerPort{
				{Name: httpPortName, ContainerPort: httpPort, Protocol: corev1.ProtocolTCP},
				{Name: fleet.AdminPortName, ContainerPort: admin.DefaultPort, Protocol: corev1.ProtocolTCP},
			},
			ReadinessProbe: probe(admin.ReadyzPath, 2, 2),
			LivenessProbe:  probe(admin.HealthzPath, 10, 3),
			Resources:      resourcesFor(cp),
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

// cacheProxyArgs renders the spec as cacheproxy flags. The proxy listens
// on every interface of its pod, so that kubectl port-forward and
// service-mesh sidecars, which connect to localhost, reach it.
func cacheProxyArgs(cp *cachev1alpha1.CacheProxy) []string {
	args := []string{
		"--origin=" + cp.Spec.Origin.URL,
		fmt.Sprintf("--listen=:%d", httpPort),
		fmt.Sprintf("--admin-listen=:%d", admin.DefaultPort),
		"--admin-token-file=" + tokenDir + "/" + fleet.TokenKey,
		"--cache-size=" + ptr.To(maxSize(cp)).String(),
	}
	if q := cp.Spec.Cache.MaxObjectSize; q != nil {
		args = append(args, "--max-object-size="+q.String())
	}
	if v := cp.Spec.Cache.InvalidateOnUnsafeMethods; v != nil && !*v {
		args = append(args, "--invalidate-on-unsafe-methods=false")
	}
	if t := cp.Spec.Origin.TimeoutSeconds; t > 0 {
		args = append(args, fmt.Sprintf("--origin-timeout=%ds", t))
	}
	hosts := append([]string(nil), cp.Spec.Hosts...)
	sort.Strings(hosts)
	for _, h := range hosts {
		args = append(args, "--host="+h)
	}
	return args
}

func maxSize(cp *cachev1alpha1.CacheProxy) resource.Quantity {
	if q := cp.Spec.Cache.MaxSize; q != nil {
		return *q
	}
	return resource.MustParse("256Mi")
}

// resourcesFor fills in the requests and the memory limit the user left
// unset: the scheduler should reserve the memory the cache will grow to,
// garbage collector's headroom included, and the kernel should hold a pod
// to it (cacheproxy's Go memory limit keeps it below, so reaching it means
// a leak, and one pod's leak must not take the node's memory). A memory
// request the user set below that does not lower the limit: it packs pods
// tighter, but a limit under what the cache grows to would have the
// kernel kill a pod that works as configured. No CPU limit: throttling a
// proxy adds latency to every request, and the CPU request already shares
// the node fairly under contention.
func resourcesFor(cp *cachev1alpha1.CacheProxy) corev1.ResourceRequirements {
	var r corev1.ResourceRequirements
	if cp.Spec.Resources != nil {
		r = *cp.Spec.Resources.DeepCopy()
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	if _, ok := r.Requests[corev1.ResourceCPU]; !ok {
		r.Requests[corev1.ResourceCPU] = resource.MustParse(defaultCPU)
	}
	// cacheproxy's Go memory limit is cache-size + 25% + 32Mi: the cache
	// needs that and a little more.
	size := maxSize(cp)
	need := *resource.NewQuantity(size.Value()+size.Value()/4, resource.BinarySI)
	need.Add(resource.MustParse(memoryOverhead))
	if _, ok := r.Requests[corev1.ResourceMemory]; !ok {
		r.Requests[corev1.ResourceMemory] = need
	}
	if r.Limits == nil {
		r.Limits = corev1.ResourceList{}
	}
	if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
		limit := need
		if req := r.Requests[corev1.ResourceMemory]; req.Cmp(need) > 0 {
			limit = req
		}
		r.Limits[corev1.ResourceMemory] = limit
	}
	return r
}

// configHash digests what configures a pod, so that a change shows on the
// template at a glance and rolls the fleet.
func configHash(image string, args []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "image=%s\nargs=%s\n", image, strings.Join(args, "\x00"))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
