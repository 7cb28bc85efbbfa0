# activities/cleanup: its verdict is tested against the Cleanup invocations the real
# RunnerFleet definition produces in the local engine (testdata/engine-inputs.json).
# This target re-records them and fails when the committed copy is stale, i.e. the ASL
# changed what it hands Cleanup; `make cleanup-engine-inputs-update` rewrites the copy.

CLEANUP_ENGINE_INPUTS := activities/cleanup/testdata/engine-inputs.json

.PHONY: cleanup-engine-inputs cleanup-engine-inputs-update
TEST_DEPS += cleanup-engine-inputs

cleanup-engine-inputs: statemachine-engine
	@node activities/cleanup/testdata/engine-inputs.js | diff -u $(CLEANUP_ENGINE_INPUTS) - \
		|| { echo "$(CLEANUP_ENGINE_INPUTS) is stale: run make cleanup-engine-inputs-update and go test ./activities/cleanup"; exit 1; }

cleanup-engine-inputs-update: statemachine-engine
	node activities/cleanup/testdata/engine-inputs.js > $(CLEANUP_ENGINE_INPUTS)
