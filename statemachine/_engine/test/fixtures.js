'use strict';
// Canned documents shaped like the Go types in internal/fleet (state.go, job.go) and like
// the AWS answers recorded in shared/fixtures/aws, for the scenario tests. The handlers
// here play the activity Lambdas' roles; Cleanup's canned logic is deliberately simple
// (the real one is tested in Go).

const fs = require('node:fs');
const path = require('node:path');
const { lambdaInvoke, lambdaError, substitute } = require('../engine');

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const EXECUTION_NAME = 'octo-hello-4242-1';
const RUNNER_FLEET_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:RunnerFleet`;
const IMAGE_BUILD_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:RunnerFleetImageBuild`;
const TASK_ARN = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/runner-fleet/0123456789abcdef0123456789abcdef`;
const SEALED = 'c2VhbGVkOnY6MTpBUUlEQUho';

/** dummyValue gives each placeholder a syntactically valid value. */
function dummyValue(key) {
  if (key.endsWith('FunctionArn')) return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${key.replace(/FunctionArn$/, '')}`;
  if (key.endsWith('StateMachineArn')) return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${key.replace(/StateMachineArn$/, '')}`;
  if (key.endsWith('ProjectName')) return `runner-fleet-${key.replace(/ProjectName$/, '').toLowerCase()}`;
  throw new Error(`no dummy value for placeholder ${key}; teach test/fixtures.js about it`);
}

function readDefinition(file) {
  return fs.readFileSync(path.join(__dirname, '..', '..', file), 'utf8');
}

/** substituted returns the definition text with every placeholder given a dummy value. */
function substituted(file) {
  const text = readDefinition(file);
  const values = Object.fromEntries([...text.matchAll(/\$\{([A-Za-z][A-Za-z0-9_]*)\}/g)].map((m) => [m[1], dummyValue(m[1])]));
  return substitute(text, values);
}

/** job is a fleet.Job: the execution input. */
function job() {
  return {
    job_id: 4242,
    run_id: 99,
    run_attempt: 1,
    job_name: 'build',
    workflow_name: 'CI',
    repository: { owner: 'octo', name: 'hello', id: 7, visibility: 'private' },
    labels: ['self-hosted', 'image:ubuntu:24.04', 'class:medium'],
    image_ref: 'ubuntu:24.04',
    class: 'medium',
    delivery_id: 'd-1',
    received_at: '2026-01-01T00:00:00Z',
  };
}

/** plan is a fleet.Plan as ResolveImage returns it. */
function plan({ exists = true, spot = true } = {}) {
  const onDemand = [{ CapacityProvider: 'FARGATE', Weight: 1 }];
  return {
    image: {
      ref: 'ubuntu:24.04',
      tag: 'ubuntu-24.04-arm64-5f3c',
      uri: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/runner-fleet:ubuntu-24.04-arm64-5f3c`,
      exists,
      arch: 'arm64',
      task_definition_arn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/runner-fleet-ubuntu:3`,
      build_name: 'ubuntu-24.04-arm64-5f3c',
      build_input: exists
        ? undefined
        : {
            // runner/imageref BuildInput
            base_image: 'ubuntu:24.04',
            image_tag: 'ubuntu-24.04-arm64-5f3c',
            repository_uri: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/runner-fleet`,
            arch: 'arm64',
            build_timeout_seconds: 3600,
            environment: [
              { Name: 'BASE_IMAGE', Value: 'ubuntu:24.04', Type: 'PLAINTEXT' },
              { Name: 'IMAGE_TAG', Value: 'ubuntu-24.04-arm64-5f3c', Type: 'PLAINTEXT' },
              { Name: 'ECR_REPOSITORY_URI', Value: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/runner-fleet`, Type: 'PLAINTEXT' },
              { Name: 'TARGET_ARCH', Value: 'arm64', Type: 'PLAINTEXT' },
            ],
            build_environment_type: 'ARM_CONTAINER',
            build_image: 'aws/codebuild/amazonlinux2-aarch64-standard:3.0',
          },
    },
    class: { name: 'medium', cpu: 2048, memory: 4096, arch: 'arm64', ...(spot ? { spot: true } : {}) },
    launch: {
      Cluster: 'runner-fleet',
      TaskDefinition: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/runner-fleet-ubuntu:3`,
      CapacityProviderStrategy: spot ? [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }] : onDemand,
      OnDemandStrategy: spot ? onDemand : null,
      NetworkConfiguration: {
        AwsvpcConfiguration: { Subnets: ['subnet-0a'], SecurityGroups: ['sg-0b'], AssignPublicIp: 'DISABLED' },
      },
      Cpu: '2048',
      Memory: '4096',
      Tags: [{ Key: 'runner-fleet:execution', Value: EXECUTION_NAME }],
    },
    timeouts: { build_seconds: 3600, idle_seconds: 300, runner_ttl_seconds: 21600 },
  };
}

/** runner is a fleet.Runner as RequestRunner returns it. */
function runner() {
  return {
    name: EXECUTION_NAME,
    id: 31,
    scope: 'repo:octo/hello',
    labels: ['self-hosted', 'image:ubuntu:24.04', 'class:medium'],
    sealed_jit_config: SEALED,
  };
}

