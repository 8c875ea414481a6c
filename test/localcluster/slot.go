package localcluster

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// runDir holds, machine-wide, one directory per cluster slot: its lock,
// its sockets (short paths: a unix socket path has at most 107 bytes, and
// a state directory under a deep checkout can be longer) and the record of
// where its state lives, which the next Start reads to clean up after a
// harness that died without Stop.
const runDir = "/run/localcluster"

// maxSlots bounds how many clusters run side by side on one machine.
const maxSlots = 32

// slot is one cluster's share of the machine: a number that picks its
// network namespace, interface names, address ranges and cgroup, held by a
// lock for as long as the harness lives. The kernel drops the lock when
// the harness dies, however it dies, which is how a later Start knows the
// slot's leftovers are garbage.
type slot struct {
	n    int
	lock *os.File
}

// Names and ranges of slot n. Pods get 10.200.n.0/24 in the node's
// network namespace, Services 10.202.n.0/24, and the one link between the
// host and the node 10.201.n.0/30 (host .1, node .2).
func (s slot) netns() string         { return "lc" + strconv.Itoa(s.n) }
func (s slot) hostVeth() string      { return "lch" + strconv.Itoa(s.n) }
func (s slot) nodeVeth() string      { return "lcn" + strconv.Itoa(s.n) }
func (s slot) cgroupRoot() string    { return "localcluster" + strconv.Itoa(s.n) }
func (s slot) dir() string           { return filepath.Join(runDir, strconv.Itoa(s.n)) }
func (s slot) podCIDR() netip.Prefix { return netip.PrefixFrom(addr10(200, s.n, 0), 24) }
func (s slot) serviceCIDR() netip.Prefix {
	return netip.PrefixFrom(addr10(202, s.n, 0), 24)
}
func (s slot) hostIP() netip.Addr { return addr10(201, s.n, 1) }
func (s slot) nodeIP() netip.Addr { return addr10(201, s.n, 2) }

// kubernetesServiceIP is the ClusterIP of the "kubernetes" Service: the
// first of the range, as the API server allocates it.
func (s slot) kubernetesServiceIP() netip.Addr { return addr10(202, s.n, 1) }

// dnsServiceIP is the ClusterIP cluster DNS answers on (the tenth, as
// kubeadm picks it).
func (s slot) dnsServiceIP() netip.Addr { return addr10(202, s.n, 10) }

// addr10 is the address 10.b.c.d: every slot lives in 10.0.0.0/8.
func addr10(b byte, c int, d byte) netip.Addr { return netip.AddrFrom4([4]byte{10, b, byte(c), d}) }

// withMachineLock runs fn holding the machine-wide lock that orders slot
// claims, cleanups and the host settings shared by every cluster.
func withMachineLock(fn func() error) error {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", runDir, err)
	}
	f, err := os.OpenFile(filepath.Join(runDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opening machine lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("taking machine lock: %w", err)
	}
	return fn()
}

// tryLockSlot takes slot n's lock if no living harness holds it.
func tryLockSlot(n int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(runDir, "slot-"+strconv.Itoa(n)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening slot lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking slot %d: %w", n, err)
	}
	return f, nil
}

// claimSlot takes the lowest free slot. Call it with the machine lock held.
// Every free slot that still has a directory belonged to a harness that
// died without Stop: reclaim cleans it up first, so a killed run never
// leaks into the next one.
func claimSlot(reclaim func(n int) error) (slot, error) {
	var errs []error
	claimed := slot{}
	for n := 1; n <= maxSlots; n++ {
		lock, err := tryLockSlot(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if lock == nil {
			continue // a living cluster
		}
		if _, err := os.Stat(slot{n: n}.dir()); err == nil {
			if err := reclaim(n); err != nil {
				errs = append(errs, fmt.Errorf("cleaning up slot %d left by a harness that died: %w", n, err))
				lock.Close()
				continue
			}
		}
		if claimed.lock == nil {
			claimed = slot{n: n, lock: lock}
			continue
		}
		lock.Close()
	}
	if claimed.lock == nil {
		return slot{}, errors.Join(append(errs, fmt.Errorf("all %d local cluster slots of this machine are in use", maxSlots))...)
	}
	if err := os.MkdirAll(claimed.dir(), 0o755); err != nil {
		claimed.lock.Close()
		return slot{}, fmt.Errorf("creating %s: %w", claimed.dir(), err)
	}
	return claimed, errors.Join(errs...)
}

// livingSlots counts the slots a living harness holds, besides except.
// Call it with the machine lock held.
func livingSlots(except int) int {
	living := 0
	for n := 1; n <= maxSlots; n++ {
		if n == except {
			continue
		}
		lock, err := tryLockSlot(n)
		if err != nil {
			continue
		}
		if lock == nil {
			living++
			continue
		}
		lock.Close()
	}
	return living
}
