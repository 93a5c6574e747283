# azure-authenticator: build, generate, test and demo targets.
# `make help` lists them. Heavy tools are built from the Go module proxy and
# cached by version in $(CACHE_DIR) so fresh clones on the same machine reuse them.

K8S_VERSION ?= v1.37.2
ETCD_VERSION ?= v3.6.16
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v4.3.1

# Where `make image-push` sends the image index (a registry reference), and
# extra flags for it (--allow-dirty pushes a build of uncommitted changes).
IMAGE ?=
IMAGE_PUSH_FLAGS ?=

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

LOCALBIN ?= $(CURDIR)/bin
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/azure-authenticator
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(CACHE_DIR)/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)

export K8S_VERSION ETCD_VERSION HELM_VERSION

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and RBAC in config/ and the chart's CRD templates from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=azure-authenticator-manager crd paths="./..." output:crd:artifacts:config=config/crd/bases
	hack/chart-crds.sh
	go run ./hack/values-doc

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: verify-generated
verify-generated: ## Fail if the committed generated files differ from what the markers produce.
	@before="$$(hack/generated-digest.sh)"; \
	$(MAKE) --no-print-directory manifests generate >/dev/null; \
	if [ "$$before" != "$$(hack/generated-digest.sh)" ]; then \
		echo "Generated files were stale; they have been regenerated now: review and commit them (git status)." >&2; exit 1; \
	fi

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (config in .golangci.yml).
	$(GOLANGCI_LINT) run ./...

.PHONY: envtest
envtest: ## Build (or reuse) kube-apiserver, etcd and kubectl for envtest; prints the assets dir.
	@hack/build-envtest.sh

.PHONY: helm
helm: ## Build (or reuse) the helm CLI the chart tests use; prints its path.
	@hack/build-helm.sh

# The fast tier: every package but test/ (API-server suites, chart and
# install tests) and hack/image (reads the built bin/image).
UNIT_PACKAGES = $(shell go list ./... | grep -v -E '/test/|/hack/image$$')

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s); a failing input lands in testdata/fuzz.
	hack/fuzz.sh

.PHONY: soak
soak: ## Run the long checks: SOAK_DURATION (default 10m) of churn load with SOAK_CLIENTS (32), then the SOAK=1 outage and churn tests.
	hack/soak.sh

.PHONY: bench
bench: ## Measure performance (loopback only, a few minutes, not in CI) and write docs/performance.md.
	hack/bench.sh

.PHONY: test-unit
test-unit: ## Run the fast tier (no API server, no KUBEBUILDER_ASSETS) under the race detector (go vet runs in make test and make lint).
	env -u KUBEBUILDER_ASSETS go test -race -count=1 -vet=off $(UNIT_PACKAGES)

.PHONY: test
test: verify-generated vet envtest helm image ## Run every test against a real kube-apiserver + etcd (chart tests with helm, image tests on bin/image).
	hack/test.sh

##@ Build and run

.PHONY: build
build: ## Build the manager into bin/manager (its version stamped from git) and the kubectl plugin into bin/kubectl-azauthn.
	go build -trimpath -buildvcs=false -ldflags "-X main.version=$(VERSION)" -o $(LOCALBIN)/manager .
	go build -trimpath -buildvcs=false -o $(LOCALBIN)/kubectl-azauthn ./cmd/kubectl-azauthn

.PHONY: image
image: ## Build the multi-arch OCI image without a daemon into bin/image (OCI layout + one docker-load tarball per arch).
	go run ./hack/image build --version $(VERSION) --out $(LOCALBIN)/image

.PHONY: image-push
image-push: image ## Push bin/image's multi-arch index to IMAGE=registry/repository:tag.
	@test -n "$(IMAGE)" || { echo "usage: make image-push IMAGE=registry/repository:tag" >&2; exit 1; }
	go run ./hack/image push --layout $(LOCALBIN)/image/oci --image $(IMAGE) $(IMAGE_PUSH_FLAGS)

.PHONY: run
run: manifests generate ## Run the manager against the cluster of the current kubeconfig (its Secrets in $$POD_NAMESPACE, default "default").
	POD_NAMESPACE=$${POD_NAMESPACE:-default} go run . --leader-elect=false

.PHONY: deploy
deploy: manifests ## Install CRDs, RBAC and the manager with kustomize (config/default) into the cluster of the current kubeconfig.
	kubectl apply -k config/default

.PHONY: undeploy
undeploy: ## Remove what `make deploy` installed (the CRDs too, and with them every AzureHost).
	kubectl delete --ignore-not-found -k config/default

.PHONY: demo
demo: envtest helm ## Run the product end to end on a local control plane (Ctrl-C stops it).
	go run ./hack/demo

.PHONY: demo-check
demo-check: envtest helm ## Run the demo non-interactively; fails if any step fails.
	go run ./hack/demo --check

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	@echo "Building golangci-lint $(GOLANGCI_LINT_VERSION) from the module proxy (a few minutes the first time)"
	mkdir -p $(dir $(GOLANGCI_LINT))
	tmp="$$(mktemp -d)"; GOBIN="$$tmp" go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) && mv "$$tmp/golangci-lint" $(GOLANGCI_LINT); rm -rf "$$tmp"
