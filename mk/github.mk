# internal/ghrunner (the GitHub adapter) and local/githubfake (the fake GitHub it is tested
# against): the race detector guards the shared installation-token cache and the fake's
# state, which tests and the local environment hit from many goroutines.
.PHONY: github-test
github-test:
	$(GO) test -race -count=1 ./internal/ghrunner/... ./local/githubfake/...

TEST_DEPS += github-test
