// The paths tsinit opens itself, made absolute against the directory it was started in (it then
// moves to /); everything else in the options is left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absolutePaths } from '../../../src/cli/absolute-paths';
import { DEFAULTS, Options } from '../../../src/cli/options';

const opts = (o: Partial<Options> = {}): Options => ({ ...DEFAULTS, command: ['sh', '-c', 'true'], ...o });

test('relative paths of tsinit\'s own files are resolved against the start directory', () => {
  const got = absolutePaths(opts({ events: 'ev.jsonl', pidfile: './run/d.pid', watchdogFile: '../hb', logDir: 'logs/x' }), '/srv/app');
  assert.equal(got.events, '/srv/app/ev.jsonl');
  assert.equal(got.pidfile, '/srv/app/run/d.pid');
  assert.equal(got.watchdogFile, '/srv/hb');
  assert.equal(got.logDir, '/srv/app/logs/x');
});

test('absolute paths, fd:N and absent options are kept as they are', () => {
  const got = absolutePaths(opts({ events: 'fd:3', pidfile: '/var/run/d.pid' }), '/srv/app');
  assert.equal(got.events, 'fd:3');
  assert.equal(got.pidfile, '/var/run/d.pid');
  assert.equal(got.watchdogFile, undefined);
  assert.equal(got.logDir, undefined);
});

test('the command and the other options are untouched; the input is not changed', () => {
  const input = opts({ logger: 'cat > out.log', events: 'ev' });
  const got = absolutePaths(input, '/srv');
  assert.deepEqual(got.command, ['sh', '-c', 'true']);
  assert.equal(got.logger, 'cat > out.log');
  assert.equal(input.events, 'ev');
});

test('a start directory that no longer exists: the paths stay relative', () => {
  const input = opts({ events: 'ev', logDir: 'logs' });
  assert.equal(absolutePaths(input, null), input);
});
