# gatewatch — build, test and demo. `make demo` and `make test` are the two
# commands a newcomer needs (README).

GO       ?= go
BIN      := bin
BINARIES := $(BIN)/gatewatch $(BIN)/gatewatch-guard $(BIN)/gwctl $(BIN)/kongsim
# Packages whose tests run under the race detector (they have concurrency).
RACE_PKGS := ./pkg/... ./plugins/... ./integration/... ./cmd/...

.PHONY: all build test setup vet fmt-check demo soak bench bench-detect clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/gatewatch ./pluginserver/gatewatch
	$(GO) build -o $(BIN)/gatewatch-guard ./pluginserver/gatewatch-guard
	$(GO) build -o $(BIN)/gwctl ./cmd/gwctl
	$(GO) build -o $(BIN)/kongsim ./integration/kongsim/cmd/kongsim

setup:
	./scripts/setup.sh

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# make test: everything CI checks, on a fresh machine.
test: setup fmt-check vet build
	$(GO) test -race -timeout 12m $(RACE_PKGS)

demo: build
	$(GO) run ./integration/demo -bin $(BIN) -kong-yml kong-conf/kong.yml $(if $(KEEP),-keep,)

# make soak: the whole pipeline for 10 minutes under load and faults; writes
# docs/soak.md. Also runs the publisher's and the monitor's outage tests at
# full size (100 000 events, broker down 30 s).
soak: setup build
	GATEWATCH_SOAK=1 $(GO) test -race -count=1 -run TestABrokerOutageMidRunLosesNothing ./pkg/publish
	GATEWATCH_SOAK=1 $(GO) test -race -count=1 -run TestTheLogHandlerNeverWaits ./plugins/monitor
	$(GO) run ./integration/soak/cmd/soak -duration 10m -out docs/soak.md

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./pkg/... | tee bench.out

bench-detect:
	cd bench && $(GO) run ./cmd/bench-detect -corpus ../../shared/corpus

clean:
	rm -rf $(BIN)
