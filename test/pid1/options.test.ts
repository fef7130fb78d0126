// Black-box tests of option values: bad values are usage errors before anything runs, and values
// that look like options reach /bin/sh -c as its command, never as its options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tempDir } from '../helpers/harness';

test('bad values are usage errors before anything runs: one line, 125, the service never started', async () => {
  const dir = tempDir();
  const marker = join(dir, 'ran');
  const cases: string[][] = [
    ['--events', 'fd:x'],
    ['--events', 'fd:987'],
    ['--events', join(dir, 'missing', 'events.jsonl')],
    ['--events', ''],
    ['--log-dir', ''],
    ['--log-max-bytes', '2000000g'],
    ['--log-max-bytes', '1k'],
    ['--pipe-size', '99999999999999999999g'],
    ['--logger', ''],
    ['--health-cmd', ''],
    ['--watchdog-file', ''],
    ['--user', ''],
  ];
  for (const args of cases) {
    const r = await run([...args, '--', 'sh', '-c', `touch ${marker}`]);
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0], /^tsinit: /);
    assert.ok(!existsSync(marker), `${args.join(' ')}: the service ran`);
  }
});

test('option values that look like options reach /bin/sh -c as the command: --logger -x, --health-cmd -ok', async () => {
  const dir = tempDir();
  const logged = join(dir, 'logged');
  const probed = join(dir, 'probed');
  writeFileSync(join(dir, '-x'), `#!/bin/sh\ncat > ${logged}\n`, { mode: 0o755 });
  writeFileSync(join(dir, '-ok'), `#!/bin/sh\necho probe >> ${probed}\n`, { mode: 0o755 });
  const env = { PATH: `${dir}:${process.env.PATH}` };
  const r = await run(['--logger', '-x', '--health-cmd', '-ok', '--health-interval', '50ms', '--', 'sh', '-c',
    `echo through-the-logger; until [ -s ${probed} ]; do sleep 0.05; done`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(logged, 'utf8'), 'through-the-logger\n');
  assert.match(readFileSync(probed, 'utf8'), /^probe\n/);
  assert.doesNotMatch(r.stderr, /requires an argument|illegal option|invalid option/i);
});
