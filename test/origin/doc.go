// Package origin is the demo web origin that sits behind the cacheproxy
// fleet in the demo and the end-to-end suite. It serves what a small shop
// would: HTML pages, SVG images and JSON, each with the headers a real
// origin sends a CDN (Cache-Control with max-age, stale-while-revalidate and
// stale-if-error; a strong ETag; Last-Modified; tags in Surrogate-Key or
// a content system's tag header), and it makes every render visible, so a
// purge visibly changes what users get.
//
// Each URL (path and query) has a version counter that increments each time
// the origin renders it: the body says "version N" and the X-Origin-Version
// header carries N. A conditional request whose validator matches the last
// render is answered 304 Not Modified without rendering, as a real origin
// whose content did not change would. POST /_origin/edit?path=/x marks a
// URL's content as changed, so its next request renders even if
// conditional (useful to show a soft purge refreshing content).
//
// Pages:
//
//	/                   home page, tags "home products html"
//	/products/{id}      product page (id 1..999), tags "product-{id} products html"
//	/img/{name}.svg     image, a year's max-age, tags "images img-{name}"
//	                    (and "product-{id}" for /img/product-{id}.svg)
//	/api/products/{id}  JSON, s-maxage above max-age, tags "product-{id} products api"
//	/api/prices.json    JSON price list, tags "prices products api"
//	/static/app.js      script, a year's max-age, immutable, tags "static js"
//
// Tags go in Surrogate-Key, space separated, unless the query parameter
// tag-style names the way a content system writes them, so a test can
// check a cache against what those systems send (the tags are the same):
//
//	?tag-style=magento       X-Magento-Tags: product-7,products,html
//	?tag-style=drupal        Cache-Tags: product-7 products html
//	?tag-style=api-platform  Cache-Tags: product-7,products,html
//	?tag-style=fos           X-Cache-Tags: product-7,products,html (FOSHttpCache, WordPress, Neos)
//	?tag-style=typo3         X-Cache-Tags: ;product-7;products;html; (TYPO3 nxvarnish)
//	?tag-style=xkey          xkey: product-7 products html (Varnish xkey: Shopware, FOSHttpCache, API Platform)
//	?tag-style=fastly        Surrogate-Key: product-7 products html (the default)
//
// Any other tag-style is a 400. The query is part of the URL, so each
// style of a page is an object of its own with its own version counter.
//
// Control surface, never cached (Cache-Control: no-store):
//
//	POST /_origin/fail     answer 503 to everything but /_origin/*
//	POST /_origin/recover  serve normally again
//	POST /_origin/edit?path=/products/42  change a URL's content
//	GET  /_origin/stats    JSON: failing, and per URL requests and versions
//	GET  /_origin/healthz  200 "ok", failing or not (a readiness probe)
//
// An origin may have a release (Options.Release, demo-origin --release), as
// a site rolled out by a Deployment does: pages show "release v2, version
// N", JSON has a "release" field, X-Origin-Release carries it, and the ETag
// depends on it, so the first render of a new release never validates a
// cached copy of the previous one.
//
// The handler is an http.Handler so tests run it in process with httptest;
// test/cmd/demo-origin serves it on a port.
package origin
