'use strict';
// Regenerates engine-inputs.json: the Cleanup invocations the real RunnerFleet
// definition produces when the local engine (statemachine/_engine, aws-local-stepfunctions)
// runs it through each path, with the other Task states answered as
// statemachine/_engine/test/fixtures.js answers them. cleanup's TestEngineInputs feeds
// every recorded payload to the verdict, so the Go reading of $.run and $.failure is
// checked against what the ASL really writes.
//
//   node activities/cleanup/testdata/engine-inputs.js > activities/cleanup/testdata/engine-inputs.json

const path = require('node:path');
const ENGINE = path.join(__dirname, '..', '..', '..', 'statemachine', '_engine');
const { prepare, retryableStates, TaskError, lambdaInvoke, lambdaError } = require(path.join(ENGINE, 'engine'));
const f = require(path.join(ENGINE, 'test', 'fixtures'));

const MACHINE = prepare(f.substituted('runnerfleet.asl.json'));
const NO_RETRY_PAUSE = Object.fromEntries(retryableStates(MACHINE.definition).map((n) => [n, 0]));
const REAP_REASON = 'runner-fleet: idle runner reaped (registration deleted)';

async function capture(overrides, plan) {
  let payload;
  const handlers = f.fleetHandlers({}, {
    ...(plan ? { ResolveImage: lambdaInvoke(async () => plan) } : {}),
    ...overrides,
    Cleanup: lambdaInvoke(async (p) => {
      payload = p;
      return { outcome: 'job_completed', runner_name: f.EXECUTION_NAME, job_ran: true };
    }),
  });
  const execution = MACHINE.start(f.job(), {
    name: f.EXECUTION_NAME,
    stateMachineArn: f.RUNNER_FLEET_ARN,
    handlers,
    waitTimeOverrides: { WaitForIdleTimeout: 0 },
    retryIntervalOverrides: NO_RETRY_PAUSE,
  });
  await execution.done;
  return payload;
}

// gate lets RunRunner end only after ReapIfIdle answered, as when the reap stops the task.
function gate() {
  let open;
  const opened = new Promise((resolve) => (open = resolve));
  return { open, opened };
}

const scenarios = [
  ['job completed, reaper found it gone', { outcome: 'job_completed' }, () => capture({})],
  ['reaped idle, the reap stopped the task', { outcome: 'reaped_idle' }, () => {
    const g = gate();
    return capture({
      RunRunner: async () => {
        await g.opened;
        throw new TaskError('States.TaskFailed', JSON.stringify(f.ecsTask({ exitCode: 143, stopCode: 'UserInitiated', reason: REAP_REASON })));
      },
      ReapIfIdle: lambdaInvoke(async () => {
        g.open();
        return { outcome: 'reaped', task_arn: f.TASK_ARN };
      }),
    });
  }],
  ['busy at the idle timeout, then completed', { outcome: 'job_completed' }, () => {
    const g = gate();
    return capture({
      RunRunner: async () => {
        await g.opened;
        return f.ecsTask();
      },
      ReapIfIdle: lambdaInvoke(async () => {
        g.open();
        return { outcome: 'busy' };
      }),
    });
  }],
  ['reap failed, job completed', { outcome: 'job_completed' }, () => capture({
    ReapIfIdle: lambdaInvoke(async () => {
      throw lambdaError('GitHubUnavailable', 'delete runner 31 for repo:octo/hello: GitHub is unavailable (502 Bad Gateway)');
    }),
  })],
  ['runner crashed', { outcome: 'failed', error: 'RunnerFailed' }, () => capture({
    RunRunner: async () => {
      throw new TaskError('States.TaskFailed', JSON.stringify(f.ecsTask({ exitCode: 1 })));
    },
  })],
  ['image pull failed', { outcome: 'failed', error: 'RunnerLaunchFailed' }, () => capture({
    RunRunner: async () => {
      throw new TaskError('States.TaskFailed', JSON.stringify(f.ecsTask({ exitCode: undefined, stopCode: 'TaskFailedToStart', reason: 'CannotPullContainerError: pull access denied' })));
    },
    ReapIfIdle: lambdaInvoke(async () => ({ outcome: 'reaped', task_arn: f.TASK_ARN })),
  })],
  ['runner outlived its TTL', { outcome: 'failed', error: 'RunnerTimedOut' }, () => {
    const plan = f.plan();
    plan.timeouts.runner_ttl_seconds = 1;
    return capture({
      RunRunner: (_, info) => new Promise((_resolve, reject) => info.signal.addEventListener('abort', () => reject(new Error('execution ended')))),
      ReapIfIdle: lambdaInvoke(async () => ({ outcome: 'busy' })),
    }, plan);
  }],
  ['no capacity on Spot nor on demand', { outcome: 'failed', error: 'RunnerLaunchFailed' }, () => {
    const noCapacity = async () => {
      throw new TaskError('ECS.AmazonECSException', 'Capacity is unavailable at this time.');
    };
    return capture({ RunRunner: noCapacity, RunRunnerOnDemand: noCapacity });
  }],
  ['Spot without capacity, on-demand runner crashed', { outcome: 'failed', error: 'RunnerFailed' }, () => capture({
    RunRunner: async () => {
      throw new TaskError('AmazonECS.Unknown', 'Capacity is unavailable at this time.');
    },
    RunRunnerOnDemand: async () => {
      throw new TaskError('States.TaskFailed', JSON.stringify(f.ecsTask({ exitCode: 137 })));
    },
  })],
  ['image build failed', { outcome: 'failed', error: 'ImageBuildFailed', cause: 'logEvent:group=/aws/codebuild/runner-fleet-image' }, () => capture({
    BuildImage: async () => {
      throw new TaskError('States.TaskFailed', JSON.stringify({ Status: 'FAILED', Error: 'ImageBuildFailed', Cause: JSON.stringify(f.codeBuild('FAILED')) }));
    },
  }, f.plan({ exists: false }))],
  ['image build had finished without the image', { outcome: 'failed', error: 'ImageBuildFailed' }, () => capture({
    BuildImage: async () => {
      throw new TaskError('StepFunctions.ExecutionAlreadyExistsException', 'Execution Already Exists');
    },
    RecheckImage: lambdaInvoke(async () => {
      throw lambdaError('ImageBuildFailed', 'build ubuntu-24.04-arm64-5f3c ended without pushing the image');
    }),
  }, f.plan({ exists: false }))],
  ['image build had finished with the image', { outcome: 'job_completed' }, () => capture({
    BuildImage: async () => {
      throw new TaskError('StepFunctions.ExecutionAlreadyExistsException', 'Execution Already Exists');
    },
  }, f.plan({ exists: false }))],
  ['image not allowed', { outcome: 'failed', error: 'ImageNotAllowed' }, () => capture({
    ResolveImage: lambdaInvoke(async () => {
      throw lambdaError('ImageNotAllowed', 'image "evil:latest" is not on the allow-list');
    }),
  })],
  ['GitHub credentials rejected', { outcome: 'failed', error: 'GitHubAuthFailed' }, () => capture({
    RequestRunner: lambdaInvoke(async () => {
      throw lambdaError('GitHubAuthFailed', 'GitHub rejected the app credentials (401)');
    }),
  })],
];

(async () => {
  const out = [];
  for (const [name, want, run] of scenarios) {
    const payload = await run();
    if (!payload) throw new Error(`${name}: Cleanup was not reached`);
    out.push({ name, want, payload });
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
