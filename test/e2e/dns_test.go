package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// webOrigin is the sample's origin, web.web.svc:8080: the demo origin's
// image as a Deployment behind a Service, as a user's site would be.
const webOrigin = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: ghcr.io/cacheops/demo-origin:v0.1.0
        imagePullPolicy: Never
        args: ["--listen=:8080"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}]
`

var _ = Describe("Cluster DNS", func() {
	It("resolves the sample's origin http://web.web.svc:8080 inside the cache pods: the sample CacheProxy works unchanged", func(ctx SpecContext) {
		mustKubectl(ctx, "", "wait", "--for=condition=Available", "deployment/coredns", "-n", "kube-system", "--timeout=2m")
		mustKubectl(ctx, "", "create", "namespace", "web")
		createdNamespaces = append(createdNamespaces, "web")
		DeferCleanup(func(ctx SpecContext) {
			mustKubectl(ctx, "", "delete", "namespace", "web", "--wait=false", "--ignore-not-found")
		}, NodeTimeout(time.Minute))
		mustKubectl(ctx, webOrigin, "apply", "-n", "web", "-f", "-")
		mustKubectl(ctx, "", "wait", "--for=condition=Available", "deployment/web", "-n", "web", "--timeout=2m")

		sample, err := os.ReadFile(filepath.Join(paths.root, "config", "samples", "cache_v1alpha1_cacheproxy.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(sample)).To(ContainSubstring("url: http://web.web.svc:8080"))
		mustKubectl(ctx, string(sample), "apply", "-n", "web", "-f", "-")
		f := &fleet{ns: "web"}
		pods := f.waitReady(ctx, 3)
		for _, p := range pods {
			// The first request is a miss: the pod looked web.web.svc up
			// through CoreDNS and fetched from the origin's pod.
			r := mustGet(ctx, podAddr(p), "/products/1")
			Expect(r.Status).To(Equal(http.StatusOK), p.Name)
			Expect(r.Body).To(ContainSubstring("version"), p.Name)
			Expect(r.CacheStatus).To(ContainSubstring(csMiss), p.Name)
		}
		mustKubectl(ctx, "", "get", "pods", "-A", "-o", "wide")
	})
})
