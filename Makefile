# purge-operator Makefile. `make help` lists the targets.
#
# Every tool the targets need is built or installed into bin/ (git-ignored)
# at a pinned version, so a fresh clone needs only Go and make.

# Image the manager runs and the cacheproxy image its CacheProxies default to.
VERSION ?= v0.1.0
IMG ?= ghcr.io/cacheops/purge-operator:$(VERSION)
CACHEPROXY_IMG ?= ghcr.io/cacheops/cacheproxy:$(VERSION)
# Image of the demo's web origin (test/cmd/demo-origin).
DEMO_ORIGIN_IMG ?= ghcr.io/cacheops/demo-origin:$(VERSION)
# Registry make image-push pushes to, e.g. registry.example.com/team.
REGISTRY ?=

# Pinned tool versions.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
# helm, which the e2e suite installs dist/chart with.
HELM_VERSION ?= v4.3.2
K8S_VERSION ?= v1.37.2

LOCALBIN ?= $(CURDIR)/bin
IMAGES_DIR ?= $(LOCALBIN)/images
ENVTEST_DIR ?= $(LOCALBIN)/k8s
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
KUBECTL ?= $(ENVTEST_DIR)/kubectl

# Generated files `make verify-gen` checks against what is committed.
GENERATED_PATHS := api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml

GO_TEST_FLAGS ?= -race -timeout 30m

# envtest waits 20s by default for kube-apiserver and etcd; test packages run
# in parallel, each starting its own, and on a busy 2-core machine that was
# not enough (a BeforeSuite failed while the API server was still starting).
export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT ?= 2m
export KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT ?= 1m

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the manager's ClusterRole from the API types and RBAC markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-gen
verify-gen: generate manifests ## Fail if generated files differ from what is committed.
	@if ! git diff --exit-code --stat -- $(GENERATED_PATHS) || [ -n "$$(git status --porcelain --untracked-files=all -- $(GENERATED_PATHS))" ]; then \
		echo "Generated files are stale: run 'make generate manifests' and commit the result." >&2; \
		git status --short -- $(GENERATED_PATHS) >&2; exit 1; fi

.PHONY: dist
dist: manifests envtest ## Generate dist/install.yaml and the Helm chart dist/chart from config/.
	KUBECTL=$(KUBECTL) VERSION=$(VERSION) hack/gen-dist.sh

.PHONY: verify-dist
verify-dist: dist ## Fail if dist/ differs from what config/ gives.
	@if ! git diff --exit-code --stat -- dist || [ -n "$$(git status --porcelain --untracked-files=all -- dist)" ]; then \
		echo "dist/ is stale: run 'make dist' and commit the result." >&2; git status --short -- dist >&2; exit 1; fi

.PHONY: fmt
fmt: ## Format the Go code (gofmt -s).
	gofmt -s -w $$(git ls-files '*.go' | grep -v '^hack/tools/')

