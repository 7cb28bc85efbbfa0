# local/simrunner: simulated runner tasks inside the ECS fake, driven by the fake
# GitHub's dispatcher; the race detector guards the ECS hooks and runner goroutines.
.PHONY: simrunner-test
simrunner-test:
	$(GO) test -race -count=1 ./local/simrunner/...

TEST_DEPS += simrunner-test
