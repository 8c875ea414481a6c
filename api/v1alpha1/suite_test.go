package v1alpha1_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cacheops/purge-operator/test/envtestenv"
)

// These tests install the generated CRDs into a real kube-apiserver and etcd
// (built by hack/setup-envtest.sh; `make test` sets KUBEBUILDER_ASSETS) and
// check what the API server accepts and refuses: the CRD schema and its CEL
// rules are the product's first line of validation.

var k8sClient client.Client

func TestAPIValidation(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "API validation suite")
}

var _ = BeforeSuite(func() {
	k8sClient = envtestenv.Start(envtestenv.Options{}).Client
})

func keyOf(namespace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: namespace, Name: name}
}
