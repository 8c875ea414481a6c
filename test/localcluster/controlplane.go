package localcluster

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// controlPlaneStartTimeout bounds etcd's and kube-apiserver's start each;
// envtest's 20s default is tight on a two-core machine that is also
// compiling.
const controlPlaneStartTimeout = time.Minute

// newControlPlane configures envtest to start etcd and kube-apiserver from
// binDir with their output in logDir. Services get ClusterIPs from
// serviceCIDR, a loopback range, so the service proxy can listen on them.
// The caller closes the returned log files after the control plane stops.
func newControlPlane(binDir, logDir string, serviceCIDR netip.Prefix, crdPaths []string) (*envtest.Environment, []*os.File, error) {
	etcdLog, err := openLog(filepath.Join(logDir, "etcd.log"))
	if err != nil {
		return nil, nil, err
	}
	apiLog, err := openLog(filepath.Join(logDir, "kube-apiserver.log"))
	if err != nil {
		etcdLog.Close()
		return nil, nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    binDir,
		CRDDirectoryPaths:        crdPaths,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: controlPlaneStartTimeout,
		ControlPlaneStopTimeout:  controlPlaneStartTimeout,
		// Explicit paths: envtest would otherwise prefer KUBEBUILDER_ASSETS
		// (and TEST_ASSET_*) to BinaryAssetsDirectory, so a relative or
		// different KUBEBUILDER_ASSETS would silently win over binDir.
		ControlPlane: envtest.ControlPlane{
			Etcd:      &envtest.Etcd{Path: filepath.Join(binDir, "etcd"), Out: etcdLog, Err: etcdLog},
			APIServer: &envtest.APIServer{Path: filepath.Join(binDir, "kube-apiserver"), Out: apiLog, Err: apiLog},
		},
	}
	env.ControlPlane.APIServer.Configure().Set("service-cluster-ip-range", serviceCIDR.String())
	return env, []*os.File{etcdLog, apiLog}, nil
}

// writeKubeconfig writes the control plane's admin kubeconfig (a user in
// system:masters) where kubectl and bin/manager can read it.
func writeKubeconfig(env *envtest.Environment, path string) error {
	if err := os.WriteFile(path, env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log %s: %w", path, err)
	}
	return f, nil
}
