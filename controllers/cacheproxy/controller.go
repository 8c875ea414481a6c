package cacheproxy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

// +kubebuilder:rbac:groups=cache.cacheops.io,resources=cacheproxies,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.cacheops.io,resources=cacheproxies/status,verbs=get;patch
// +kubebuilder:rbac:groups=cache.cacheops.io,resources=cacheproxies/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch;delete
// Secrets: read one by name and create; never list, watch or update.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create

// Reconciler keeps each CacheProxy's Deployment, Service and
// admin-token Secret in shape and reports the fleet's state.
type Reconciler struct {
	client.Client
	// APIReader reads Secrets straight from the API server: the manager
	// may get them by name but not list or watch them, so they are not
	// cached.
	APIReader client.Reader
	// DefaultImage is the cacheproxy image of CacheProxies that name none.
	DefaultImage string
	// Rand is the source of new admin tokens. Nil means crypto/rand.
	Rand io.Reader
	// GatewayHost is the DNS name of the purge gateway's Service, which
	// the <name>-purge Service of a CacheProxy with
	// spec.purgeGateway.enabled points at. Empty: no such Service is made.
	GatewayHost string
}

// Reconcile makes the fleet of one CacheProxy match its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cp cachev1alpha1.CacheProxy
	if err := r.Get(ctx, req.NamespacedName, &cp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cp.DeletionTimestamp.IsZero() {
		// Owner references let the garbage collector remove the children.
		return ctrl.Result{}, nil
	}

	if err := r.ensureTokenSecret(ctx, &cp); err != nil {
		return ctrl.Result{}, err
	}
	if err := apply(ctx, r.Client, serviceFor(&cp)); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensurePurgeService(ctx, &cp); err != nil {
		return ctrl.Result{}, err
	}
	deploy := deploymentFor(&cp, r.DefaultImage)
	if err := apply(ctx, r.Client, deploy); err != nil {
		return ctrl.Result{}, err
	}

	return ctrl.Result{}, r.patchStatus(ctx, &cp, cacheProxyStatusFor(&cp, deploy))
}

// ensureTokenSecret creates the admin-token Secret if it is missing. An
// existing token is never replaced: running pods and in-flight Purges use
// it (users rotate it; see tokenSecretFor).
func (r *Reconciler) ensureTokenSecret(ctx context.Context, cp *cachev1alpha1.CacheProxy) error {
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: cp.Namespace, Name: fleet.TokenSecretName(cp.Name)}
	err := r.APIReader.Get(ctx, key, &secret)
	switch {
	case err == nil:
		token := secret.Data[fleet.TokenKey]
		if len(token) == 0 {
			return fmt.Errorf("secret %s has no %q key: delete it and the operator creates a new token", klog.KObj(&secret), fleet.TokenKey)
		}
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading admin token secret %s: %w", key, err)
	}

	token, err := newToken(r.Rand)
	if err != nil {
		return err
	}
	s := tokenSecretFor(cp, token)
	if err := r.Create(ctx, s); err != nil {
		// AlreadyExists: another pass created it; the next pass reads it.
		return fmt.Errorf("creating admin token secret %s: %w", klog.KObj(s), err)
	}
	return nil
}

// ensurePurgeService applies the <name>-purge Service when the CacheProxy
// asks for it and deletes the one the operator made when it no longer does.
func (r *Reconciler) ensurePurgeService(ctx context.Context, cp *cachev1alpha1.CacheProxy) error {
	if desired := purgeServiceFor(cp, r.GatewayHost); desired != nil {
		return apply(ctx, r.Client, desired)
	}
	var svc corev1.Service
	err := r.Get(ctx, client.ObjectKey{Namespace: cp.Namespace, Name: purgeServiceName(cp.Name)}, &svc)
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(&svc, cp) {
		return nil
	}
	if err := r.Delete(ctx, &svc); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting Service %s: %w", klog.KObj(&svc), err)
	}
	return nil
}

// newToken returns 32 random bytes, URL-safe base64 encoded.
func newToken(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("generating admin token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// patchStatus writes status if it changed.
func (r *Reconciler) patchStatus(ctx context.Context, cp *cachev1alpha1.CacheProxy, status cachev1alpha1.CacheProxyStatus) error {
	if equality.Semantic.DeepEqual(cp.Status, status) {
		return nil
	}
	patch := client.MergeFrom(cp.DeepCopy())
	cp.Status = status
	if err := r.Status().Patch(ctx, cp, patch); err != nil {
		return fmt.Errorf("patching status of %s: %w", klog.KObj(cp), err)
	}
	return nil
}

// SetupWithManager registers the controller: it runs on changes of a
// CacheProxy and of the Deployment and Service it owns.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&cachev1alpha1.CacheProxy{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Named("cacheproxy").
		Complete(r)
}
