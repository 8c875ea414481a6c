package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// TokenHeader carries the per-run token on state-changing requests. It is
// a header, never a cookie: a browser attaches cookies to requests other
// sites make, but only a script of the page that read the token can set
// this header, and no other origin can read the page.
const TokenHeader = "X-Purge-Dashboard-Token"

// newToken is a fresh random token for one run of the dashboard.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the dashboard token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// guard admits only requests meant for this dashboard:
//   - Host must be one of hosts, on every request (a DNS-rebinding page
//     reaches the port under its own name and would otherwise read the
//     answers as same-origin);
//   - a state-changing request (any method but GET and HEAD) must carry
//     no Origin or one of "http://"+hosts (a page of another site may
//     send requests here, it must not act), and the run's token in
//     TokenHeader.
//
// Refusals are 403 (421 for a foreign Host) with a message saying why.
type guard struct {
	hosts map[string]bool
	token string
	next  http.Handler
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hosts[r.Host] {
		http.Error(w, fmt.Sprintf("refused: Host %q is not this dashboard's address", r.Host), http.StatusMisdirectedRequest)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if origin := r.Header.Get("Origin"); origin != "" && !g.ownOrigin(origin) {
			http.Error(w, fmt.Sprintf("refused: a %s from origin %q; only this dashboard's own page may change anything", r.Method, origin), http.StatusForbidden)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(TokenHeader)), []byte(g.token)) != 1 {
			http.Error(w, "refused: missing or wrong "+TokenHeader+" header (reload the dashboard page)", http.StatusForbidden)
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

func (g *guard) ownOrigin(origin string) bool {
	const prefix = "http://"
	return len(origin) > len(prefix) && origin[:len(prefix)] == prefix && g.hosts[origin[len(prefix):]]
}

// ownHosts are the Host values the dashboard answers to when it listens
// on addr: addr itself, and localhost:PORT when addr is a loopback
// address (what people type).
func ownHosts(addr net.Addr) map[string]bool {
	hosts := map[string]bool{addr.String(): true}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		hosts[net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))] = true
	}
	return hosts
}
