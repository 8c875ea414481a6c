package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// kubectl runs the real kubectl binary against the cluster, feeding it
// stdin when not empty, and returns its standard output. A non-zero exit is
// an error carrying the standard error. The command and what it printed go
// to GinkgoWriter, shown when a spec fails.
func kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	args = append([]string{"--kubeconfig", cluster.KubeconfigPath()}, args...)
	cmd := exec.CommandContext(ctx, cluster.KubectlPath(), args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl %s\n%s%s", strings.Join(args[2:], " "), stdout.String(), stderr.String())
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args[2:], " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// mustKubectl is kubectl for commands that must succeed.
func mustKubectl(ctx context.Context, stdin string, args ...string) string {
	GinkgoHelper()
	out, err := kubectl(ctx, stdin, args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}
