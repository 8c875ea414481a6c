package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// restartTimeout bounds how long a restarted component may take to serve
// again.
const restartTimeout = time.Minute

// RestartKubelet stops the kubelet with SIGTERM, as `systemctl restart
// kubelet` does during a node upgrade, starts it again with the same
// configuration, and returns once the new kubelet serves (the API server
// reaches its /pods through the node proxy) and knows every pod the API
// server has bound to the node, so kubectl exec, logs and port-forward
// work again. Containers keep running: the new kubelet finds them in
// containerd and adopts them, with the same container IDs and restart
// counts. It runs every probe anew, so a pod may turn NotReady for a moment
// until its first readiness probe passes again.
func (c *Cluster) RestartKubelet(ctx context.Context) error {
	return c.restartComponent(ctx, "kubelet", func(ctx context.Context) (bool, error) {
		body, err := c.clientset.CoreV1().RESTClient().Get().
			Resource("nodes").Name(c.opts.NodeName).SubResource("proxy").Suffix("pods").
			Do(ctx).Raw()
		if err != nil {
			return false, nil // not serving yet
		}
		var known corev1.PodList
		if err := json.Unmarshal(body, &known); err != nil {
			return false, fmt.Errorf("reading the kubelet's pods: %w", err)
		}
		bound, err := c.clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + c.opts.NodeName})
		if err != nil {
			return false, nil
		}
		uids := map[types.UID]bool{}
		for _, p := range known.Items {
			uids[p.UID] = true
		}
		for _, p := range bound.Items {
			if !uids[p.UID] && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return false, nil
			}
		}
		return true, nil
	})
}

// RestartContainerd stops containerd with SIGTERM and starts it again with
// the same configuration, as a runtime upgrade does, and returns once it
// answers on its socket. Containers keep running under their shims, which
// are processes of their own; the new containerd reconnects to them from
// its state directory, and the kubelet's CRI connection to it reconnects
// by itself.
func (c *Cluster) RestartContainerd(ctx context.Context) error {
	return c.restartComponent(ctx, "containerd", func(ctx context.Context) (bool, error) {
		return exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "version").Run() == nil, nil
	})
}

// restartComponent stops the named component (SIGTERM, then SIGKILL after
// Options.StopGracePeriod), starts it again exactly as it was started, and
// waits until ready reports true. The lock is held from stop to start, so
// Stop never misses the new process.
func (c *Cluster) restartComponent(ctx context.Context, name string, ready func(context.Context) (bool, error)) error {
	if err := c.replaceComponent(name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	return c.poll(ctx, "restarted "+name+" to serve", []string{name}, ready)
}

func (c *Cluster) replaceComponent(name string) error {
	c.compMu.Lock()
	defer c.compMu.Unlock()
	if c.components == nil {
		return errors.New("cluster is stopping")
	}
	for _, comp := range c.components {
		if comp.name != name {
			continue
		}
		comp.proc.stop(c.opts.StopGracePeriod)
		p, err := c.spawner.start(comp.spec)
		if err != nil {
			return fmt.Errorf("restarting %s: %w", name, err)
		}
		comp.proc = p
		c.log.Info("Component restarted", "name", name, "pid", p.PID())
		return nil
	}
	return fmt.Errorf("no component %s runs", name)
}
