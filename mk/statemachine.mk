# statemachine/: validate both workflow definitions and run the RunnerFleet scenarios
# through the local Step Functions engine (aws-local-stepfunctions, Node). The Go side
# (statemachine.Substitute, the Retry/Catch rules) runs under go-test.

STATEMACHINE_ENGINE := statemachine/_engine

.PHONY: statemachine-test statemachine-engine
TEST_DEPS += statemachine-test

# npm ci installs exactly the committed lockfile; node_modules/.package-lock.json is
# the marker npm writes, so a fresh machine installs once and a lockfile change reinstalls.
statemachine-engine: $(STATEMACHINE_ENGINE)/node_modules/.package-lock.json
$(STATEMACHINE_ENGINE)/node_modules/.package-lock.json: $(STATEMACHINE_ENGINE)/package-lock.json $(STATEMACHINE_ENGINE)/package.json
	npm ci --prefix $(STATEMACHINE_ENGINE) --no-audit --no-fund --loglevel=error
	@touch $@

statemachine-test: statemachine-engine
	cd $(STATEMACHINE_ENGINE) && node --test test/
