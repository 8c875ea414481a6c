package localcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"

	"github.com/cacheops/purge-operator/test/localcluster"
)

// How the demo and the end-to-end suite use the harness: start the cluster
// with the images make images builds, install the product as a user does
// (kubectl apply of dist/install.yaml: the CRDs, RBAC and the manager's
// Deployment, whose image is among those imported), then reach a Service
// at its ClusterIP from the host. (Not run: it needs root, bin/k8s and
// bin/images.)
func ExampleStart() {
	ctx := context.Background()
	images, err := localcluster.ImagesIn("bin/images")
	if err != nil {
		panic(err)
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:        "bin/k8s",
		StateDir:      "test/.state/e2e",
		ImageArchives: images,
	})
	if err != nil {
		panic(err)
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Println(err)
		}
	}()

	install := exec.CommandContext(ctx, cluster.KubectlPath(), "--kubeconfig", cluster.KubeconfigPath(),
		"apply", "--server-side", "-f", "dist/install.yaml")
	if out, err := install.CombinedOutput(); err != nil {
		panic(fmt.Sprintf("installing the product: %v: %s", err, out))
	}

	// ... wait for the manager, apply a CacheProxy named "edge" in
	// namespace "web", wait for it ...

	addr, err := cluster.ServiceAddress("web", "edge", 8080)
	if err != nil {
		panic(err)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err == nil {
		fmt.Println(resp.Status)
		resp.Body.Close()
	}
}
