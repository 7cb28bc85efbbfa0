# cdk/: the CDK app (cdk.json at the root: "go run ./cdk") and the pinned CDK CLI.
#
#   make synth     cdk.out/RunnerFleet.template.json, offline: no AWS credentials, no lookups
#   make diff      the pinned CLI's diff against the deployed stack (needs credentials)
#   make deploy    build, then deploy the stack (needs credentials and `cdk bootstrap` once)
#   make destroy   delete the stack (the ECR repository is retained; docs/deploy.md)
#   make cdk-bootstrap  the CDK bootstrap stack for the current account and region
#
# CDK_FLAGS passes extra CLI arguments, e.g. make deploy CDK_FLAGS='-c repositories=my-org/*'.
# The Go tests (go test ./cdk, under go-test) synthesize the same template in-process.

CDK_CLI_DIR := cdk/_cli
CDK_CLI     := npx --prefix $(CDK_CLI_DIR) --no-install cdk
CDK_FLAGS   ?=
# Synth must not see a local environment's fake endpoints or credentials (fleet-local
# exports them), nor wait on the EC2 metadata service for credentials that are not there.
CDK_OFFLINE := env -u AWS_ENDPOINT_URL -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	-u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u CDK_DEFAULT_ACCOUNT \
	-u CDK_DEFAULT_REGION AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
	AWS_SHARED_CREDENTIALS_FILE=/dev/null

.PHONY: synth diff deploy destroy cdk-bootstrap cdk-cli cdk-synth-check cdk-lint
TEST_DEPS += cdk-synth-check cdk-lint

# npm ci installs exactly the committed lockfile; node_modules/.package-lock.json is the
# marker npm writes, so a fresh machine installs once and a lockfile change reinstalls.
cdk-cli: $(CDK_CLI_DIR)/node_modules/.package-lock.json
$(CDK_CLI_DIR)/node_modules/.package-lock.json: $(CDK_CLI_DIR)/package.json $(CDK_CLI_DIR)/package-lock.json
	npm ci --prefix $(CDK_CLI_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

synth: build cdk-cli
	$(CDK_OFFLINE) $(CDK_CLI) synth --quiet --no-notices --no-version-reporting $(CDK_FLAGS)
	@test -s cdk.out/RunnerFleet.template.json && echo "synth: cdk.out/RunnerFleet.template.json"

# The CLI's template must be the one go test checks (cdk.json reaches both the same way).
cdk-synth-check: synth
	RUNNERFLEET_CLI_TEMPLATE=$(CURDIR)/cdk.out/RunnerFleet.template.json \
		$(GO) test -count=1 -run TestCLITemplateMatchesInProcess ./cdk

# cfn-lint checks the template against CloudFormation's resource schemas (property names,
# values, IAM action names) — what a deploy would reject — when the machine has it (the
# Go machine image ships it). W3005: CDK's DependsOn beside a GetAtt is redundant, not wrong.
cdk-lint: synth
	@if command -v cfn-lint >/dev/null 2>&1; then \
		cfn-lint --ignore-checks W3005 -- cdk.out/RunnerFleet.template.json && echo "cfn-lint: RunnerFleet.template.json clean"; \
	else echo "cfn-lint not installed: template schema check skipped (pip install cfn-lint)"; fi

diff: build cdk-cli
	$(CDK_CLI) diff --no-notices $(CDK_FLAGS)

deploy: build cdk-cli
	$(CDK_CLI) deploy --no-notices $(CDK_FLAGS) RunnerFleet

destroy: build cdk-cli
	$(CDK_CLI) destroy --no-notices $(CDK_FLAGS) RunnerFleet

cdk-bootstrap: cdk-cli
	$(CDK_CLI) bootstrap --no-notices $(CDK_FLAGS)
