# make bench: the burst benchmark and cost report (bench/, docs/bench.md). Not part of
# make test: it runs for several minutes. BENCH_FLAGS passes flags to fleet-bench, e.g.
# make bench BENCH_FLAGS='-jobs 200 -scenarios baseline'.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := $(shell $(GO) env GOPATH)/bin/aws-lambda-rie

.PHONY: bench bench-rie bench-smoke
bench: statemachine-engine build local-bootstraps bench-rie
	$(GO) run ./bench/cmd/fleet-bench -rie $(RIE) $(BENCH_FLAGS)

# The Lambda Runtime Interface Emulator, for cold starts (the module has no tags; this
# pseudo-version builds with Go 1.26).
bench-rie:
	@test -x $(RIE) || $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

# A 20-job burst through the same code, in go test (about a minute).
bench-smoke: statemachine-engine local-bootstraps
	BENCH_SMOKE=1 $(GO) test -count=1 -run TestBurstSmoke -timeout 5m ./bench/
