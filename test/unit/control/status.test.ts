// The status model (the unit's snapshot refined by a fold over tsinit's events) and the health
// decision: pure, with explicit times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideHealth, fold, initialState, outputLoss, snapshot, StatusConfig, StatusState, UnitStatus } from '../../../src/control/status';
import type { TsinitEvent } from '../../../src/event-catalogue';

const plain: StatusConfig = { command: 'app', readiness: false, probe: null, probeThreshold: 3, watchdogMs: null, logger: 'none' };
const probed: StatusConfig = { ...plain, readiness: true, probe: 'health-cmd' };
const self = { pid: 1, version: '0.0.0', controlSocket: null };

const idle: UnitStatus = { state: 'idle', pid: null, uptimeMs: null, restarts: 0, lastExit: null, stopping: null };
const running = (pid: number, uptimeMs: number, restarts = 0): UnitStatus => ({ ...idle, state: 'running', pid, uptimeMs, restarts });

function feed(config: StatusConfig, events: Array<[number, TsinitEvent]>): StatusState {
  const st = initialState(config, 0);
  for (const [at, e] of events) fold(st, e, at);
  return st;
}
const health = (st: StatusState, unit: UnitStatus, at: number) => decideHealth(snapshot(st, unit, at, self));

const started = (pid: number): TsinitEvent => ({ type: 'started', role: 'service', pid, command: 'app' });
const exited = (pid: number, code: number | null, signal: number | null = null): TsinitEvent => ({ type: 'exited', role: 'service', pid, status: { code, signal } });
const probeFailed = (n: number, counting = true): TsinitEvent => ({
  type: 'watchdog', pid: 7, event: { type: 'probe-failed', source: 'health-cmd', reason: 'exit 1', consecutive: n, threshold: 3, counting },
});

test('a plain service: starting until the unit runs it, then running and healthy with its uptime', () => {
  const st = feed(plain, []);
  assert.equal(snapshot(st, idle, 0, self).service.state, 'starting');
  assert.deepEqual(health(st, idle, 0), { healthy: false, reason: 'starting: the service is not running yet' });
  fold(st, started(7), 1000);
  const s = snapshot(st, running(7, 61_000), 62_000, self);
  assert.deepEqual([s.service.state, s.service.pid, s.service.uptimeMs, s.service.ready], ['running', 7, 61_000, null]);
  assert.equal(s.tsinit.uptimeMs, 62_000);
  assert.deepEqual(health(st, running(7, 61_000), 62_000), { healthy: true, reason: 'running (pid 7, up 1m01s)' });
});

test('with a probe: starting until the watchdog says started, unhealthy on counted failures, healthy once it passes', () => {
  const st = feed(probed, [[0, started(7)], [100, probeFailed(0, false)]]);
  assert.equal(snapshot(st, running(7, 200), 200, self).service.state, 'starting', 'failures before the start do not count');
  assert.match(health(st, running(7, 200), 200).reason, /^starting: pid 7 is not ready yet/);
  fold(st, { type: 'watchdog', pid: 7, event: { type: 'started', via: 'health-cmd', afterMs: 100 } }, 300);
  assert.equal(snapshot(st, running(7, 300), 300, self).service.state, 'ready');
  assert.deepEqual(health(st, running(7, 300), 300), { healthy: true, reason: 'running (pid 7, up 0s, ready, health-cmd passing)' });
  fold(st, probeFailed(1), 400);
  assert.equal(snapshot(st, running(7, 400), 400, self).service.state, 'unhealthy');
  assert.deepEqual(health(st, running(7, 400), 400), { healthy: false, reason: 'health-cmd probe failing (1/3): exit 1' });
  fold(st, { type: 'watchdog', pid: 7, event: { type: 'probe-passed', source: 'health-cmd', failures: 1 } }, 500);
  assert.equal(health(st, running(7, 500), 500).healthy, true);
  // past the threshold: killed, exited, restarted; the next incarnation must be ready again
  fold(st, probeFailed(3), 600);
  fold(st, { type: 'watchdog-kill', pid: 7, silentMs: 0, source: 'health-cmd', signal: 6, cause: 'probe-failures' }, 600);
  assert.equal(snapshot(st, running(7, 600), 600, self).service.state, 'unhealthy');
  fold(st, exited(7, null, 6), 700);
  const between: UnitStatus = { ...idle, state: 'restarting', restarts: 0, lastExit: { code: null, signal: 6 } };
  assert.deepEqual(health(st, between, 1700), { healthy: false, reason: 'restarting (last exit: signal 6, 1s ago)' });
  fold(st, started(9), 800);
  const s = snapshot(st, running(9, 0, 1), 800, self);
  assert.deepEqual([s.service.state, s.service.restarts, s.probe.failures, s.watchdog.kills, s.watchdog.lastKill], ['starting', 1, 0, 1, 'probe-failures']);
});

test('stopping and exited come from the unit, with its reason', () => {
  const st = feed(plain, [[0, started(7)]]);
  const stopping: UnitStatus = { ...running(7, 10), state: 'stopping', stopping: 'received SIGTERM' };
  assert.deepEqual(health(st, stopping, 10), { healthy: false, reason: 'stopping: received SIGTERM' });
  fold(st, exited(7, 2), 20);
  const gone: UnitStatus = { ...idle, state: 'exited', lastExit: { code: 2, signal: null } };
  assert.deepEqual(health(st, gone, 2020), { healthy: false, reason: 'the service is not running (last exit: code 2, 2s ago)' });
});

test('lost output: unread bytes, a logger given up on, a log writer that did not finish; nothing else', () => {
  const logd: StatusConfig = { ...plain, logger: 'logd' };
  const ok = feed(logd, [[0, { type: 'exited', role: 'logger', pid: 3, status: { code: 0, signal: null } }]]);
  assert.equal(outputLoss(ok), null);
  const unread = feed(logd, [[0, { type: 'logger-bytes-lost', bytes: 12 }]]);
  assert.equal(outputLoss(unread), '12 bytes were still unread when the logger was stopped');
  assert.equal(snapshot(unread, idle, 0, self).logger.bytesLost, 12);
  const disk = feed(logd, [[0, { type: 'exited', role: 'logger', pid: 3, status: { code: 1, signal: null } }]]);
  assert.match(outputLoss(disk)!, /log writer exited with code 1/);
  const crashed = feed(logd, [[0, { type: 'logger-restart', pid: 3, status: { code: null, signal: 9 }, attempt: 1, delayMs: 0 }]]);
  assert.match(outputLoss(crashed)!, /log writer exited with signal 9 during the run/);
  const custom = feed({ ...plain, logger: 'command' }, [[0, { type: 'exited', role: 'logger', pid: 3, status: { code: 1, signal: null } }]]);
  assert.equal(outputLoss(custom), null, "a --logger command's exit status means nothing to tsinit");
  const gave = feed(logd, [[0, { type: 'logger-gave-up', restarts: 5, windowMs: 10_000 }]]);
  assert.match(outputLoss(gave)!, /gave up/);
  assert.deepEqual(health(gave, running(7, 0), 0), { healthy: false, reason: 'logging failed: the logger kept dying' });
});
