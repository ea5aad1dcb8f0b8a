# seclab — see README.md. Long builds (Kubernetes, node and lab images) live in
# scripts/airgap and are cached under $(SECLAB_CACHE); every target here is
# cheap when nothing changed.
SHELL := /bin/bash
GO ?= go
BIN := bin/seclab
LAB ?= netpol
export SECLAB_CACHE ?= /var/cache/seclab

.PHONY: all build test unit e2e mutants vet docker images kubectl lab airgap-selftest netpol-conformance clean bench

all: build

build:
	$(GO) build -o $(BIN) ./cmd/seclab

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...

# A docker engine that can run kind nodes on this machine kind (installs
# Debian's docker.io and starts dockerd with the capability wrapper if needed).
docker:
	scripts/airgap/docker.sh

# The air-gapped kind node image, the NetworkPolicy agent and the lab images
# (cold: tens of minutes; warm: seconds).
images: docker
	scripts/airgap/build.sh

# The labs are done with kubectl: use the one in PATH, else install the one
# the image build made (same version as the clusters).
kubectl: images
	@command -v kubectl >/dev/null || install -m 0755 $(SECLAB_CACHE)/bin/kubectl /usr/local/bin/kubectl

# Start a lab as a learner would: make lab (netpol) or make lab LAB=secrets.
lab: images build kubectl
	$(BIN) start $(LAB)

unit:
	$(GO) test ./...

# Real kind clusters from the air-gapped images: every lab's self-test.
e2e: images
	$(GO) test -tags e2e -count=1 -timeout 80m -v ./e2e/ 2>&1 | tee e2e.out; exit $${PIPESTATUS[0]}

# Every lab's self-test with all its generated mutants (e2e runs a sample),
# on real clusters; long. Any survivor fails it (exit: the worst lab's).
mutants: images build
	@rc=0; for f in labs/*/lab.yaml; do \
		lab=$$(basename $$(dirname $$f)); \
		$(BIN) lab test --mutants all $$lab || { c=$$?; [ $$c -gt $$rc ] && rc=$$c; }; \
	done; exit $$rc

# One lab's e2e self-test N times in a row on one cluster (flakiness):
# make e2e-repeat (netpol, 10 runs) or make e2e-repeat TEST=TestSecrets N=3
N ?= 10
TEST ?= TestNetpol
e2e-repeat: images
	SECLAB_MUTANTS=$${SECLAB_MUTANTS:-none} $(GO) test -tags e2e -count=$(N) -failfast -timeout 180m -v -run '^$(TEST)$$' ./e2e/ 2>&1 | tee e2e-repeat.out; exit $${PIPESTATUS[0]}

# Everything: vet, unit tests, the air-gapped image self-test, then the
# real-cluster e2e tests of every lab.
test: vet unit airgap-selftest e2e

airgap-selftest: images
	scripts/airgap/selftest.sh

# The upstream Kubernetes NetworkPolicy e2e suite against a running seclab
# cluster (long; by hand): make netpol-conformance CLUSTER=seclab-netpol
netpol-conformance:
	../shared/tools/netpol-conformance $(CLUSTER)

clean:
	rm -rf bin e2e.out e2e-repeat.out

# seclab start (cold and warm) against plain kind create, in one run.
bench: images
	$(GO) test -tags e2e -run '^$$' -bench StartVsKindCreate -benchtime 1x -timeout 30m ./e2e/
