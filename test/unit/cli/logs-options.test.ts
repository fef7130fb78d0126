// --log-stdout, --strict-logs and --control-socket on the command line and in their twins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandBareFlags, parseCli } from '../../../src/cli/parse';
import { Options } from '../../../src/cli/options';

function opts(args: string[], env: Record<string, string> = {}): Options {
  const r = parseCli(args, env);
  assert.equal(r.kind, 'run');
  return (r as { options: Options }).options;
}

test('--log-stdout: bare is raw and never takes the command as its value; =json; the twin', () => {
  assert.equal(opts(['--log-dir', '/d', 'x']).logStdout, false);
  assert.equal(opts(['--log-dir', '/d', '--log-stdout', 'myapp', '-v']).logStdout, 'raw');
  assert.deepEqual(opts(['--log-dir', '/d', '--log-stdout', 'myapp', '-v']).command, ['myapp', '-v']);
  assert.equal(opts(['--log-dir', '/d', '--log-stdout', '--', 'x']).logStdout, 'raw');
  assert.equal(opts(['--log-dir', '/d', '--log-stdout=json', 'x']).logStdout, 'json');
  assert.equal(opts(['--log-dir', '/d', 'x'], { TSINIT_LOG_STDOUT: 'json' }).logStdout, 'json');
  assert.equal(opts(['--log-dir', '/d', 'x'], { TSINIT_LOG_STDOUT: '1' }).logStdout, 'raw');
  assert.equal(opts(['--log-dir', '/d', 'x'], { TSINIT_LOG_STDOUT: 'off' }).logStdout, false);
  assert.throws(() => opts(['--log-dir', '/d', '--log-stdout=xml', 'x']), /invalid --log-stdout mode 'xml'/);
  assert.throws(() => opts(['--log-stdout', 'x']), /--log-stdout goes with --log-dir/);
});

test('bare flags are expanded only among tsinit options, never in the command', () => {
  assert.deepEqual(expandBareFlags(['--log-stdout', 'a']), ['--log-stdout=raw', 'a']);
  assert.deepEqual(expandBareFlags(['-l', '--log-stdout', 'a']), ['-l', '--log-stdout', 'a'], "-l's value");
  assert.deepEqual(expandBareFlags(['-vk', '1s', '--log-stdout']), ['-vk', '1s', '--log-stdout=raw']);
  assert.deepEqual(expandBareFlags(['-k1s', '--log-stdout']), ['-k1s', '--log-stdout=raw']);
  assert.deepEqual(expandBareFlags(['cmd', '--log-stdout']), ['cmd', '--log-stdout']);
  assert.deepEqual(expandBareFlags(['--', '--log-stdout']), ['--', '--log-stdout']);
});

test('--strict-logs and --control-socket with their twins', () => {
  assert.equal(opts(['x']).strictLogs, false);
  assert.equal(opts(['--strict-logs', 'x']).strictLogs, true);
  assert.equal(opts(['x'], { TSINIT_STRICT_LOGS: 'yes' }).strictLogs, true);
  assert.equal(opts(['x']).controlSocket, undefined);
  assert.equal(opts(['--control-socket', '/run/a.sock', 'x']).controlSocket, '/run/a.sock');
  assert.equal(opts(['--control-socket', 'off', 'x']).controlSocket, false);
  assert.equal(opts(['x'], { TSINIT_CONTROL_SOCKET: 'none' }).controlSocket, false);
  assert.throws(() => opts(['--control-socket', `/${'a'.repeat(120)}`, 'x']), /too long for a unix socket/);
});
