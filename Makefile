# meshnet — build, demo and test.
#
#   make demo   build meshnet and run a three-host demo mesh on this machine
#   make test   install what the tests need and run every test
#
# Both install their own dependencies (Debian packages, Go tools) when they
# run as root on a fresh machine. Also:
#
#   make install      binary, config, systemd unit, state dir, completions, docs
#   make bench        data path against raw veth, kernel VXLAN, wireguard-go
#   make sim          gossip simulator (docs/SCALE.md)
#   make chaos/soak   reliability suites (docs/RELIABILITY.md)
#   make fuzz         every fuzz target for FUZZTIME
#   make docs         regenerate docs/CONFIG.md

GO        ?= go
BIN       := bin
STATICCHECK_VERSION := v0.8.2
# Host tools the demo, benchmarks and end-to-end tests use.
DEB_PACKAGES := iproute2 iputils-ping nftables ethtool tshark tcpdump iperf3 wireguard-tools kmod procps socat avahi-daemon
# Only the tests need these: docker.io is the dockerd the Docker plugin's
# test runs (its own, under the test's directory; on a systemd machine the
# package also enables Docker's own service, so the demo does not install
# it), busybox-static the binary its container image holds.
DEB_TEST_PACKAGES := $(DEB_PACKAGES) docker.io busybox-static
GOTESTFLAGS ?=

.PHONY: all build demo test test-unit lint deps deps-go deps-apt fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/meshnet ./cmd/meshnet
	CGO_ENABLED=0 $(GO) build -o $(BIN)/meshnet-cni ./cmd/meshnet-cni

