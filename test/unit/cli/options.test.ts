// Unit tests of the pure parts of the core: option and environment parsing, durations, signal names,
// wait statuses and exit-code mapping, users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBool, parseDuration, parseExitCode, parseRateLimit, parseSignal, parseSize, UsageError, formatDuration,
} from '../../../src/values';
import { parseRewrite } from '../../../src/cli/options';
import { parseCli } from '../../../src/cli/parse';
import { decodeWaitStatus, exitCodeOf } from '../../../src/exit-status';
import { signalName, signalNumber } from '../../../src/values';
import { isCatchable, isSignal } from '../../../src/signals';
import { parseGroup, parsePasswd, resolveCredentials } from '../../../src/process/users';

function opts(args: string[], env: Record<string, string> = {}) {
  const r = parseCli(args, env);
  assert.equal(r.kind, 'run');
  return (r as Extract<typeof r, { kind: 'run' }>).options;
}

test('durations: units, bare seconds, and nonsense', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('3'), 3000);
  for (const bad of ['', 'soon', '-1s', '1y', '1 s s', '1e3']) assert.throws(() => parseDuration(bad), UsageError, bad);
  assert.equal(formatDuration(400), '400ms');
  assert.equal(formatDuration(31_200), '31.2s');
  assert.equal(formatDuration(3_600_000), '60m');
});

test('signals: names with or without SIG, any case, numbers; unknown ones refused', () => {
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGUSR1'), 10);
  assert.equal(parseSignal('hup'), 1);
  assert.equal(parseSignal('9'), 9);
  assert.throws(() => parseSignal('NOPE'), /unknown signal 'NOPE'/);
  assert.throws(() => parseSignal('0'), UsageError);
  assert.throws(() => parseSignal('65'), UsageError);
  assert.equal(signalNumber('SIGIOT'), 6);
  assert.equal(signalName(6), 'SIGABRT');
  assert.equal(signalName(29), 'SIGIO');
  assert.ok(!isCatchable(17), 'SIGCHLD');
  assert.ok(!isCatchable(9), 'SIGKILL');
  assert.ok(!isCatchable(32) && !isSignal(32) && !isSignal(33), 'glibc keeps 32 and 33');
  for (const n of [28, 11, 4, 21, 40, 64]) assert.ok(isCatchable(n), String(n));
});

test('booleans for environment twins are strict: 0 and false mean off', () => {
  for (const on of ['1', 'true', 'TRUE', 'yes', 'on']) assert.equal(parseBool(on), true, on);
  for (const off of ['0', 'false', 'no', 'off', '']) assert.equal(parseBool(off), false, off);
  assert.throws(() => parseBool('maybe'), UsageError);
  assert.throws(() => parseBool('2'), UsageError);
});

test('exit codes, limits, rewrites, sizes', () => {
  assert.equal(parseExitCode('143'), 143);
  assert.throws(() => parseExitCode('256'), /out of range/);
  assert.throws(() => parseExitCode('x'), UsageError);
  assert.deepEqual(parseRateLimit('5/10s'), { count: 5, windowMs: 10_000 });
  assert.throws(() => parseRateLimit('5'), UsageError);
  assert.throws(() => parseRateLimit('5/0s'), UsageError);
  assert.deepEqual(parseRewrite('TERM:QUIT'), [15, 3]);
  assert.deepEqual(parseRewrite('USR1:none'), [10, 0]);
  assert.deepEqual(parseRewrite('10:0'), [10, 0]);
  assert.throws(() => parseRewrite('TERM'), UsageError);
  assert.equal(parseSize('1M'), 1024 * 1024);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('65536'), 65536);
});

test('wait statuses decode to code or signal; exit codes follow the shell convention with remaps', () => {
  assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3, signal: null });
  assert.deepEqual(decodeWaitStatus(15), { code: null, signal: 15 });
  assert.deepEqual(decodeWaitStatus(6 | 0x80), { code: null, signal: 6 }, 'core dumped');
  assert.equal(decodeWaitStatus((19 << 8) | 0x7f), null, 'stopped is not an exit');
  assert.equal(decodeWaitStatus(0xffff), null, 'continued is not an exit');
  assert.equal(exitCodeOf({ code: 42, signal: null }), 42);
  assert.equal(exitCodeOf({ code: null, signal: 9 }), 137);
  assert.equal(exitCodeOf({ code: null, signal: 15 }, new Set([143])), 0);
  assert.equal(exitCodeOf({ code: 3, signal: null }, new Set([143])), 3);
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

test('users: names and numbers, the primary group, supplementary groups', () => {
  const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  const groups = parseGroup('root:x:0:\napp:x:1000:\nvideo:x:44:app,other\naudio:x:29:other\n');
  assert.deepEqual(resolveCredentials('app', passwd, groups), { uid: 1000, gid: 1000, groups: [1000, 44], name: 'app', home: '/home/app' });
  assert.deepEqual(resolveCredentials('1000:video', passwd, groups), { uid: 1000, gid: 44, groups: [44], name: 'app', home: '/home/app' });
  assert.deepEqual(resolveCredentials('4242:4243', passwd, groups), { uid: 4242, gid: 4243, groups: [4243] });
  assert.throws(() => resolveCredentials('nobody-here', passwd, groups), /unknown user/);
  assert.throws(() => resolveCredentials('app:nogroup', passwd, groups), /unknown group/);
  assert.throws(() => resolveCredentials('app:', passwd, groups), /invalid user/);
});
