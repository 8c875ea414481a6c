package localcluster

import (
	"context"
	"fmt"
)

// PartitionPod cuts a pod off the network, as a failed link would:
// iptables rules in the node drop every packet to and from the pod's IP,
// so connections to it time out (nothing refuses them) while its
// processes keep running. The kubelet's probes are dropped too, so the pod
// soon turns NotReady. HealPod removes the rules.
func (c *Cluster) PartitionPod(namespace, name string) error {
	return c.partition(namespace, name, "-I")
}

// HealPod undoes PartitionPod.
func (c *Cluster) HealPod(namespace, name string) error {
	return c.partition(namespace, name, "-D")
}

func (c *Cluster) partition(namespace, name, op string) error {
	pod, err := c.getPod(namespace, name)
	if err != nil {
		return err
	}
	if pod.Status.PodIP == "" {
		return fmt.Errorf("pod %s/%s has no IP yet", namespace, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	// FORWARD sees what the host and other pods send through the node;
	// OUTPUT what the node itself (the kubelet's probes) sends.
	for _, rule := range [][]string{
		{"FORWARD", "-d", pod.Status.PodIP},
		{"FORWARD", "-s", pod.Status.PodIP},
		{"OUTPUT", "-d", pod.Status.PodIP},
	} {
		argv := append([]string{"iptables", "-w", op, rule[0]}, rule[1:]...)
		argv = append(argv, "-j", "DROP", "-m", "comment", "--comment", "localcluster partition "+namespace+"/"+name)
		if err := inNetns(ctx, c.slot.netns(), argv...); err != nil {
			return fmt.Errorf("partitioning pod %s/%s: %w", namespace, name, err)
		}
	}
	return nil
}
