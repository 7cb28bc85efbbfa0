'use strict';
// Package engine runs a Runner Fleet state machine definition locally with
// aws-local-stepfunctions, every Task state answered by a local handler. The scenario
// tests use it, and fleet-local uses it as its Step Functions execution engine, so the
// definition AWS runs is the one the tests run (ARCHITECTURE.md, "One artifact").

// aws-local-stepfunctions 3 calls Promise.withResolvers (Node 22) in every Task state.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const {
  StateMachine,
  ExecutionError,
  ExecutionTimeoutError,
  ExecutionAbortedError,
} = require('aws-local-stepfunctions');
const aslValidator = require('asl-validator');

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9_]*)\}/g;

/**
 * TaskError is what a handler throws to fail its Task state with a named error:
 * `name` becomes the Step Functions error (what Retry/Catch ErrorEquals match) and
 * `message` the cause, exactly as a Catch then writes them ({"Error", "Cause"}).
 */
class TaskError extends Error {
  constructor(error, cause) {
    super(typeof cause === 'string' ? cause : JSON.stringify(cause ?? ''));
    this.name = error;
  }
}

/**
 * lambdaError builds the error Step Functions reports when a lambda:invoke Task's
 * function returns an error: the error is the function's errorType and the cause the
 * Lambda error document as a JSON string (shared/fixtures/aws/stepfunctions/history/
 * lambda-invoke-service.exception-caught.json).
 */
function lambdaError(errorType, errorMessage) {
  return new TaskError(errorType, JSON.stringify({ errorMessage, errorType }));
}

/**
 * lambdaInvoke adapts an activity, `async (payload, info) => result`, to a handler for
 * an `arn:aws:states:::lambda:invoke` Task: it receives the state's Payload, and its
 * result comes back as the invoke response `{ExecutedVersion, Payload, StatusCode}` that
 * the definition's ResultSelector/OutputPath read. An error with an `errorType` (the Go
 * runtime's name for it) or a `name` other than "Error" fails the state with that name
 * and a Lambda-shaped cause; anything else is reported as "Lambda.Unknown".
 */
function lambdaInvoke(activity) {
  return async (params, info) => {
    let payload;
    try {
      payload = await activity(params.Payload, info);
    } catch (err) {
      if (err instanceof TaskError) throw err;
      const errorType = err?.errorType ?? (err?.name && err.name !== 'Error' ? err.name : 'Lambda.Unknown');
      throw lambdaError(errorType, err?.errorMessage ?? err?.message ?? String(err));
    }
    return { ExecutedVersion: '$LATEST', Payload: payload === undefined ? null : payload, StatusCode: 200 };
  };
}

/** walkStates calls fn(name, state, scope) for every state, branches included. */
function walkStates(definition, fn, scope = '') {
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    fn(name, state, scope);
    if (state.Type === 'Parallel') {
      state.Branches.forEach((branch, i) => walkStates(branch, fn, `${scope}${name}[${i}]/`));
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) walkStates(processor, fn, `${scope}${name}[*]/`);
    }
  }
}

/** taskStates lists the names of every Task state in the definition, sorted. */
function taskStates(definition) {
  const names = [];
  walkStates(definition, (name, state) => {
    if (state.Type === 'Task') names.push(name);
  });
  return names.sort();
}

/** retryableStates lists every state with a Retry field, sorted. */
function retryableStates(definition) {
  const names = [];
  walkStates(definition, (name, state) => {
    if (Array.isArray(state.Retry) && state.Retry.length > 0) names.push(name);
  });
  return names.sort();
}

/** placeholders lists the `${Name}` substitutions in a definition text, sorted, unique. */
function placeholders(text) {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))].sort();
}

/**
 * substitute replaces every `${Name}` in the definition text with values[Name] (JSON
 * string-escaped). Like statemachine.Substitute in Go, it fails on a placeholder without
 * a value and on a value without a placeholder.
 */
function substitute(text, values) {
  const keys = placeholders(text);
  const missing = keys.filter((k) => !(k in values));
  const unused = Object.keys(values).filter((k) => !keys.includes(k)).sort();
  const problems = [];
  if (missing.length) problems.push(`placeholders without a value: ${missing.join(', ')}`);
  if (unused.length) problems.push(`values without a placeholder: ${unused.join(', ')}`);
  if (problems.length) throw new Error(`substitute definition: ${problems.join('; ')}`);
  return text.replace(PLACEHOLDER, (_, key) => JSON.stringify(String(values[key])).slice(1, -1));
}