.PHONY: verify-fmt
verify-fmt: ## Fail if any Go file is not gofmt-formatted.
	@out=$$(gofmt -s -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "Not gofmt-formatted (run make fmt):" >&2; echo "$$out" >&2; exit 1; fi

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (config: .golangci.yml).
	$(GOLANGCI_LINT) run ./...

# The local cluster's node is real (kubelet, containerd, network namespace,
# cgroups): Linux and root. AS_ROOT runs a program as root, with sudo when
# make is not run as root; NODE_CHECK says so up front.
AS_ROOT := $(CURDIR)/hack/as-root.sh
NODE_CHECK := $(AS_ROOT) --check

.PHONY: test
test: verify-gen verify-dist verify-fmt vet node-prereqs envtest build images helm chromium test-clients ## Run every test: unit, fuzz seeds, envtest suites and end to end on a real local node (Linux, root or sudo; first run builds Kubernetes, 15 to 25 minutes on 2 cores).
	@$(NODE_CHECK)
	KUBEBUILDER_ASSETS="$(ENVTEST_DIR)" BIN_DIR="$(LOCALBIN)" IMAGES_DIR="$(IMAGES_DIR)" go test -exec "$(AS_ROOT)" $(GO_TEST_FLAGS) ./...

.PHONY: test-e2e
test-e2e: node-prereqs envtest images helm ## Run only the end-to-end suite: the whole product on the local cluster, driven by kubectl (Linux, root or sudo).
	@$(NODE_CHECK)
	KUBEBUILDER_ASSETS="$(ENVTEST_DIR)" BIN_DIR="$(LOCALBIN)" IMAGES_DIR="$(IMAGES_DIR)" go test -exec "$(AS_ROOT)" $(GO_TEST_FLAGS) ./test/e2e/...

# The npm clients the purge gateway's tests drive, pinned by package-lock.json.
FASTLY_JS_DIR := controllers/gateway/testdata/fastly-js

.PHONY: test-clients
test-clients: ## Install the JavaScript client the gateway tests drive (npm ci; without npm that test is skipped).
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm not found: the Fastly JavaScript client test will be skipped" >&2; \
	elif [ ! -f $(FASTLY_JS_DIR)/node_modules/.package-lock.json ] || [ $(FASTLY_JS_DIR)/package-lock.json -nt $(FASTLY_JS_DIR)/node_modules/.package-lock.json ]; then \
		cd $(FASTLY_JS_DIR) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

##@ Demo and benchmarks

.PHONY: demo
demo: node-prereqs envtest images ## Run the product end to end on a local single-node cluster (Linux, root or sudo) with a narrated tour; DEMO_FLAGS=--exit exits after it.
	@$(NODE_CHECK)
	go build -o $(LOCALBIN)/demo ./test/cmd/demo
	$(AS_ROOT) $(LOCALBIN)/demo --bin-dir "$(LOCALBIN)" $(DEMO_FLAGS)

# kind-demo's cluster name; kind and kubectl come from PATH.
KIND_CLUSTER ?= purge-operator-demo

.PHONY: kind-demo
kind-demo: images ## The demo's product and samples on a kind cluster, images loaded with kind load image-archive (needs Docker and kind; untested on the build machines, which have neither).
	KIND_CLUSTER=$(KIND_CLUSTER) IMAGES_DIR=$(IMAGES_DIR) DEMO_ORIGIN_IMG=$(DEMO_ORIGIN_IMG) hack/kind-demo.sh

.PHONY: bench
bench: node-prereqs envtest images ## Benchmarks against Varnish and nginx, and purge latency across a fleet (BENCH_FLAGS=--short for a quick look).
	hack/bench/run.sh $(BENCH_FLAGS)

##@ Build

# Static binaries (no cgo), so the very files that run on the host also go
# into the images; -trimpath keeps them (and so the image digests) the same
# whatever the checkout's path, and -buildvcs=false whatever git can say
# about the checkout (Go stamps the revision and a "modified" bit by default,
# and leaves them out where GOFLAGS or git's safe.directory check say so, so
# two machines building the same commit got different digests).
GO_BUILD_STATIC := CGO_ENABLED=0 go build -trimpath -buildvcs=false

.PHONY: build
build: ## Build bin/manager, bin/cacheproxy, bin/demo-origin, bin/http-request and bin/kubectl-purge (with its completion link, kubectl_complete-purge), all static.
	$(GO_BUILD_STATIC) -o $(LOCALBIN)/ ./cmd/manager ./cmd/cacheproxy ./cmd/kubectl-purge ./test/cmd/demo-origin ./test/cmd/http-request
	ln -sf kubectl-purge $(LOCALBIN)/kubectl_complete-purge

.PHONY: images
images: build ## Build the manager, cacheproxy, demo origin, CoreDNS and pause images as OCI archives in bin/images (no Docker, no registry; reproducible).
	BIN_DIR=$(LOCALBIN) IMAGES_DIR=$(IMAGES_DIR) K8S_VERSION=$(K8S_VERSION) IMG=$(IMG) CACHEPROXY_IMG=$(CACHEPROXY_IMG) \
		DEMO_ORIGIN_IMG=$(DEMO_ORIGIN_IMG) hack/images.sh

.PHONY: image-push
image-push: images ## Push the manager and cacheproxy images to REGISTRY with the credentials of ~/.docker/config.json (no Docker needed).
	@[ -n "$(REGISTRY)" ] || { echo "image-push needs REGISTRY, e.g. make image-push REGISTRY=registry.example.com/team" >&2; exit 1; }
	$(LOCALBIN)/imgtool push $(IMAGES_DIR)/manager.tar $(REGISTRY)/$(notdir $(IMG))
	$(LOCALBIN)/imgtool push $(IMAGES_DIR)/cacheproxy.tar $(REGISTRY)/$(notdir $(CACHEPROXY_IMG))

.PHONY: run
run: manifests generate ## Run the manager from your host against the cluster in ~/.kube/config (or KUBECONFIG).
	go run ./cmd/manager --metrics-bind-address=:8080 --metrics-secure=false --health-probe-bind-address=:8081

.PHONY: docker-build
docker-build: ## Build the manager and cacheproxy images (needs a Docker engine, which the build machines lack).
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "docker-build needs a running Docker engine; none is available here." >&2; exit 1; }
	docker build -f cmd/manager/Dockerfile -t $(IMG) .
	docker build -f cmd/cacheproxy/Dockerfile -t $(CACHEPROXY_IMG) .

