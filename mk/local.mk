# local/lambdalocal and local/sfnlocal: the Lambda Runtime API and the Step Functions
# engine serve many goroutines (sandboxes polling, Task calls, engine events); the race
# detector guards them. The end-to-end suite (local/fleetlocal) runs under go-test.
.PHONY: local-race-test
local-race-test: statemachine-engine
	$(GO) test -race -count=1 ./local/lambdalocal/... ./local/sfnlocal/...

TEST_DEPS += local-race-test
