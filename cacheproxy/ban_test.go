package cacheproxy

import (
	"strings"
	"testing"
	"time"
)

func TestBanPatternMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"https://www.example.com/content/img/",
			[]string{"www.example.com/content/img/", "www.example.com/content/img/a.png", "www.example.com/content/img/x/y?z"},
			[]string{"www.example.com/content/im", "www.example.com/content/imgx", "other.com/content/img/a", "www.example.com:8080/content/img/"}},
		{"http://WWW.EXAMPLE.COM:443/a", []string{"www.example.com/a", "www.example.com/ab"}, []string{"www.example.com/b"}},
		{"https://www.example.com", []string{"www.example.com/", "www.example.com/x"}, []string{"www.example.com.au/", "www.example.com:81/"}},
		{"https://www.example.com/*.js", []string{"www.example.com/a.js", "www.example.com/a/b.js?v=1", "www.example.com/.js"}, []string{"www.example.com/a.css", "www.example.com/js"}},
		{"https://*.example.com/img/", []string{"a.example.com/img/1", "b.c.example.com/img/"}, []string{"example.com/img/", "a.example.org/img/", "a.example.com.evil/img/"}},
		{"http://*.example.com/", []string{"a.example.com/"}, []string{"other.org/x.example.com/page", "other.org/a/.example.com/"}}, // red team C16
		{"http://*/", []string{"a/", "b.example:8080/x"}, nil},
		{"http://w*w.*.com:8*/a", []string{"www.x.com:8080/a", "ww.y.com:8/ab"}, []string{"www.x.com/a", "www.x.com:9080/a", "www.x.org/a"}},
		{"https://www.example.com/a*b*c", []string{"www.example.com/abc", "www.example.com/a-b-c-d", "www.example.com/abbc"}, []string{"www.example.com/acb", "www.example.com/ab"}},
		{"https://www.example.com/**", []string{"www.example.com/", "www.example.com/x"}, []string{"other/x"}},
		{"https://www.example.com/%7euser/", []string{"www.example.com/~user/x"}, []string{"www.example.com/%7Euser/x"}},
		{"https://www.example.com/search?q=*&page=1", []string{"www.example.com/search?q=go&page=1"}, []string{"www.example.com/search?q=go"}},
		{"https://www.example.com/search?", []string{"www.example.com/search?q=go"}, []string{"www.example.com/search", "www.example.com/searches"}},
		{"https://www.example.com//a/./b/../c", []string{"www.example.com/a/c", "www.example.com/a/cd"}, []string{"www.example.com/a/b/c"}},
		{"https://www.example.com:0443/a", []string{"www.example.com/a"}, []string{"www.example.com:443/a"}},
		{"https://www.example.com/search?", []string{"www.example.com/search?q=go"}, []string{"www.example.com/search", "www.example.com/searches"}},
		{"https://www.example.com//a/./b/../c", []string{"www.example.com/a/c", "www.example.com/a/cd"}, []string{"www.example.com/a/b/c"}},
		{"https://www.example.com:0443/a", []string{"www.example.com/a"}, []string{"www.example.com:443/a"}},
		// "%2A" is a literal star, which keys hold as "*" (red team K3).
		{"https://www.example.com/a%2A", []string{"www.example.com/a*", "www.example.com/a*b"}, []string{"www.example.com/axb", "www.example.com/a"}},
		{"https://www.example.com/*%2a.js", []string{"www.example.com/x/*.js"}, []string{"www.example.com/x/a.js"}},
	} {
		p, err := compileBan(tc.pattern)
		if err != nil {
			t.Fatalf("compileBan(%q): %v", tc.pattern, err)
		}
		for _, k := range tc.match {
			if !p.match(k) {
				t.Errorf("%q should match %q (host %q, path %q)", tc.pattern, k, p.hostSegs, p.pathSegs)
			}
		}
		for _, k := range tc.nomatch {
			if p.match(k) {
				t.Errorf("%q should not match %q (host %q, path %q)", tc.pattern, k, p.hostSegs, p.pathSegs)
			}
		}
	}
	for _, bad := range []string{"", "www.example.com/", "ftp://x/", "https:///a", "https://x/a b", "https://x/#f", "https://u@x/"} {
		if _, err := compileBan(bad); err == nil {
			t.Errorf("compileBan(%q) accepted", bad)
		}
	}
}

