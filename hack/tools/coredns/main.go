// Command coredns is CoreDNS (github.com/coredns/coredns, the version
// go.mod pins) with only the plugins the local cluster's DNS uses:
// kubernetes (the cluster.local zone from the API), cache, errors, log,
// health, ready, prometheus, loop and reload. Upstream's build compiles
// every plugin (cloud DNS providers, etcd, dnstap and more), several
// minutes of compiling on two cores for code the local cluster never runs;
// choosing plugins in a main package of one's own is how CoreDNS documents
// a custom build. hack/images.sh builds it into bin/images/coredns.tar.
// It is a separate module so the product's go.mod never sees CoreDNS's
// dependencies.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// The plugins in the order they handle a query: the order of upstream's
// plugin.cfg, restricted to those imported above.
func init() {
	dnsserver.Directives = []string{"reload", "ready", "health", "prometheus", "errors", "log", "cache", "kubernetes", "loop"}
}

func main() { coremain.Run() }
