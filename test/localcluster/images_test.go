package localcluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestImageName(t *testing.T) {
	tests := map[string]string{
		"cacheproxy":                                "cacheproxy",
		"cacheproxy:latest":                         "cacheproxy",
		"ghcr.io/cacheops/cacheproxy:v0.1.0":        "cacheproxy",
		"localhost:5000/cacheproxy":                 "cacheproxy",
		"localhost:5000/team/cacheproxy:v1":         "cacheproxy",
		"cacheproxy@sha256:0123abcd":                "cacheproxy",
		"ghcr.io/cacheops/cacheproxy:v1@sha256:0ab": "cacheproxy",
		"docker.io/library/busybox":                 "busybox",
	}
	for in, want := range tests {
		if got := imageName(in); got != want {
			t.Errorf("imageName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveImage(t *testing.T) {
	images := map[string]string{"cacheproxy": "/repo/bin/cacheproxy", "manager": "/repo/bin/manager"}
	bin, err := resolveImage(images, "ghcr.io/cacheops/cacheproxy:v0.1.0")
	if err != nil || bin != "/repo/bin/cacheproxy" {
		t.Fatalf("resolveImage = %q, %v", bin, err)
	}
	_, err = resolveImage(images, "nginx:1.27")
	var imgErr *imageError
	if !errors.As(err, &imgErr) || imgErr.Reason != "ErrImagePull" {
		t.Fatalf("err = %v, want an ErrImagePull imageError", err)
	}
	for _, want := range []string{`"nginx:1.27"`, `"nginx"`, "cacheproxy, manager"} {
		if !strings.Contains(imgErr.Message, want) {
			t.Errorf("message %q does not mention %s", imgErr.Message, want)
		}
	}
}

func TestContainerArgv(t *testing.T) {
	const bin, image = "/repo/bin/cacheproxy", "ghcr.io/cacheops/cacheproxy:v1"
	tests := []struct {
		name          string
		command, args []string
		wantArgs      []string
		wantErr       bool
	}{
		{name: "entrypoint with args", args: []string{"--listen=x"}, wantArgs: []string{"--listen=x"}},
		{name: "command names the binary by path", command: []string{"/cacheproxy", "serve"}, args: []string{"-v"}, wantArgs: []string{"serve", "-v"}},
		{name: "command names the binary", command: []string{"cacheproxy"}, wantArgs: []string{}},
		{name: "other program", command: []string{"/bin/sh", "-c", "cacheproxy"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, args, err := containerArgv(bin, image, tt.command, tt.args)
			if tt.wantErr {
				var imgErr *imageError
				if !errors.As(err, &imgErr) || imgErr.Reason != "CreateContainerError" {
					t.Fatalf("err = %v, want CreateContainerError", err)
				}
				return
			}
			if err != nil || path != bin || !slices.Equal(args, tt.wantArgs) {
				t.Fatalf("containerArgv = %q %q %v, want %q %q", path, args, err, bin, tt.wantArgs)
			}
		})
	}
}
