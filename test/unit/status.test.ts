// The status model (a fold over tsinit's events), the health decision, where the socket lives and
// the request protocol: pure, with explicit times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideHealth, fold, initialState, outputLoss, snapshot, StatusConfig, StatusState } from '../../src/control/status';
import type { TsinitEvent } from '../../src/events';
import { clientSockets, serverSocket } from '../../src/control/paths';
import { parseRequest } from '../../src/control/protocol';

const plain: StatusConfig = { command: 'app', readiness: false, probe: null, probeThreshold: 3, watchdogMs: null, logger: 'none' };
const probed: StatusConfig = { ...plain, readiness: true, probe: 'health-cmd' };
const self = { pid: 1, version: '0.0.0', controlSocket: null };

function feed(config: StatusConfig, events: Array<[number, TsinitEvent]>): StatusState {
  const st = initialState(config, 0);
  for (const [at, e] of events) fold(st, e, at);
  return st;
}
const health = (st: StatusState, at: number) => decideHealth(snapshot(st, at, self));

const started = (pid: number): TsinitEvent => ({ type: 'started', role: 'service', pid, command: 'app' });
const exited = (pid: number, code: number): TsinitEvent => ({ type: 'exited', role: 'service', pid, status: { code, signal: null } });

test('a plain service: starting until it runs, then running and healthy with its uptime', () => {
  let st = feed(plain, []);
  assert.equal(snapshot(st, 0, self).service.state, 'starting');
  assert.deepEqual(health(st, 0), { healthy: false, reason: 'starting: the service is not running yet' });
  st = feed(plain, [[1000, started(7)]]);
  const s = snapshot(st, 62_000, self);
  assert.equal(s.service.state, 'running');
  assert.equal(s.service.pid, 7);
  assert.equal(s.service.uptimeMs, 61_000);
  assert.equal(s.service.ready, null, 'nothing configured that could say ready');
  assert.deepEqual(health(st, 62_000), { healthy: true, reason: 'running (pid 7, up 1m01s)' });
});

test('with a probe: starting until the watchdog says started, unhealthy on counted failures, healthy once it passes', () => {
  const probeFailed = (n: number, counting = true): TsinitEvent => ({
    type: 'watchdog', pid: 7, event: { type: 'probe-failed', source: 'health-cmd', reason: 'exit 1', consecutive: n, threshold: 3, counting },
  });
  let st = feed(probed, [[0, started(7)], [100, probeFailed(0, false)]]);
  assert.equal(snapshot(st, 200, self).service.state, 'starting');
  assert.match(health(st, 200).reason, /^starting: pid 7 is not ready yet/);
  st = feed(probed, [[0, started(7)], [100, { type: 'watchdog', pid: 7, event: { type: 'started', via: 'health-cmd', afterMs: 100 } }]]);
  assert.equal(snapshot(st, 200, self).service.state, 'ready');
  assert.deepEqual(health(st, 200), { healthy: true, reason: 'running (pid 7, up 0s, ready, health-cmd passing)' });
  fold(st, probeFailed(1), 300);
  assert.equal(snapshot(st, 300, self).service.state, 'unhealthy');
  assert.deepEqual(health(st, 300), { healthy: false, reason: 'health-cmd probe failing (1/3): exit 1' });
  fold(st, { type: 'watchdog', pid: 7, event: { type: 'probe-passed', source: 'health-cmd', failures: 1 } }, 400);
  assert.equal(health(st, 400).healthy, true);
  // past the threshold: killed, exited, restarted, and the new incarnation must be ready again
  fold(st, probeFailed(3), 500);
  fold(st, { type: 'watchdog-kill', pid: 7, silentMs: 0, source: 'health-cmd', signal: 6, cause: 'probe-failures' }, 500);
  fold(st, exited(7, 134), 600);
  fold(st, { type: 'restart', pid: 7, status: { code: 134, signal: null }, attempt: 1, limit: 5, delayMs: 100 }, 600);
  assert.equal(snapshot(st, 650, self).service.state, 'restarting');
  assert.match(health(st, 650).reason, /^restarting after restart 1 \(last exit: code 134, 0s ago\)/);
  fold(st, started(9), 700);
  assert.equal(snapshot(st, 700, self).service.state, 'starting');
  assert.equal(snapshot(st, 700, self).probe.failures, 0);
  assert.equal(snapshot(st, 700, self).watchdog.kills, 1);
});

test('a requested restart: its stop is not tsinit stopping; the new incarnation counts as a restart', () => {
  const st = feed(plain, [[0, started(7)]]);
  st.restartPending = true; // set by the control side before it begins the stop
  fold(st, { type: 'stopping', reason: 'restart asked through the control socket', signal: 15, pid: 7 }, 10);
  assert.equal(snapshot(st, 10, self).service.state, 'restarting');
  fold(st, exited(7, 0), 20);
  assert.equal(snapshot(st, 20, self).service.state, 'restarting');
  fold(st, started(8), 30);
  const s = snapshot(st, 30, self);
  assert.deepEqual([s.service.state, s.service.restarts, s.service.stopping], ['running', 1, null]);
});

