'use strict';
// The local Step Functions execution engine behind fleet-local: one Node process that
// runs executions of the statemachine/ definitions with aws-local-stepfunctions (through
// statemachine/_engine/engine.js, the same wrapper the scenario tests use) and hands every
// Task state to the Go side, which performs the integration the way Step Functions does
// (lambda:invoke on the real bootstraps, ecs:runTask.sync, codebuild:startBuild.sync,
// states:startExecution.sync:2 against the AWS fakes) and writes the history.
//
// Protocol: JSON lines. Go -> Node on stdin:
//   {"op":"prepare","machine":ARN,"definition":TEXT,"retryScale":0.01}
//   {"op":"start","id":EXEC_ARN,"machine":ARN,"name":NAME,"input":VALUE}
//   {"op":"result","call":N,"output":VALUE} | {"op":"result","call":N,"error":NAME,"cause":TEXT}
//   {"op":"abort","id":EXEC_ARN}
// Node -> Go on stdout:
//   {"ev":"prepared","machine":ARN,"error"?:TEXT}
//   {"ev":"task","id":EXEC_ARN,"call":N,"state":NAME,"resource":ARN,"input":PARAMS,"timeout":SECONDS|null}
//   {"ev":"cancel","call":N}            (the state timed out, its branch or execution ended)
//   {"ev":"event","id":EXEC_ARN,"event":ENGINE_EVENT}
//   {"ev":"done","id":EXEC_ARN,"status":S,"output"?,"error"?,"cause"?,"transitions":N}
const readline = require('node:readline');
const path = require('node:path');

const engine = require(path.join(__dirname, '..', '..', 'statemachine', '_engine', 'engine.js'));

const machines = new Map(); // ARN -> { prepared, resources, scopes, retryOverrides }
const executions = new Map(); // EXEC_ARN -> { abort }
const calls = new Map(); // call id -> { resolve, reject, id, state, scope }
let nextCall = 1;

function send(msg) {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

function walk(definition, fn, scope = '') {
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    fn(name, state, scope);
    if (state.Type === 'Parallel') {
      state.Branches.forEach((b) => walk(b, fn, `${scope}${name}[`));
    }
    if (state.Type === 'Map') {
      const p = state.ItemProcessor ?? state.Iterator;
      if (p) walk(p, fn, `${scope}${name}[`);
    }
  }
}

function prepare(msg) {
  try {
    const prepared = engine.prepare(msg.definition);
    const resources = new Map();
    const scopes = new Map();
    const retryOverrides = {};
    walk(prepared.definition, (name, state, scope) => {
      scopes.set(name, scope);
      if (state.Type === 'Task') resources.set(name, { resource: state.Resource, timeout: state.TimeoutSeconds ?? null });
      if (Array.isArray(state.Retry) && msg.retryScale > 0) {
        retryOverrides[name] = state.Retry.map((r) =>
          Math.max(1, Math.round((r.IntervalSeconds ?? 1) * 1000 * msg.retryScale)));
      }
    });
    machines.set(msg.machine, { prepared, resources, scopes, retryOverrides });
    send({ ev: 'prepared', machine: msg.machine });
  } catch (err) {
    send({ ev: 'prepared', machine: msg.machine, error: String(err?.message ?? err) });
  }
}

function cancelWhere(pred) {
  for (const [call, c] of calls) {
    if (pred(c)) {
      calls.delete(call);
      send({ ev: 'cancel', call });
      c.reject(new engine.TaskError('States.Runtime', 'cancelled'));
    }
  }
}

function start(msg) {
  const m = machines.get(msg.machine);
  if (!m) {
    send({ ev: 'done', id: msg.id, status: 'FAILED', error: 'States.Runtime', cause: `state machine ${msg.machine} was not prepared` });
    return;
  }
  const handlers = {};
  for (const [state, { resource, timeout }] of m.resources) {
    handlers[state] = (input) =>
      new Promise((resolve, reject) => {
        const call = nextCall++;
        calls.set(call, { resolve, reject, id: msg.id, state, scope: m.scopes.get(state) ?? '' });
        send({ ev: 'task', id: msg.id, call, state, resource, input, timeout });
      });
  }
  let run;
  try {
    run = m.prepared.start(msg.input, {
      name: msg.name,
      executionArn: msg.id,
      stateMachineArn: msg.machine,
      handlers,
      retryIntervalOverrides: m.retryOverrides,
      onEvent: (event) => {
        send({ ev: 'event', id: msg.id, event });
        if (event.type === 'StateFailed' || event.type === 'StateCaught') {
          // A Task that failed while its call is still pending timed out: Step Functions
          // stops waiting and the integration's work must be stopped too.
          cancelWhere((c) => c.id === msg.id && c.state === event.state?.name);
        }
        if (event.type === 'ParallelBranchFailed' && event.parentState) {
          const prefix = `${event.parentState.name}[`;
          cancelWhere((c) => c.id === msg.id && c.scope.includes(prefix));
        }
      },
    });
  } catch (err) {
    send({ ev: 'done', id: msg.id, status: 'FAILED', error: 'States.Runtime', cause: String(err?.message ?? err) });
    return;
  }
  executions.set(msg.id, run);
  run.done.then(
    (r) => {
      executions.delete(msg.id);
      cancelWhere((c) => c.id === msg.id);
      send({ ev: 'done', id: msg.id, status: r.status, output: r.output, error: r.error, cause: r.cause, transitions: r.transitions });
    },
    (err) => {
      executions.delete(msg.id);
      cancelWhere((c) => c.id === msg.id);
      send({ ev: 'done', id: msg.id, status: 'FAILED', error: 'States.Runtime', cause: String(err?.message ?? err) });
    },
  );
}

function result(msg) {
  const c = calls.get(msg.call);
  if (!c) return; // cancelled meanwhile
  calls.delete(msg.call);
  if (msg.error !== undefined && msg.error !== null) {
    c.reject(new engine.TaskError(msg.error, msg.cause ?? ''));
  } else {
    c.resolve(msg.output);
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (err) {
    process.stderr.write(`sfnengine: unreadable line: ${err.message}\n`);
    return;
  }
  switch (msg.op) {
    case 'prepare':
      prepare(msg);
      break;
    case 'start':
      start(msg);
      break;
    case 'result':
      result(msg);
      break;
    case 'abort':
      executions.get(msg.id)?.abort();
      break;
    default:
      process.stderr.write(`sfnengine: unknown op ${msg.op}\n`);
  }
});
rl.on('close', () => process.exit(0));
