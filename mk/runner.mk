# runner/: the runner image recipe, the entrypoint, and their checks.
#
#   make runner-context  the CodeBuild source for image builds (build/runner/context):
#                        the recipe files plus the entrypoint for linux/amd64 and arm64
#   make runner-lint     shellcheck on every shell script, hadolint on the Dockerfiles
#                        when Debian packages it (it does not today: say so and go on)
#
# The Go tests (recipe hash, build script and installer behaviour with fake tools,
# launch/entrypoint with a fake run.sh and the KMS fake) run under go-test.

RUNNER_CONTEXT     := build/runner/context
RUNNER_RECIPE      := buildspec.yml build-image.sh Dockerfile.derived install-runner.sh runner.env
RUNNER_SHELL       := $(wildcard runner/*.sh)
RUNNER_DOCKERFILES := runner/Dockerfile runner/Dockerfile.derived
RUNNER_ARCHES      := amd64 arm64

.PHONY: runner-context runner-lint runner-tools
TEST_DEPS += runner-lint
# CDK deploys the context as the image build project's source, like the Lambda bootstraps.
build: runner-context

# Reproducible like the Lambdas: same source, same bytes, same asset hash.
runner-context: FORCE
	@rm -rf $(RUNNER_CONTEXT) && mkdir -p $(RUNNER_CONTEXT)
	cd runner && cp $(RUNNER_RECIPE) $(CURDIR)/$(RUNNER_CONTEXT)/
	chmod 0755 $(RUNNER_CONTEXT)/*.sh
	@for arch in $(RUNNER_ARCHES); do \
		echo "entrypoint linux/$$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=false \
			-ldflags='-s -w -buildid=' \
			-o $(RUNNER_CONTEXT)/entrypoint/linux-$$arch/runner-fleet-entrypoint ./runner/entrypoint || exit 1; \
	done

# CI starts on a fresh machine: install shellcheck from Debian when it is missing.
runner-tools:
	@command -v shellcheck >/dev/null 2>&1 || { \
		echo "installing shellcheck (Debian package)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq shellcheck >/dev/null; \
	}
	@if ! command -v hadolint >/dev/null 2>&1; then \
		if apt-cache policy hadolint 2>/dev/null | grep -q 'Candidate: [0-9]'; then \
			SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq hadolint >/dev/null; \
		fi; \
	fi

runner-lint: runner-tools
	shellcheck --external-sources --shell=sh runner/install-runner.sh
	shellcheck --external-sources $(filter-out runner/install-runner.sh,$(RUNNER_SHELL))
	@if command -v hadolint >/dev/null 2>&1; then \
		hadolint $(RUNNER_DOCKERFILES); \
	else \
		echo "hadolint: Debian has no hadolint package (apt-cache policy hadolint shows no candidate); Dockerfiles not linted"; \
	fi