/** ecsTask is the stopped ECS task runTask.sync returns (PascalCase, recorded shape). */
function ecsTask({ exitCode = 0, stopCode = 'EssentialContainerExited', reason = 'Essential container in task exited' } = {}) {
  const container = { Name: 'runner', LastStatus: 'STOPPED', TaskArn: TASK_ARN };
  if (exitCode !== undefined) container.ExitCode = exitCode;
  return {
    TaskArn: TASK_ARN,
    ClusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/runner-fleet`,
    LastStatus: 'STOPPED',
    DesiredStatus: 'STOPPED',
    StartedBy: 'AWS Step Functions',
    StopCode: stopCode,
    StoppedReason: reason,
    Containers: [container],
    Tags: [{ Key: 'runner-fleet:execution', Value: EXECUTION_NAME }],
  };
}

/** childExecution is the RunnerFleetImageBuild description startExecution.sync:2 returns. */
function childExecution(name, input) {
  return {
    ExecutionArn: `${IMAGE_BUILD_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
    Input: input,
    InputDetails: { Included: true },
    Name: name,
    Output: { ...input, build: { build_id: 'runner-fleet-image:1', build_status: 'SUCCEEDED' } },
    OutputDetails: { Included: true },
    StartDate: 1767225600.0,
    StateMachineArn: IMAGE_BUILD_ARN,
    Status: 'SUCCEEDED',
    StopDate: 1767225900.0,
  };
}

/** codeBuild is CodeBuild's startBuild.sync answer ({"Build": {...}}, PascalCase). */
function codeBuild(status) {
  return {
    Build: {
      Arn: `arn:aws:codebuild:${REGION}:${ACCOUNT}:build/runner-fleet-image:6f1c`,
      Id: 'runner-fleet-image:6f1c',
      BuildStatus: status,
      BuildComplete: true,
      CurrentPhase: 'COMPLETED',
      Logs: {
        DeepLink: `https://console.aws.amazon.com/cloudwatch/home?region=${REGION}#logEvent:group=/aws/codebuild/runner-fleet-image;stream=6f1c`,
        GroupName: '/aws/codebuild/runner-fleet-image',
        StreamName: '6f1c',
      },
    },
  };
}

function lambdaErrorType(failure) {
  try {
    return JSON.parse(failure.Cause).errorType ?? failure.Error;
  } catch {
    return failure.Error;
  }
}

/** cannedCleanup plays Cleanup: name the outcome from the state document. */
function cannedCleanup(state) {
  const result = { outcome: 'failed', runner_name: state.runner?.name ?? EXECUTION_NAME, job_ran: false };
  const failure = state.failure ?? {};
  const fail = (error, cause) => ({ ...result, error, cause });
  for (const step of ['ResolveImage', 'RecheckImage', 'RequestRunner']) {
    if (failure[step]) return fail(lambdaErrorType(failure[step]), `${step} failed: ${failure[step].Cause}`);
  }
  if (failure.BuildImage) return fail('ImageBuildFailed', failure.BuildImage.Cause);
  if (failure.Runner) {
    const error = failure.Runner.Error === 'RunnerLaunchFailed' ? 'RunnerLaunchFailed' : failure.Runner.Error;
    return fail(error, failure.Runner.Cause);
  }
  const task = state.run?.task ?? {};
  const reap = state.run?.reap ?? {};
  if (reap.outcome === 'reaped') return { ...result, outcome: 'reaped_idle', task_arn: reap.task_arn };
  if (task.failure) {
    const last = task.failure.RunRunnerOnDemand ?? task.failure.RunRunner;
    if (last.Error === 'States.Timeout') return fail('RunnerTimedOut', 'the runner outlived the runner TTL');
    return fail('RunnerFailed', last.Cause);
  }
  const exitCode = task.Containers?.find((c) => c.Name === 'runner')?.ExitCode;
  if (exitCode !== 0) return { ...fail('RunnerFailed', `runner exited ${exitCode}`), task_arn: task.TaskArn, exit_code: exitCode };
  return { ...result, outcome: 'job_completed', task_arn: task.TaskArn, exit_code: 0, job_ran: true };
}

/**
 * fleetHandlers returns a handler for every RunnerFleet Task state, recording each call
 * in `calls` (state name → list of inputs), with `overrides` replacing any of them.
 */
function fleetHandlers(calls, overrides = {}) {
  const record = (name, fn) => async (input, info) => {
    (calls[name] ??= []).push(input);
    return fn(input, info);
  };
  const defaults = {
    ResolveImage: lambdaInvoke(async () => plan()),
    RecheckImage: lambdaInvoke(async () => plan()),
    BuildImage: async (params) => childExecution(params.Name, params.Input),
    RequestRunner: lambdaInvoke(async () => runner()),
    RunRunner: async () => ecsTask(),
    RunRunnerOnDemand: async () => ecsTask(),
    ReapIfIdle: lambdaInvoke(async () => ({ outcome: 'gone' })),
    Cleanup: lambdaInvoke(async (payload) => cannedCleanup(payload.state)),
  };
  const merged = { ...defaults, ...overrides };
  return Object.fromEntries(Object.entries(merged).map(([name, fn]) => [name, record(name, fn)]));
}

module.exports = {
  EXECUTION_NAME,
  RUNNER_FLEET_ARN,
  IMAGE_BUILD_ARN,
  TASK_ARN,
  SEALED,
  childExecution,
  codeBuild,
  dummyValue,
  ecsTask,
  fleetHandlers,
  job,
  lambdaError,
  plan,
  readDefinition,
  runner,
  substituted,
};
