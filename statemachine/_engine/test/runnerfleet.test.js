'use strict';
// Scenario tests: statemachine/runnerfleet.asl.json run by the local engine, every Task
// answered by a canned handler (test/fixtures.js). Each scenario asserts the final status
// and output and the states entered, per scope (top level, then each Runner branch).

const test = require('node:test');
const assert = require('node:assert/strict');
const { prepare, startExecution, retryableStates, TaskError, lambdaInvoke, lambdaError } = require('../engine');
const f = require('./fixtures');

const DEFINITION = f.substituted('runnerfleet.asl.json');
const MACHINE = prepare(DEFINITION);
const NO_RETRY_PAUSE = Object.fromEntries(retryableStates(MACHINE.definition).map((name) => [name, 0]));

async function run(overrides = {}, { waits = { WaitForIdleTimeout: 0 }, input = f.job() } = {}) {
  const calls = {};
  const events = [];
  const execution = MACHINE.start(input, {
    name: f.EXECUTION_NAME,
    stateMachineArn: f.RUNNER_FLEET_ARN,
    handlers: f.fleetHandlers(calls, overrides),
    waitTimeOverrides: waits,
    retryIntervalOverrides: NO_RETRY_PAUSE,
    onEvent: (event) => events.push(event),
  });
  const outcome = await execution.done;
  return { outcome, calls, events };
}

/** states lists the state names entered in one scope ("" = top level). */
function states(outcome, scope = '') {
  return outcome.trail.filter((s) => s.scope === scope).map((s) => s.name);
}

function failure(outcome) {
  return `status ${outcome.status} error ${outcome.error}: ${outcome.cause}`;
}

test('happy path: image exists, the job runs, the reaper finds the runner gone', async (t) => {
  const { outcome, calls, events } = await run();
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.deepEqual(outcome.output, {
    outcome: 'job_completed',
    runner_name: f.EXECUTION_NAME,
    task_arn: f.TASK_ARN,
    exit_code: 0,
    job_ran: true,
  });
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'RequestRunner', 'Runner', 'Cleanup', 'Outcome?', 'Done']);
  assert.deepEqual(states(outcome, 'Runner[0]/'), ['RunRunner']);
  assert.deepEqual(states(outcome, 'Runner[1]/'), ['WaitForIdleTimeout', 'ReapIfIdle']);
  assert.equal(outcome.transitions, 10);
  assert.equal(events.length, outcome.events.length, 'onEvent saw every event');
  t.diagnostic(`happy path: ${outcome.transitions} state transitions (${outcome.trail.map((s) => s.name).join(' → ')})`);

  // Every activity gets {state, execution} with the execution ARN from the context.
  const resolve = calls.ResolveImage[0];
  assert.equal(resolve.FunctionName, f.dummyValue('ResolveImageFunctionArn'));
  assert.equal(resolve.Payload.execution, `arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:${f.EXECUTION_NAME}`);
  assert.deepEqual(resolve.Payload.state, f.job());
  assert.equal(resolve.Payload.recheck, undefined);
  assert.deepEqual(calls.RequestRunner[0].Payload.state.plan, JSON.parse(JSON.stringify(f.plan())));

  // RunRunner: RunTask parameters from plan.launch, sealed config and execution name in the runner container.
  const runTask = calls.RunRunner[0];
  const launch = f.plan().launch;
  assert.equal(runTask.Cluster, launch.Cluster);
  assert.equal(runTask.TaskDefinition, launch.TaskDefinition);
  assert.deepEqual(runTask.CapacityProviderStrategy, launch.CapacityProviderStrategy);
  assert.deepEqual(runTask.NetworkConfiguration, launch.NetworkConfiguration);
  assert.deepEqual(runTask.Tags, launch.Tags);
  assert.deepEqual(runTask.Overrides, {
    Cpu: '2048',
    Memory: '4096',
    ContainerOverrides: [
      {
        Name: 'runner',
        Environment: [
          { Name: 'RUNNER_FLEET_SEALED_JIT', Value: f.SEALED },
          { Name: 'RUNNER_FLEET_EXECUTION', Value: f.EXECUTION_NAME },
        ],
      },
    ],
  });

  // Cleanup sees the whole record: plan, runner, and run = {task, reap}.
  const cleanupState = calls.Cleanup[0].Payload.state;
  assert.deepEqual(cleanupState.runner, f.runner());
  assert.deepEqual(cleanupState.run, { task: f.ecsTask(), reap: { outcome: 'gone' } });
  assert.equal(cleanupState.failure, undefined);
});

