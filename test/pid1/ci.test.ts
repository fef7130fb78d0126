// Black-box tests of the CI job wrapper: --timeout with a hang report, nothing left behind as a
// subreaper, --pdeathsig, --events. tsinit runs as a CI wrapper would: not PID 1 (subreaper), and
// as PID 1 where it matters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cleanEnv, Marker, pid1Test, run, state, tempDir, TSINIT, until } from '../helpers/harness';

pid1Test('--timeout: exit 124, a hang report naming the sleep, nothing left behind', async () => {
  for (const pid1 of [false, true]) {
    const mark = new Marker();
    const r = await run(['--timeout', '1s', '--', 'sh', '-c', 'sleep 61.5'], { pid1, env: mark.env });
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stderr, /tsinit: timeout: the job \(pid \d+\) ran longer than 1s; stopping it/);
    assert.match(r.stderr, /hang report/);
    assert.match(r.stderr, /S sleeping .* sleep 61\.5/);
    assert.deepEqual(mark.processes(), [], `pid1=${pid1}: processes of this run left behind`);
  }
});

test('as a subreaper, nothing is left: neither a setsid child nor a double-forked one', async () => {
  const dir = tempDir();
  const mark = new Marker();
  const script = [
    `setsid sleep 62 > /dev/null 2>&1 & echo $! > ${dir}/setsid`,
    `(sleep 62 > /dev/null 2>&1 & echo $! > ${dir}/double)`,
    `until [ -s ${dir}/setsid ] && [ -s ${dir}/double ]; do sleep 0.01; done`,
    'exit 0',
  ].join('\n');
  const r = await run(['--', 'sh', '-c', script], { pid1: false, env: mark.env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(mark.processes(), [], 'processes of this run left behind');
  for (const name of ['setsid', 'double']) {
    const pid = Number(readFileSync(join(dir, name), 'utf8'));
    assert.ok(['gone', 'Z'].includes(state(pid) ?? 'gone'), `the ${name} child (pid ${pid}) is ${state(pid)}`);
  }
});

test('--keep-orphans leaves what the service started running', async () => {
  const dir = tempDir();
  const mark = new Marker();
  const script = `(sleep 62 > /dev/null 2>&1 & echo $! > ${dir}/orphan); until [ -s ${dir}/orphan ]; do sleep 0.01; done`;
  const r = await run(['--keep-orphans', '--', 'sh', '-c', script], { pid1: false, env: mark.env });
  try {
    assert.equal(r.code, 0, r.stderr);
    const orphan = Number(readFileSync(join(dir, 'orphan'), 'utf8'));
    // (the subshell that started it may still be on its way out)
    await until('only the orphan to be left of this run', () => {
      const left = mark.processes();
      return left.length === 1 && left[0].pid === orphan;
    }, { saw: () => mark.processes() });
  } finally {
    for (const { pid } of mark.processes()) process.kill(pid, 'SIGKILL');
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
  await until('the service under tsinit to be ready', () => existsSync(join(dir, 'ready')));
  const tsinitPid = Number(readFileSync(pidfile, 'utf8'));
  agent.kill('SIGKILL');
  // tsinit got SIGTERM from the kernel, stopped its service, and exited (reaped by its new parent).
  await until('the service to get SIGTERM and tsinit to exit', () => existsSync(got) && ['gone', 'Z'].includes(state(tsinitPid) ?? 'gone'),
    { saw: () => `got: ${existsSync(got)}, tsinit (pid ${tsinitPid}): ${state(tsinitPid) ?? 'gone'}` });
  assert.equal(readFileSync(got, 'utf8'), 'TERM\n');
});

pid1Test('--events: JSON lines of a run with restarts and a timeout parse and match what happened', async () => {
  const dir = tempDir();
  const events = join(dir, 'events.jsonl');
  const starts = join(dir, 'starts');
  // Three incarnations fail at once, the fourth hangs until the timeout.
  const service = `echo x >> ${starts}; [ "$(wc -l < ${starts})" -ge 4 ] && exec sleep 1000; exit 2`;
  const r = await run([
    '--events', events, '--restart', 'always', '--restart-limit', '100/1m', '--restart-delay', '10ms',
    '--restart-delay-max', '10ms', '--timeout', '1s', '--', 'sh', '-c', service,
  ]);
  assert.equal(r.code, 124, r.stderr);
  const list = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const e of list) assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const of = (type: string) => list.filter((e) => e.type === type);
  const restarts = of('restart');
  // In order: each restart is followed by the start it announced, unless the timeout came during
  // its delay (a slow machine); the timeout comes once, after the last start.
  const story = list
    .filter((e) => (e.type === 'started' && e.role === 'service') || e.type === 'restart' || e.type === 'timeout')
    .map((e) => e.type)
    .join(' ');
  assert.match(story, /^started( restart started){0,3}( restart)? timeout$/, story);
  assert.ok(restarts.length >= 1, 'at least one restart within the second');
  assert.equal(of('started').filter((e) => e.role === 'service').length, readFileSync(starts, 'utf8').split('\n').length - 1);
  for (const e of restarts) assert.deepEqual(e.status, { code: 2, signal: null });
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
