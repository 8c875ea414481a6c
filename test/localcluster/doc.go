// Package localcluster runs a small but real Kubernetes cluster on one
// machine without containers, so the demo and the end-to-end suite can run
// the whole product where no container engine (and so no kind) exists.
//
// What is real: etcd and kube-apiserver (started as envtest starts them),
// kube-controller-manager (so Deployments become ReplicaSets and Pods and
// owner references are garbage-collected), the CRDs, and every API object.
//
// What stands in for a node:
//
//   - A node agent plays the kubelet (and the scheduler, since there is one
//     node): it registers a Node, binds unscheduled pods to it through the
//     Binding subresource, and runs each container as a local process of the
//     binary that Options.Images maps the container's image to. It resolves
//     env (value, secretKeyRef, configMapKeyRef, fieldRef, envFrom) and
//     $(VAR) references in command and args as the kubelet does, runs
//     readiness, liveness and startup probes (httpGet, tcpSocket), restarts
//     containers with the kubelet's back-off, and on deletion sends SIGTERM,
//     waits the grace period, kills, and removes the pod object.
//   - Each pod gets its own loopback address (from a random 127.X.0.0/16
//     chosen per cluster) as its pod IP. Pods share the host's network
//     namespace, so a container must listen on its pod IP, usually from
//     `fieldRef: status.podIP` and `--listen=$(POD_IP):8080`: two pods
//     listening on ":8080" would collide, where in a real cluster they would
//     not. The operator does this when started with
//     --cacheproxy-listen-on-pod-ip.
//   - A service proxy plays kube-proxy: the API server allocates ClusterIPs
//     from another random loopback /16, and for each Service with a selector
//     the proxy listens on ClusterIP:port and spreads connections round-robin
//     over the ready pods, so `curl http://<clusterIP>:<port>/` works as it
//     would inside a cluster. The API server refuses loopback addresses in
//     EndpointSlices, so the endpointslice controller cannot publish these
//     pods; the proxy selects ready pods itself, by the same rules
//     (readiness, termination, named target ports, publishNotReadyAddresses).
//
// Programs that run next to the cluster rather than in it, such as the
// operator (bin/manager), start with Cluster.StartHostProcess: KUBECONFIG is
// set for them, their output goes to <StateDir>/logs/<name>.log, and they
// can be stopped, killed and started again (an operator restart).
//
// Everything Start starts, Stop stops: processes run in their own process
// group and receive SIGTERM, then SIGKILL after a grace period. Should the
// harness die without Stop (a test binary killed by its timeout), the
// processes it started itself (kube-controller-manager, pods, host
// processes) die with it through a parent-death signal, and a small reaper
// kills etcd and kube-apiserver, which envtest starts without one.
//
// Usage, in a test or a program:
//
//	cluster, err := localcluster.Start(ctx, localcluster.Options{
//		BinDir:            "bin/k8s",
//		Images:            map[string]string{"cacheproxy": "bin/cacheproxy"},
//		CRDDirectoryPaths: []string{"config/crd/bases"},
//	})
//	defer cluster.Stop()
//	// cluster.KubeconfigPath(), cluster.Client(), cluster.ServiceAddress(...),
//	// cluster.KillPod / PausePod / ResumePod, cluster.PodLogPath(...)
//
// test/cmd/localcluster runs the same from the command line.
//
// Not modelled: init containers, exec probes, lifecycle hooks, volumes,
// resource limits, service links (the Kubernetes service env variables),
// cluster DNS, NodePort and LoadBalancer services, UDP, and more than one
// node. A pod that needs an unsupported feature waits with a message saying
// so instead of running something else.
package localcluster
