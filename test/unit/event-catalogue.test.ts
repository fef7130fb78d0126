// The catalogue: every event has a level and a human line, and the lines users and scripts match on
// read as they always have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe, TsinitEvent } from '../../src/event-catalogue';

const status = { code: 3, signal: null };
const killed = { code: null, signal: 9 };
const EVERY: TsinitEvent[] = [
  { type: 'started', role: 'service', pid: 10, command: 'sh -c x' },
  { type: 'spawn-failed', role: 'service', command: 'nope', reason: 'command not found', exitCode: 127 },
  { type: 'exited', role: 'logger', pid: 11, status },
  { type: 'signal-forwarded', signal: 1, as: 10, pid: 10, group: true },
  { type: 'signal-dropped', signal: 10 },
  { type: 'stopping', reason: 'received SIGTERM', signal: 15, pid: 10 },
  { type: 'killing', reason: 'second SIGINT during the stop', pids: [10, 12] },
  { type: 'orphan-reaped', pid: 12, status: killed },
  { type: 'orphans-reaped', count: 2 },
  { type: 'logger-restart', pid: 11, status, attempt: 2, delayMs: 20 },
  { type: 'logger-gave-up', restarts: 5, windowMs: 10_000 },
  { type: 'logger-bytes-lost', bytes: 100 },
  { type: 'logger-grace-expired', pid: 11, graceMs: 300 },
  { type: 'restart', pid: 10, status, attempt: 1, limit: 5, delayMs: 100 },
  { type: 'restart-gave-up', pid: 10, status, restarts: 5, windowMs: 10_000 },
  { type: 'restart-asked', pid: 10, signal: 15 },
  { type: 'watchdog-kill', pid: 10, silentMs: 3000, source: 'fd', signal: 6, cause: 'no-heartbeat' },
  { type: 'watchdog', pid: 10, event: { type: 'stall', stalledMs: 1500 } },
  { type: 'daemon-adopted', pid: 13, via: 'pidfile' },
  { type: 'daemon-failed', reason: 'no survivor' },
  { type: 'timeout', afterMs: 1000, pid: 10 },
  { type: 'report', text: 'hang report\nPID ...' },
  { type: 'pty-unavailable', reason: 'not installed' },
  { type: 'pty-output-lost', pid: 10, bytes: 5, reason: 'EPIPE' },
  { type: 'exit', code: 143, reason: 'received SIGTERM' },
  { type: 'error', message: 'internal error: boom' },
];

test('every event has a level and a line with every field filled in', () => {
  for (const e of EVERY) {
    const [level, line] = describe(e);
    assert.ok(['error', 'warn', 'info'].includes(level), e.type);
    assert.ok(line.length > 0 && !/undefined|NaN|\[object/.test(line), `${e.type}: ${line}`);
  }
});

test('the lines that scripts and tests match on', () => {
  const line = (e: TsinitEvent) => describe(e)[1];
  assert.equal(line(EVERY[5]), 'stopping service (pid 10): received SIGTERM; sending SIGTERM');
  assert.equal(line(EVERY[6]), 'second SIGINT during the stop; sending SIGKILL to 2 process(es): 10 12');
  assert.equal(line(EVERY[3]), 'forwarded SIGHUP as SIGUSR1 to process group 10');
  assert.equal(line(EVERY[13]), 'service (pid 10) exited with 3; restart 1/5 in 100ms');
  assert.equal(line(EVERY[16]), 'watchdog: no heartbeat from service (pid 10) for 3.0s; killing it with SIGABRT');
  assert.equal(line(EVERY[24]), 'exiting with 143 (received SIGTERM)');
  assert.deepEqual(describe(EVERY[8]), ['info', 'reaped 2 orphan(s)']);
  assert.deepEqual(describe(EVERY[11]), ['error', 'logger exited with 100 bytes unread: they are lost']);
});
