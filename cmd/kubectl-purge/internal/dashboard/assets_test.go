package dashboard

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// The inline style and script are allowed by their hashes: if what the
// page holds differed from what was hashed (escaping, say), the browser
// would drop every style of the page, or never start the app.
func TestInlinedStyleAndScriptAreAllowedByTheirHashes(t *testing.T) {
	s := &server{opts: Options{Namespace: "web"}, token: "t"}
	w := httptest.NewRecorder()
	s.servePage(w, httptest.NewRequest(http.MethodGet, "/", nil))
	for _, c := range []struct{ element, directive string }{{"style", "style-src"}, {`script type="module"`, "script-src"}} {
		m := regexp.MustCompile(`(?s)<` + c.element + `>(.*?)</`).FindSubmatch(w.Body.Bytes())
		if m == nil || len(m[1]) < 500 {
			t.Fatalf("no inline <%s> in the page:\n%s", c.element, w.Body.Bytes())
		}
		sum := sha256.Sum256(m[1])
		hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !regexp.MustCompile(c.directive + ` [^;]*` + regexp.QuoteMeta(hash) + `;`).MatchString(contentSecurityPolicy) {
			t.Errorf("the policy %q does not allow the <%s> rendered (%s)", contentSecurityPolicy, c.element, hash)
		}
	}
}

// The first screen's page holds its two panels as served: the browser
// paints them before any script has run. Other pages start empty.
func TestHomePageHoldsItsPanels(t *testing.T) {
	s := &server{opts: Options{Namespace: "web"}, token: "t"}
	for path, want := range map[string]bool{"/": true, "/history": true, "/fleets": false, "/purges/web/p": false} {
		w := httptest.NewRecorder()
		s.servePage(w, httptest.NewRequest(http.MethodGet, path, nil))
		body := w.Body.String()
		for _, panel := range []string{`<h2 id="new-purge">New purge</h2>`, `<h2 id="history">History</h2>`} {
			if got := strings.Contains(body, panel); got != want {
				t.Errorf("%s: holds %s: %v, want %v", path, panel, got, want)
			}
		}
		// Nothing is fetched before the first paint: the page's one
		// script is inline, after the content, and loads the modules
		// itself.
		if strings.Index(body, `<script type="module">`) < strings.Index(body, `<main id="main">`) {
			t.Errorf("%s: the script comes before the content", path)
		}
		for _, fetch := range []string{"<script src", `<script type="module" src`, `rel="modulepreload"`, `rel="stylesheet"`} {
			if strings.Contains(body, fetch) {
				t.Errorf("%s: the page as served fetches something (%s)", path, fetch)
			}
		}
		if !strings.Contains(body, `<meta name="dashboard-modules" content="/assets/api.js /assets/app.js`) {
			t.Errorf("%s: the page does not list the modules for web/boot.js", path)
		}
	}
}
