// Which signals tsinit knows: the numbers it hard-codes are this system's, what it can catch (and so
// forward) leaves out exactly KILL, STOP, CHLD and PIPE, and the C library's own real-time signals
// are no signals for the user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import * as signals from '../../src/signals';
import { detectPlatform } from '../../src/sys/platform';

const BY_NAME = constants.signals as Record<string, number>;

test('the numbers tsinit hard-codes are the ones of this system', () => {
  for (const name of ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGPIPE', 'SIGTERM', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGWINCH']) {
    assert.equal((signals as unknown as Record<string, number>)[name], BY_NAME[name], name);
  }
  assert.deepEqual([...signals.FAULT_SIGNALS].sort((a, b) => a - b), [BY_NAME.SIGILL, BY_NAME.SIGBUS, BY_NAME.SIGFPE, BY_NAME.SIGSEGV].sort((a, b) => a - b));
});

test('catchable: every named signal but KILL, STOP, CHLD and PIPE, once each; every real-time one', () => {
  const named = signals.namedCatchable();
  const left = new Set(Object.values(BY_NAME).filter((n) => !named.has(n)));
  assert.deepEqual([...left].sort((a, b) => a - b), [BY_NAME.SIGKILL, BY_NAME.SIGPIPE, BY_NAME.SIGCHLD, BY_NAME.SIGSTOP]);
  for (const [n, name] of named) assert.equal(BY_NAME[name], n);
  for (const n of left) assert.equal(signals.isCatchable(n), false, `${n}`);
  for (let n = signals.SIGRTMIN; n <= signals.SIGRTMAX; n++) assert.equal(signals.isCatchable(n), true, `${n}`);
});

test('the C library\'s own real-time signals are neither catchable nor signals; SIGRTMIN is after them', () => {
  assert.equal(signals.SIGRTMIN, detectPlatform().libc === 'glibc' ? 34 : 35);
  for (let n = 32; n < signals.SIGRTMIN; n++) {
    assert.equal(signals.isSignal(n), false, `${n}`);
    assert.equal(signals.isCatchable(n), false, `${n}`);
  }
  assert.equal(signals.isSignal(0), false);
  assert.equal(signals.isSignal(65), false);
  assert.equal(signals.isSignal(signals.SIGKILL), true, 'KILL can be sent, though not caught');
});

test('stop and job-control sets: TERM and INT stop; TSTP, TTIN, TTOU are job control', () => {
  assert.deepEqual([...signals.DEFAULT_STOP_SIGNALS].sort((a, b) => a - b), [signals.SIGINT, signals.SIGTERM]);
  assert.deepEqual([...signals.JOB_CONTROL].sort((a, b) => a - b), [signals.SIGTSTP, signals.SIGTTIN, signals.SIGTTOU]);
});
