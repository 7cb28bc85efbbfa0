'use strict';
// Scenario tests for statemachine/imagebuild.asl.json (RunnerFleetImageBuild).

const test = require('node:test');
const assert = require('node:assert/strict');
const { prepare, retryableStates, TaskError } = require('../engine');
const f = require('./fixtures');

const MACHINE = prepare(f.substituted('imagebuild.asl.json'));
const NO_RETRY_PAUSE = Object.fromEntries(retryableStates(MACHINE.definition).map((name) => [name, 0]));
const INPUT = f.plan({ exists: false }).image.build_input;

async function build(runBuild) {
  const calls = [];
  const execution = MACHINE.start(INPUT, {
    name: INPUT.image_tag,
    stateMachineArn: f.IMAGE_BUILD_ARN,
    handlers: {
      RunBuild: async (params, info) => {
        calls.push(params);
        return runBuild(params, info, calls.length);
      },
    },
    retryIntervalOverrides: NO_RETRY_PAUSE,
  });
  return { outcome: await execution.done, calls };
}

test('the build succeeds: CodeBuild gets the project and the build variables', async () => {
  const { outcome, calls } = await build(async () => f.codeBuild('SUCCEEDED'));
  assert.equal(outcome.status, 'SUCCEEDED', `${outcome.error}: ${outcome.cause}`);
  assert.deepEqual(calls[0], {
    ProjectName: f.dummyValue('ImageBuildProjectName'),
    EnvironmentVariablesOverride: INPUT.environment,
    EnvironmentTypeOverride: INPUT.build_environment_type,
    ImageOverride: INPUT.build_image,
  });
  assert.deepEqual(outcome.output, { ...INPUT, build: { build_id: 'runner-fleet-image:6f1c', build_status: 'SUCCEEDED' } });
  assert.deepEqual(outcome.trail.map((s) => s.name), ['RunBuild', 'Built']);
});

test('the build fails: ImageBuildFailed, the cause is the build with its log link', async () => {
  const { outcome } = await build(async () => {
    throw new TaskError('States.TaskFailed', JSON.stringify(f.codeBuild('FAILED')));
  });
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'ImageBuildFailed');
  assert.equal(JSON.parse(outcome.cause).Build.Logs.DeepLink, f.codeBuild('FAILED').Build.Logs.DeepLink);
  assert.deepEqual(outcome.trail.map((s) => s.name), ['RunBuild', 'BuildFailed']);
});

test('CodeBuild throttling is retried', async () => {
  const { outcome, calls } = await build(async (_params, _info, attempt) => {
    if (attempt < 3) throw new TaskError('CodeBuild.AWSCodeBuildException', 'Rate exceeded');
    return f.codeBuild('SUCCEEDED');
  });
  assert.equal(outcome.status, 'SUCCEEDED');
  assert.equal(calls.length, 3);
});

test('the build outlasts build_timeout_seconds: ImageBuildFailed naming the timeout', async () => {
  const calls = [];
  const execution = MACHINE.start({ ...INPUT, build_timeout_seconds: 1 }, {
    name: INPUT.image_tag,
    handlers: {
      RunBuild: (params, info) => {
        calls.push(params);
        return new Promise((_resolve, reject) => info.signal.addEventListener('abort', () => reject(new Error('execution ended'))));
      },
    },
  });
  const outcome = await execution.done;
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'ImageBuildFailed');
  assert.match(outcome.cause, /outlasted its timeout/);
  assert.deepEqual(outcome.trail.map((s) => s.name), ['RunBuild', 'BuildTimedOut']);
  assert.equal(calls[0].__runnerFleetTimeoutSeconds, undefined, 'the handler sees the parameters AWS sends');
});
