// Package cachekey is the key form of a host, a path and a query: what the
// proxy stores an object under, and so what a purge URL or a ban pattern
// names. It is the one definition of which spellings of a URL are the same
// object, for the proxy's store and for the rules that judge what a purge
// or a ban covers (cacheproxy/admin, which kubectl-purge also calls).
//
// An object's primary key is its normalised host followed by its normalised
// path and query: "www.example.com/img/a.png?v=2". The scheme is not part of
// the key, so http:// and https:// name the same object.
//
// Host (Host): lowercased, a trailing dot dropped ("Example.COM." →
// "example.com"), and the ports 80 and 443 dropped whatever the scheme,
// because with the scheme out of the key they are both "the default port";
// any other port is kept ("example.com:8443"), without leading zeros
// ("example.com:080" is "example.com"). IPv6 literals keep their brackets.
//
// Path and query (PathQuery): the equivalences of RFC 3986 §6.2.2, then the
// aliases common origins serve as one resource (red team C7):
// percent-encodings use upper-case hex ("%2f" → "%2F"), encoded unreserved
// characters are decoded ("%7E" → "~", "%41" → "A", "%2E" → "."), and so
// is "%2A" → "*" (origins read both as a star; a ban pattern, whose "*" is
// a wildcard, names a literal star "%2A": PatternPathQuery), bytes
// that may never appear literally in a URI (controls, space, non-ASCII,
// `"#<>\^{|}`, backtick, and a '%' that starts no escape) are
// percent-encoded; in the path, dot segments are resolved (RFC 3986
// §5.2.4: "/a/./b/../c" → "/a/c") and runs of slashes merged ("/a//b" →
// "/a/b"); an empty query is dropped ("/a?" → "/a"). An empty path is "/".
// The query is not reordered (its order may matter to the origin; Varnish,
// Fastly and Cloudflare keep it too unless told to sort), and "%2F" stays
// apart from "/".
//
// The package depends only on the standard library and keeps the common
// case (a key already in key form) free of allocations.
package cachekey
