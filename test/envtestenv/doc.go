// Package envtestenv starts what every envtest suite of the repository
// starts the same way: a real kube-apiserver and etcd (envtest, from
// KUBEBUILDER_ASSETS, which `make test` sets) with the CRDs of
// config/crd/bases installed, a logger that writes to GinkgoWriter, and a
// client; and it stops them when the suite ends. A suite keeps in its own
// suite_test.go what is its own: the manager and the controllers it runs,
// its users, its timeouts.
//
//	var env *envtestenv.Env
//
//	var _ = BeforeSuite(func() {
//		env = envtestenv.Start(envtestenv.Options{})
//		stopManager = envtestenv.StartManager(newManager(env.Config))
//	})
//
//	var _ = AfterSuite(func() { stopManager() })   // before the API server stops
package envtestenv
