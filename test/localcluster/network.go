package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The node lives in its own network namespace, so kube-proxy's iptables
// rules, the CNI bridge, the pods' veths and ip_forward=1 never touch the
// host's network, cleanup is one `ip netns del`, and clusters side by side
// do not see each other. One veth pair joins it to the host:
//
//	host:  kube-apiserver on hostIP, routes to the pod and Service ranges via nodeIP
//	node:  containerd, kubelet, kube-proxy; default route via hostIP; the pods' bridge
//
// The host does not forward, so nothing in the node reaches beyond the host.

// netnsPath is where `ip netns add` pins a namespace.
func netnsPath(name string) string { return filepath.Join("/run/netns", name) }

// setUpNetwork creates slot s's namespace, link and routes.
func setUpNetwork(ctx context.Context, s slot) error {
	host, node := s.hostVeth(), s.nodeVeth()
	steps := [][]string{
		{"ip", "netns", "add", s.netns()},
		{"ip", "link", "add", host, "type", "veth", "peer", "name", node, "netns", s.netns()},
		{"ip", "addr", "add", s.hostIP().String() + "/30", "dev", host},
		{"ip", "link", "set", host, "up"},
		{"ip", "-n", s.netns(), "link", "set", "lo", "up"},
		{"ip", "-n", s.netns(), "addr", "add", s.nodeIP().String() + "/30", "dev", node},
		{"ip", "-n", s.netns(), "link", "set", node, "up"},
		{"ip", "-n", s.netns(), "route", "add", "default", "via", s.hostIP().String()},
		{"ip", "route", "add", s.podCIDR().String(), "via", s.nodeIP().String(), "dev", host},
		{"ip", "route", "add", s.serviceCIDR().String(), "via", s.nodeIP().String(), "dev", host},
	}
	for _, argv := range steps {
		if err := run(ctx, argv...); err != nil {
			return fmt.Errorf("setting up the node's network: %w", err)
		}
	}
	// The node routes between the host link and the pods' bridge.
	if err := inNetns(ctx, s.netns(), "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		return fmt.Errorf("setting up the node's network: %w", err)
	}
	return nil
}

// tearDownNetwork deletes slot s's namespace, which takes the bridge, the
// pods' veths and every iptables rule with it; the host's veth goes with
// its peer, and its routes with it. Whatever is already gone is fine.
func tearDownNetwork(ctx context.Context, s slot) error {
	var errs []error
	if _, err := os.Stat(netnsPath(s.netns())); err == nil {
		if err := run(ctx, "ip", "netns", "del", s.netns()); err != nil {
			errs = append(errs, err)
		}
	}
	// A half-made setup can leave the host end without its peer's namespace.
	if _, err := os.Stat(filepath.Join("/sys/class/net", s.hostVeth())); err == nil {
		// It may vanish meanwhile: the kernel deletes it with its peer.
		if err := run(ctx, "ip", "link", "del", s.hostVeth()); err != nil && exists(filepath.Join("/sys/class/net", s.hostVeth())) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inNetns runs a command inside namespace ns (network only: the mount
// namespace stays the host's, unlike `ip netns exec`).
func inNetns(ctx context.Context, ns string, argv ...string) error {
	return run(ctx, append([]string{"nsenter", "--net=" + netnsPath(ns), "--"}, argv...)...)
}

// run runs argv and returns its output in the error when it fails.
func run(ctx context.Context, argv ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
