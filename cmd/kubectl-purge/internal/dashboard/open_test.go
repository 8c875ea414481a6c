package dashboard_test

import (
	"context"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/cacheops/purge-operator/cmd/kubectl-purge/internal/cli"
)

var _ = Describe("kubectl purge dashboard without --no-browser", func() {
	It("opens the printed address with the system's opener (xdg-open)", func() {
		// An xdg-open of our own, first on PATH, writes down what it was
		// asked to open.
		bin := GinkgoT().TempDir()
		opened := filepath.Join(bin, "opened")
		Expect(os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\necho \"$@\" > "+opened+".tmp && mv "+opened+".tmp "+opened+"\n"), 0o755)).To(Succeed())
		GinkgoT().Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

		ns := newNamespace()
		out := gbytes.NewBuffer()
		ctx, cancel := context.WithCancel(context.Background())
		code := make(chan int, 1)
		go func() {
			defer GinkgoRecover()
			env := cli.Env{IOStreams: genericiooptions.IOStreams{In: gbytes.NewBuffer(), Out: out, ErrOut: GinkgoWriter}}
			code <- cli.Main(ctx, env, []string{"dashboard", "--kubeconfig", adminKubeconfig, "-n", ns})
		}()
		DeferCleanup(func() {
			cancel()
			Eventually(code).Should(Receive(Equal(cli.ExitOK)))
		})
		Eventually(out).Should(gbytes.Say(`Dashboard: http://\S+/\n`))
		url := dashboardLine.FindStringSubmatch(string(out.Contents()))[1]
		Eventually(func() (string, error) { b, err := os.ReadFile(opened); return string(b), err }).Should(Equal(url + "\n"))
	})
})
