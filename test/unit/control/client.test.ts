// What `tsinit status` prints: a few aligned lines, each shown only when what it describes is
// configured, with the last exit, the losses and the uptimes in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../../src/control/client';
import type { Status } from '../../../src/control/status';

const plain: Status = {
  tsinit: { pid: 1, version: '1.2.3', uptimeMs: 3_725_000, controlSocket: '/run/tsinit/control.sock' },
  service: { command: 'app --serve', state: 'running', pid: 7, uptimeMs: 65_000, restarts: 0, lastExit: null, ready: null, stopping: null },
  watchdog: { configured: false, periodMs: null, kills: 0, lastKill: null },
  probe: { configured: null, failures: 0, threshold: 3, lastFailure: null, passing: null },
  logger: { kind: 'none', state: 'none', pid: null, restarts: 0, bytesLost: 0, losses: [] },
};

test('a plain service: its state, pid and uptime, its command, and tsinit', () => {
  assert.equal(formatStatus(plain), [
    'service   running (pid 7, up 1m05s), restarts 0',
    'command   app --serve',
    'tsinit    pid 1, up 1h02m, version 1.2.3',
    '',
  ].join('\n'));
});

test('everything configured: readiness, the watchdog, the probe, the logger and its losses, the last exit, a stop', () => {
  const s: Status = {
    ...plain,
    service: { ...plain.service, state: 'stopping', restarts: 2, lastExit: { code: null, signal: 9, agoMs: 30_000 }, ready: false, stopping: 'received SIGTERM' },
    watchdog: { configured: true, periodMs: 10_000, kills: 1, lastKill: 'no heartbeat for 30s' },
    probe: { configured: 'health-cmd', failures: 2, threshold: 3, lastFailure: 'exit 1', passing: false },
    logger: { ...plain.logger, kind: 'logd', state: 'running', pid: 8, restarts: 1, losses: ['12 bytes unread'] },
  };
  assert.equal(formatStatus(s), [
    'service   stopping (pid 7, up 1m05s), restarts 2, last exit signal 9 30s ago, stopping: received SIGTERM',
    'command   app --serve',
    'ready     no',
    'watchdog  every 10s, 1 kill(s), last: no heartbeat for 30s',
    'probe     health-cmd failing (2/3), last failure: exit 1',
    'logger    logd running (pid 8), restarts 1, LOST: 12 bytes unread',
    'tsinit    pid 1, up 1h02m, version 1.2.3',
    '',
  ].join('\n'));
});

test('no incarnation running: no pid; a logger that lost nothing says so', () => {
  const s: Status = {
    ...plain,
    service: { ...plain.service, state: 'restarting', pid: null, uptimeMs: null, restarts: 4, lastExit: { code: 3, signal: null, agoMs: null } },
    logger: { ...plain.logger, kind: 'command', state: 'running', pid: 9 },
  };
  const lines = formatStatus(s).split('\n');
  assert.equal(lines[0], 'service   restarting, restarts 4, last exit code 3');
  assert.equal(lines[2], 'logger    command running (pid 9), restarts 0, nothing lost');
});
