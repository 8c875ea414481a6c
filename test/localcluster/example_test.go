package localcluster_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cacheops/purge-operator/test/localcluster"
)

// How the demo and the end-to-end suite use the harness: start the cluster
// with the product's images and its CRDs, run the operator next to it,
// then reach a Service at its ClusterIP as a user inside the cluster would.
// (Not run: it needs root, bin/k8s and bin/images.)
func ExampleStart() {
	ctx := context.Background()
	images, err := localcluster.ImagesIn("bin/images")
	if err != nil {
		panic(err)
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:            "bin/k8s",
		StateDir:          "test/.state/e2e",
		ImageArchives:     images,
		CRDDirectoryPaths: []string{"config/crd/bases"},
	})
	if err != nil {
		panic(err)
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Println(err)
		}
	}()

	manager, err := cluster.StartHostProcess("manager", "bin/manager",
		[]string{"--health-probe-bind-address=0", "--metrics-bind-address=0", "--cacheproxy-listen-on-pod-ip"})
	if err != nil {
		panic(err)
	}
	defer manager.Stop()

	// ... apply a CacheProxy named "edge" in namespace "web", wait for it ...

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
