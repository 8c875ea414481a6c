package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// The inline style is allowed by its hash: if what index.html renders
// differed from what was hashed (escaping, say), the browser would drop
// every style of the page.
func TestPageStyleIsAllowedByItsHash(t *testing.T) {
	var b bytes.Buffer
	if err := page.Execute(&b, pageData{Token: "t", Namespace: "web", Modules: modules, Style: pageStyle}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindSubmatch(b.Bytes())
	if m == nil || len(m[1]) < 1000 {
		t.Fatalf("no inline style in the page:\n%s", b.Bytes())
	}
	sum := sha256.Sum256(m[1])
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(contentSecurityPolicy, "style-src "+hash+";") {
		t.Errorf("the policy %q does not allow the style rendered (%s)", contentSecurityPolicy, hash)
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
		// The scripts come after the page's content, so the parser does
		// not stop at them before it.
		if strings.Index(body, `<script type="module"`) < strings.Index(body, `<main id="main">`) {
			t.Errorf("%s: the script comes before the content", path)
		}
	}
}
