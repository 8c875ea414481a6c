# Varnish configuration of the benchmarks (a Go text/template: test/bench fills in the fields).
# A standard cache-everything-the-origin-allows setup, as an operator would
# write it: the builtin VCL decides cacheability from Cache-Control, and
# this file only adds invalidation, restricted to localhost.
#
#   PURGE      remove the object (every variant)            purge.hard()
#   SOFTPURGE  mark it stale, keep it for 1h of grace       purge.soft(0s, 1h)
#              (served stale while one background fetch refreshes it:
#              the same semantics as cacheproxy's soft purge)
#   bans       through the CLI (varnishadm protocol), see test/bench.
#
# vmod_purge ships with Varnish. X-Cache tells the benchmark a hit from a
# miss; x-url/x-host make obj.* bans possible for the ban lurker.
vcl 4.1;

import purge;

backend origin {
    .host = "127.0.0.1";
    .port = "{{.OriginPort}}";
    .connect_timeout = 5s;
    .first_byte_timeout = 30s;
}

acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE" || req.method == "SOFTPURGE") {
        if (client.ip !~ purgers) {
            return (synth(405, "Not allowed"));
        }
        return (hash);
    }
}

sub vcl_hit {
    if (req.method == "PURGE") {
        return (synth(200, "Purged " + purge.hard()));
    }
    if (req.method == "SOFTPURGE") {
        return (synth(200, "Soft-purged " + purge.soft(0s, 1h)));
    }
}

sub vcl_miss {
    if (req.method == "PURGE") {
        return (synth(200, "Purged " + purge.hard()));
    }
    if (req.method == "SOFTPURGE") {
        return (synth(200, "Soft-purged " + purge.soft(0s, 1h)));
    }
}

sub vcl_backend_response {
    set beresp.http.x-url = bereq.url;
    set beresp.http.x-host = bereq.http.host;
}

sub vcl_deliver {
    unset resp.http.x-url;
    unset resp.http.x-host;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
