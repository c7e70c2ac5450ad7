# distswarm — build, test, demo.
GO ?= go
BIN := bin/distswarm
# Short, bounded fuzzing of every parser we own (run in CI).
FUZZTIME ?= 10s

.PHONY: all build test test-short fuzz bench demo vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/distswarm

vet:
	$(GO) vet ./...

# The README's test command: vet + every test with the race detector.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short -count=1 ./...

# Each fuzz target runs for FUZZTIME; targets are discovered from the source.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Benchmarks P1-P6 against libtorrent, HTTP and coreutils (docs/benchmarks.md);
# e.g. BENCH=P1,P2 SIZE=1/16 make bench for a quick subset.
bench:
	bash integration/bench.sh

demo: build
	bash integration/demo.sh

clean:
	rm -rf bin
