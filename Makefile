# gatehouse: an LLM gateway with an event-sourced control plane and
# stateless edges. `make help` lists the targets.

GO        ?= go
BIN       := bin/gatehouse
# The version the edge names in x-litellm-version: the checkout's tag or
# commit (internal/version).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS   := $(if $(VERSION),-ldflags "-X github.com/gatehouse/gatehouse/internal/version.Version=$(VERSION)")
# Packages with goroutines and shared state run under the race detector.
RACE_PKGS := ./events/... ./policy/... ./auth/... ./control/... ./edge/... ./internal/... ./spend/... ./schema/...
GO_TEST_FLAGS ?=

.DEFAULT_GOAL := help

##@ Run

.PHONY: run
run: ## Start everything (embedded JetStream, control :4001, edge :4000); MASTER_KEY, CONFIG optional
	$(GO) run ./cmd/gatehouse run

.PHONY: build
build: ## Build bin/gatehouse and bin/gatewayctl
	$(GO) build $(LDFLAGS) -o $(BIN) ./cmd/gatehouse
	$(GO) build -o bin/gatewayctl ./cmd/gatewayctl

##@ Test

.PHONY: test
test: test-deps lint ## Install what tests need, then vet, format-check and run every test
	$(GO) test $(GO_TEST_FLAGS) -count=1 ./...
	$(GO) -C loadtest test $(GO_TEST_FLAGS) -count=1 ./...
	$(GO) test $(GO_TEST_FLAGS) -count=1 -race $(RACE_PKGS)

.PHONY: test-deps
test-deps: bench-deps ## Fetch Go modules, ClickHouse and ZooKeeper (Debian), nginx (bench-deps) and the test OpenID provider (npm oidc-provider); idempotent
	$(GO) mod download
	$(GO) -C loadtest mod download
	scripts/clickhouse.sh install
	scripts/clickhouse.sh install-zookeeper
	@command -v node >/dev/null && command -v npm >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd test/oidc && npm ci --no-audit --no-fund --loglevel=error

.PHONY: lint
lint: ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) -C loadtest vet ./...

.PHONY: clickhouse
clickhouse: ## Install and start the system ClickHouse on 127.0.0.1:9000 (make run uses it when reachable)
	scripts/clickhouse.sh ensure

##@ Benchmarks

.PHONY: bench
bench: bench-deps ## Gateway vs direct vs plain proxy vs nginx, interleaved rounds, plus the propagation probe; writes docs/benchmarks.md (BENCH_ARGS to override, e.g. -rounds 5)
	$(GO) -C loadtest run ./cmd/bench $(BENCH_ARGS)

.PHONY: bench-deps
bench-deps: ## Install nginx (Debian) for the bench's B2 target when missing; idempotent. Without it the bench skips B2 (and says so) and its test skips
	@command -v nginx >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; } || \
		echo "bench-deps: nginx could not be installed: make bench skips B2"

.PHONY: bench-scale
bench-scale: ## Edge with 1M virtual keys and 10k teams: replay time to ready, RSS, lookup ns/op; writes docs/benchmarks.md
	$(GO) -C loadtest run ./cmd/scale $(SCALE_ARGS)

.PHONY: bench-budget
bench-budget: ## Small-budget keys hammered through 2 edges (and 1) at full speed, plus an edge cut from NATS: requests served beyond the budget vs the stated bound (BUDGET_CONNS, BUDGET_SECONDS)
	@out=$$(mktemp); $(GO) test ./test/e2e -run '^(TestBudgetOvershoot|TestBudgetLeaseThroughPartition)$$' -count=1 -v >$$out 2>&1; rc=$$?; \
	grep -E '^(=== RUN|--- |ok|FAIL|panic)|budget(fault)?_test' $$out; rm -f $$out; exit $$rc

.PHONY: bench-micro
bench-micro: ## Go micro-benchmarks of the hot path (auth+decision, request parse, rewrite, spend record) with -benchmem
	$(GO) test -run '^$$' -bench . -benchmem ./policy/ ./edge/... ./auth/...

.PHONY: bench-finance
bench-finance: clickhouse ## Synthetic ledger (BENCH_FINANCE_ARGS='-rows 20000000'; default 100M) in ClickHouse on :9000, rebuild rollups, time docs/finance.md's SQL and the report routes; writes docs/finance.md
	$(GO) run ./spend/rollup/benchfinance $(BENCH_FINANCE_ARGS)

.PHONY: soak
soak: ## Soak: SOAK_DURATION (10m) at SOAK_RPS (200) through 2 edges with faults injected; checks spend rows == accepted, no leaks
	SOAK_DURATION=$${SOAK_DURATION:-10m} SOAK_RPS=$${SOAK_RPS:-200} $(GO) test ./test/e2e -run '^TestSoak$$' -count=1 -v -timeout 90m

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s) in turn; FUZZPARALLEL caps workers
	GO=$(GO) scripts/fuzz.sh

##@ Help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "usage: make <target>\n"} \
		/^[a-zA-Z_-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 } \
		/^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
