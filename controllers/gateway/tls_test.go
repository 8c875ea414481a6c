package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

// TestServeTLS serves from CertDir's tls.crt and tls.key and checks that
// a client trusting that certificate gets the gateway's answer.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t, 1)
	writeFile(t, filepath.Join(dir, "tls.crt"), certPEM)
	writeFile(t, filepath.Join(dir, "tls.key"), keyPEM)
	addr := serveTLS(t, dir)

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: trusting(certPEM)}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "PURGE, BAN, PURGEKEYS" {
		t.Fatalf("GET / answered %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestServeTLSReloads rotates the certificate the gateway serves, as
// cert-manager does, twice: by rewriting tls.crt and tls.key in place, then
// as the kubelet updates a mounted Secret (the files are symlinks through
// ..data, which is swapped atomically to a new directory and the old one
// removed). Each time, the gateway serves the new certificate on new
// connections without a restart.
func TestServeTLSReloads(t *testing.T) {
	g := gomega.NewWithT(t)
	dir := t.TempDir()
	// A mounted Secret's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>.
	first := filepath.Join(dir, "..2026_12_06_first")
	if err := os.Mkdir(first, 0o700); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := selfSigned(t, 1)
	writeFile(t, filepath.Join(first, "tls.crt"), certPEM)
	writeFile(t, filepath.Join(first, "tls.key"), keyPEM)
	symlink(t, filepath.Base(first), filepath.Join(dir, "..data"))
	symlink(t, filepath.Join("..data", "tls.crt"), filepath.Join(dir, "tls.crt"))
	symlink(t, filepath.Join("..data", "tls.key"), filepath.Join(dir, "tls.key"))
	addr := serveTLS(t, dir)
	g.Expect(servedSerial(addr, certPEM)).To(gomega.Equal(int64(1)))

	// servesEventually waits until a client that trusts only certPEM can
	// connect, and checks the serial it gets.
	servesEventually := func(certPEM []byte, serial int64) {
		t.Helper()
		g.Eventually(func() (int64, error) { return servedSerial(addr, certPEM) }).
			WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(gomega.Equal(serial))
	}

	// Rewritten in place (through the symlinks, into the first directory).
	certPEM, keyPEM = selfSigned(t, 2)
	writeFile(t, filepath.Join(dir, "tls.key"), keyPEM)
	writeFile(t, filepath.Join(dir, "tls.crt"), certPEM)
	servesEventually(certPEM, 2)

	// The kubelet's atomic update of a Secret volume.
	second := filepath.Join(dir, "..2026_12_06_second")
	if err := os.Mkdir(second, 0o700); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM = selfSigned(t, 3)
	writeFile(t, filepath.Join(second, "tls.crt"), certPEM)
	writeFile(t, filepath.Join(second, "tls.key"), keyPEM)
	symlink(t, filepath.Base(second), filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(first); err != nil {
		t.Fatal(err)
	}
	servesEventually(certPEM, 3)
}

// serveTLS serves a gateway with CertDir dir on a free port until the test
// ends, and returns its address.
func serveTLS(t *testing.T, dir string) string {
	t.Helper()
	g := New(nil, nil, Options{CertDir: dir})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// servedSerial connects to addr trusting only certPEM and returns the
// serial number of the certificate it was served.
func servedSerial(addr string, certPEM []byte) (int64, error) {
	conn, err := tls.Dial("tcp", addr, trusting(certPEM))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// trusting is a client TLS configuration that trusts only certPEM, for the
// name "purge-gateway".
func trusting(certPEM []byte) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return &tls.Config{RootCAs: pool, ServerName: "purge-gateway", MinVersion: tls.VersionTLS12}
}

// selfSigned returns a self-signed certificate for "purge-gateway" with
// the given serial number, and its key, as PEM.
func selfSigned(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("purge-gateway %d", serial)},
		DNSNames:     []string{"purge-gateway"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
