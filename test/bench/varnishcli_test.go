package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestVarnishAuth(t *testing.T) {
	// The example of Varnish's CLI documentation.
	got := varnishAuth("ixslvvxrgkjptxmcgnnsdxsvdmvfympg", []byte("foo\n"))
	if want := "455ce847f0073c7ab3b1465f74507b75d3dc064c1e7de3b71e00de9092fdc89a"; got != want {
		t.Errorf("varnishAuth = %s, want %s", got, want)
	}
}

// fakeVarnish speaks the CLI protocol: a challenge, then answers to
// "auth" and to commands, refusing "ban" with a bad argument count.
func fakeVarnish(t *testing.T, secret []byte) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		answer := func(status int, body string) { fmt.Fprintf(conn, "%-3d %-8d\n%s\n", status, len(body), body) }
		const challenge = "abcdefghijabcdefghijabcdefghijab"
		answer(107, challenge+"\n\nAuthentication required.\n")
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSpace(line)
			switch {
			case line == "auth "+varnishAuth(challenge, secret):
				answer(200, "-----------------------------\nVarnish Cache CLI 1.0\n")
			case strings.HasPrefix(line, "auth "):
				answer(107, "Authentication failed")
			case line == "ping":
				answer(200, "PONG 1 1.0")
			default:
				answer(106, "Wrong number of arguments")
			}
		}
	}()
	return ln.Addr().String()
}

func TestVarnishCLI(t *testing.T) {
	secret := []byte("s3cret\n")
	c, err := DialVarnishCLI(context.Background(), fakeVarnish(t, secret), secret)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := c.Do("ping"); err != nil || out != "PONG 1 1.0" {
		t.Errorf("ping = %q, %v", out, err)
	}
	if _, err := c.Do("ban nonsense"); err == nil || !strings.Contains(err.Error(), "106") {
		t.Errorf("refused command: error %v, want status 106", err)
	}
}

func TestVarnishCLIWrongSecret(t *testing.T) {
	if _, err := DialVarnishCLI(context.Background(), fakeVarnish(t, []byte("right\n")), []byte("wrong\n")); err == nil {
		t.Error("wrong secret: no error")
	}
}
