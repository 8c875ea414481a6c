package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	fleetnames "github.com/cacheops/purge-operator/controllers/fleet"
)

var _ = Describe("A cache pod", func() {
	It("runs restricted: not root, read-only root file system, no capabilities, seccomp, a memory limit", func(ctx SpecContext) {
		f := newFleet(ctx, "restricted", 1)
		pod := f.pods[0]
		procs, err := cluster.PodProcesses(f.ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		pid := procs["cacheproxy"]
		status := procStatus(pid)
		Expect(status).To(HaveKeyWithValue("Uid", HavePrefix("65532\t")))
		Expect(status).To(HaveKeyWithValue("Groups", ContainSubstring("65532")), "the fsGroup that may read the token file")
		Expect(status).To(HaveKeyWithValue("CapEff", "0000000000000000"))
		Expect(status).To(HaveKeyWithValue("CapPrm", "0000000000000000"))
		Expect(status).To(HaveKeyWithValue("Seccomp", "2"))
		Expect(status).To(HaveKeyWithValue("NoNewPrivs", "1"))
		Expect(rootMountOptions(pid)).To(ContainElement("ro"), "read-only root file system")
		limits := pod.Spec.Containers[0].Resources.Limits
		Expect(limits).To(HaveKey(corev1.ResourceMemory))
		Expect(pod.Status.QOSClass).To(Equal(corev1.PodQOSBurstable))
		Expect(pod.Spec.Containers[0].Env).To(BeEmpty(), "no token in the environment")
	})

	It("takes a rotated admin token without a restart: the old token is refused, a Purge completes with the new one", func(ctx SpecContext) {
		f := newFleet(ctx, "rotate", 2)
		const path = "/products/21"
		before := warm(ctx, f.pods, path)
		var secret corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: fleetnames.TokenSecretName("edge")}, &secret)).To(Succeed())
		old := string(secret.Data[fleetnames.TokenKey])
		for _, p := range f.pods {
			Expect(adminStatus(ctx, p, old)).To(Equal(http.StatusOK), p.Name)
		}

		b := make([]byte, 24)
		_, _ = rand.Read(b)
		rotated := hex.EncodeToString(b)
		f.mustKubectl(ctx, "", "patch", "secret", fleetnames.TokenSecretName("edge"), "--type=merge",
			"-p", fmt.Sprintf(`{"stringData":{%q:%q}}`, fleetnames.TokenKey, rotated))
		// The kubelet rewrites the mounted file on its next sync of each
		// pod (syncFrequency); the proxy reads it again at the next call.
		for _, p := range f.pods {
			Eventually(func() int { return adminStatus(ctx, p, rotated) }).WithContext(ctx).
				Should(Equal(http.StatusOK), "%s took the new token", p.Name)
			Expect(adminStatus(ctx, p, old)).To(Equal(http.StatusUnauthorized), "%s refuses the old token", p.Name)
		}

		f.apply(ctx, purgeFile("after-rotation", []string{path}))
		expectAllSucceeded(f.waitPurge(ctx, "after-rotation", cachev1alpha1.PurgeConditionComplete), f.pods)
		for _, pod := range f.pods {
			expectMiss(ctx, pod, path, before)
		}
		// The same pods, never restarted.
		Expect(names(f.livePods(ctx, Default))).To(Equal(names(f.pods)))
		for _, p := range f.pods {
			Expect(restartCount(f.pod(ctx, Default, p.Name))).To(BeZero(), p.Name)
		}
	})
})

// adminStatus is the status of GET /v1/stats on a pod's admin port with
// token.
func adminStatus(ctx context.Context, p corev1.Pod, token string) int {
	GinkgoHelper()
	url := "http://" + net.JoinHostPort(p.Status.PodIP, fmt.Sprint(admin.DefaultPort)) + admin.StatsPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// rootMountOptions are the mount options of a process's root file system,
// from /proc/<pid>/mountinfo.
func rootMountOptions(pid int) []string {
	GinkgoHelper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			return strings.Split(f[5], ",")
		}
	}
	Fail("no root mount in /proc/" + fmt.Sprint(pid) + "/mountinfo")
	return nil
}
