// Package localcluster runs a real single-node Kubernetes cluster on one
// Linux machine, without Docker, kind or a registry, so the demo, the
// end-to-end suite and the benchmarks run the whole product on real pods.
//
// What runs, every part the real one:
//
//   - etcd, kube-apiserver (Node and RBAC authorization, ServiceAccount
//     and NodeRestriction admission), kube-controller-manager
//     (DefaultControllers) and kube-scheduler, all built from Kubernetes'
//     Go modules by hack/setup-envtest.sh;
//   - a node: the kubelet, containerd and runc (Debian's packages, which
//     hack/setup-node.sh installs) with the CNI bridge plugin, and
//     kube-proxy in iptables mode;
//   - images imported from OCI archives (Options.ImageArchives; make images
//     builds the project's, the pause image from Kubernetes' own pause.c).
//   - cluster DNS: CoreDNS, built from its Go module (hack/tools/coredns)
//     into an image by make images, run as the Deployment coredns and the
//     Service kube-dns in kube-system at the slot's DNS service IP, the
//     kubelet's clusterDNS; Start waits for it when ImageArchives hold its
//     image (dns.go).
//
// The node lives in a network namespace of its own: its bridge, the pods'
// veths, kube-proxy's iptables rules and ip_forward=1 never touch the
// host's network. One veth pair joins it to the host, which routes the pod
// and Service ranges to it, so tests on the host reach pod IPs and
// ClusterIPs directly; the API server listens on the host's end of that
// link, which is also where pods reach servers on the host (HostIP: a
// test's origin listens there, not on 127.0.0.1). The host does not
// forward, so nothing in the node reaches beyond the machine.
//
// Several clusters run side by side: each takes a slot of the machine
// (/run/localcluster) that names its namespace, interfaces, address ranges
// (pods 10.200.N.0/24, Services 10.202.N.0/24, the link 10.201.N.0/30) and
// cgroup (/localclusterN), so pods of different clusters may use the same
// names and ports.
//
// Everything Start starts, Stop stops, and then it removes the containers
// (by the slot's cgroup), the shims, the mounts under the state directory,
// the cgroups and the network namespace, with its routes and iptables
// rules. Should the harness die without Stop (a test binary killed by its
// timeout), its own processes die with it through a parent-death signal;
// what containerd made to outlive it (shims, containers, mounts, the
// namespace) is removed by the next Start on the machine, which finds the
// slot's lock free. The kubelet sets a few host-wide sysctls and creates
// a few directories at paths it hardcodes; the first cluster records how
// the machine was and the last one to stop puts it back.
//
// Usage, in a test or a program (as root):
//
//	images, _ := localcluster.ImagesIn("bin/images")
//	cluster, err := localcluster.Start(ctx, localcluster.Options{
//		BinDir:            "bin/k8s",
//		ImageArchives:     images,
//		CRDDirectoryPaths: []string{"config/crd/bases"},
//	})
//	defer cluster.Stop()
//	// cluster.KubeconfigPath(), cluster.Client(), cluster.ServiceAddress(...),
//	// cluster.KillPod / PausePod / ResumePod / PartitionPod / HealPod,
//	// cluster.RestartKubelet / RestartContainerd(ctx) (a node upgrade's
//	// restarts), cluster.ContainerMemory(...) (the kernel's memory
//	// cgroup: limit, peak, OOM kills), cluster.PodLogPath(...)
//
// Programs that run next to the cluster rather than in it start with
// Cluster.StartHostProcess: KUBECONFIG is set for them, their output goes to
// <StateDir>/logs/<name>.log, and they can be stopped, killed and started
// again.
//
// test/cmd/localcluster runs the same from the command line.
//
// Where this machine and Kubernetes disagree, and the way forward:
//
//   - The build machines have cgroup v1 (hybrid). Kubelet 1.37 refuses v1
//     unless failCgroupV1 is false, and says support will be removed; a
//     later Kubernetes needs a cgroup v2 host.
//   - Debian 12's containerd is 1.6, which lacks the CRI RuntimeConfig call;
//     kubelet 1.37 falls back to its own cgroupDriver and counts the use
//     (CRILosingSupport, removal in 1.38). Moving K8S_VERSION past 1.37
//     needs containerd 2 (built from its Go module, or a newer Debian).
//   - The node needs Linux and root (network namespaces, cgroups,
//     mounts): Start refuses to run otherwise. make demo, test, test-e2e
//     and bench run their programs through hack/as-root.sh, which uses
//     sudo when make is not run as root.
package localcluster
