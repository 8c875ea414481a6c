package origin

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Caching policies, as a shop's origin would send them to its CDN.
const (
	// Pages change often: a minute fresh, half a minute served stale while
	// refreshing, five minutes of stale content if the origin breaks.
	htmlCacheControl = "public, max-age=60, stale-while-revalidate=30, stale-if-error=300"
	// Images are versioned by name in real shops: a year.
	imageCacheControl = "public, max-age=31536000, stale-if-error=86400"
	// The API: browsers keep it 30s, shared caches two minutes.
	jsonCacheControl = "public, max-age=30, s-maxage=120, stale-while-revalidate=15, stale-if-error=600"
	// staticCacheControl: versioned static assets, cached for a year.
	staticCacheControl = "public, max-age=31536000, immutable, stale-if-error=86400"
)

// tagProducts tags every page that lists or shows products.
const tagProducts = "products"

// maxProductID bounds the catalogue: /products/1000 is a 404.
const maxProductID = 999

func homePage(*http.Request) (resource, bool) {
	return resource{
		contentType:  "text/html; charset=utf-8",
		cacheControl: htmlCacheControl,
		tags:         []string{"home", tagProducts, "html"},
		render: func(rd rendering) []byte {
			var items strings.Builder
			for id := 1; id <= 3; id++ {
				fmt.Fprintf(&items, `<li><a href="/products/%d">Product %d</a> <img src="/img/product-%d.svg" width="32" alt=""></li>`, id, id, id)
			}
			return layout("Demo shop", fmt.Sprintf("<ul>%s</ul>", items.String()), rd)
		},
	}, true
}

func productPage(r *http.Request) (resource, bool) {
	id, ok := productID(r.PathValue("id"))
	if !ok {
		return resource{}, false
	}
	return resource{
		contentType:  "text/html; charset=utf-8",
		cacheControl: htmlCacheControl,
		tags:         []string{"product-" + id, tagProducts, "html"},
		render: func(rd rendering) []byte {
			body := fmt.Sprintf(`<img src="/img/product-%s.svg" alt="Product %s"><p>Price: %s</p>`, id, id, price(id))
			return layout("Product "+id, body, rd)
		},
	}, true
}

func image(r *http.Request) (resource, bool) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || name == "" || strings.ContainsAny(name, "<>&\"'") {
		return resource{}, false
	}
	tags := []string{"images", "img-" + name}
	if id, ok := strings.CutPrefix(name, "product-"); ok {
		if _, valid := productID(id); valid {
			tags = append(tags, "product-"+id)
		}
	}
	return resource{
		contentType:  "image/svg+xml",
		cacheControl: imageCacheControl,
		tags:         tags,
		render: func(rd rendering) []byte {
			return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90" viewBox="0 0 160 90">`+
				`<rect width="160" height="90" fill="hsl(%d,60%%,70%%)"/>`+
				`<text x="80" y="42" text-anchor="middle" font-family="sans-serif" font-size="14">%s</text>`+
				`<text x="80" y="66" text-anchor="middle" font-family="sans-serif" font-size="12">version %d</text></svg>`+"\n",
				(rd.version*47)%360, name, rd.version)
		},
	}, true
}

func productJSON(r *http.Request) (resource, bool) {
	id, ok := productID(r.PathValue("id"))
	if !ok {
		return resource{}, false
	}
	return resource{
		contentType:  "application/json",
		cacheControl: jsonCacheControl,
		tags:         []string{"product-" + id, tagProducts, "api"},
		render: func(rd rendering) []byte {
			n, _ := strconv.Atoi(id)
			return jsonBody(map[string]any{
				"id": n, "name": "Product " + id, "price": price(id),
				"image": "/img/product-" + id + ".svg",
			}, rd)
		},
	}, true
}

// appScript is the shop's script, /static/app.js (and ?v=N copies), which
// the simple-purge sample purges.
func appScript(*http.Request) (resource, bool) {
	return resource{
		contentType:  "text/javascript; charset=utf-8",
		cacheControl: staticCacheControl,
		tags:         []string{"static", "js"},
		render: func(rd rendering) []byte {
			return fmt.Appendf(nil, "// demo shop script: %s, rendered at %s\ndocument.documentElement.dataset.version = \"%d\";\n",
				rd.label(), rd.at.UTC().Format(time.RFC3339), rd.version)
		},
	}, true
}

// priceList is /api/prices.json, which the refetch sample purges and warms.
func priceList(*http.Request) (resource, bool) {
	return resource{
		contentType:  "application/json",
		cacheControl: jsonCacheControl,
		tags:         []string{"prices", tagProducts, "api"},
		render: func(rd rendering) []byte {
			prices := map[string]string{}
			for id := 1; id <= 3; id++ {
				prices[strconv.Itoa(id)] = price(strconv.Itoa(id))
			}
			return jsonBody(map[string]any{"prices": prices}, rd)
		},
	}, true
}

// productID accepts the catalogue's ids, 1 to maxProductID, written plainly.
func productID(s string) (string, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxProductID || strconv.Itoa(n) != s {
		return "", false
	}
	return s, true
}

// price is a stable made-up price for a product.
func price(id string) string {
	n, _ := strconv.Atoi(id)
	return fmt.Sprintf("%d.%02d EUR", 5+n%40, (n*37)%100)
}

// layout wraps content in the shop's HTML layout, with the version (and
// the release, if any) visible.
func layout(title, content string, rd rendering) []byte {
	return fmt.Appendf(nil, `<!doctype html>
<html><head><meta charset="utf-8"><title>%[1]s</title></head>
<body><h1>%[1]s</h1>
%[2]s
<footer>%[3]s, rendered at %[4]s</footer>
</body></html>
`, html.EscapeString(title), content, html.EscapeString(rd.label()), rd.at.UTC().Format(time.RFC3339))
}

// label is how pages name a render: "version 3", or "release v2, version
// 3" when the origin has a release.
func (rd rendering) label() string {
	if rd.release == "" {
		return fmt.Sprintf("version %d", rd.version)
	}
	return fmt.Sprintf("release %s, version %d", rd.release, rd.version)
}

// jsonBody is fields plus the render's version, time and release (if
// any), as one line of JSON.
func jsonBody(fields map[string]any, rd rendering) []byte {
	fields["version"] = rd.version
	fields["renderedAt"] = rd.at.UTC().Format(time.RFC3339Nano)
	if rd.release != "" {
		fields["release"] = rd.release
	}
	b, _ := json.Marshal(fields)
	return append(b, '\n')
}
