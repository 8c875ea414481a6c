package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// Requests without a token are served only for CacheProxies whose
// spec.purgeGateway.allowUnauthenticatedFrom picks the pod they come from,
// found by the request's source address. Inside a cluster that address is
// the client pod's own IP: Services do not rewrite the source of traffic
// between pods.

// unauthenticatedAccess lets a request without a token in where the
// CacheProxy allows its source pod.
func (g *Gateway) unauthenticatedAccess(remoteAddr string) access {
	var (
		pod    *corev1.Pod
		looked bool
		lookup *problem
	)
	return func(ctx context.Context, cp *cachev1alpha1.CacheProxy) (*caller, *problem) {
		if cp.Spec.PurgeGateway == nil || cp.Spec.PurgeGateway.AllowUnauthenticatedFrom == nil {
			return nil, errNoToken
		}
		if !looked {
			looked = true
			pod, lookup = g.sourcePod(ctx, remoteAddr)
		}
		if lookup != nil {
			return nil, lookup
		}
		if pod == nil {
			return nil, errNoToken
		}
		ok, err := g.podAllowed(ctx, cp.Spec.PurgeGateway.AllowUnauthenticatedFrom, cp.Namespace, pod)
		if err != nil {
			return nil, internal(err)
		}
		if !ok {
			return nil, errNoToken
		}
		return &caller{user: "unauthenticated " + pod.Namespace + "/" + pod.Name, unauthenticated: true}, nil
	}
}

// sourcePod is the running pod whose IP the request came from, or nil.
// Pods on the host network share their node's address and are never it.
func (g *Gateway) sourcePod(ctx context.Context, remoteAddr string) (*corev1.Pod, *problem) {
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil || net.ParseIP(ip) == nil {
		return nil, nil
	}
	var pods corev1.PodList
	err = g.apiReader.List(ctx, &pods, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("status.podIP", ip)})
	if err != nil {
		return nil, internal(fmt.Errorf("looking up the pod of %s: %w", ip, err))
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if !p.Spec.HostNetwork && p.Status.Phase == corev1.PodRunning {
			return p, nil
		}
	}
	return nil, nil
}

// podAllowed applies a PurgeSourcePods as a NetworkPolicy peer: no
// namespaceSelector means the CacheProxy's namespace, no podSelector every
// pod of the picked namespaces.
func (g *Gateway) podAllowed(ctx context.Context, from *cachev1alpha1.PurgeSourcePods, namespace string, pod *corev1.Pod) (bool, error) {
	if from.NamespaceSelector == nil {
		if pod.Namespace != namespace {
			return false, nil
		}
	} else {
		var ns corev1.Namespace
		if err := g.apiReader.Get(ctx, client.ObjectKey{Name: pod.Namespace}, &ns); err != nil {
			return false, fmt.Errorf("reading namespace %s: %w", pod.Namespace, err)
		}
		ok, err := selects(from.NamespaceSelector, ns.Labels)
		if err != nil || !ok {
			return false, err
		}
	}
	if from.PodSelector == nil {
		return true, nil
	}
	return selects(from.PodSelector, pod.Labels)
}

func selects(sel *metav1.LabelSelector, l map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, fmt.Errorf("allowUnauthenticatedFrom: %w", err)
	}
	return s.Matches(labels.Set(l)), nil
}

// forbidden is the 403 of a caller without the right to create Purges.
func forbidden(who *caller, namespace string) *problem {
	return &problem{
		status: http.StatusForbidden,
		msg:    fmt.Sprintf("%s may not create purges in namespace %s", who.user, namespace),
		detail: fmt.Sprintf("grant it, for example: kubectl create rolebinding purgers -n %s --clusterrole=purge-operator-purge-editor-role --serviceaccount=NAMESPACE:NAME", namespace),
	}
}
