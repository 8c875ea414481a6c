package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Fastly's official JavaScript client (npm "fastly", pinned in
// testdata/fastly-js/package-lock.json and installed there by make test
// with npm ci when Node is available), driven by testdata/fastly-js/purge.js.
var _ = Describe("The Fastly JavaScript client", func() {
	It("purges a key softly, keys in bulk, everything and one URL through the gateway", func(ctx SpecContext) {
		dir := filepath.Join("testdata", "fastly-js")
		node, err := exec.LookPath("node")
		if err != nil {
			Skip("Node.js is not installed: the Fastly JavaScript client test needs node (and npm ci in " + dir + ", which make test runs)")
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "fastly")); err != nil {
			Skip("the Fastly JavaScript client is not installed: run make test, or npm ci in " + dir)
		}
		s := newSite(ctx, "www.example.com")
		cmd := exec.CommandContext(ctx, node, "purge.js")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GATEWAY_URL="+gwURL, "FASTLY_KEY="+s.token, "SERVICE_ID="+s.id())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred(), stderr.String())

		type call struct {
			Call   string
			Status int
			Body   json.RawMessage
		}
		calls := map[string]call{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var c call
			Expect(json.Unmarshal(sc.Bytes(), &c)).To(Succeed(), sc.Text())
			calls[c.Call] = c
		}
		Expect(calls).To(HaveLen(4), string(out))
		for _, c := range calls {
			Expect(c.Status).To(Equal(200), "%s: %s", c.Call, c.Body)
		}

		var one struct{ Status, ID string }
		Expect(json.Unmarshal(calls["purgeTag"].Body, &one)).To(Succeed())
		p := s.purge(ctx, one.ID)
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSoft))
		Expect(p.Spec.Tags).To(Equal([]string{"product-42"}))

		var bulk map[string]string
		Expect(json.Unmarshal(calls["bulkPurgeTag"].Body, &bulk)).To(Succeed())
		Expect(s.purge(ctx, bulk["a"]).Spec.Tags).To(Equal([]string{"a", "b"}))

		Expect(json.Unmarshal(calls["purgeAll"].Body, &one)).To(Succeed())
		p = s.purge(ctx, one.ID)
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeBan))
		Expect(p.Spec.URLs).To(Equal([]string{"https://www.example.com/"}))

		Expect(json.Unmarshal(calls["purgeSingleUrl"].Body, &one)).To(Succeed())
		p = s.purge(ctx, one.ID)
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSoft))
		Expect(p.Spec.URLs).To(Equal([]string{"https://www.example.com/products/7?page=2"}))
	})
})
