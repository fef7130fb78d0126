// Black-box tests of --log-stdout (the log in the files and on tsinit's stdout at once) and
// --strict-logs (lost output makes the run fail). The files are checked with `tsinit logcheck`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, run, TSINIT, tempDir } from '../helpers/harness';

function logcheck(dir: string): { code: number | null; out: string } {
  const r = spawnSync(TSINIT, ['logcheck', dir], { encoding: 'utf8', env: cleanEnv() });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** The data records of a log directory, in order. */
function records(dir: string): Array<Record<string, unknown>> {
  const names = readdirSync(dir).sort();
  return names
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => !('@start' in r) && !('@end' in r));
}

/**
 * The copy's promise: every line as written, except lines it reported missing (a machine so loaded
 * that the copy's writer thread did not get to run before the end): then what it shows is whole
 * lines, in order, and shown + missed is all of them. `text` is the copy, `said` tsinit's stderr.
 */
function checkCopy(text: string, said: string, want: string, stream = 'stdout'): void {
  const m = new RegExp(`the copy to ${stream} missed (\\d+) lines`).exec(said);
  if (!m) {
    assert.equal(text, want, `the copy to ${stream}`);
    return;
  }
  const wantLines = want.split(/(?<=\n)/);
  const shown = text.split(/(?<=\n)/).filter(Boolean);
  let k = 0;
  for (const line of shown) {
    while (k < wantLines.length && wantLines[k] !== line) k++;
    assert.ok(k < wantLines.length, `${JSON.stringify(line)} is not one of the lines, in order (copy: ${JSON.stringify(text)})`);
    k++;
  }
  assert.equal(shown.length + Number(m[1]), wantLines.length, `shown ${shown.length} + missed ${m[1]} lines`);
}

/** tsinit's stderr without the lines a slow machine may add (the logger's grace, the copy's report). */
const quiet = (stderr: string) => stderr.replace(/^tsinit: (logd: the copy to|logger \(pid \d+\) still running|the logger ignored SIGTERM).*\n/gm, '');

test('--log-stdout: stdout shows the lines as written while the files hold them all (PID 1)', async () => {
  const dir = join(tempDir(), 'log');
  const r = await run(['--log-dir', dir, '--log-stdout', '--', 'sh', '-c', 'echo one; echo two >&2; printf "3\\r\\nno newline"']);
  assert.equal(r.code, 0, r.stderr);
  checkCopy(r.stdout, r.stderr, 'one\ntwo\n3\r\nno newline');
  assert.equal(quiet(r.stderr), '');
  const check = logcheck(dir);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /complete/);
  assert.deepEqual(records(dir).map((x) => x.line), ['one', 'two', '3', 'no newline']);
});

test('--log-stdout=json: stdout gets the same records as the files; TSINIT_LOG_STDOUT is its twin', async () => {
  for (const [args, env] of [[['--log-stdout=json'], {}], [[], { TSINIT_LOG_STDOUT: 'json' }]] as const) {
    const dir = join(tempDir(), 'log');
    const r = await run(['--log-dir', dir, ...args, '--', 'sh', '-c', 'echo hello; echo \'{"level":"info","msg":"x"}\''], { env });
    assert.equal(r.code, 0, r.stderr);
    const want = records(dir).map((x) => `${JSON.stringify(x)}\n`).join('');
    checkCopy(r.stdout.split('\n').filter(Boolean).map((l) => `${JSON.stringify(JSON.parse(l))}\n`).join(''), r.stderr, want);
    assert.equal(records(dir)[1].msg, 'x');
  }
});

test('--log-stdout with --logger-stderr separate: the service stderr goes to tsinit stderr', async () => {
  const dir = join(tempDir(), 'log');
  const r = await run(['--log-dir', dir, '--log-stdout', '--logger-stderr', 'separate', '--', 'sh', '-c', 'echo out; echo err >&2']);
  assert.equal(r.code, 0, r.stderr);
  checkCopy(r.stdout, r.stderr, 'out\n');
  checkCopy(quiet(r.stderr), r.stderr, 'err\n', 'stderr');
  assert.deepEqual(records(dir).map((x) => [x['@stream'], x.line]), [['stdout', 'out'], ['stderr', 'err']]);
});

