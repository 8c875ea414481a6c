package localcluster

import (
	"net/netip"
	"testing"
)

func noSockets() (map[netip.Addr]bool, error) { return map[netip.Addr]bool{}, nil }

func TestAddressPool(t *testing.T) {
	busy := map[netip.Addr]bool{netip.MustParseAddr("127.9.0.3"): true}
	pool := newAddressPool(netip.MustParsePrefix("127.9.0.0/16"), func() (map[netip.Addr]bool, error) { return busy, nil })
	var got []string
	for range 3 {
		a, err := pool.allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	want := []string{"127.9.0.2", "127.9.0.4", "127.9.0.5"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v (busy .3 skipped)", got, want)
		}
	}
	// A released address is not handed out again at once.
	pool.release(netip.MustParseAddr("127.9.0.2"))
	if a, _ := pool.allocate(); a.String() != "127.9.0.6" {
		t.Fatalf("after release got %s, want 127.9.0.6", a)
	}
}

func TestAddressPoolSkipsNetworkAndBroadcast(t *testing.T) {
	pool := newAddressPool(netip.MustParsePrefix("127.9.0.0/16"), noSockets)
	pool.next = 0x00fe
	a, _ := pool.allocate()
	b, _ := pool.allocate()
	if a.String() != "127.9.0.254" || b.String() != "127.9.1.1" {
		t.Fatalf("got %s then %s, want 127.9.0.254 then 127.9.1.1", a, b)
	}
}

func TestPickLoopbackPrefixes(t *testing.T) {
	prefixes, err := pickLoopbackPrefixes(2, func() (map[netip.Addr]bool, error) {
		busy := map[netip.Addr]bool{}
		// Every /16 but 127.7 and 127.8 has a socket.
		for x := 1; x < 255; x++ {
			if x != 7 && x != 8 {
				busy[netip.AddrFrom4([4]byte{127, byte(x), 0, 1})] = true
			}
		}
		return busy, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range prefixes {
		seen[p.String()] = true
	}
	if !seen["127.7.0.0/16"] || !seen["127.8.0.0/16"] {
		t.Fatalf("prefixes = %v, want 127.7.0.0/16 and 127.8.0.0/16", prefixes)
	}
}

func TestParseProcAddress(t *testing.T) {
	// /proc/net/tcp prints each 32-bit word in the machine's byte order;
	// build the expected text the same way the kernel would.
	a, ok := parseProcAddress(procHex([]byte{127, 9, 0, 2}))
	if !ok || a.String() != "127.9.0.2" {
		t.Fatalf("IPv4: %v %v", a, ok)
	}
	mapped := netip.MustParseAddr("::ffff:127.9.0.3").As16()
	a, ok = parseProcAddress(procHex(mapped[:]))
	if !ok || a.Unmap().String() != "127.9.0.3" {
		t.Fatalf("IPv4-mapped: %v %v", a, ok)
	}
}

func TestBoundAddressesSeesListener(t *testing.T) {
	ln := listenLoopback(t)
	addrs, err := boundAddresses()
	if err != nil {
		t.Fatal(err)
	}
	if !addrs[ln] {
		t.Fatalf("boundAddresses does not contain listener address %s", ln)
	}
}
