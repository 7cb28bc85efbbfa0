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

.PHONY: all build test lint go-test fmt clean
all: build

# Reproducible Lambda bootstraps: same source, same bytes, so CDK asset hashes are stable.
build: $(BOOTSTRAPS)
build/lambda/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -tags lambda.norpc -trimpath \
		-buildvcs=false -ldflags='-s -w -buildid=' -o $@ ./activities/$*

lint:
	@out=$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$($(GO) list -f '{{.Dir}}' ./...)

go-test:
	$(GO) test -count=1 ./...

test: lint build go-test $(TEST_DEPS)

clean:
	rm -rf build cdk.out

FORCE:

