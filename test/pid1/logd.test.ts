// Black-box tests of the built-in log writer and its verifier: the built bin/tsinit, run as
// `tsinit logd DIR` behind a real pipe and `tsinit logcheck DIR`, checked through the files it leaves.
// Disk-full runs on a small tmpfs mounted in a private mount namespace (unshare --mount: as root, or
// in a new user namespace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { originalBytes, parseRecord, ParsedRecord } from '../../src/logging/records';
import { logFilesInOrder } from '../../src/logging/rotate';
import { inPrivateMount, privateMountTest } from '../helpers/harness';

const ROOT = resolve(__dirname, '../../..');
const TSINIT = join(ROOT, 'bin/tsinit');

/** The environment without TSINIT_ variables (tsinit rejects unknown ones) and without DEBUG. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TSINIT_') && k !== 'DEBUG') e[k] = v;
  return e;
}

type T = { after: (fn: () => void) => void };

function tempDir(t: T): string {
  const d = mkdtempSync(join(tmpdir(), 'tsinit-logd-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Polls `cond` until it holds (no fixed sleeps); after a generous bound, fails saying what it waited for and saw. */
async function until(cond: () => boolean, what: string, saw: () => unknown, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}; saw: ${JSON.stringify(saw())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** How long one logd run may take before the test kills it and fails. */
const RUN_MS = 120_000;

class Proc {
  stdout = '';
  stderr = '';
  code: number | null = null;
  signal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d) => (this.stdout += d));
    child.stderr?.on('data', (d) => (this.stderr += d));
    child.stdin?.on('error', () => undefined); // the writer may be gone: the test checks why
    this.exited = new Promise((res, rej) => {
      const timer = setTimeout(() => {
        rej(new Error(`${child.spawnargs.join(' ')} did not end within ${RUN_MS / 1000}s; stdout: ${this.stdout}; stderr: ${this.stderr}`));
        process.kill(-child.pid!, 'SIGKILL');
      }, RUN_MS);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.code = code;
        this.signal = signal;
        res();
      });
    });
    this.exited.catch(() => undefined); // (a test that fails first never awaits it)
  }
  write(data: string | Buffer): void {
    this.child.stdin!.write(data);
  }
  end(): void {
    this.child.stdin!.end();
  }
}

/** Starts argv with pipes; a test that fails midway does not leave it running. */
function start(t: T, argv: string[], extraFds = 0): Proc {
  const stdio = ['pipe', 'pipe', 'pipe', ...Array(extraFds).fill('pipe')] as Array<'pipe'>;
  const p = new Proc(spawn(argv[0], argv.slice(1), { stdio, env: env(), detached: true }));
  t.after(() => {
    if (p.code === null && p.signal === null) process.kill(-p.child.pid!, 'SIGKILL');
  });
  return p;
}

/**
 * `tsinit logd DIR ARGS` reading a kernel pipe, as under tsinit's sidecar (`cat | logd`; Node's own
 * stdio "pipes" are socketpairs). The exit status is logd's.
 */
function startLogd(t: T, dir: string, args: string[] = []): Proc {
  return start(t, ['sh', '-c', 'cat | "$@"', 'sh', TSINIT, 'logd', dir, ...args]);
}

/** The pid of the `tsinit logd` process among the descendants of `pid`. */
function logdPid(pid: number): number {
  for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
    const cmd = textOf(`/proc/${child}/cmdline`).split('\0');
    if (cmd.includes('logd')) return Number(child);
  }
  throw new Error(`no logd below ${pid}`);
}

/** Whether a process has exited (gone, or a zombie waiting for its parent). */
function hasExited(pid: number): boolean {
  const stat = textOf(`/proc/${pid}/stat`);
  return stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** `tsinit logd DIR ARGS` fed `input` through a pipe until EOF. */
async function logd(t: T, dir: string, input: string | Buffer, args: string[] = []): Promise<Proc> {
  const p = startLogd(t, dir, args);
  p.write(input);
  p.end();
  await p.exited;
  return p;
}

function logcheck(dir: string, ...args: string[]) {
  const r = spawnSync(TSINIT, ['logcheck', dir, ...args], { encoding: 'utf8', env: env() });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Log {
  files: string[];
  texts: string[];
  records: ParsedRecord[];
}

function readLog(dir: string): Log {
  const files = logFilesInOrder(readdirSync(dir));
  const texts = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').slice(0, -1));
  const records = texts.map((t) => {
    const r = parseRecord(t);
    assert.ok(r, `not a record: ${t}`);
    return r;
  });
  return { files, texts, records };
}

const data = (log: Log) => log.records.filter((r) => r.kind === 'line' || r.kind === 'json');

/** The bytes the writer was given, rebuilt from its records. */
function rebuild(log: Log): Buffer {
  return Buffer.concat(log.records.flatMap((r, i) => {
    if (r.kind !== 'line' && r.kind !== 'json') return [];
    const b = originalBytes(r, log.texts[i]);
    assert.ok(b, `cannot rebuild ${log.texts[i]}`);
    return [b];
  }));
}

const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');

/** A file's text, or '' while it does not exist yet. */
function textOf(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

const countRecords = (file: string) => textOf(file).split('\n').length - 1;

// ---- the record format ---------------------------------------------------------------------------

test('record shape: start record, one record per line, end record; logcheck says complete', async (t) => {
  const dir = join(tempDir(t), 'logs');
  const p = await logd(t, dir, 'hello\nworld\n');
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stderr, '');
  const log = readLog(dir);
  assert.deepEqual(log.files, ['current.jsonl']);
  assert.deepEqual(log.records.map((r) => [r.seq, r.kind]), [[1, 'start'], [2, 'line'], [3, 'line'], [4, 'end']]);
  assert.match(log.texts[1], /^\{"@time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","@seq":2,"line":"hello"\}$/);
  assert.deepEqual(log.records[3].obj['@end'], {
    reason: 'eof', first_seq: 1, records: 2, lines: 2, bytes: Buffer.byteLength(log.texts.slice(0, 3).join('\n') + '\n'),
    input_bytes: 12, stalls: 0, stalled_ms: 0,
  });
  const c = logcheck(dir);
  assert.equal(c.code, 0, c.stdout);
  assert.match(c.stdout, /1 files, 4 records \(seq 1\.\.4\), 2 lines, 1 runs/);
  assert.match(c.stdout, /complete: no gaps, no duplicates, every end record matches/);
});

test('real input: JSON objects kept, CRLF, empty lines, invalid UTF-8, no final newline: all lossless', async (t) => {
  const dir = tempDir(t);
  const input = Buffer.concat([
    Buffer.from('{"level":"info","msg":"started","n":12345678901234567890}\n'),
    Buffer.from('windows line\r\n\n\n'),
    Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x5c, 0x0a]),
    Buffer.from('{"@seq":99,"mine":true}\n'),
    Buffer.from('tab\there "quoted" \\ é 🎉\n'),
    Buffer.from('no newline at the end'),
  ]);
  const p = await logd(t, dir, input);
  assert.equal(p.code, 0, p.stderr);
  const log = readLog(dir);
  const recs = data(log);
  assert.equal(log.texts[1].replace(/"@time":"[^"]+"/, '"@time":"T"'), '{"@time":"T","@seq":2,"level":"info","msg":"started","n":12345678901234567890}');
  assert.deepEqual(recs.map((r) => r.obj.line), [
    undefined, 'windows line', '', '', 'bad\\xff\\xfe\\\\', '{"@seq":99,"mine":true}', 'tab\there "quoted" \\ é 🎉',
    'no newline at the end',
  ]);
  assert.equal(recs[1].obj['@cr'], true);
  assert.equal(recs[4].obj['@escaped'], true);
  assert.equal(recs[7].obj['@nonl'], true);
  assert.deepEqual(rebuild(log), input);
  assert.equal(logcheck(dir).code, 0);
});

test('long lines are split into marked pieces that rebuild the line', async (t) => {
  const dir = tempDir(t);
  const long = 'é'.repeat(100_000); // 200,000 bytes: 4 pieces of at most 64 KiB
  const p = await logd(t, dir, `short\n${long}\nafter\n`);
  assert.equal(p.code, 0, p.stderr);
  const recs = data(readLog(dir));
  assert.deepEqual(recs.map((r) => [r.obj['@part'], r.obj['@more']]), [
    [undefined, undefined], [1, true], [2, true], [3, true], [4, undefined], [undefined, undefined],
  ]);
  assert.equal(recs.slice(1, 5).map((r) => r.obj.line).join(''), long);
  for (const r of recs) assert.ok(Buffer.byteLength(r.obj.line as string) <= 65536);
  const c = logcheck(dir);
  assert.equal(c.code, 0, c.stdout);
  assert.match(c.stdout, /3 lines, 6 records/);
});

test('binary noise (2 MB): every byte is back, logcheck agrees on the input bytes', async (t) => {
  const dir = tempDir(t);
  const noise = Buffer.alloc(2_000_000);
  let x = 12345;
  for (let i = 0; i < noise.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    noise[i] = x >>> 24;
  }
  const p = await logd(t, dir, noise, ['--max-line', '4k']);
  assert.equal(p.code, 0, p.stderr);
  const log = readLog(dir);
  assert.deepEqual(rebuild(log), noise);
  assert.equal((log.records.at(-1)!.obj['@end'] as Record<string, number>).input_bytes, noise.length);
  const c = logcheck(dir);
  assert.equal(c.code, 0, c.stdout);
  assert.match(c.stdout, new RegExp(`${noise.length} bytes of input: end record matches`));
});

test('separate streams (--stderr-fd 3): records say which stream', async (t) => {
  const dir = tempDir(t);
  const p = start(t, [TSINIT, 'logd', dir, '--stderr-fd', '3'], 1);
  const err = p.child.stdio[3] as NodeJS.WritableStream;
  p.write('out 1\n');
  err.write('err 1\n');
  p.end();
  err.end();
  await p.exited;
  assert.equal(p.code, 0, p.stderr);
  const recs = data(readLog(dir));
  assert.deepEqual(recs.map((r) => [r.obj['@stream'], r.obj.line]).sort(), [['stderr', 'err 1'], ['stdout', 'out 1']]);
});

test('usage errors: one line starting with "tsinit:", exit 125', async (t) => {
  const dir = tempDir(t);
  for (const args of [['logd'], ['logd', dir, '--keep', 'x'], ['logd', dir, '--max-bytes', '10'], ['logd', dir, '--bogus'],
    ['logcheck'], ['logcheck', join(dir, 'nope')]]) {
    const r = spawnSync(TSINIT, args, { encoding: 'utf8', env: env(), input: '' });
    assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^tsinit: [^\n]+\n$/, args.join(' '));
  }
});

// ---- rotation ------------------------------------------------------------------------------------

test('rotation by rename: keep N, names sort by time, files under the limit, logcheck tolerates the removed ones', async (t) => {
  const dir = tempDir(t);
  const p = await logd(t, dir, numbered(1, 3000), ['--max-bytes', '4k', '--keep', '3']);
  assert.equal(p.code, 0, p.stderr);
  const names = readdirSync(dir).sort();
  assert.equal(names.length, 4, names.join(' '));
  assert.equal(names[3], 'current.jsonl');
  for (const n of names) assert.ok(statSync(join(dir, n)).size <= 4096, n);
  // Across the files, in name order: consecutive seqs, and the newest lines.
  const log = readLog(dir);
  const seqs = log.records.map((r) => r.seq);
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
  assert.equal(data(log).at(-1)!.obj.line, 'line 3000');
  assert.equal(log.records.at(-1)!.kind, 'end');
  const c = logcheck(dir);
  assert.equal(c.code, 0, c.stdout);
  assert.match(c.stdout, /note: seq 1\.\.\d+ are not here: the oldest files were removed by rotation/);
});

test('SIGHUP rotates now', async (t) => {
  const dir = tempDir(t);
  const p = startLogd(t, dir);
  p.write('before\n');
  await until(() => countRecords(join(dir, 'current.jsonl')) >= 2, 'the first line written', () => textOf(join(dir, 'current.jsonl')));
  process.kill(logdPid(p.child.pid!), 'SIGHUP');
  await until(() => readdirSync(dir).length === 2, 'a rotated file', () => readdirSync(dir));
  p.write('after\n');
  p.end();
  await p.exited;
  assert.equal(p.code, 0, p.stderr);
  const log = readLog(dir);
  assert.equal(log.files.length, 2);
  assert.deepEqual(data(log).map((r) => r.obj.line), ['before', 'after']);
  assert.equal(logcheck(dir).code, 0);
});

// ---- logcheck ------------------------------------------------------------------------------------

test('logcheck catches a deleted line and a duplicated line', async (t) => {
  const base = tempDir(t);
  for (const edit of ['delete', 'duplicate'] as const) {
    const dir = join(base, edit);
    assert.equal((await logd(t, dir, numbered(1, 200))).code, 0);
    const file = join(dir, 'current.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    if (edit === 'delete') lines.splice(100, 1);
    else lines.splice(100, 0, lines[100]);
    writeFileSync(file, lines.join('\n'));
    const c = logcheck(dir);
    assert.equal(c.code, 1, c.stdout);
    if (edit === 'delete') assert.match(c.stdout, /missing: seq 101, between current\.jsonl:100 and current\.jsonl:101/);
    else assert.match(c.stdout, /duplicate: seq 101 at current\.jsonl:102, already at current\.jsonl:101/);
    assert.match(c.stdout, /the end record says records 200, the files hold (199|201)/);
    assert.match(c.stdout, /^INCOMPLETE: /m);
  }
});

// ---- restarts ------------------------------------------------------------------------------------

test('a restarted logd continues the sequence without gap', async (t) => {
  const dir = tempDir(t);
  assert.equal((await logd(t, dir, numbered(1, 100), ['--max-bytes', '4k'])).code, 0);
  assert.equal((await logd(t, dir, numbered(101, 150), ['--max-bytes', '4k'])).code, 0);
  const log = readLog(dir);
  const starts = log.records.filter((r) => r.kind === 'start');
  assert.equal(starts.length, 2);
  assert.deepEqual(starts[1].obj['@start'], { ...(starts[1].obj['@start'] as object), after_seq: 102, previous: 'ended' });
  assert.equal(starts[1].seq, 103);
  assert.deepEqual(data(log).map((r) => r.obj.line), numbered(1, 150).split('\n').slice(0, -1));
  const c = logcheck(dir);
  assert.equal(c.code, 0, c.stdout);
  assert.match(c.stdout, /2 runs/);
});

test('after a SIGKILL, the next run continues the sequence; logcheck says the killed run did not finish', async (t) => {
  const dir = tempDir(t);
  const p = startLogd(t, dir);
  p.write(numbered(1, 500));
  await until(() => countRecords(join(dir, 'current.jsonl')) >= 501, 'all 500 lines written', () => `${countRecords(join(dir, 'current.jsonl'))} records`);
  process.kill(logdPid(p.child.pid!), 'SIGKILL');
  p.end(); // lets cat finish
  await p.exited;
  assert.equal((await logd(t, dir, numbered(501, 600))).code, 0);
  const log = readLog(dir);
  assert.deepEqual(log.records.map((r) => r.seq), Array.from({ length: 603 }, (_, i) => i + 1));
  assert.equal((log.records[501].obj['@start'] as Record<string, unknown>).previous, 'unfinished');
  const c = logcheck(dir);
  assert.equal(c.code, 1, c.stdout);
  assert.match(c.stdout, /the run from seq 1 \(current\.jsonl:1\) has no end record: logd was killed/);
  assert.match(c.stdout, /^INCOMPLETE: 1 runs without end record$/m);
});

test('a restart resumes from the newest rotated file when the current one is empty', async (t) => {
  const dir = tempDir(t);
  assert.equal((await logd(t, dir, numbered(1, 300), ['--max-bytes', '4k'])).code, 0);
  writeFileSync(join(dir, 'current.jsonl'), '');
  const newest = logFilesInOrder(readdirSync(dir)).at(-2)!;
  const lastSeq = Number(/-(\d+)\.jsonl$/.exec(newest)![1]);
  assert.equal((await logd(t, dir, 'again\n', ['--max-bytes', '4k'])).code, 0);
  const first = parseRecord(readFileSync(join(dir, 'current.jsonl'), 'utf8').split('\n')[0])!;
  assert.equal(first.kind, 'start');
  assert.equal(first.seq, lastSeq + 1);
});

test('a torn last record (killed mid-write) is kept, reported, and writing continues on a new line', async (t) => {
  const dir = tempDir(t);
  assert.equal((await logd(t, dir, 'one\n')).code, 0);
  appendFileSync(join(dir, 'current.jsonl'), '{"@time":"2025-01-0');
  const p = await logd(t, dir, 'two\n');
  assert.equal(p.code, 0);
  assert.match(p.stderr, /^tsinit: logd: .*current\.jsonl ended in an incomplete record/);
  const lines = readFileSync(join(dir, 'current.jsonl'), 'utf8').split('\n');
  assert.equal(lines[3], '{"@time":"2025-01-0');
  assert.equal(parseRecord(lines[4])!.seq, 4);
  const c = logcheck(dir);
  assert.equal(c.code, 1);
  assert.match(c.stdout, /current\.jsonl:4: not a logd record/);
});

// ---- stopping ------------------------------------------------------------------------------------

test('SIGTERM mid-stream: what was read is written (an unfinished line too), end record, exit 0', async (t) => {
  const dir = tempDir(t);
  const p = startLogd(t, dir);
  // One small write arrives in one read (cat passes it on in one write, below PIPE_BUF): once line
  // 100 is in the file, the unfinished line after it has been read too.
  p.write(numbered(1, 100) + 'unfinished');
  await until(() => textOf(join(dir, 'current.jsonl')).includes('"line":"line 100"'), 'line 100 written', () => `${countRecords(join(dir, 'current.jsonl'))} records; stderr: ${p.stderr}`);
  const pid = logdPid(p.child.pid!);
  process.kill(pid, 'SIGTERM');
  await until(() => hasExited(pid), 'logd gone', () => textOf(`/proc/${pid}/stat`)); // before cat's EOF could stop it instead
  p.end();
  await p.exited;
  assert.equal(p.code, 0, p.stderr);
  const log = readLog(dir);
  const last = data(log).at(-1)!;
  assert.deepEqual([last.obj.line, last.obj['@nonl']], ['unfinished', true]);
  assert.equal((log.records.at(-1)!.obj['@end'] as Record<string, unknown>).reason, 'signal');
  assert.equal(logcheck(dir).code, 0);
});

// ---- write errors --------------------------------------------------------------------------------

test('an unwritable directory: one line, input held, then everything written once it can be', async (t) => {
  const dir = join(tempDir(t), 'logs');
  writeFileSync(dir, 'a file where the directory should be');
  const p = startLogd(t, dir);
  p.write(numbered(1, 1000));
  await until(() => p.stderr.includes('cannot'), 'the error line', () => p.stderr);
  assert.match(p.stderr, /^tsinit: logd: cannot [a-z ]+ .*logs.*\(E[A-Z]+\); .*retrying\)\n$/);
  unlinkSync(dir);
  await until(() => p.stderr.includes('writing again'), 'the resume line', () => p.stderr);
  p.end();
  await p.exited;
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stderr.split('\n').filter((l) => l.includes('cannot')).length, 1, p.stderr);
  assert.match(p.stderr, /writing again after [\d.]+s \(\d+ attempts\); nothing was lost/);
  assert.deepEqual(data(readLog(dir)).map((r) => r.obj.line), numbered(1, 1000).split('\n').slice(0, -1));
  const end = readLog(dir).records.at(-1)!.obj['@end'] as Record<string, number>;
  assert.equal(end.stalls, 1);
  assert.equal(logcheck(dir).code, 0);
});

test('the directory removed while writing: said, recreated, writing goes on', async (t) => {
  const dir = join(tempDir(t), 'logs');
  const p = startLogd(t, dir);
  p.write(numbered(1, 10));
  await until(() => countRecords(join(dir, 'current.jsonl')) >= 11, 'the first lines', () => `${countRecords(join(dir, 'current.jsonl'))} records; stderr: ${p.stderr}`);
  rmSync(dir, { recursive: true });
  p.write(numbered(11, 20));
  await until(() => countRecords(join(dir, 'current.jsonl')) >= 10, 'the new file', () => `${countRecords(join(dir, 'current.jsonl'))} records; stderr: ${p.stderr}`);
  p.end();
  await p.exited;
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, /current\.jsonl was removed while logd was writing it; recreating it/);
  const log = readLog(dir);
  assert.deepEqual(data(log).map((r) => r.obj.line), numbered(11, 20).split('\n').slice(0, -1));
  assert.equal(data(log)[0].seq, 12);
});

/**
 * logd in a private mount namespace, writing into a 256 KiB tmpfs at `mnt`; the shell then copies the
 * logs out to `out` and runs logcheck there. The test reaches the tmpfs through /proc/PID/root.
 */
function inSmallTmpfs(t: T, mnt: string, out: string, args: string[]): Proc {
  const script = [
    'm=$1 bin=$2 out=$3; shift 3',
    'mount -t tmpfs -o size=256k tmpfs "$m" || exit 99',
    'cat | "$bin" logd "$m/logs" "$@"; echo "logd-exit $?"',
    'cp -r "$m/logs" "$out/logs"',
    '"$bin" logcheck "$m/logs"; echo "logcheck-exit $?"',
  ].join('\n');
  return start(t, inPrivateMount(['sh', '-c', script, 'sh', mnt, TSINIT, out, ...args]));
}

/** Fills the tmpfs up to the last byte; returns the filler's path. */
function fill(root: string): string {
  const filler = join(root, 'filler');
  const fd = openSync(filler, 'w');
  try {
    for (const size of [65536, 4096, 1]) {
      const block = Buffer.alloc(size, 0x66);
      for (;;) {
        try {
          writeSync(fd, block);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

privateMountTest('disk full (ENOSPC): no crash, one line, input held, resumes and writes every line once space is back', async (t) => {
  const base = tempDir(t);
  const mnt = join(base, 'mnt');
  const out = join(base, 'out');
  for (const d of [mnt, out]) spawnSync('mkdir', ['-p', d]);
  const p = inSmallTmpfs(t, mnt, out, ['--max-bytes', '16k', '--keep', '100']);
  const root = `/proc/${p.child.pid}/root${mnt}`;
  await until(() => countRecords(join(root, 'logs/current.jsonl')) >= 1 || p.code !== null, 'the start record', () => `stdout: ${p.stdout}; stderr: ${p.stderr}`);
  assert.equal(p.code, null, p.stdout + p.stderr);
  const filler = fill(root);
  p.write(numbered(1, 1000));
  await until(() => /no space left on device/.test(p.stderr), 'the disk-full line', () => p.stderr);
  assert.ok(!p.stdout.includes('logd-exit'), 'logd is still running');
  assert.match(p.stderr, /^tsinit: logd: cannot (write|open|rename) .*: no space left on device \(ENOSPC\); holding \d+ records .* and not reading input until it can write \(retrying\)\n$/);
  unlinkSync(filler);
  await until(() => p.stderr.includes('writing again'), 'the resume line', () => p.stderr);
  p.write(numbered(1001, 1200));
  p.end();
  await p.exited;
  assert.match(p.stdout, /logd-exit 0/, p.stderr);
  assert.match(p.stdout, /logcheck-exit 0/, p.stdout);
  assert.equal(p.stderr.split('\n').filter((l) => l.includes('no space left')).length, 1, p.stderr);
  const log = readLog(join(out, 'logs'));
  assert.deepEqual(data(log).map((r) => r.obj.line), numbered(1, 1200).split('\n').slice(0, -1));
  const end = log.records.at(-1)!.obj['@end'] as Record<string, number>;
  assert.equal(end.stalls, 1);
  assert.equal(end.lines, 1200);
});

privateMountTest('disk full and told to stop: it says exactly what is lost, exits 1, logcheck fails', async (t) => {
  const base = tempDir(t);
  const mnt = join(base, 'mnt');
  const out = join(base, 'out');
  for (const d of [mnt, out]) spawnSync('mkdir', ['-p', d]);
  const p = inSmallTmpfs(t, mnt, out, []);
  const root = `/proc/${p.child.pid}/root${mnt}`;
  await until(() => countRecords(join(root, 'logs/current.jsonl')) >= 1 || p.code !== null, 'the start record', () => `stdout: ${p.stdout}; stderr: ${p.stderr}`);
  fill(root);
  p.write(numbered(1, 300));
  await until(() => /no space left on device/.test(p.stderr), 'the disk-full line', () => p.stderr);
  const pid = logdPid(p.child.pid!); // the shell's child, in our PID namespace
  process.kill(pid, 'SIGTERM');
  await until(() => hasExited(pid), 'logd gone', () => textOf(`/proc/${pid}/stat`));
  p.end();
  await p.exited;
  assert.match(p.stdout, /logd-exit 1/, p.stderr);
  assert.match(p.stderr, /stopping with \d+ records \(.*\) and .* of input not written \(cannot \w+ .*ENOSPC\)\): they are lost\n/);
  assert.match(p.stdout, /logcheck-exit 1/);
  assert.match(p.stdout, /has no end record/);
});