test('a stdout nobody reads: the service runs to its end, the files are complete, the copy says what it missed', async () => {
  const dir = join(tempDir(), 'log');
  const fifo = join(tempDir(), 'stdout');
  spawnSync('mkfifo', [fifo]);
  // Opened for reading and writing: a pipe with a reader (this test) that never reads.
  const fd = openSync(fifo, 'r+');
  try {
    const lines = 1_000_000; // ~6.9 MB: more than the pipe and the copy's 4 MiB queue together
    // A long grace: a loaded machine may need more than 2 s to write the files, which this test is not about.
    const p = spawn(TSINIT, ['--grace', '60s', '--log-dir', dir, '--log-stdout', '--', 'seq', String(lines)], { stdio: ['ignore', fd, 'pipe'], env: cleanEnv() });
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((res) => p.on('close', (c) => res(c)));
    assert.equal(code, 0, stderr);
    const m = /the copy to stdout missed (\d+) lines \(([\d.]+ [KM]iB|\d+ bytes)\): it did not keep up; .* has every line/.exec(stderr);
    assert.ok(m, `the missed-lines line; stderr was: ${stderr}`);
    assert.ok(Number(m[1]) > 0 && Number(m[1]) <= lines, `missed ${m[1]} of ${lines}`);
    assert.equal(stderr.match(/missed/g)!.length, 1, 'reported once');
    // The writer exits by itself although its copy's thread is stuck in a write (no SIGTERM needed).
    assert.doesNotMatch(stderr, /still running .* after the service ended|sending SIGKILL/);
    const check = logcheck(dir);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, new RegExp(`${lines} lines`));
  } finally {
    closeSync(fd);
  }
});

test('a stdout that fails (EPIPE): counted and reported once, the files complete, the service status kept', async () => {
  const dir = join(tempDir(), 'log');
  const codeFile = join(tempDir(), 'code');
  // `true` exits without reading: every write to the pipe fails with EPIPE.
  const r = spawnSync('sh', ['-c', `{ "$0" --log-dir ${dir} --log-stdout -- sh -c 'seq 200000; exit 7'; echo $? > ${codeFile}; } | true`, TSINIT], {
    encoding: 'utf8', env: cleanEnv(),
  });
  assert.equal(readFileSync(codeFile, 'utf8').trim(), '7', r.stderr);
  assert.match(r.stderr, /the copy to stdout missed \d+ lines .*: it failed \(EPIPE\)/);
  assert.equal(r.stderr.match(/missed/g)!.length, 1, 'reported once');
  const check = logcheck(dir);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /200000 lines/);
});

test('--strict-logs: bytes left unread by the logger turn the exit status into 125; the loss line either way', async () => {
  // A logger that never reads: what the service wrote is still in the pipe when the logger is stopped.
  const args = ['--logger', 'exec sleep 1000', '--grace', '100ms', '--', 'sh', '-c', 'echo lost; exit 3'];
  const plain = await run(args);
  assert.equal(plain.code, 3, plain.stderr);
  assert.match(plain.stderr, /logger exited with 5 bytes unread: they are lost/);
  const strict = await run(['--strict-logs', ...args]);
  assert.equal(strict.code, 125, strict.stderr);
  assert.match(strict.stderr, /logger exited with 5 bytes unread: they are lost/);
  assert.match(strict.stderr, /--strict-logs: output of the service was lost \(5 bytes were still unread when the logger was stopped\); exiting 125/);
  const twin = await run(args, { env: { TSINIT_STRICT_LOGS: '1' } });
  assert.equal(twin.code, 125);
});

test('--strict-logs with nothing lost keeps the service status', async () => {
  const dir = join(tempDir(), 'log');
  const r = await run(['--strict-logs', '--log-dir', dir, '--', 'sh', '-c', 'echo fine; exit 4']);
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stderr, '');
});
