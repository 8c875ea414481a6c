// Command imgtool builds the project's container images without a container
// engine or a registry, and pushes them to a registry when asked
// (make images, make image-push):
//
//	imgtool build -o bin/images/cacheproxy.tar -tag ghcr.io/cacheops/cacheproxy:v0.1.0 \
//	    -entrypoint /cacheproxy -user 65532:65532 -base nonroot /cacheproxy=bin/cacheproxy
//	imgtool push bin/images/cacheproxy.tar registry.example.com/cacheproxy:v0.1.0
//
// Package hack/imgtool/ociimage says what an image holds and why its digest is
// reproducible. push uses the credentials of ~/.docker/config.json (or
// $DOCKER_CONFIG) and its credential helpers, as docker push would.
package main
