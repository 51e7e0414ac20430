# herald: make demo | build | test | bench | lint | fuzz | chart-lint | chart-test | docker
# Every target is plain `go` underneath; see README, Development.

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BENCHTIME ?= 200ms
FUZZTIME  ?= 15s
HELM_VERSION := v3.22.0
# helm is built once through the Go module proxy (the first build takes
# minutes) and reused from bin/; a new version gets a directory of its own.
HELM     := bin/helm-$(HELM_VERSION)/helm
IMAGE    ?= herald

.PHONY: all demo build test bench lint fuzz helm chart-lint chart-test docker clean need-redis

all: lint test build

## demo: build and run `herald demo` (the console on http://127.0.0.1:8080/); ARGS="--addr 127.0.0.1:9090" passes flags
demo: build
	bin/herald --log-level warn --log-format console demo $(ARGS)

## build: static binary at bin/herald, version stamped from git
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/herald ./cmd/herald

## test: every test, race detector on; the Redis suite starts a real redis-server
test: need-redis
	go test -race -count=1 ./...

need-redis:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "make test needs redis-server on PATH: the Redis suite starts a real one on a free port."; \
		echo "Install it:  sudo apt-get install -y redis-server   (Debian/Ubuntu)"; \
		echo "             brew install redis                     (macOS)"; \
		exit 1; }

## bench: every benchmark, briefly (BENCHTIME=1s for steadier numbers)
bench:
	go test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./...

## lint: gofmt must list nothing; go vet must pass
lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

## fuzz: run each fuzz target for FUZZTIME (go test -fuzz takes one target at a time)
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
		for target in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## helm: build helm $(HELM_VERSION) into bin/ (CI starts it early, beside make test)
helm: $(HELM)
$(HELM):
	GOBIN=$(CURDIR)/$(dir $(HELM)) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

## chart-lint: helm lint of charts/herald (builds helm through the Go module proxy; not part of test)
chart-lint: $(HELM)
	$(HELM) lint --strict charts/herald
	$(HELM) template herald charts/herald >/dev/null

## chart-test: the chart's tests (charts/herald/tests, a module of its own): helm lint, helm template
## with three replicas and each optional feature, strict decode into the Kubernetes types, schema, README
chart-test: $(HELM)
	cd charts/herald/tests && go vet ./... && HELM=$(CURDIR)/$(HELM) go test -count=1 ./...

## docker: container image (distroless, non-root)
docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE):$(VERSION) .

clean:
	rm -rf bin
