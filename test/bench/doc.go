// Package bench measures the product against the tools users would pick
// instead, on one machine, in one run: what `make bench` (hack/bench/run.sh
// and the program test/cmd/bench) executes.
//
//   - Data path (dataplane.go): cacheproxy, Varnish and nginx in front of
//     the same Go origin (origin.go), driven by wrk (wrk.go and
//     hack/bench/bench.lua) in alternating rounds: 1 KiB hits on a hot set
//     and over a 10,000-URL working set, 100 KiB and 1 MiB hits, 1 KiB misses.
//     Requests/s, latency, CPU per request (proc.go reads /proc for the
//     server's whole process group), cacheproxy's ratio to each peer.
//   - Invalidation cost (invalidation.go): a million objects in one
//     cacheproxy, then in one Varnish: ban registration and when it takes
//     effect, hits with active bans, 1,000 purges, a tag purge of 10,000
//     objects, memory per object.
//   - Memory per object (memory.go): each server alone filled with 256-byte
//     and with 1 KiB objects, RSS fitted against the object count;
//     cacheproxy also with --gc-headroom=0 (GOGC 100), and its purges
//     timed beside the stored objects in each configuration.
//   - Origin protection (protection.go): purge a hot object under load and
//     count the origin requests that follow.
//   - Fleet (fleet.go): Purge create→Complete on the local cluster of
//     test/localcluster with the operator installed from dist/install.yaml
//     (fleet_operator.go), for 3, 10 and 50 pods.
//
// Servers (servers.go) get free loopback ports at run time, their own
// scratch directories, and run in their own process groups so that
// Procs.StopAll stops them and their workers whatever happens; the
// Varnish VCL and nginx configuration are templates in hack/bench. The
// results (report.go) are a Markdown report and the same numbers as JSON.
// docs/benchmarks.md explains the choices and reads the latest full run.
package bench
