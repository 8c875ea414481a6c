package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The kubelet changes a few things that belong to the whole machine, not
// to the node's namespaces: sysctls it sets at start (its
// protectKernelDefaults=false mode), and directories at paths it hardcodes
// whatever its configuration says (/var/lib/kubelet/device-plugins,
// /var/log/containers; containerd 1.6 its shim sockets under
// /run/containerd). The first cluster of the machine records how they were;
// the last one to stop (or the next Start after a harness died) puts them
// back, so a machine looks after the last cluster as before the first.

// hostSettingsFile records the machine as it was before the first cluster.
var hostSettingsFile = filepath.Join(runDir, "host-settings.json")

// kubeletSysctls are the sysctls kubelet 1.37 sets on start.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// kubeletHostDirs are the paths created outside the state directory.
var kubeletHostDirs = []string{"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/run/containerd", "/usr/libexec/kubernetes"}

type hostSettings struct {
	Sysctls map[string]string `json:"sysctls"`
	// Absent lists the directories that did not exist.
	Absent []string `json:"absent"`
}

// recordHostSettings saves the machine's settings unless a record exists
// (a cluster runs, or one died before restoring). Call it with the machine
// lock held.
func recordHostSettings() error {
	if exists(hostSettingsFile) {
		return nil
	}
	hs := hostSettings{Sysctls: map[string]string{}}
	for _, s := range kubeletSysctls {
		v, err := os.ReadFile(filepath.Join("/proc/sys", s))
		if err != nil {
			continue // not on this kernel
		}
		hs.Sysctls[s] = strings.TrimSpace(string(v))
	}
	for _, d := range kubeletHostDirs {
		if !exists(d) {
			hs.Absent = append(hs.Absent, d)
		}
	}
	data, err := json.Marshal(hs)
	if err != nil {
		return fmt.Errorf("encoding host settings: %w", err)
	}
	if err := os.WriteFile(hostSettingsFile, data, 0o644); err != nil {
		return fmt.Errorf("recording host settings: %w", err)
	}
	return nil
}

// restoreHostSettings puts back what recordHostSettings saw and forgets
// it. Call it with the machine lock held, when no cluster runs.
func restoreHostSettings() error {
	data, err := os.ReadFile(hostSettingsFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading host settings: %w", err)
	}
	var hs hostSettings
	if err := json.Unmarshal(data, &hs); err != nil {
		return fmt.Errorf("decoding %s: %w", hostSettingsFile, err)
	}
	var errs []error
	for s, v := range hs.Sysctls {
		if err := os.WriteFile(filepath.Join("/proc/sys", s), []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s: %w", s, err))
		}
	}
	for _, d := range hs.Absent {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", d, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.Remove(hostSettingsFile); err != nil {
		return fmt.Errorf("forgetting host settings: %w", err)
	}
	return nil
}
