package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cacheops/purge-operator/test/internal/procs"
	"github.com/cacheops/purge-operator/test/internal/repo"
)

// suitePaths are the files the suite runs.
type suitePaths struct {
	root       string // the repository root, where go.mod is
	k8sBin     string // etcd, kube-apiserver, kube-controller-manager, kubectl
	manager    string
	cacheproxy string
	binDir     string   // also kubectl-purge and its completion link
	helm       string   // bin/helm (make helm), for dist/chart
	images     []string // the image archives of make images, in <binDir>/images
	demoOrigin string   // the demo origin's image archive, one of images
}

// resolvePaths finds the binaries from KUBEBUILDER_ASSETS and BIN_DIR
// (relative paths are taken from the repository root, since go test runs
// in the package directory), defaulting to bin/k8s and bin, and says how
// to build whatever is missing.
func resolvePaths() (suitePaths, error) {
	root, err := repoRoot()
	if err != nil {
		return suitePaths{}, err
	}
	dir := func(env, def string) string {
		d := os.Getenv(env)
		if d == "" {
			d = def
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		return d
	}
	k8sBin := dir("KUBEBUILDER_ASSETS", filepath.Join("bin", "k8s"))
	binDir := dir("BIN_DIR", "bin")
	p := suitePaths{
		root:       root,
		k8sBin:     k8sBin,
		manager:    filepath.Join(binDir, "manager"),
		cacheproxy: filepath.Join(binDir, "cacheproxy"),
		binDir:     binDir,
		helm:       filepath.Join(binDir, "helm"),
	}
	var missing []string
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kube-proxy"} {
		if !executable(filepath.Join(k8sBin, name)) {
			missing = append(missing, filepath.Join(k8sBin, name)+" (make envtest)")
		}
	}
	for _, f := range []string{p.manager, p.cacheproxy, filepath.Join(binDir, "kubectl-purge"), filepath.Join(binDir, "kubectl_complete-purge")} {
		if !executable(f) {
			missing = append(missing, f+" (make build)")
		}
	}
	if !executable(p.helm) {
		missing = append(missing, p.helm+" (make helm)")
	}
	p.demoOrigin = filepath.Join(binDir, "images", "demo-origin.tar")
	for _, name := range []string{"pause", "cacheproxy", "manager", "coredns", "demo-origin"} {
		archive := filepath.Join(binDir, "images", name+".tar")
		if _, err := os.Stat(archive); err != nil {
			missing = append(missing, archive+" (make images)")
		}
		p.images = append(p.images, archive)
	}
	if len(missing) > 0 {
		return p, fmt.Errorf("the end-to-end suite needs binaries that are missing: %s; run `make test-e2e` or `make test`, which build them first (KUBEBUILDER_ASSETS and BIN_DIR say where they are)",
			strings.Join(missing, ", "))
	}
	return p, nil
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// repoRoot is the repository's root directory.
func repoRoot() (string, error) {
	dir, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("%w: run the suite from inside the repository", err)
	}
	return dir, nil
}

// newStateDir makes a directory of its own for this run under test/.state
// (git-ignored), so two runs on one machine never share one.
func newStateDir(root string) (string, error) {
	base := filepath.Join(root, "test", ".state")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", base, err)
	}
	dir, err := os.MkdirTemp(base, "e2e-")
	if err != nil {
		return "", fmt.Errorf("creating the state directory: %w", err)
	}
	return dir, nil
}

// leftoverProcesses lists live processes that are children of this test
// binary (every process the cluster starts is one: etcd, kube-apiserver,
// kube-controller-manager, pods, the operator) or that mention the state
// directory.
func leftoverProcesses(stateDir string) []string {
	return procs.Strings(procs.Of(os.Getpid(), stateDir))
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool { return procs.Alive(pid) }
