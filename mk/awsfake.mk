# local/awsfake: protocol fakes of the AWS services; the race detector guards the hooks
# engines and simulated runners call from their own goroutines.
.PHONY: awsfake-test
awsfake-test:
	$(GO) test -race -count=1 ./local/awsfake/...

TEST_DEPS += awsfake-test