test('image missing: BuildImage joins the tag build, then the runner runs', async () => {
  const { outcome, calls } = await run({ ResolveImage: lambdaInvoke(async () => f.plan({ exists: false })) });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'BuildImage', 'RequestRunner', 'Runner', 'Cleanup', 'Outcome?', 'Done']);
  const build = calls.BuildImage[0];
  const image = f.plan({ exists: false }).image;
  assert.deepEqual(build, { StateMachineArn: f.dummyValue('ImageBuildStateMachineArn'), Name: image.build_name, Input: image.build_input });
  assert.equal(calls.Cleanup[0].Payload.state.build.Status, 'SUCCEEDED');
});

test('image build already finished: RecheckImage finds the image and carries on', async () => {
  const { outcome, calls } = await run({
    ResolveImage: lambdaInvoke(async () => f.plan({ exists: false })),
    BuildImage: async () => {
      throw new TaskError('StepFunctions.ExecutionAlreadyExistsException', 'Execution Already Exists');
    },
  });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'BuildImage', 'RecheckImage', 'RequestRunner', 'Runner', 'Cleanup', 'Outcome?', 'Done']);
  assert.equal(calls.RecheckImage[0].Payload.recheck, true);
  assert.equal(calls.RecheckImage[0].Payload.state.build.Error, 'StepFunctions.ExecutionAlreadyExistsException');
  assert.equal(calls.Cleanup[0].Payload.state.failure, undefined, 'a build that already ran is no failure');
});

test('image build failed earlier: RecheckImage raises ImageBuildFailed and nothing runs', async () => {
  const { outcome, calls } = await run({
    ResolveImage: lambdaInvoke(async () => f.plan({ exists: false })),
    BuildImage: async () => {
      throw new TaskError('StepFunctions.ExecutionAlreadyExistsException', 'Execution Already Exists');
    },
    RecheckImage: lambdaInvoke(async () => {
      throw lambdaError('ImageBuildFailed', 'build ubuntu-24.04-arm64-5f3c ended without pushing the image');
    }),
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'ImageBuildFailed');
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'BuildImage', 'RecheckImage', 'Cleanup', 'Outcome?', 'Failed']);
  assert.equal(calls.RequestRunner, undefined);
});

test('image build fails: Cleanup names ImageBuildFailed with the child execution as cause', async () => {
  const child = { Status: 'FAILED', Error: 'ImageBuildFailed', Cause: JSON.stringify(f.codeBuild('FAILED')) };
  const { outcome } = await run({
    ResolveImage: lambdaInvoke(async () => f.plan({ exists: false })),
    BuildImage: async () => {
      throw new TaskError('States.TaskFailed', JSON.stringify(child));
    },
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'ImageBuildFailed');
  assert.match(outcome.cause, /logEvent:group=\/aws\/codebuild\/runner-fleet-image/);
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'BuildImage', 'Cleanup', 'Outcome?', 'Failed']);
});

test('RequestRunner GitHubAuthFailed: Cleanup, then the execution fails with that error', async () => {
  const { outcome, calls } = await run({
    RequestRunner: lambdaInvoke(async () => {
      throw lambdaError('GitHubAuthFailed', 'GitHub rejected the app credentials (401)');
    }),
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'GitHubAuthFailed');
  assert.match(outcome.cause, /GitHub rejected the app credentials \(401\)/);
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'RequestRunner', 'Cleanup', 'Outcome?', 'Failed']);
  assert.equal(calls.RequestRunner.length, 1, 'GitHubAuthFailed is not retried');
  const caught = calls.Cleanup[0].Payload.state.failure.RequestRunner;
  assert.equal(caught.Error, 'GitHubAuthFailed');
  assert.equal(JSON.parse(caught.Cause).errorType, 'GitHubAuthFailed');
});

