package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
)

// web holds the page: index.html (a template) and the assets it loads.
//
//go:embed web
var web embed.FS

// asset is one embedded file, ready to serve: its bytes, gzipped once,
// and an ETag.
type asset struct {
	contentType string
	plain, gz   []byte
	etag        string
}

// inlined are the files under web/ that index.html holds, not served
// apart.
var inlined = map[string]bool{"web/index.html": true, "web/style.css": true, "web/boot.js": true}

// assets are the files under web/ but those index.html holds, by URL path
// (/assets/app.js).
var assets = func() map[string]*asset {
	m := map[string]*asset{}
	err := fs.WalkDir(web, "web", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || inlined[name] {
			return err
		}
		b, err := web.ReadFile(name)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		sum := sha256.Sum256(b)
		m["/assets/"+strings.TrimPrefix(name, "web/")] = &asset{
			contentType: mime.TypeByExtension(path.Ext(name)),
			plain:       b,
			gz:          gz.Bytes(),
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return m
}()

// modules are the page's JavaScript modules, which web/boot.js preloads
// so the browser fetches them at once instead of import by import.
var modules = func() []string {
	var names []string
	for _, name := range slices.Sorted(maps.Keys(assets)) {
		if strings.HasSuffix(name, ".js") {
			names = append(names, name)
		}
	}
	return names
}()

// assetHandler serves the embedded assets, gzipped to browsers that take
// it. They are revalidated on each load (ETag), so a new plugin binary is
// never mixed with an old cached page.
func assetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := assets[r.URL.Path]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("Vary", "Accept-Encoding")
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.plain
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		_, _ = w.Write(body)
	})
}

// page is index.html; the run's token and the starting namespace go in
// its meta tags, where the page's script reads them.
var page = template.Must(template.ParseFS(web, "web/index.html"))

// pageStyle is web/style.css, which index.html holds in a <style> element
// so the first paint waits for no request but the page itself, and
// pageBoot is web/boot.js, its one <script>, which loads the app. The
// Content-Security-Policy allows these two by their hashes.
var (
	pageStyle, pageStyleHash = readInlined("web/style.css")
	pageBoot, pageBootHash   = readInlined("web/boot.js")
)

// readInlined reads a file index.html holds, and its hash as a
// Content-Security-Policy source.
func readInlined(name string) (content, hash string) {
	b, err := web.ReadFile(name)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	sum := sha256.Sum256(b)
	return string(b), "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// pageData is what index.html is filled with.
type pageData struct {
	Token     string
	Namespace string
	Modules   []string
	Style     template.CSS
	Boot      template.JS
	// Home is set on the first screen's paths: the page then holds its
	// two panels, headings included, so the first paint shows them
	// before any script has run.
	Home bool
}

// servePage serves index.html for every page of the app (the script
// routes on the path).
func (s *server) servePage(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	data := pageData{Token: s.token, Namespace: s.opts.Namespace, Modules: modules, Style: template.CSS(pageStyle), Boot: template.JS(pageBoot),
		Home: r.URL.Path == "/" || r.URL.Path == "/history"}
	if err := page.Execute(&b, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}
