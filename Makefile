# ceremony: build, demo, test, bench. CI runs .ci/run, which calls `make test`.
GO      ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all deps test-deps build demo test vet bench crash-sweep fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ceremony ./ceremony

## deps: checks (and as root with apt-get, installs) gcc, softhsm2, opensc,
## openssl, zbar-tools and tmux, before anything is built
deps:
	@sh scripts/demo/deps.sh

## demo: full rehearsal ceremony on a fresh SoftHSM2 token -> transcripts/demo/
demo: deps build
	sh scripts/demo/demo.sh

## test: every test, as CI runs them (needs softhsm2, opensc, openssl, and
## the opencryptoki and tpm2-pkcs11 packages scripts/demo/deps.sh lists)
test: test-deps vet
	$(GO) test -count=1 -timeout 30m ./...

test-deps:
	@sh scripts/demo/deps.sh test

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## crash-sweep: kills the root ceremony, close and a signing ceremony at
## every file-changing system call (make test tries some at random);
## about 15 minutes on two cores
crash-sweep: test-deps
	CEREMONY_SYSCALL_STRIDE=1 $(GO) test -count=1 -timeout 0 -run 'TestKill.*AtSystemCalls' ./ceremony

## fuzz: runs every parser's fuzz target for FUZZTIME each (default 30s),
## one after the other with one worker; the list is in scripts/fuzz.sh.
## make test runs only their seed corpora
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) sh scripts/fuzz.sh

## bench: performance, measured in benchmarks only (QR numbers use the demo's bundle)
bench:
	@test -f transcripts/demo/transcript.sig || $(MAKE) demo
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin .softhsm transcripts/demo transcripts/demo-*
