'use strict';
// Both definitions are valid ASL (asl-validator 4: schema, JSONPaths, ARNs) once their
// placeholders are substituted, and the substitution itself is strict.

const test = require('node:test');
const assert = require('node:assert/strict');
const { validate, substitute, placeholders, taskStates } = require('../engine');
const f = require('./fixtures');

for (const file of ['runnerfleet.asl.json', 'imagebuild.asl.json']) {
  test(`${file} is valid ASL after substitution`, () => {
    const { isValid, errors } = validate(f.substituted(file));
    assert.ok(isValid, errors.join('\n'));
  });
}

test('a broken definition is reported', () => {
  const def = JSON.parse(f.substituted('imagebuild.asl.json'));
  def.States.RunBuild.Next = 'NoSuchState';
  const { isValid, errors } = validate(def);
  assert.equal(isValid, false);
  assert.ok(errors.length > 0);
});

test('the placeholders are the documented ones', () => {
  assert.deepEqual(placeholders(f.readDefinition('runnerfleet.asl.json')), [
    'CleanupFunctionArn',
    'ImageBuildStateMachineArn',
    'ReapIfIdleFunctionArn',
    'RequestRunnerFunctionArn',
    'ResolveImageFunctionArn',
  ]);
  assert.deepEqual(placeholders(f.readDefinition('imagebuild.asl.json')), ['ImageBuildProjectName']);
});

test('substitute fails on a missing value and on an unused value', () => {
  const text = '{"a": "${One}", "b": "${Two}"}';
  assert.throws(() => substitute(text, { One: '1' }), /placeholders without a value: Two/);
  assert.throws(() => substitute(text, { One: '1', Two: '2', Three: '3' }), /values without a placeholder: Three/);
  assert.deepEqual(JSON.parse(substitute(text, { One: 'say "hi"', Two: '2' })), { a: 'say "hi"', b: '2' });
});

test('every Task state of RunnerFleet is known to the scenario handlers', () => {
  const def = JSON.parse(f.substituted('runnerfleet.asl.json'));
  assert.deepEqual(taskStates(def), Object.keys(f.fleetHandlers({})).sort());
});