test('transient errors are retried: Lambda throttling and GitHub 5xx', async () => {
  let attempts = 0;
  const { outcome, calls, events } = await run({
    RequestRunner: lambdaInvoke(async () => {
      attempts++;
      if (attempts === 1) throw lambdaError('Lambda.TooManyRequestsException', 'Rate exceeded');
      if (attempts === 2) throw lambdaError('GitHubUnavailable', 'GitHub is unavailable (502 Bad Gateway)');
      return f.runner();
    }),
  });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.equal(calls.RequestRunner.length, 3);
  const retried = events.filter((e) => e.type === 'StateRetried').map((e) => e.state.name);
  assert.deepEqual(retried, ['RequestRunner', 'RequestRunner']);
  assert.equal(outcome.transitions, 12);
});

test("GitHub's Retry-After beyond RequestRunner's budget: the workflow waits exactly that long, then asks again", async () => {
  // fleet.RetryAfter's message, as the Go runtime reports it.
  const message = (n) => `retry after ${n} s: the workflow waits, then asks GitHub again: generate JIT config for repo:octo/hello: GitHub secondary rate limit reached; retry after 1m0s`;
  let attempts = 0;
  const { outcome, calls, events } = await run(
    {
      RequestRunner: lambdaInvoke(async () => {
        attempts++;
        if (attempts === 1) throw Object.assign(new Error(message(347)), { errorType: 'GitHubRetryAfter' });
        if (attempts === 2) throw Object.assign(new Error(message(66)), { errorType: 'GitHubRetryAfter' });
        return f.runner();
      }),
    },
    { waits: { WaitForIdleTimeout: 0, WaitForGitHub: 0 } },
  );
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.equal(calls.RequestRunner.length, 3);
  assert.deepEqual(states(outcome), [
    'ResolveImage', 'ImageReady?',
    'RequestRunner', 'ReadRetryAfter', 'RetryAfterSeconds', 'WaitForGitHub',
    'RequestRunner', 'ReadRetryAfter', 'RetryAfterSeconds', 'WaitForGitHub',
    'RequestRunner', 'Runner', 'Cleanup', 'Outcome?', 'Done',
  ]);
  // The Wait read GitHub's seconds from the message: what it was given is its input.
  const waited = events
    .filter((e) => e.type === 'StateEntered' && e.state.name === 'WaitForGitHub')
    .map((e) => e.state.input.rate_limit);
  assert.deepEqual(waited.map((r) => [r.seconds, r.message.startsWith(`retry after ${r.seconds} s:`)]), [[347, true], [66, true]]);
  // No Retry counted, no failure recorded: a rate limit waited out is not a failure.
  assert.equal(events.filter((e) => e.type === 'StateRetried').length, 0);
  assert.equal(calls.Cleanup[0].Payload.state.failure, undefined);
  assert.equal(outcome.output.outcome, 'job_completed');
  assert.equal(outcome.transitions, 10 + 2 * 4, 'each round: RequestRunner, two Pass states and the Wait');
});

test('GitHubRateLimited (the job waited too long) fails the execution after Cleanup, without another wait', async () => {
  const { outcome, calls } = await run({
    RequestRunner: lambdaInvoke(async () => {
      throw lambdaError('GitHubRateLimited', 'GitHub would still rate-limit this job 6h1m0s after it was queued, past GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS (21600)');
    }),
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'GitHubRateLimited');
  assert.equal(calls.RequestRunner.length, 1, 'not retried: RequestRunner already decided to give up');
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'RequestRunner', 'Cleanup', 'Outcome?', 'Failed']);
});

