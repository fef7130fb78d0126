// Black-box tests of the CI job wrapper: --timeout with a hang report, nothing left behind as a
// subreaper, --pdeathsig, --events. tsinit runs as a CI wrapper would: not PID 1 (subreaper), and
// as PID 1 where it matters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cleanEnv, run, tempDir, TSINIT, until } from '../helpers/harness';

/** pids of live (non-zombie) processes whose argv is exactly `argv`. */
function processesRunning(argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8') !== want) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test('--timeout: exit 124, a hang report naming the sleep, nothing left behind', async () => {
  for (const pid1 of [false, true]) {
    const r = await run(['--timeout', '1s', '--', 'sh', '-c', 'sleep 61.5'], { pid1 });
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stderr, /tsinit: timeout: the job \(pid \d+\) ran longer than 1s; stopping it/);
    assert.match(r.stderr, /hang report/);
    assert.match(r.stderr, /S sleeping .* sleep 61\.5/);
    assert.deepEqual(processesRunning(['sleep', '61.5']), []);
  }
});

test('as a subreaper, nothing is left: neither a setsid child nor a double-forked one', async () => {
  const script = [
    `setsid sleep 62.1 > /dev/null 2>&1 &`,
    `(sleep 62.2 > /dev/null 2>&1 &)`,
    `until [ -n "$(pgrep -f 'sleep 62.2')" ] && [ -n "$(pgrep -f 'sleep 62.1')" ]; do sleep 0.01; done`,
    'exit 0',
  ].join('\n');
  const r = await run(['--', 'sh', '-c', script], { pid1: false });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(processesRunning(['sleep', '62.1']), []);
  assert.deepEqual(processesRunning(['sleep', '62.2']), []);
});

test('--keep-orphans leaves what the service started running', async () => {
  const r = await run(['--keep-orphans', '--', 'sh', '-c', "(sleep 62.3 > /dev/null 2>&1 &); until pgrep -f 'sleep 62.3' >/dev/null; do sleep 0.01; done"], { pid1: false });
  assert.equal(r.code, 0);
  const left = processesRunning(['sleep', '62.3']);
  try {
    assert.equal(left.length, 1);
  } finally {
    for (const pid of left) process.kill(pid, 'SIGKILL');
  }
});

test('--pdeathsig: when the parent is killed, tsinit stops its service, which sees the signal', async () => {
  const dir = tempDir();
  const got = join(dir, 'got');
  const pidfile = join(dir, 'tsinit.pid');
  const service = `trap 'echo TERM > ${got}; exit 0' TERM; echo ready > ${dir}/ready; while :; do sleep 0.05; done`;
  // The parent: a shell that starts tsinit in the background and waits for it (a CI agent).
  const agent = spawn('sh', ['-c', `${TSINIT} --pdeathsig TERM -- sh -c "${service}" & echo $! > ${pidfile}; wait`], {
    env: cleanEnv(),
    stdio: 'ignore',
  });
  await until(() => existsSync(join(dir, 'ready')));
  const tsinitPid = Number(readFileSync(pidfile, 'utf8'));
  agent.kill('SIGKILL');
  // tsinit got SIGTERM from the kernel, stopped its service, and exited (reaped by its new parent).
  await until(() => existsSync(got) && ['gone', 'Z'].includes(readState(tsinitPid)));
  assert.equal(readFileSync(got, 'utf8'), 'TERM\n');
});

function readState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return 'gone';
  }
}

test('--events: JSON lines of a run with restarts and a timeout parse and match what happened', async () => {
  const events = join(tempDir(), 'events.jsonl');
  const r = await run([
    '--events', events, '--restart', 'always', '--restart-limit', '100/1m', '--restart-delay', '10ms',
    '--restart-delay-max', '10ms', '--timeout', '1s', '--', 'sh', '-c', 'sleep 0.2; exit 2',
  ]);
  assert.equal(r.code, 124);
  const list = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const e of list) assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const of = (type: string) => list.filter((e) => e.type === type);
  const started = of('started').filter((e) => e.role === 'service');
  const restarts = of('restart');
  assert.ok(restarts.length >= 1, 'at least one restart within the second');
  assert.equal(started.length, restarts.length + 1);
  for (const e of restarts) assert.deepEqual(e.status, { code: 2, signal: null });
  assert.equal(of('timeout').length, 1);
  assert.equal(of('timeout')[0].afterMs, 1000);
  const exit = of('exit');
  assert.equal(exit.length, 1);
  assert.equal(exit[0].code, 124);
  assert.equal(list[list.length - 1].type, 'exit');
});

test('--events fd:N writes the events to an inherited file descriptor', async () => {
  const r = await run(['--events', 'fd:1', '--', 'sh', '-c', 'exit 3'], { pid1: false });
  assert.equal(r.code, 3);
  const types = r.stdout.trim().split('\n').map((l) => JSON.parse(l).type);
  assert.deepEqual(types, ['started', 'exited', 'exit']);
});
