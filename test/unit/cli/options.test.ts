// The command line and the environment twins -> Options, and the usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../src/values';
import { parseRewrite } from '../../../src/cli/options';
import { parseCli } from '../../../src/cli/parse';

function opts(args: string[], env: Record<string, string> = {}) {
  const r = parseCli(args, env);
  assert.equal(r.kind, 'run');
  return (r as Extract<typeof r, { kind: 'run' }>).options;
}

test('rewrites: FROM:TO by name or number; none or 0 drops', () => {
  assert.deepEqual(parseRewrite('TERM:QUIT'), [15, 3]);
  assert.deepEqual(parseRewrite('USR1:none'), [10, 0]);
  assert.deepEqual(parseRewrite('10:0'), [10, 0]);
  assert.throws(() => parseRewrite('TERM'), UsageError);
});

test('the command line: -- is optional, options after the command belong to it', () => {
  assert.deepEqual(opts(['--', 'sh', '-c', 'exit 3']).command, ['sh', '-c', 'exit 3']);
  assert.deepEqual(opts(['sh', '-c', 'exit 3']).command, ['sh', '-c', 'exit 3']);
  assert.deepEqual(opts(['-v', 'ls', '-v']).command, ['ls', '-v']);
  assert.equal(opts(['-v', 'ls', '-v']).verbose, true);
  const o = opts(['-r', 'TERM:QUIT', '--rewrite', 'USR1:none', '-e', '143', '-e', '3', '-k', '1s', 'x']);
  assert.deepEqual([...o.rewrite], [[15, 3], [10, 0]]);
  assert.deepEqual([...o.remapExit], [143, 3]);
  assert.equal(o.killAfterMs, 1000);
  assert.equal(opts(['--no-subreaper', 'x']).subreaper, false);
  assert.equal(opts(['x']).subreaper, true);
});

test('environment twins: every option, lists comma-separated, the command line wins', () => {
  let o = opts(['x'], { TSINIT_KILL_AFTER: '3s', TSINIT_REMAP_EXIT: '143, 3', TSINIT_VERBOSE: 'yes', TSINIT_NO_SUBREAPER: '1' });
  assert.equal(o.killAfterMs, 3000);
  assert.deepEqual([...o.remapExit], [143, 3]);
  assert.equal(o.verbose, true);
  assert.equal(o.subreaper, false);
  o = opts(['--kill-after', '1s', 'x'], { TSINIT_KILL_AFTER: '3s' });
  assert.equal(o.killAfterMs, 1000);
  assert.equal(opts(['x'], { TSINIT_VERBOSE: '0' }).verbose, false);
  assert.equal(opts(['x'], { TSINIT_VERBOSE: 'false' }).verbose, false);
  assert.equal(opts(['x'], { TSINIT_WATCHDOG_FD: '3' }).verbose, false, 'set by an outer tsinit: not an option');
  assert.throws(() => opts(['x'], { TSINIT_VERBOSE: 'maybe' }), /TSINIT_VERBOSE: invalid boolean/);
  assert.throws(() => opts(['x'], { TSINIT_TYPO: '1' }), /unknown environment variable TSINIT_TYPO/);
});

test('usage errors: unknown option, missing command, conflicting options', () => {
  assert.throws(() => parseCli(['--bogus', 'x'], {}), /unknown option '--bogus'/);
  assert.throws(() => parseCli([], {}), /missing command/);
  assert.throws(() => parseCli(['--logger', 'cat', '--log-dir', '/tmp/x', 'x'], {}), /cannot be used together/);
  assert.throws(() => parseCli(['--pidfile', '/run/x.pid', 'x'], {}), /--pidfile goes with --daemon/);
  assert.throws(() => parseCli(['--health-http', 'ftp://x/', 'x'], {}), /needs an http:\/\/ or https:\/\/ URL/);
  assert.throws(() => parseCli(['--restart', 'sometimes', 'x'], {}), /invalid restart policy 'sometimes'/);
  assert.equal(parseCli(['--help'], {}).kind, 'print');
  assert.equal(parseCli(['--version'], {}).kind, 'print');
});