test('stopping: the reason, then exited; health says so', () => {
  const st = feed(plain, [[0, started(7)], [10, { type: 'stopping', reason: 'received SIGTERM', signal: 15, pid: 7 }]]);
  assert.deepEqual(health(st, 10), { healthy: false, reason: 'stopping: received SIGTERM' });
  fold(st, exited(7, 143), 20);
  assert.equal(snapshot(st, 20, self).service.state, 'stopping');
  const st2 = feed(plain, [[0, started(7)], [10, exited(7, 2)], [10, { type: 'exit', code: 2, reason: 'service exited with 2' }]]);
  assert.equal(snapshot(st2, 10, self).service.state, 'exited');
});

test('lost output: unread bytes, a logger given up on, a log writer that did not finish; nothing else', () => {
  const logd: StatusConfig = { ...plain, logger: 'logd' };
  const ok = feed(logd, [[0, { type: 'exited', role: 'logger', pid: 3, status: { code: 0, signal: null } }]]);
  assert.equal(outputLoss(ok), null);
  const unread = feed(logd, [[0, { type: 'logger-bytes-lost', bytes: 12 }]]);
  assert.equal(outputLoss(unread), '12 bytes were still unread when the logger was stopped');
  assert.equal(snapshot(unread, 0, self).logger.bytesLost, 12);
  const disk = feed(logd, [[0, { type: 'exited', role: 'logger', pid: 3, status: { code: 1, signal: null } }]]);
  assert.match(outputLoss(disk)!, /log writer exited with code 1/);
  const custom = feed({ ...plain, logger: 'command' }, [[0, { type: 'exited', role: 'logger', pid: 3, status: { code: 1, signal: null } }]]);
  assert.equal(outputLoss(custom), null, "a --logger command's exit status means nothing to tsinit");
  const gave = feed(logd, [[0, { type: 'logger-gave-up', restarts: 5, windowMs: 10_000 }]]);
  assert.match(outputLoss(gave)!, /gave up/);
  assert.deepEqual(health(gave, 0), { healthy: false, reason: 'logging failed: the logger kept dying' });
});

test('socket paths: PID 1 only by default; root in /run, others in XDG_RUNTIME_DIR or /tmp; off; explicit', () => {
  assert.deepEqual(serverSocket(undefined, { uid: 0, pid1: true, env: {} }), { path: '/run/tsinit/control.sock', isDefault: true });
  assert.equal(serverSocket(undefined, { uid: 0, pid1: false, env: {} }), null, 'nested: never takes the default');
  assert.deepEqual(serverSocket(undefined, { uid: 1000, pid1: true, env: { XDG_RUNTIME_DIR: '/run/user/1000' } }), { path: '/run/user/1000/tsinit/control.sock', isDefault: true });
  assert.deepEqual(serverSocket(undefined, { uid: 1000, pid1: true, env: {} }), { path: '/tmp/tsinit-1000/control.sock', isDefault: true });
  assert.equal(serverSocket(false, { uid: 0, pid1: true, env: {} }), null);
  assert.deepEqual(serverSocket('/x/s', { uid: 0, pid1: false, env: {} }), { path: '/x/s', isDefault: false });
  assert.deepEqual(clientSockets(undefined, { uid: 0, pid1: false, env: {} }), ['/run/tsinit/control.sock']);
  assert.deepEqual(clientSockets(undefined, { uid: 0, pid1: false, env: { TSINIT_CONTROL_SOCKET: '/y' } }), ['/y']);
  assert.deepEqual(clientSockets('/z', { uid: 0, pid1: false, env: { TSINIT_CONTROL_SOCKET: '/y' } }), ['/z']);
  assert.deepEqual(clientSockets(undefined, { uid: 5, pid1: false, env: { XDG_RUNTIME_DIR: '/r' } }), ['/r/tsinit/control.sock', '/tmp/tsinit-5/control.sock']);
});

test('requests: the four commands, and anything else refused with a reason', () => {
  assert.deepEqual(parseRequest('status\n'), { cmd: 'status' });
  assert.deepEqual(parseRequest(' restart '), { cmd: 'restart' });
  assert.deepEqual(parseRequest('stop'), { cmd: 'stop' });
  assert.deepEqual(parseRequest('signal HUP'), { cmd: 'signal', signal: 'HUP' });
  assert.match((parseRequest('signal') as { error: string }).error, /usage: signal SIG/);
  assert.match((parseRequest('rm -rf /') as { error: string }).error, /unknown request 'rm -rf \/'/);
  assert.match((parseRequest('') as { error: string }).error, /unknown request/);
});