test('GitHubUnavailable outlasting the retries fails the execution after Cleanup', async () => {
  const { outcome, calls } = await run({
    RequestRunner: lambdaInvoke(async () => {
      throw lambdaError('GitHubUnavailable', 'GitHub answered 502 five times');
    }),
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'GitHubUnavailable');
  assert.equal(calls.RequestRunner.length, 6, 'first attempt + MaxAttempts 5');
  assert.equal(calls.Cleanup.length, 1);
});

test('Spot without capacity: retried, then the on-demand fallback runs the job', async () => {
  const { outcome, calls } = await run({
    RunRunner: async () => {
      throw new TaskError('AmazonECS.Unknown', 'Capacity is unavailable at this time. Please try again later or in a different availability zone');
    },
  });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.equal(outcome.output.outcome, 'job_completed');
  assert.equal(calls.RunRunner.length, 4, 'first attempt + 3 retries');
  assert.deepEqual(states(outcome, 'Runner[0]/'), ['RunRunner', 'RunRunnerFailed?', 'RunRunnerOnDemand']);
  assert.deepEqual(calls.RunRunnerOnDemand[0].CapacityProviderStrategy, [{ CapacityProvider: 'FARGATE', Weight: 1 }]);
  assert.deepEqual(calls.RunRunnerOnDemand[0].Overrides, calls.RunRunner[0].Overrides);
});

test('no capacity on Spot nor on-demand: RunnerLaunchFailed stops the idle wait at once', async () => {
  const started = Date.now();
  const noCapacity = async () => {
    throw new TaskError('ECS.AmazonECSException', 'Capacity is unavailable at this time.');
  };
  const { outcome, calls } = await run(
    { RunRunner: noCapacity, RunRunnerOnDemand: noCapacity },
    { waits: { WaitForIdleTimeout: 30000 } },
  );
  assert.ok(Date.now() - started < 10000, 'the failed launch did not wait for the idle timeout');
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'RunnerLaunchFailed');
  assert.deepEqual(states(outcome), ['ResolveImage', 'ImageReady?', 'RequestRunner', 'Runner', 'Cleanup', 'Outcome?', 'Failed']);
  assert.deepEqual(states(outcome, 'Runner[0]/'), ['RunRunner', 'RunRunnerFailed?', 'RunRunnerOnDemand', 'RunRunnerOnDemandFailed?', 'LaunchFailure', 'LaunchFailed']);
  assert.equal(calls.ReapIfIdle, undefined, 'the reaper never ran');
  const caught = calls.Cleanup[0].Payload.state.failure.Runner;
  assert.equal(caught.Error, 'RunnerLaunchFailed');
  const causes = JSON.parse(caught.Cause);
  assert.deepEqual(Object.keys(causes).sort(), ['RunRunner', 'RunRunnerOnDemand']);
  assert.equal(causes.RunRunnerOnDemand.Error, 'ECS.AmazonECSException');
});

test('no on-demand strategy in the plan: no fallback, RunnerLaunchFailed', async () => {
  const { outcome, calls } = await run({
    ResolveImage: lambdaInvoke(async () => f.plan({ spot: false })),
    RunRunner: async () => {
      throw new TaskError('AmazonECS.Unknown', 'Capacity is unavailable at this time.');
    },
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'RunnerLaunchFailed');
  assert.deepEqual(states(outcome, 'Runner[0]/'), ['RunRunner', 'RunRunnerFailed?', 'LaunchFailure', 'LaunchFailed']);
  assert.equal(calls.RunRunnerOnDemand, undefined);
});

test('a launch error that is not about capacity is not retried and does not fall back', async () => {
  const { outcome, calls } = await run({
    RunRunner: async () => {
      throw new TaskError('ECS.InvalidParameterException', 'Task definition does not support launch_type FARGATE.');
    },
  });
  assert.equal(outcome.error, 'RunnerLaunchFailed');
  assert.equal(calls.RunRunner.length, 1);
  assert.equal(calls.RunRunnerOnDemand, undefined);
});

test('idle runner: ReapIfIdle reaps it, its task stops, the execution succeeds as reaped_idle', async () => {
  let stopTask;
  const stopped = new Promise((resolve) => {
    stopTask = resolve;
  });
  const { outcome, calls } = await run({
    RunRunner: async () => {
      await stopped;
      const task = f.ecsTask({ exitCode: 143, stopCode: 'UserInitiated', reason: 'reaped idle by runner-fleet' });
      throw new TaskError('States.TaskFailed', JSON.stringify(task));
    },
    ReapIfIdle: lambdaInvoke(async () => {
      stopTask();
      return { outcome: 'reaped', task_arn: f.TASK_ARN };
    }),
  });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.deepEqual(outcome.output, { outcome: 'reaped_idle', runner_name: f.EXECUTION_NAME, task_arn: f.TASK_ARN, job_ran: false });
  assert.deepEqual(states(outcome, 'Runner[0]/'), ['RunRunner', 'RunRunnerFailed?', 'RunnerStopped']);
  assert.deepEqual(states(outcome, 'Runner[1]/'), ['WaitForIdleTimeout', 'ReapIfIdle']);
  const record = calls.Cleanup[0].Payload.state.run;
  assert.equal(record.reap.outcome, 'reaped');
  assert.equal(record.task.failure.RunRunner.Error, 'States.TaskFailed');
});

test('busy runner: the reaper leaves it, the job finishes later', async () => {
  let reaped;
  const reapDone = new Promise((resolve) => {
    reaped = resolve;
  });
  const { outcome } = await run({
    RunRunner: async () => {
      await reapDone;
      return f.ecsTask();
    },
    ReapIfIdle: lambdaInvoke(async () => {
      reaped();
      return { outcome: 'busy' };
    }),
  });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.equal(outcome.output.outcome, 'job_completed');
});

test('ReapIfIdle failing is recorded as outcome error and the job still completes', async () => {
  const { outcome, calls } = await run({
    ReapIfIdle: lambdaInvoke(async () => {
      throw lambdaError('ConfigurationInvalid', 'SECRET_ARN is not set');
    }),
  });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.deepEqual(states(outcome, 'Runner[1]/'), ['WaitForIdleTimeout', 'ReapIfIdle', 'ReapFailed']);
  const reap = calls.Cleanup[0].Payload.state.run.reap;
  assert.equal(reap.outcome, 'error');
  assert.equal(reap.failure.Error, 'ConfigurationInvalid');
});

test('runner crashes: the stopped task is recorded and the execution fails with RunnerFailed', async () => {
  const { outcome } = await run({
    RunRunner: async () => {
      throw new TaskError('States.TaskFailed', JSON.stringify(f.ecsTask({ exitCode: 1 })));
    },
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'RunnerFailed');
  assert.deepEqual(states(outcome, 'Runner[0]/'), ['RunRunner', 'RunRunnerFailed?', 'RunnerStopped']);
});

test('runner outlives its TTL: States.Timeout is recorded, RunnerTimedOut', async () => {
  const shortTTL = f.plan();
  shortTTL.timeouts.runner_ttl_seconds = 1;
  let aborted = false;
  const { outcome } = await run({
    ResolveImage: lambdaInvoke(async () => shortTTL),
    RunRunner: (_, info) =>
      new Promise((_resolve, reject) => {
        info.signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('execution ended'));
        });
      }),
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'RunnerTimedOut');
  assert.deepEqual(states(outcome, 'Runner[0]/'), ['RunRunner', 'RunRunnerFailed?', 'RunnerStopped']);
  assert.ok(aborted, 'the hung handler was told the execution ended');
});

