'use strict';
// The engine wrapper itself: what fleet-local relies on beyond the scenarios.

const test = require('node:test');
const assert = require('node:assert/strict');
const { prepare, lambdaInvoke, TaskError } = require('../engine');
const f = require('./fixtures');

const MACHINE = prepare(f.substituted('runnerfleet.asl.json'));

test('abort ends the execution as ABORTED and tells the waiting handlers', async () => {
  let signalled = false;
  let entered;
  const waiting = new Promise((resolve) => {
    entered = resolve;
  });
  const execution = MACHINE.start(f.job(), {
    handlers: f.fleetHandlers({}, {
      RequestRunner: (_params, info) =>
        new Promise((_resolve, reject) => {
          info.signal.addEventListener('abort', () => {
            signalled = true;
            reject(new Error('stopped'));
          });
          entered();
        }),
    }),
  });
  await waiting;
  execution.abort();
  const outcome = await execution.done;
  assert.equal(outcome.status, 'ABORTED');
  assert.ok(signalled, 'the pending handler saw info.signal abort');
  assert.deepEqual(outcome.trail.map((s) => s.name), ['ResolveImage', 'ImageReady?', 'RequestRunner']);
});

test('a malformed activity result stops the execution with States.Runtime, before Cleanup', async () => {
  const calls = {};
  const incomplete = f.plan();
  delete incomplete.timeouts;
  const outcome = await MACHINE.start(f.job(), {
    handlers: f.fleetHandlers(calls, { ResolveImage: lambdaInvoke(async () => incomplete) }),
  }).done;
  assert.equal(outcome.status, 'FAILED');
  assert.equal(outcome.error, 'States.Runtime');
  assert.match(outcome.cause, /\$\.Payload\.timeouts/);
  assert.equal(calls.Cleanup, undefined, 'States.Runtime is caught by nothing');
});

test('lambdaInvoke: errorType names the error, an unnamed throw is Lambda.Unknown, the cause is Lambda-shaped', async () => {
  const named = Object.assign(new Error('boom'), { errorType: 'ConfigurationInvalid' });
  await assert.rejects(lambdaInvoke(async () => { throw named; })({ Payload: {} }, {}), (err) => {
    assert.equal(err.name, 'ConfigurationInvalid');
    assert.deepEqual(JSON.parse(err.message), { errorMessage: 'boom', errorType: 'ConfigurationInvalid' });
    return true;
  });
  await assert.rejects(lambdaInvoke(async () => { throw new Error('crash'); })({ Payload: {} }, {}), { name: 'Lambda.Unknown' });
  const passthrough = new TaskError('Lambda.ServiceException', 'x');
  await assert.rejects(lambdaInvoke(async () => { throw passthrough; })({ Payload: {} }, {}), (err) => err === passthrough);
  assert.deepEqual(await lambdaInvoke(async (p) => ({ got: p }))({ Payload: { a: 1 } }, {}), {
    ExecutedVersion: '$LATEST',
    Payload: { got: { a: 1 } },
    StatusCode: 200,
  });
});

test('events carry the scope of their state and onEvent errors surface from done', async () => {
  const scopes = new Map();
  const outcome = await MACHINE.start(f.job(), {
    handlers: f.fleetHandlers({}),
    waitTimeOverrides: { WaitForIdleTimeout: 0 },
    onEvent: (e) => {
      if (e.type === 'StateEntered') scopes.set(e.state.name, e.scope);
    },
  }).done;
  assert.equal(outcome.status, 'SUCCEEDED');
  assert.equal(scopes.get('Runner'), '');
  assert.equal(scopes.get('RunRunner'), 'Runner[0]/');
  assert.equal(scopes.get('ReapIfIdle'), 'Runner[1]/');

  const failing = MACHINE.start(f.job(), {
    handlers: f.fleetHandlers({}),
    waitTimeOverrides: { WaitForIdleTimeout: 0 },
    onEvent: () => {
      throw new Error('history store is full');
    },
  });
  await assert.rejects(failing.done, /history store is full/);
});
