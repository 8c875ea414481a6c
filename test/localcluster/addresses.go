package localcluster

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"sync"
)

// addressPool hands out pod IPs from one loopback /16. Two clusters on one
// machine pick different /16s at random, and an address some socket on the
// machine already uses is skipped, so their pods do not collide.
type addressPool struct {
	prefix netip.Prefix
	// inUse reports addresses some socket on the machine is bound to.
	inUse func() (map[netip.Addr]bool, error)

	mu sync.Mutex // guards next and assigned
	// next is the host part to try first, so freed addresses are not reused
	// at once (a restarted pod might otherwise meet old connections).
	next     uint16
	assigned map[netip.Addr]bool
}

func newAddressPool(prefix netip.Prefix, inUse func() (map[netip.Addr]bool, error)) *addressPool {
	return &addressPool{prefix: prefix, inUse: inUse, next: 2, assigned: map[netip.Addr]bool{}}
}

// allocate returns an address of the pool that neither this pool nor any
// socket on the machine uses.
func (p *addressPool) allocate() (netip.Addr, error) {
	busy, err := p.inUse()
	if err != nil {
		return netip.Addr{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	base := p.prefix.Addr().As4()
	// .0 and .255 of each /24 are left alone: they read as network and
	// broadcast addresses to people even on loopback.
	for range 1 << 16 {
		host := p.next
		p.next++
		if host&0xff == 0 || host&0xff == 0xff {
			continue
		}
		addr := netip.AddrFrom4([4]byte{base[0], base[1], byte(host >> 8), byte(host)})
		if p.assigned[addr] || busy[addr] {
			continue
		}
		p.assigned[addr] = true
		return addr, nil
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s", p.prefix)
}

// release returns addr to the pool.
func (p *addressPool) release(addr netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.assigned, addr)
}

// pickLoopbackPrefixes returns n distinct 127.X.0.0/16 prefixes, chosen at
// random, in which no socket on the machine is bound. 127.0.x.x is never
// chosen: it holds 127.0.0.1 and the resolvers' stub addresses.
func pickLoopbackPrefixes(n int, inUse func() (map[netip.Addr]bool, error)) ([]netip.Prefix, error) {
	busy, err := inUse()
	if err != nil {
		return nil, err
	}
	taken := map[byte]bool{}
	for addr := range busy {
		if addr.Is4() && addr.IsLoopback() {
			taken[addr.As4()[1]] = true
		}
	}
	var out []netip.Prefix
	for _, x := range rand.Perm(254) {
		octet := byte(x + 1)
		if taken[octet] {
			continue
		}
		taken[octet] = true
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{127, octet, 0, 0}), 16))
		if len(out) == n {
			return out, nil
		}
	}
	return nil, errors.New("every loopback /16 has a socket bound in it")
}

// boundAddresses reads /proc/net/tcp and /proc/net/tcp6 and returns every
// local IPv4 address a TCP socket is bound to (IPv4-mapped IPv6 included).
func boundAddresses() (map[netip.Addr]bool, error) {
	out := map[netip.Addr]bool{}
	for _, path := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := readBoundAddresses(path, out); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return out, nil
}

func readBoundAddresses(path string, out map[netip.Addr]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Scan() // header
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 2 {
			continue
		}
		host, _, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		if addr, ok := parseProcAddress(host); ok {
			out[addr.Unmap()] = true
		}
	}
	if err := scanner.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// parseProcAddress decodes the hex address /proc/net/tcp{,6} prints: the
// address's bytes in 32-bit words, each word in the machine's byte order.
func parseProcAddress(s string) (netip.Addr, bool) {
	raw, err := hex.DecodeString(s)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, false
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, ok := netip.AddrFromSlice(b)
	return addr, ok
}
