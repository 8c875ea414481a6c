package product

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names of what dist/install.yaml installs (config/default's namespace and
// name prefix).
const (
	// Namespace holds the manager and its Services.
	Namespace = "purge-operator-system"
	// Deployment is the manager's Deployment; its one container is
	// Container.
	Deployment = "purge-operator-controller-manager"
	Container  = "manager"
	// Lease is the leader-election Lease (cmd/manager's LeaderElectionID).
	Lease = "purge-operator.cache.cacheops.io"
	// GatewayService is the purge gateway's Service, on GatewayPort.
	GatewayService = "purge-operator-purge-gateway"
	GatewayPort    = 8090
	// MetricsPort is the manager's HTTPS metrics port; a token needs
	// MetricsReaderRole to read them.
	MetricsPort       = 8443
	MetricsReaderRole = "purge-operator-metrics-reader"
	// InstallManifest is the install manifest, relative to the repository.
	InstallManifest = "dist/install.yaml"
)

// Labels select the manager's pods (config/manager's labels).
var Labels = map[string]string{"control-plane": "controller-manager", "app.kubernetes.io/name": "purge-operator"}

// argsAnchor is the manager's first argument in InstallManifest, after
// which Manifest adds arguments.
const argsAnchor = "\n        - --leader-elect\n"

// Manifest is InstallManifest of the repository at root, with args added
// to the manager's own (each a whole "--flag=value").
func Manifest(root string, args ...string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, InstallManifest))
	if err != nil {
		return "", fmt.Errorf("reading the install manifest: %w", err)
	}
	text := string(b)
	if len(args) == 0 {
		return text, nil
	}
	if n := strings.Count(text, argsAnchor); n != 1 {
		return "", fmt.Errorf("%s: the manager's arguments no longer start with --leader-elect (%d found): update test/internal/product", InstallManifest, n)
	}
	var added strings.Builder
	for _, a := range args {
		added.WriteString("        - " + a + "\n")
	}
	return strings.Replace(text, argsAnchor, argsAnchor+added.String(), 1), nil
}