test('Cleanup retries its own transient errors', async () => {
  let attempts = 0;
  const { outcome, calls } = await run({
    Cleanup: lambdaInvoke(async (payload) => {
      attempts++;
      if (attempts <= 2) throw lambdaError('AWSThrottled', 'ECS StopTask: Rate exceeded');
      return { outcome: 'job_completed', runner_name: payload.state.runner.name, job_ran: true };
    }),
  });
  assert.equal(outcome.status, 'SUCCEEDED', failure(outcome));
  assert.equal(calls.Cleanup.length, 3);
});

test('Cleanup naming an error without a cause still fails with that error', async () => {
  const { outcome } = await run({
    Cleanup: lambdaInvoke(async () => ({ outcome: 'failed', runner_name: f.EXECUTION_NAME, job_ran: false, error: 'RunnerFailed' })),
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'RunnerFailed');
  assert.deepEqual(states(outcome).slice(-2), ['Outcome?', 'FailedWithoutCause']);
});

test('ResolveImage ImageNotAllowed goes straight to Cleanup', async () => {
  const { outcome, calls } = await run({
    ResolveImage: lambdaInvoke(async () => {
      throw lambdaError('ImageNotAllowed', 'image "evil:latest" is not on the allow-list');
    }),
  });
  assert.equal(outcome.error, 'ImageNotAllowed');
  assert.deepEqual(states(outcome), ['ResolveImage', 'Cleanup', 'Outcome?', 'Failed']);
  assert.equal(calls.RequestRunner, undefined);
});

test('a Task state without a handler is refused before anything runs', () => {
  const handlers = f.fleetHandlers({});
  delete handlers.Cleanup;
  assert.throws(() => MACHINE.start(f.job(), { handlers }), /no local handler for Task state\(s\) Cleanup/);
});

test('an unsubstituted definition is refused', () => {
  assert.throws(() => startExecution(f.readDefinition('runnerfleet.asl.json'), f.job(), { handlers: f.fleetHandlers({}) }), /still has placeholders/);
});
