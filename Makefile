# Runner Fleet. `make demo` and `make test` are the front door (README.md).
# Area-specific targets live in mk/*.mk, one file per area, included below.

GO      ?= go
GOARCH  ?= arm64
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20

# Every folder under activities/ with a main.go is one Lambda function.
LAMBDAS := $(patsubst activities/%/main.go,%,$(wildcard activities/*/main.go))
BOOTSTRAPS := $(LAMBDAS:%=build/lambda/%/bootstrap)

# Targets that `make test` runs besides `go test ./...` (areas append to it).
TEST_DEPS :=

-include mk/*.mk

.DEFAULT_GOAL := all

.PHONY: all build test lint go-test fmt clean local demo local-bootstraps
all: build

# Reproducible Lambda bootstraps: same source, same bytes, so CDK asset hashes are stable.
build: $(BOOTSTRAPS)
build/lambda/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -tags lambda.norpc -trimpath \
		-buildvcs=false -ldflags='-s -w -buildid=' -o $@ ./activities/$*

# The module's own Go files only: gofmt given a directory would also walk into
# cdk/_cli/node_modules, whose CDK init templates are not Go.
GO_FILES = $(GO) list -f '{{range .GoFiles}}{{$$.Dir}}/{{.}} {{end}}{{range .TestGoFiles}}{{$$.Dir}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$$.Dir}}/{{.}} {{end}}{{range .IgnoredGoFiles}}{{$$.Dir}}/{{.}} {{end}}' ./...
lint:
	@out=$$(gofmt -l $$($(GO_FILES))) || exit 1; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$($(GO_FILES))

# The local environment's tests run the state machine in the Node engine: install it first.
go-test: statemachine-engine
	$(GO) test -count=1 ./...

test: lint build go-test $(TEST_DEPS)

# The local environment runs the same Lambda sources built for this machine.
local-bootstraps:
	@for fn in $(LAMBDAS); do \
		CGO_ENABLED=0 GOOS=linux $(GO) build -tags lambda.norpc -trimpath -buildvcs=false \
			-ldflags='-s -w -buildid=' -o build/local/$$fn/bootstrap ./activities/$$fn || exit 1; \
	done

# fleet-local: the whole control plane on loopback (first stdout line: endpoints as JSON).
local: statemachine-engine local-bootstraps
	$(GO) run ./cmd/fleet-local -bootstraps build/local $(LOCAL_FLAGS)

# The README's first command: a realistic scenario end to end, then a summary.
demo: statemachine-engine local-bootstraps
	$(GO) run ./cmd/fleet-demo -bootstraps build/local $(DEMO_FLAGS)

clean:
	rm -rf build cdk.out

FORCE:

