// Black-box tests of the sidecar logger: tsinit as PID 1, a real pipe, real loggers.
// The promise under test: no line is ever lost, and any loss that cannot be prevented is reported.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Marker, pid1Test, run, start, state, tempDir, until } from '../helpers/harness';

function numbers(from: number, to: number): string {
  let s = '';
  for (let i = from; i <= to; i++) s += `${i}\n`;
  return s;
}

function read(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Where `text` first differs from the numbers 1..to, one per line: what a failed check shows. */
function firstDifference(text: string, to: number): string {
  const got = text.split('\n');
  for (let i = 0; i < to; i++) {
    if (got[i] !== String(i + 1)) return `line ${i + 1} is ${JSON.stringify(got[i])}, around it: ${JSON.stringify(got.slice(Math.max(0, i - 3), i + 4))}`;
  }
  return `${got.length - 1} lines, the last ${JSON.stringify(got.slice(-3))}`;
}

function lineCount(path: string): number {
  const text = read(path);
  return text.length === 0 ? 0 : text.split('\n').length - 1;
}

/** pids of the loggers of one run (marked by `mark`) running `/bin/sh -c script`, as tsinit runs --logger. */
function loggerPids(mark: Marker, script: string): number[] {
  // the logger runs as /bin/sh -c -- SCRIPT (a script that starts with - is still the script)
  return mark.running(['/bin/sh', '-c', '--', script]);
}

pid1Test('the tsar story: a logger that needs a second before it writes still gets all of a short-lived service', async () => {
  const expected = execFileSync('ls', ['/'], { encoding: 'utf8' });
  const f = join(tempDir(), 'out');
  const r = await run(['--logger', `sleep 1; cat > ${f}`, '--', 'ls', '/']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(read(f), expected);
});

pid1Test('1,000,000 numbered lines through --logger: every line once, in order', async () => {
  const f = join(tempDir(), 'out');
  const r = await run(['--logger', `cat > ${f}`, '--', 'seq', '1', '1000000']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(read(f) === numbers(1, 1_000_000), firstDifference(read(f), 1_000_000));
});

pid1Test('a logger that exits after every 10,000 lines is restarted on the same pipe: 200,000 lines, each once, in order', async () => {
  const f = join(tempDir(), 'out');
  // The shell's read takes exactly one line from a pipe, so each logger leaves the rest unread.
  const logger = `i=0; while [ $i -lt 10000 ] && read -r l; do echo "$l" >> ${f}; i=$((i+1)); done`;
  const r = await run(['-v', '--grace', '1m', '--logger-restart-limit', '100/1m', '--logger', logger, '--', 'seq', '1', '200000']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lineCount(f), 200_000);
  assert.ok(read(f) === numbers(1, 200_000));
  const restarts = r.stderr.match(/logger \(pid \d+\) exited with code 0; restart/g) ?? [];
  assert.ok(restarts.length >= 19, `restarted ${restarts.length} times`);
});

pid1Test('a line-at-a-time logger SIGKILLed again and again mid-stream loses no line', async () => {
  const dir = tempDir();
  const f = join(dir, 'out');
  const bursts = 5;
  // The service writes bursts of 1,000 lines; between bursts it waits for the test's go-ahead, so
  // the test can kill the logger while the service keeps writing into the pipe.
  const service = `for b in $(seq 1 ${bursts}); do seq $((b*1000-999)) $((b*1000)); while [ ! -e ${dir}/go$b ]; do sleep 0.01; done; done`;
  const logger = `while read -r l; do echo "$l" >> ${f}; done`;
  const mark = new Marker();
  const t = start(['-v', '--logger', logger, '--', 'sh', '-c', service], { env: mark.env });
  for (let b = 1; b <= bursts; b++) {
    // The logger has written everything so far: it holds no line that it read but did not write.
    await until(`the logger to write ${b * 1000} lines`, () => lineCount(f) === b * 1000, { saw: () => `${lineCount(f)} lines` });
    const [pid] = await until('one logger running', () => {
      const pids = loggerPids(mark, logger);
      return pids.length === 1 ? pids : null;
    }, { saw: () => mark.processes() });
    process.kill(pid, 'SIGKILL');
    // Dead, not just signalled: a reader woken by the signal still takes what is in the pipe before
    // it dies, and the next burst must not be there yet.
    await until('the killed logger to be dead', () => ['Z', null].includes(state(pid)), { saw: () => state(pid) });
    writeFileSync(join(dir, `go${b}`), '');
  }
  const r = await t.result;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(read(f) === numbers(1, bursts * 1000), firstDifference(read(f), bursts * 1000));
  assert.equal((r.stderr.match(/exited with signal SIGKILL; restart/g) ?? []).length, bursts);
});

pid1Test('a logger that ignores EOF and SIGTERM: TERM then KILL after the grace, service status kept, unread bytes reported', async () => {
  const r = await run([
    '-v', '--grace', '300ms', '--logger', 'trap "" TERM; sleep 1000', '--',
    'sh', '-c', 'printf "%099d\\n" 0; exit 3',
  ]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /logger \(pid \d+\) still running 300ms after the service ended; sending SIGTERM/);
  assert.match(r.stderr, /the logger ignored SIGTERM; sending SIGKILL/);
  assert.match(r.stderr, /tsinit: logger exited with 100 bytes unread: they are lost\n/);
});

pid1Test("the service's status survives every path, with and without a logger", async () => {
  for (const [script, code] of [['exit 0', 0], ['exit 3', 3], ['kill -KILL $$', 137]] as const) {
    const f = join(tempDir(), 'out');
    const plain = await run(['--', 'sh', '-c', `echo hi; ${script}`]);
    assert.equal(plain.code, code, script);
    const logged = await run(['--logger', `cat > ${f}`, '--', 'sh', '-c', `echo hi; ${script}`]);
    assert.equal(logged.code, code, script);
    assert.equal(read(f), 'hi\n');
  }
});

pid1Test("a service's background child holding the pipe is stopped, so the logger gets EOF at once", async () => {
  const f = join(tempDir(), 'out');
  const r = await run(['-v', '--grace', '1h', '--logger', `cat > ${f}`, '--', 'sh', '-c', 'sleep 1000 & echo hi; exit 0']);
  assert.equal(r.code, 0);
  assert.equal(read(f), 'hi\n');
  assert.doesNotMatch(r.stderr, /still running .* after the service ended/);
  assert.match(r.stderr, /logger \(pid \d+\) exited with code 0/);
});

pid1Test('the logger gets EOF when the service exits, while a leftover that let go of the pipe is still being stopped', async () => {
  const dir = tempDir();
  const f = join(dir, 'out');
  // The leftover ignores SIGTERM and holds no copy of the pipe, so only --kill-after ends it; tsinit's
  // own copy of the write end must not keep the logger waiting until then.
  const mark = new Marker();
  const leftover = `trap '' TERM; exec 9>${dir}/leftover-up; exec sleep 997`;
  const t = start(['-v', '--kill-after', '1m', '--grace', '1h', '--logger', `cat > ${f}; echo eof > ${dir}/eof`, '--',
    'sh', '-c', `sh -c "${leftover}" </dev/null >/dev/null 2>&1 & while [ ! -e ${dir}/leftover-up ]; do sleep 0.01; done; echo hi; exit 0`], { env: mark.env });
  try {
    await until('the logger to see EOF', () => existsSync(join(dir, 'eof')), {
      saw: () => `stderr: ${JSON.stringify(t.stderr)}; output: ${JSON.stringify(read(f))}`,
    });
    assert.equal(read(f), 'hi\n');
    // the EOF came while the leftover was still being stopped, not after it was killed
    assert.equal(mark.running(['sleep', '997']).length, 1, `the leftover should still run: ${t.stderr}`);
  } finally {
    for (const pid of mark.running(['sleep', '997'])) process.kill(pid, 'SIGKILL');
  }
  const r = await t.result;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /logger \(pid \d+\) exited with code 0/);
});

pid1Test('a logger that dies while a leftover still holds the pipe is restarted at once: what the leftover writes after it arrives', async () => {
  const dir = tempDir();
  const f = join(dir, 'out');
  // The first logger takes one line, then ends (code 3) when the test says so; later ones copy the rest.
  const logger = `if mkdir ${dir}/first 2>/dev/null; then read -r l; echo "$l" >> ${f}; ` +
    `while [ ! -e ${dir}/die ]; do sleep 0.01; done; exit 3; fi; cat >> ${f}`;
  // The service exits once its leftover is up; the leftover keeps the pipe, ignores SIGTERM and
  // writes when told.
  const mark = new Marker();
  const leftover = `trap '' TERM; : > ${dir}/leftover-up; while [ ! -e ${dir}/write ]; do sleep 0.01; done; echo late`;
  const t = start(['-v', '--kill-after', '1m', '--grace', '1m', '--logger', logger, '--',
    'sh', '-c', `sh -c "${leftover}" & while [ ! -e ${dir}/leftover-up ]; do sleep 0.01; done; echo early; exit 0`], { env: mark.env });
  try {
    await t.waitFor(/service \(pid \d+\) exited with code 0/, 'stderr');
    await until('the first logger to write its line', () => read(f) === 'early\n', { saw: () => JSON.stringify(read(f)) });
    writeFileSync(join(dir, 'die'), '');
    await t.waitFor(/logger \(pid \d+\) exited with code 3; restart 1 in 0ms/, 'stderr');
    writeFileSync(join(dir, 'write'), '');
    const r = await t.result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(read(f), 'early\nlate\n', r.stderr);
    assert.equal((r.stderr.match(/exited with code 3/g) ?? []).length, 1, `one report of the dead logger: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /they are lost/);
  } finally {
    t.kill(); // on a failure: tsinit's namespace and the leftover with it
  }
});

pid1Test('SIGTERM to tsinit mid-stream: the service stops, the logger drains, no line is lost', async () => {
  const f = join(tempDir(), 'out');
  // An endless writer (a shell loop of seq: fast, but not so fast that the file grows by GBs)
  const writer = 'i=0; while :; do seq $((i+1)) $((i+1000)); i=$((i+1000)); done';
  const t = start(['--logger', `cat > ${f}`, '--', 'sh', '-c', writer]);
  await until('500 kB through the logger', () => existsSync(f) && statSync(f).size > 500_000, { saw: () => `${existsSync(f) ? statSync(f).size : 'no'} bytes` });
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 143);
  const text = read(f);
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const n = complete.split('\n').length - 1;
  assert.ok(complete === numbers(1, n), 'the complete lines are 1..N without a gap');
  // seq may have been stopped in the middle of a line: what it wrote of it is there too.
  assert.ok(String(n + 1).startsWith(text.slice(complete.length)));
});

pid1Test('--logger-stderr separate: stdout on the logger stdin, stderr on its fd 3', async () => {
  const dir = tempDir();
  const r = await run([
    '--logger-stderr', 'separate', // (a background job's stdin is /dev/null in sh, hence the copy on fd 4)
    '--logger', `exec 4<&0; cat <&4 > ${dir}/out & cat <&3 > ${dir}/err; wait`, '--',
    'sh', '-c', 'echo to-out; echo to-err >&2',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(read(join(dir, 'out')), 'to-out\n');
  assert.equal(read(join(dir, 'err')), 'to-err\n');
});

pid1Test('a logger that keeps dying: past --logger-restart-limit tsinit stops the service and exits 125', async () => {
  const r = await run(['--logger-restart-limit', '3/1m', '--logger', 'exit 1', '--', 'sleep', '1000']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /logger died 3 times within 1m(\.0)?; logging failed, stopping the service \(exit 125\)/);
});

pid1Test('a logger that fails for good after the service has ended still makes tsinit exit 125, not 0', async () => {
  const r = await run(['--logger', 'exit 3', '--', 'seq', '20000']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /logging failed/);
  assert.match(r.stderr, /bytes unread: they are lost/);
  assert.doesNotMatch(r.stderr, /stopping service/, 'no stop of a service that has already ended');
});

/** The `line` fields of every record in a --log-dir directory, in sequence order. */
function loggedLines(dir: string): string[] {
  const records: Array<{ seq: number; line?: string }> = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    for (const text of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (!text) continue;
      const r = JSON.parse(text);
      records.push({ seq: r['@seq'], line: r.line });
    }
  }
  records.sort((a, b) => a.seq - b.seq);
  return records.filter((r) => r.line !== undefined).map((r) => r.line!);
}

pid1Test('the tsar story with --log-dir: every line of a short-lived service, and logcheck agrees', async () => {
  const expected = execFileSync('ls', ['/'], { encoding: 'utf8' }).trimEnd().split('\n');
  const dir = tempDir();
  const r = await run(['--log-dir', dir, '--', 'ls', '/']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(loggedLines(dir), expected);
  const check = await run(['logcheck', dir], { pid1: false });
  assert.equal(check.code, 0, check.stdout + check.stderr);
});

pid1Test('1,000,000 numbered lines through --log-dir: every line once, in order', async () => {
  const dir = tempDir();
  const r = await run(['--log-dir', dir, '--log-max-bytes', '64M', '--', 'seq', '1', '1000000']);
  assert.equal(r.code, 0, r.stderr);
  const lines = loggedLines(dir);
  assert.equal(lines.length, 1_000_000);
  assert.ok(lines.every((l, i) => l === String(i + 1)), 'in order, none missing, none twice');
  const check = await run(['logcheck', dir], { pid1: false });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /1000000 lines/);
});
