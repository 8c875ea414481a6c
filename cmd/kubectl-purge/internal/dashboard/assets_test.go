package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
