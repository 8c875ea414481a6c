// Command localcluster runs the local single-node Kubernetes cluster of
// package test/localcluster until it receives SIGINT or SIGTERM, then stops
// everything it started. It is how people get a real single-node cluster on
// a Linux machine without Docker or a registry (as root: the node needs
// network namespaces and cgroups), and install the product on it as users
// do:
//
//	make images
//	go run ./test/cmd/localcluster --images-dir bin/images &
//	# with the KUBECONFIG it prints:
//	bin/k8s/kubectl apply --server-side -f dist/install.yaml
//
// --run starts programs next to the cluster instead, with its KUBECONFIG:
// --crd-dir config/crd/bases --run 'manager=bin/manager' runs the operator
// out of the cluster, as make run does.
//
// Once the cluster is ready it prints KUBECONFIG=<path> on stdout and
// writes <state-dir>/localcluster.env (export lines for KUBECONFIG and the
// address ranges), which a script can wait for and source. The file is
// removed when the cluster stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2/textlogger"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cacheops/purge-operator/test/localcluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		images  stringList
		hosts   = keyValues{}
		imgDir  string
		crdDirs stringList
		opts    localcluster.Options
		verbose int
	)
	defaultBin := os.Getenv("KUBEBUILDER_ASSETS")
	if defaultBin == "" {
		defaultBin = filepath.Join("bin", "k8s")
	}
	flag.StringVar(&opts.BinDir, "bin-dir", defaultBin, "directory of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet and kube-proxy (hack/setup-envtest.sh builds them)")
	flag.StringVar(&opts.StateDir, "state-dir", filepath.Join("test", ".state", "localcluster"), "directory for the kubeconfig and every log; one running cluster per directory")
	flag.StringVar(&imgDir, "images-dir", filepath.Join("bin", "images"), "import every image archive (*.tar) of this directory (make images builds them); empty: none")
	flag.Var(&images, "image", "image archive to import besides --images-dir's; repeatable")
	flag.Var(&crdDirs, "crd-dir", "directory or file of CRD manifests to install, e.g. config/crd/bases; repeatable")
	flag.Var(hosts, "run", "NAME=COMMAND: once the cluster is ready, run COMMAND (split on spaces, no shell) on the host with KUBECONFIG set, logging to <state-dir>/logs/NAME.log, stopped with the cluster; repeatable")
	flag.StringVar(&opts.NodeName, "node-name", "localnode", "name of the one Node")
	flag.DurationVar(&opts.StopGracePeriod, "stop-grace-period", 5*time.Second, "how long each process may take to exit after SIGTERM when the cluster stops")
	flag.IntVar(&verbose, "v", 0, "log verbosity")
	flag.Parse()

	log := textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(verbose), textlogger.Output(os.Stderr)))
	ctrllog.SetLogger(log)
	opts.Logger = log
	opts.CRDDirectoryPaths = crdDirs
	if imgDir != "" {
		archives, err := localcluster.ImagesIn(imgDir)
		if err != nil {
			return err
		}
		opts.ImageArchives = archives
	}
	opts.ImageArchives = append(opts.ImageArchives, images...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cluster, err := localcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			log.Error(err, "Stopping the cluster")
		}
	}()

	if err := startHostProcesses(cluster, hosts, log); err != nil {
		return err
	}
	envFile, err := writeEnvFile(cluster)
	if err != nil {
		return err
	}
	defer os.Remove(envFile)
	fmt.Printf("KUBECONFIG=%s\n", cluster.KubeconfigPath())
	log.Info("Cluster ready; stop with Ctrl-C or SIGTERM", "env", envFile, "state", cluster.StateDir())

	<-ctx.Done()
	log.Info("Stopping")
	return nil
}

// startHostProcesses starts each --run command next to the cluster.
func startHostProcesses(cluster *localcluster.Cluster, hosts keyValues, log logr.Logger) error {
	for _, name := range hosts.keys() {
		argv := strings.Fields(hosts[name])
		if len(argv) == 0 {
			return fmt.Errorf("--run %s= has no command", name)
		}
		path, err := filepath.Abs(argv[0])
		if err != nil {
			return err
		}
		h, err := cluster.StartHostProcess(name, path, argv[1:])
		if err != nil {
			return err
		}
		go func() {
			<-h.Done()
			log.Info("Host process exited", "name", name, "exitCode", h.ExitCode(), "log", h.LogPath())
		}()
	}
	return nil
}

// writeEnvFile writes the export lines a script sources to use the cluster.
func writeEnvFile(cluster *localcluster.Cluster) (string, error) {
	path := filepath.Join(cluster.StateDir(), "localcluster.env")
	content := fmt.Sprintf("export KUBECONFIG=%s\nexport LOCALCLUSTER_STATE_DIR=%s\nexport LOCALCLUSTER_SERVICE_CIDR=%s\nexport LOCALCLUSTER_POD_CIDR=%s\nexport LOCALCLUSTER_HOST_IP=%s\n",
		cluster.KubeconfigPath(), cluster.StateDir(), cluster.ServiceCIDR(), cluster.PodCIDR(), cluster.HostIP())
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	// Renamed into place so a script waiting for the file never reads half.
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// keyValues is a repeatable NAME=VALUE flag.
type keyValues map[string]string

func (kv keyValues) String() string {
	keys := kv.keys()
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+kv[k])
	}
	return strings.Join(parts, ",")
}

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want NAME=VALUE")
	}
	kv[k] = v
	return nil
}

func (kv keyValues) keys() []string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
