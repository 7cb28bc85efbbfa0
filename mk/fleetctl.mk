# fleetctl, the operator's CLI (docs/fleetctl.md). Its tests run in `go test ./...`.
.PHONY: fleetctl
fleetctl:
	$(GO) build -trimpath -o build/fleetctl ./cmd/fleetctl

# The race detector guards runners list's worker pool.
.PHONY: fleetctl-test
fleetctl-test:
	$(GO) test -race -count=1 ./cmd/fleetctl/...

TEST_DEPS += fleetctl-test