/**
 * validate checks a definition (object or JSON text, placeholders already substituted)
 * with asl-validator: schema, JSONPath syntax and Resource ARNs.
 */
function validate(definition) {
  const def = typeof definition === 'string' ? JSON.parse(definition) : definition;
  const { isValid, errors } = aslValidator(def, { checkArn: true, checkPaths: true });
  return { isValid, errors: (errors ?? []).map((e) => e.message ?? String(e)) };
}

function parseDefinition(definition) {
  const text = typeof definition === 'string' ? definition : JSON.stringify(definition);
  const left = placeholders(text);
  if (left.length) {
    throw new Error(`definition still has placeholders ${left.join(', ')}; substitute them before running`);
  }
  return JSON.parse(text);
}

// TIMEOUT_KEY carries a Task's TimeoutSecondsPath value through its Parameters.
const TIMEOUT_KEY = '__runnerFleetTimeoutSeconds';

/**
 * resolveTimeoutPathsOnStateInput adapts a definition to an engine deviation. Step
 * Functions resolves a Task's TimeoutSecondsPath against the state's input;
 * aws-local-stepfunctions 3 resolves it against the effective parameters (after
 * Parameters), where `$.plan.timeouts.runner_ttl_seconds` does not exist. For every Task
 * with both, the local copy gets an extra parameter holding the value read from the
 * state input, and TimeoutSecondsPath points at it; the handler wrapper removes it
 * again, so handlers see exactly the parameters AWS would send.
 */
function resolveTimeoutPathsOnStateInput(definition) {
  walkStates(definition, (_name, state) => {
    if (state.Type !== 'Task' || !state.TimeoutSecondsPath) return;
    if (state.Parameters === undefined || state.Parameters === null || typeof state.Parameters !== 'object' || Array.isArray(state.Parameters)) return;
    state.Parameters = { ...state.Parameters, [`${TIMEOUT_KEY}.$`]: state.TimeoutSecondsPath };
    state.TimeoutSecondsPath = `$.${TIMEOUT_KEY}`;
  });
  return definition;
}

function asJSON(value) {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

function withoutTimeoutKey(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || !(TIMEOUT_KEY in input)) return input;
  const { [TIMEOUT_KEY]: _omitted, ...rest } = input;
  return rest;
}

function causeText(cause) {
  if (cause === undefined || cause === null) return undefined;
  if (typeof cause === 'string') return cause;
  if (cause instanceof Error) return cause.message;
  return JSON.stringify(cause);
}

/**
 * prepare validates a definition (object or JSON text, placeholders substituted) once
 * and returns a machine whose start() runs executions of it. Validation costs about a
 * second, so a long-lived caller (fleet-local) prepares each definition once.
 */
function prepare(definition) {
  const def = parseDefinition(definition);
  // Throws, naming every problem, when the definition is not valid ASL.
  new StateMachine(def, { validationOptions: { checkArn: true, checkPaths: true } });
  const machine = new StateMachine(resolveTimeoutPathsOnStateInput(structuredClone(def)), {
    validationOptions: { noValidate: true },
  });
  const tasks = taskStates(def);
  const scopes = new Map();
  walkStates(def, (name, _state, scope) => scopes.set(name, scope));
  return {
    definition: def,
    taskStates: tasks,
    start: (input, options = {}) => start(machine, tasks, scopes, input, options),
  };
}