##@ Deployment

.PHONY: install
install: manifests envtest ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests envtest ## Remove the CRDs (and every CacheProxy and Purge) from the cluster.
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests envtest ## Deploy CRDs, RBAC and the manager (image IMG) to the cluster.
	@overlay=$$(mktemp -d config/.deploy.XXXXXX) && trap 'rm -rf "$$overlay"' EXIT && \
	printf 'resources:\n- ../default\nimages:\n- name: ghcr.io/cacheops/purge-operator\n  newName: %s\n  newTag: %s\n' \
		"$(firstword $(subst :, ,$(IMG)))" "$(lastword $(subst :, ,$(IMG)))" > "$$overlay/kustomization.yaml" && \
	$(KUBECTL) apply --server-side -k "$$overlay"

.PHONY: undeploy
undeploy: envtest ## Remove what deploy installed.
	$(KUBECTL) delete --ignore-not-found -k config/default

##@ Tools

.PHONY: envtest
envtest: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet and kube-proxy into bin/k8s (once).
	K8S_VERSION=$(K8S_VERSION) ENVTEST_DIR=$(ENVTEST_DIR) hack/setup-envtest.sh >/dev/null

.PHONY: dashboard-screenshots
dashboard-screenshots: envtest chromium ## Regenerate the README's two dashboard screenshots (docs/images) with the browser test that takes them.
	cd cmd/kubectl-purge/internal/dashboard && KUBEBUILDER_ASSETS="$(abspath $(ENVTEST_DIR))" go test -count=1 . -ginkgo.focus='names its controls exactly'
	cp test/.state/dashboard/home-light.png docs/images/dashboard-home.png
	cp test/.state/dashboard/detail-dark.png docs/images/dashboard-detail-dark.png

.PHONY: chromium
chromium: ## Install Debian's chromium for the dashboard's browser tests if missing (they skip, saying so, if it cannot be).
	@hack/install-chromium.sh >/dev/null

.PHONY: node-prereqs
node-prereqs: ## Install what the local cluster's node runs (containerd, runc, CNI plugins, iptables; Debian packages) when missing.
	hack/setup-node.sh

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN):
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: helm
helm: $(HELM) ## Install helm into bin/ (the e2e suite installs and uninstalls dist/chart with it).
$(HELM):
	$(call go-install-tool,$(HELM),helm.sh/helm/v4/cmd/helm,$(HELM_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into bin/.
$(GOLANGCI_LINT):
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool installs package $(2) at version $(3) as $(1) (a
# versioned name, so a version bump reinstalls), plus a plain symlink.
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
rm -f $(1) ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv $(LOCALBIN)/$$(basename "$$(echo "$(2)" | sed 's|/v[0-9]*$$||')") $(1) ;\
} ;\
ln -sf $$(basename $(1)) $(LOCALBIN)/$$(basename "$$(echo "$(2)" | sed 's|/v[0-9]*$$||')")
endef
