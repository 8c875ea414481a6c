package localcluster

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
)

// procHex renders address bytes as /proc/net/tcp does: 32-bit words read
// in the machine's byte order, printed as big-endian hex.
func procHex(b []byte) string {
	out := make([]byte, len(b))
	for i := 0; i < len(b); i += 4 {
		binary.BigEndian.PutUint32(out[i:], binary.NativeEndian.Uint32(b[i:]))
	}
	return hex.EncodeToString(out)
}

// listenLoopback listens on a loopback address of its own for the test's
// duration and returns the address.
func listenLoopback(t *testing.T) netip.Addr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort().Addr()
}