/**
 * startExecution is prepare(definition).start(input, options): it runs one execution of
 * `definition` on `input` and returns `{ abort, done }` at once.
 *
 * options:
 *   name, executionArn, stateMachineArn: the Context Object's Execution.Name and
 *     Execution.Id, StateMachine.Id ($$.Execution.Name / $$.Execution.Id in the ASL).
 *   handlers: { [TaskStateName]: async (input, info) => result } for EVERY Task state
 *     (nothing is ever sent to AWS: a Task without a handler is an error up front).
 *     `input` is the state's effective parameters (after InputPath and Parameters), the
 *     result is what the integration returns (use lambdaInvoke for lambda:invoke states);
 *     throw a TaskError to fail the state with a named error. `info` is
 *     { stateName, executionArn, executionName, signal }: signal aborts when the
 *     execution ends, so a handler still waiting (a timed-out task, a branch another
 *     branch failed) can stop its work.
 *   onEvent(event): called with every engine event in order (StateEntered, StateExited,
 *     StateFailed, StateRetried, StateCaught, ParallelBranch*, Execution*), each state
 *     event with `scope` added: "" at the top level, "Runner[0]/" in a Parallel branch.
 *   waitTimeOverrides: { [WaitStateName]: milliseconds }.
 *   retryIntervalOverrides: { [StateName]: milliseconds | milliseconds[] }.
 *
 * done resolves (it does not reject for a failed execution) with
 *   { status: SUCCEEDED | FAILED | TIMED_OUT | ABORTED, output?, error?, cause?,
 *     trail: [{ name, type, scope }] (every state entered, in order),
 *     transitions (state entries + retries, what Step Functions bills), events }.
 */
function startExecution(definition, input, options = {}) {
  return prepare(definition).start(input, options);
}

function start(machine, tasks, scopes, input, options) {
  const handlers = options.handlers ?? {};
  const missing = tasks.filter((name) => typeof handlers[name] !== 'function');
  if (missing.length) {
    throw new Error(`no local handler for Task state(s) ${missing.join(', ')}; the local engine never calls AWS`);
  }
  const name = options.name ?? 'local-execution';
  const stateMachineArn = options.stateMachineArn ?? 'arn:aws:states:us-east-1:123456789012:stateMachine:local';
  const executionArn =
    options.executionArn ?? `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  const ended = new AbortController();
  const info = (stateName) => ({ stateName, executionArn, executionName: name, signal: ended.signal });
  const taskResourceLocalHandlers = Object.fromEntries(
    Object.entries(handlers).map(([stateName, handler]) => [
      stateName,
      // Step Functions passes JSON both ways: handlers get a copy and their result is
      // reduced to JSON (undefined fields dropped), as a Lambda's would be.
      async (stateInput) => asJSON(await handler(withoutTimeoutKey(structuredClone(stateInput)), info(stateName))),
    ]),
  );
  const execution = machine.run(input, {
    overrides: {
      taskResourceLocalHandlers,
      waitTimeOverrides: options.waitTimeOverrides,
      retryIntervalOverrides: options.retryIntervalOverrides,
    },
    context: {
      Execution: { Id: executionArn, Name: name },
      StateMachine: { Id: stateMachineArn, Name: stateMachineArn.split(':').pop() },
    },
  });

  const events = [];
  const trail = [];
  let transitions = 0;
  let callbackError;
  const drained = (async () => {
    for await (const raw of execution.eventLogs) {
      const scope = raw.state ? (scopes.get(raw.state.name) ?? '') : '';
      const event = raw.state ? { ...raw, scope } : raw;
      events.push(event);
      if (event.type === 'StateEntered') {
        trail.push({ name: event.state.name, type: event.state.type, scope });
        transitions++;
      } else if (event.type === 'StateRetried') {
        transitions++;
      }
      if (options.onEvent && callbackError === undefined) {
        try {
          options.onEvent(event);
        } catch (err) {
          callbackError = err;
        }
      }
    }
  })();

  const done = (async () => {
    let outcome;
    try {
      outcome = { status: 'SUCCEEDED', output: await execution.result };
    } catch (err) {
      if (err instanceof ExecutionTimeoutError) {
        outcome = { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'the execution outlived its TimeoutSeconds' };
      } else if (err instanceof ExecutionAbortedError) {
        outcome = { status: 'ABORTED' };
      } else if (err instanceof ExecutionError) {
        outcome = { status: 'FAILED' };
      } else {
        throw err;
      }
    } finally {
      ended.abort();
    }
    await drained;
    if (outcome.status === 'FAILED') {
      const failed = events.findLast((e) => e.type === 'ExecutionFailed');
      outcome.error = failed?.Error;
      outcome.cause = causeText(failed?.Cause);
    }
    if (callbackError !== undefined) throw callbackError;
    return { ...outcome, trail, transitions, events };
  })();

  return { abort: () => execution.abort(), done };
}

module.exports = {
  TaskError,
  prepare,
  lambdaError,
  lambdaInvoke,
  placeholders,
  retryableStates,
  startExecution,
  substitute,
  taskStates,
  validate,
};
