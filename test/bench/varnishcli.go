package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// VarnishCLI speaks Varnish's management protocol (what varnishadm speaks)
// on varnishd's -T port, so the time of a command is the server's, not a
// varnishadm process start. One connection, one command at a time.
type VarnishCLI struct {
	// mu guards conn and r: commands are serialised.
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// DialVarnishCLI connects to addr and authenticates with secret (the
// contents of varnishd's -S file).
func DialVarnishCLI(ctx context.Context, addr string, secret []byte) (*VarnishCLI, error) {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("varnish CLI %s: %w", addr, err)
	}
	c := &VarnishCLI{conn: conn, r: bufio.NewReader(conn)}
	status, body, err := c.read()
	if err != nil {
		conn.Close()
		return nil, err
	}
	if status == 107 { // authentication required; the body starts with the challenge
		challenge, _, _ := strings.Cut(body, "\n")
		if _, err := fmt.Fprintf(conn, "auth %s\n", varnishAuth(challenge, secret)); err != nil {
			conn.Close()
			return nil, err
		}
		if status, body, err = c.read(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if status != 200 {
		conn.Close()
		return nil, fmt.Errorf("varnish CLI %s: status %d: %s", addr, status, body)
	}
	return c, nil
}

// varnishAuth is the answer to a CLI challenge: hex SHA-256 of
// challenge, newline, secret, challenge, newline (varnish-cli(7)).
func varnishAuth(challenge string, secret []byte) string {
	h := sha256.New()
	h.Write([]byte(challenge + "\n"))
	h.Write(secret)
	h.Write([]byte(challenge + "\n"))
	return hex.EncodeToString(h.Sum(nil))
}

// Do sends one command line and returns the answer body; a status other
// than 200 is an error.
func (c *VarnishCLI) Do(cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.conn, cmd+"\n"); err != nil {
		return "", err
	}
	status, body, err := c.read()
	if err != nil {
		return "", err
	}
	if status != 200 {
		return body, fmt.Errorf("varnish CLI %q: status %d: %s", cmd, status, strings.TrimSpace(body))
	}
	return body, nil
}

// read reads one answer: "<status> <length>\n<body>\n".
func (c *VarnishCLI) read() (int, string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	head, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", fmt.Errorf("varnish CLI: reading answer: %w", err)
	}
	f := strings.Fields(head)
	if len(f) != 2 {
		return 0, "", fmt.Errorf("varnish CLI: bad answer header %q", head)
	}
	status, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || n < 0 {
		return 0, "", fmt.Errorf("varnish CLI: bad answer header %q", head)
	}
	body := make([]byte, n+1) // the body and its trailing newline
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, "", fmt.Errorf("varnish CLI: reading body: %w", err)
	}
	return status, string(body[:n]), nil
}

// Close closes the connection.
func (c *VarnishCLI) Close() error { return c.conn.Close() }
