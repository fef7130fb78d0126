// Wait statuses, the shell's exit-code convention, and the one exit code of a whole run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWaitStatus, describeStatus, exitCodeOf, finalExitCode, RunOutcome } from '../../src/exit-status';

test('wait statuses: exited, killed, and stopped/continued (not exits)', () => {
  assert.deepEqual(decodeWaitStatus(0), { code: 0, signal: null });
  assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3, signal: null });
  assert.deepEqual(decodeWaitStatus(9), { code: null, signal: 9 });
  assert.deepEqual(decodeWaitStatus(15 | 0x80), { code: null, signal: 15 }, 'core dumped');
  assert.equal(decodeWaitStatus((19 << 8) | 0x7f), null, 'stopped');
  assert.equal(decodeWaitStatus(0xffff), null, 'continued');
  assert.equal(describeStatus({ code: 3, signal: null }), 'code 3');
  assert.equal(describeStatus({ code: null, signal: 15 }), 'signal SIGTERM');
});

test('exit codes: a code as is, a signal as 128+N, remapped to 0 on request', () => {
  assert.equal(exitCodeOf({ code: 7, signal: null }), 7);
  assert.equal(exitCodeOf({ code: null, signal: 15 }), 143);
  assert.equal(exitCodeOf({ code: null, signal: 15 }, new Set([143])), 0);
  assert.equal(exitCodeOf({ code: 1, signal: null }, new Set([143])), 1);
});

const service = (code: number | null, signal: number | null = null, remap: number[] = []): RunOutcome => ({
  kind: 'service', status: { code, signal }, remapToZero: new Set(remap),
});

test('the run: the service decides, unless tsinit stopped it for a reason of its own or the logger failed', () => {
  const table: Array<[RunOutcome, { reason: string; exitCode?: number } | null, boolean, number, string]> = [
    [service(0), null, false, 0, 'service exited with 0'],
    [service(3), null, false, 3, 'service exited with 3'],
    [service(null, 15), { reason: 'received SIGTERM' }, false, 143, 'received SIGTERM'],
    [service(null, 15, [143]), { reason: 'received SIGTERM' }, false, 0, 'received SIGTERM'],
    [service(null, 9), { reason: 'timeout', exitCode: 124 }, false, 124, 'timeout'],
    [service(0), { reason: 'the logger keeps failing', exitCode: 125 }, true, 125, 'the logger kept failing'],
    [service(0), null, true, 125, 'the logger kept failing'],
    [{ kind: 'failed', exitCode: 127, reason: 'the service could not be started' }, null, false, 127, 'the service could not be started'],
    [{ kind: 'failed', exitCode: 125, reason: 'internal error' }, { reason: 'timeout', exitCode: 124 }, false, 125, 'internal error'],
    [{ kind: 'failed', exitCode: 126, reason: 'the service could not be started' }, null, true, 125, 'the logger kept failing'],
  ];
  for (const [outcome, stop, loggerFailed, code, reason] of table) {
    assert.deepEqual(finalExitCode(outcome, stop, loggerFailed), { code, reason }, JSON.stringify([outcome, stop, loggerFailed]));
  }
});