func TestBanListLazyCheckAndTrim(t *testing.T) {
	s := newStore(1<<30, 4)
	var l banList
	at := func(sec int) int64 { return t0.Add(time.Duration(sec) * time.Second).UnixNano() }
	mk := func(key string, stored int) *object {
		o := &object{key: key, storedAt: at(stored)}
		o.banSeq.Store(l.headSeq())
		o.seal()
		s.insert(o, nil)
		return o
	}
	old := mk("h/img/a", 0)
	other := mk("h/css/a", 0)
	p, _ := compileBan("https://h/img/")
	l.add(p, at(10))
	newer := mk("h/img/b", 20) // fetched after the ban: banSeq is already current
	if !l.banned(old) || l.banned(other) || l.banned(newer) {
		t.Fatal("lazy check wrong")
	}
	if other.banSeq.Load() != 1 {
		t.Fatal("a checked object must remember the newest ban")
	}
	// An object stored after T, but whose fetch started before the ban
	// was registered, is not banned either: the ban applies before T only.
	late := &object{key: "h/img/c", storedAt: at(11)}
	if l.banned(late) {
		t.Fatal("ban applied to an object stored after T")
	}
	if n := l.sweep(s); n != 1 || l.active.Load() != 0 || l.head.Load() != nil {
		t.Fatalf("sweep removed %d, %d bans left", n, l.active.Load())
	}
	// After the trim, new bans still apply.
	l.add(p, at(30))
	if !l.banned(newer) {
		t.Fatal("ban registered after a trim ignored")
	}
}

func TestBanTrimKeepsNewerBans(t *testing.T) {
	var l banList
	p, _ := compileBan("https://h/")
	for i := range 5 {
		l.add(p, int64(i))
	}
	l.trim(3)
	if l.active.Load() != 2 {
		t.Fatalf("%d active, want 2", l.active.Load())
	}
	var seqs []uint64
	for b := l.head.Load(); b != nil; b = b.older.Load() {
		seqs = append(seqs, b.seq)
	}
	if len(seqs) != 2 || seqs[0] != 5 || seqs[1] != 4 {
		t.Fatalf("kept %v", seqs)
	}
}

// FuzzBanPattern checks that compiling never panics, that a compiled
// pattern matches the key of every URL it is a literal prefix of, and that
// a pattern without "*" behaves as a plain prefix.
func FuzzBanPattern(f *testing.F) {
	for _, s := range []string{"https://www.example.com/img/", "http://*.example.com/*.js", "https://h", "https://h/a**b", "https://H:443/%7e", "https://h/?q=*"} {
		f.Add(s, "/img/a.png")
	}
	f.Fuzz(func(t *testing.T, pattern, suffix string) {
		p, err := compileBan(pattern)
		if err != nil {
			return
		}
		if len(p.hostSegs) == 0 || len(p.pathSegs) == 0 || !strings.HasPrefix(p.pathSegs[0], "/") {
			t.Fatalf("segments: host %q, path %q", p.hostSegs, p.pathSegs)
		}
		if strings.Contains(pattern, "*") || strings.ContainsAny(suffix, "#") {
			p.match(suffix) // must not panic
			return
		}
		_, key, err := urlKey(pattern)
		if err != nil {
			return
		}
		if !p.match(key) {
			t.Fatalf("pattern %q does not match its own URL's key %q (host %q, path %q)", pattern, key, p.hostSegs, p.pathSegs)
		}
	})
}
