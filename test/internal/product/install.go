package product

import (
	"context"
	"fmt"
)

// CRDs are the CustomResourceDefinitions InstallManifest installs.
var CRDs = []string{"cacheproxies.cache.cacheops.io", "purges.cache.cacheops.io", "purgetriggers.cache.cacheops.io"}

// Kubectl runs kubectl against the cluster with args and stdin (none if
// empty), and returns its standard output.
type Kubectl func(ctx context.Context, stdin string, args ...string) (string, error)

// Install installs the product as the README tells users: manifest (from
// Manifest) with `kubectl apply --server-side`; then it waits until the
// CRDs are established and the manager is Available (WaitAvailable).
func Install(ctx context.Context, kubectl Kubectl, manifest string) error {
	if _, err := kubectl(ctx, manifest, "apply", "--server-side", "-f", "-"); err != nil {
		return fmt.Errorf("applying %s: %w", InstallManifest, err)
	}
	args := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, crd := range CRDs {
		args = append(args, "crd/"+crd)
	}
	if _, err := kubectl(ctx, "", args...); err != nil {
		return fmt.Errorf("the product's CRDs: %w", err)
	}
	return WaitAvailable(ctx, kubectl, Namespace)
}

// WaitAvailable waits until the manager's Deployment in namespace (Namespace
// but for a Helm release elsewhere) is rolled out and Available (its
// readiness probe passed), two minutes at most.
func WaitAvailable(ctx context.Context, kubectl Kubectl, namespace string) error {
	deployment := "deployment/" + Deployment
	if _, err := kubectl(ctx, "", "rollout", "status", deployment, "-n", namespace, "--timeout=2m"); err != nil {
		return fmt.Errorf("the manager's rollout: %w", err)
	}
	if _, err := kubectl(ctx, "", "wait", "--for=condition=Available", deployment, "-n", namespace, "--timeout=2m"); err != nil {
		return fmt.Errorf("the manager's Deployment: %w", err)
	}
	return nil
}
