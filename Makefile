# distswarm — build, test, demo.
GO ?= go
BIN := bin/distswarm
# The version distswarm --version prints (empty outside a git checkout: the
# binary then asks its build info).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
GOLDFLAGS := -X main.version=$(VERSION)

# make install: PREFIX=/usr/local, DESTDIR for staging (packages).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/distswarm
# /etc whatever PREFIX: distswarm reads /etc/distswarm/distswarm.toml, OpenRC
# reads /etc/init.d and /etc/conf.d.
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
# Short, bounded fuzzing of every parser we own (run in CI).
FUZZTIME ?= 10s

.PHONY: all build test test-short fuzz bench demo vet clean man install sample-config fuzz-long

all: build

build:
	$(GO) build -ldflags "$(GOLDFLAGS)" -o $(BIN) ./cmd/distswarm

# distswarm(1), generated from the commands and flags.
man: build
	$(BIN) man > bin/distswarm.1

# The sample config (every key at its default), generated from the flags;
# a test fails when a key is missing from it.
sample-config: build
	$(BIN) sample-config > packaging/distswarm.toml

# The binary, distswarm(1), the OpenRC service, the systemd unit and the
# sample config (installed as the config file only where there is none).
# The service files get BINDIR.
install: build man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(SYSCONFDIR)/conf.d \
	    $(DESTDIR)$(SYSCONFDIR)/distswarm $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/distswarm
	install -m 0644 bin/distswarm.1 $(DESTDIR)$(MANDIR)/man1/distswarm.1
	sed -e 's|@BINDIR@|$(BINDIR)|g' packaging/openrc/distswarm.initd \
	    > $(DESTDIR)$(SYSCONFDIR)/init.d/distswarm
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/distswarm
	install -m 0644 packaging/openrc/distswarm.confd $(DESTDIR)$(SYSCONFDIR)/conf.d/distswarm
	sed -e 's|@BINDIR@|$(BINDIR)|g' packaging/systemd/distswarm.service \
	    > $(DESTDIR)$(SYSTEMDUNITDIR)/distswarm.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/distswarm.service
	install -m 0644 packaging/distswarm.toml $(DESTDIR)$(DOCDIR)/distswarm.toml.sample
	test -e $(DESTDIR)$(SYSCONFDIR)/distswarm/distswarm.toml || \
	    install -m 0644 packaging/distswarm.toml $(DESTDIR)$(SYSCONFDIR)/distswarm/distswarm.toml

vet:
	$(GO) vet ./...

# The README's test command: vet + every test with the race detector.
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...

test-short:
	$(GO) test -short -count=1 ./...

# Each fuzz target runs for FUZZTIME; targets are discovered from the source.
# CI gives a count (e.g. 20000x): a duration races Go's fuzz coordinator at the
# deadline and fails with a bare "context deadline exceeded" (go.dev/issue/75804,
# fixed in Go 1.27) when the machine is busy.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Every fuzz target for FUZZLONG (default 10m) each; not part of CI. The
# corpus found is kept in the Go build cache for the next run.
FUZZLONG ?= 10m
fuzz-long:
	$(MAKE) fuzz FUZZTIME=$(FUZZLONG)

# Benchmarks P1-P6, G1, G2, B1, B2 against libtorrent, HTTP and coreutils (docs/benchmarks.md);
# e.g. BENCH=P1,P2 SIZE=1/16 make bench for a quick subset.
bench:
	bash integration/bench.sh

demo: build
	bash integration/demo.sh

clean:
	rm -rf bin