# The main job: a working mesh of three namespace hosts, pinged pair by
# pair, with a service answering by name. Without root (no namespaces) it
# runs `meshnet demo` instead: three unprivileged nodes in one process.
demo: deps-apt build
	@if [ "$$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1; then \
		$(GO) run ./e2e/demo -meshnet $(BIN)/meshnet; \
	else \
		echo "no root or no network namespaces here: running the in-process demo (meshnet demo)"; \
		$(BIN)/meshnet demo; \
	fi

# Every test: lint, unit, fuzz seed corpora, in-process clusters, and the
# root-only end-to-end suites (which skip without root unless CI=true).
# The static-peer test runs wireguard-go as the foreign host's WireGuard.
# Then the race detector runs over every package but the suites that drive
# the real binary (e2e, bench): the in-process clusters in node stand for
# the daemon there, key rotation and a member moving included; -short
# leaves out the twenty-node and simulator runs, too slow under it.
test: deps deps-wggo lint
	MESHNET_WIREGUARD_GO=$(CURDIR)/$(BIN)/wireguard $(GO) test -count=1 $(GOTESTFLAGS) -timeout 30m ./...
	$(GO) test -race -short -count=1 $(GOTESTFLAGS) -timeout 20m $$($(GO) list ./... | grep -v -e /e2e -e /bench)

# Only what runs without root.
test-unit:
	$(GO) test -short ./...

lint: deps-go
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

deps: deps-apt-test deps-go

# wireguard-go, the version meshnet embeds: the benchmark's baseline and the
# foreign host of the static-peer end-to-end test. Installed once.
WIREGUARD_GO_VERSION := v0.0.0-20260522210424-ecfc5a8d5446
.PHONY: deps-wggo
deps-wggo:
	@$(GO) version -m $(BIN)/wireguard 2>/dev/null | grep -q '$(WIREGUARD_GO_VERSION)' || \
		GOBIN=$(CURDIR)/$(BIN) $(GO) install golang.zx2c4.com/wireguard@$(WIREGUARD_GO_VERSION)

deps-go:
	@test -x $(BIN)/staticcheck || GOBIN=$(CURDIR)/$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Install missing Debian packages when running as root; otherwise say what
# is missing and carry on (root-only tests then skip with a reason).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "missing Debian packages (install as root):$$missing"; \
	fi
endef

.PHONY: deps-apt-test
deps-apt:
	$(call apt_install,$(DEB_PACKAGES))

deps-apt-test:
	$(call apt_install,$(DEB_TEST_PACKAGES))

# Run every fuzz target for FUZZTIME each (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep ^Fuzz); do \
			echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf $(BIN)

# Install for a system service (configs/meshnet.service) or `meshnet up -d`.
# An existing /etc/meshnet/meshnet.yaml and the state directory's contents
# are never overwritten; uninstall leaves both. DESTDIR stages a package.
PREFIX  ?= /usr/local
DESTDIR ?=
# CNI plugins live where runtimes look for them (containerd, CRI-O, cnitool).
CNI_BIN_DIR ?= /opt/cni/bin
COMPLETIONS := $(DESTDIR)$(PREFIX)/share
.PHONY: install uninstall
install: build
	install -D -m 0755 $(BIN)/meshnet $(DESTDIR)$(PREFIX)/bin/meshnet
	install -D -m 0755 $(BIN)/meshnet-cni $(DESTDIR)$(CNI_BIN_DIR)/meshnet-cni
	install -d -m 0755 $(DESTDIR)/etc/meshnet
	@if [ -e $(DESTDIR)/etc/meshnet/meshnet.yaml ]; then \
		echo "keeping $(DESTDIR)/etc/meshnet/meshnet.yaml (the shipped one is configs/meshnet.yaml)"; \
	else install -m 0640 configs/meshnet.yaml $(DESTDIR)/etc/meshnet/meshnet.yaml; fi
	install -D -m 0644 configs/60-meshnet-tun.rules $(DESTDIR)/etc/udev/rules.d/60-meshnet-tun.rules
	install -d -m 0755 $(DESTDIR)/etc/systemd/system
	sed 's|/usr/local/|$(PREFIX)/|g' configs/meshnet.service > $(DESTDIR)/etc/systemd/system/meshnet.service
	sed 's|/usr/local/|$(PREFIX)/|g' configs/meshnet-docker-plugin.service > $(DESTDIR)/etc/systemd/system/meshnet-docker-plugin.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/meshnet.service $(DESTDIR)/etc/systemd/system/meshnet-docker-plugin.service
	install -d -m 0700 $(DESTDIR)/var/lib/meshnet
	install -d -m 0755 $(COMPLETIONS)/bash-completion/completions $(COMPLETIONS)/zsh/site-functions $(COMPLETIONS)/fish/vendor_completions.d
	$(BIN)/meshnet completion bash > $(COMPLETIONS)/bash-completion/completions/meshnet
	$(BIN)/meshnet completion zsh > $(COMPLETIONS)/zsh/site-functions/_meshnet
	$(BIN)/meshnet completion fish > $(COMPLETIONS)/fish/vendor_completions.d/meshnet.fish
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/doc/meshnet
	install -m 0644 docs/*.md $(wildcard docs/*.svg) configs/grafana-meshnet.json $(DESTDIR)$(PREFIX)/share/doc/meshnet/
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@if [ -z "$(DESTDIR)" ] && [ -e /dev/net/tun ]; then chmod 0666 /dev/net/tun; fi
	@echo "installed; next: edit /etc/meshnet/meshnet.yaml, then \`systemctl enable --now meshnet\` (or \`meshnet up -d -c /etc/meshnet/meshnet.yaml\`)"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/meshnet $(DESTDIR)$(CNI_BIN_DIR)/meshnet-cni $(DESTDIR)/etc/systemd/system/meshnet.service \
		$(DESTDIR)/etc/systemd/system/meshnet-docker-plugin.service $(DESTDIR)/etc/udev/rules.d/60-meshnet-tun.rules
	rm -f $(COMPLETIONS)/bash-completion/completions/meshnet $(COMPLETIONS)/zsh/site-functions/_meshnet $(COMPLETIONS)/fish/vendor_completions.d/meshnet.fish
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/meshnet
	@echo "left in place: /etc/meshnet (configuration) and /var/lib/meshnet (keys and state)"

# Data path benchmark: meshnet against raw veth, kernel VXLAN and
# wireguard-go on one pair of namespaces, in one run (docs/PERFORMANCE.md).
# Needs root. BENCHFLAGS passes flags, e.g. BENCHFLAGS="--quick".
BENCHFLAGS ?=
.PHONY: bench
bench: deps-apt deps-wggo build
	$(GO) run ./bench --meshnet $(BIN)/meshnet --wireguard-go $(BIN)/wireguard $(BENCHFLAGS)

# Gossip scale simulator: real gossip nodes on an in-memory network in
# virtual time; rewrites the results in docs/SCALE.md and its figures.
# Big sizes take long: 1,000 nodes about half an hour on 2 cores; see
# docs/SCALE.md for the cost of each size. SIMFLAGS passes more flags.
SIM_N    ?= 10,100,1000
SIMFLAGS ?=
.PHONY: sim
sim:
	$(GO) test ./sim -run '^TestScale$$' -count=1 -timeout 0 -v -args -n $(SIM_N) -out docs/SCALE.md $(SIMFLAGS)

# Reliability (docs/RELIABILITY.md). Needs root. `go test ./...` runs short
# versions of both; these run the full ones and write their reports to
# $(BIN)/, along with the regression tests of the bugs they found.
# CHAOSFLAGS passes test flags.
DURATION ?= 10m
CHAOSFLAGS ?=
.PHONY: chaos soak
chaos: deps-apt
	@mkdir -p $(BIN)
	CHAOS_FULL=1 CHAOS_REPORT=$(CURDIR)/$(BIN)/chaos-report.txt HOSTILE_REPORT=$(CURDIR)/$(BIN)/hostile-report.txt \
		$(GO) test -count=1 -v -timeout 90m -run 'TestChaos|TestHostileInput|TestMissedRotations|TestRestartAfterTokenExpired|TestAdminRestartKeepsMembers' $(CHAOSFLAGS) ./e2e/chaos

soak: deps-apt
	@mkdir -p $(BIN)
	SOAK_DURATION=$(DURATION) SOAK_REPORT=$(CURDIR)/$(BIN)/soak-report.txt \
		$(GO) test -count=1 -v -timeout 0 -run 'TestSoak' $(CHAOSFLAGS) ./e2e/chaos

# Regenerate the configuration reference, docs/CONFIG.md, from the doc
# comments in node/config/config.go (node/config/confdoc). A test in every
# `go test` fails when the committed file is out of date.
.PHONY: docs
docs:
	$(GO) run ./node/config/confdoc/cmd/confdoc -o docs/CONFIG.md
