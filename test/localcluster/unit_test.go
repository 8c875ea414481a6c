package localcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSlotsDoNotOverlap(t *testing.T) {
	seen := map[string]int{}
	for n := 1; n <= maxSlots; n++ {
		s := slot{n: n}
		for _, name := range []string{s.netns(), s.hostVeth(), s.nodeVeth(), s.cgroupRoot(), s.dir(),
			s.podCIDR().String(), s.serviceCIDR().String(), s.hostIP().String(), s.nodeIP().String()} {
			if prev, ok := seen[name]; ok {
				t.Fatalf("slot %d and slot %d both use %s", prev, n, name)
			}
			seen[name] = n
		}
		if len(s.hostVeth()) > 15 {
			t.Errorf("interface name %s is longer than the kernel's 15 bytes", s.hostVeth())
		}
		if !s.serviceCIDR().Contains(s.kubernetesServiceIP()) || !s.serviceCIDR().Contains(s.dnsServiceIP()) {
			t.Errorf("slot %d: service IPs outside %s", n, s.serviceCIDR())
		}
		if s.podCIDR().Overlaps(s.serviceCIDR()) || s.podCIDR().Contains(s.hostIP()) {
			t.Errorf("slot %d: ranges overlap", n)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a\040b`:  "/tmp/a b",
		`/plain/path`:  "/plain/path",
		`/tab\011here`: "/tab\there",
		`/trailing\`:   `/trailing\`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOptionsNeedImagesAndBinaries(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"} {
		if err := os.WriteFile(filepath.Join(bin, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no binaries", Options{BinDir: t.TempDir(), ImageArchives: []string{"x.tar"}}, "kubernetes binary etcd missing"},
		{"no images", Options{BinDir: bin}, "no image archives"},
		{"missing archive", Options{BinDir: bin, ImageArchives: []string{filepath.Join(bin, "nope.tar")}}, "nope.tar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBEBUILDER_ASSETS", "")
			_, err := tc.opts.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := ImagesIn(t.TempDir()); err == nil || !strings.Contains(err.Error(), "make images") {
		t.Errorf("ImagesIn of an empty directory: %v", err)
	}
}
