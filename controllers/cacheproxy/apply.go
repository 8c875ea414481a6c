package cacheproxy

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the server-side-apply field manager of everything the
// operator writes.
const FieldOwner = client.FieldOwner("purge-operator")

// apply server-side-applies the desired state of a child object and leaves
// the live object, status included, in desired. The API server merges the
// fields, so the controller never branches on create or update, and fields
// other managers own are left alone.
func apply(ctx context.Context, c client.Client, desired client.Object) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return fmt.Errorf("converting %T for apply: %w", desired, err)
	}
	obj := &unstructured.Unstructured{Object: u}
	// A typed object always carries these; applying them would claim fields
	// the operator does not mean to own.
	delete(obj.Object, "status")
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(obj.Object, "spec", "template", "metadata", "creationTimestamp")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), FieldOwner, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", obj.GetKind(), desired.GetNamespace(), desired.GetName(), err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, desired); err != nil {
		return fmt.Errorf("decoding applied %s %s/%s: %w", obj.GetKind(), desired.GetNamespace(), desired.GetName(), err)
	}
	return nil
}
