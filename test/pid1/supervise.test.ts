// Black-box tests of supervision: restarts, the watchdog and its sources, daemons. tsinit runs as
// PID 1 of a fresh PID namespace; what happened is read from files the services write and from
// tsinit's lines.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Marker, pid1Test, ROOT, run, start, tempDir, until } from '../helpers/harness';

const SD_NOTIFY = join(ROOT, 'build/test/helpers/sd-notify.js');

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

pid1Test('a crash loop under on-failure with --restart-limit 3/10s: 4 starts, exit 3, growing delays', async () => {
  const f = join(tempDir(), 'starts');
  const r = await run(['--restart', 'on-failure', '--restart-limit', '3/10s', '--', 'sh', '-c', `date +%s.%N >> ${f}; exit 3`]);
  assert.equal(r.code, 3);
  const times = lines(f).map(Number);
  assert.equal(times.length, 4);
  // The delays tsinit chose grow (100, 200, 400 ms), and it waited at least that long each time.
  const delays = [...r.stderr.matchAll(/exited with 3; restart \d\/3 in (\d+)ms/g)].map((m) => Number(m[1]));
  assert.deepEqual(delays, [100, 200, 400]);
  const gaps = times.slice(1).map((t, i) => (t - times[i]) * 1000);
  gaps.forEach((gap, i) => assert.ok(gap >= delays[i], `start ${i + 2} came ${gap} ms after the previous one`));
  assert.match(r.stderr, /exited with 3; 3 restarts within 10s, giving up/);
});

pid1Test('on-failure does not restart a success; always does; no never restarts', async () => {
  const dir = tempDir();
  const count = async (policy: string, code: number) => {
    const f = join(dir, `${policy}-${code}`);
    const r = await run(['--restart', policy, '--restart-limit', '2/10s', '--restart-delay', '10ms', '--', 'sh', '-c', `echo x >> ${f}; exit ${code}`]);
    assert.equal(r.code, code);
    return lines(f).length;
  };
  assert.equal(await count('on-failure', 0), 1);
  assert.equal(await count('on-failure', 4), 3);
  assert.equal(await count('always', 0), 3);
  assert.equal(await count('no', 4), 1);
  // --success-exit: a listed code is a success under on-failure
  const f = join(dir, 'success-exit');
  const r = await run(['--restart', 'on-failure', '--success-exit', '4', '--', 'sh', '-c', `echo x >> ${f}; exit 4`]);
  assert.equal(r.code, 4);
  assert.equal(lines(f).length, 1);
});

pid1Test('SIGTERM during the backoff wait: no restart, exit with the last status', async () => {
  const f = join(tempDir(), 'starts');
  const t = start(['-v', '--restart', 'always', '--restart-delay', '1h', '--restart-delay-max', '1h', '--', 'sh', '-c', `echo x >> ${f}; exit 6`]);
  await t.waitFor(/restart 1\/5 in 60m/, 'stderr');
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 6);
  assert.equal(lines(f).length, 1);
});

pid1Test('fd heartbeat: a service that beats, then stops itself, is killed, reported as stopped, and restarted', async () => {
  const dir = tempDir();
  const starts = join(dir, 'starts');
  // First incarnation: beat three times, then SIGSTOP itself. Second: exit 0.
  const service = `echo x >> ${starts}; [ $(wc -l < ${starts}) -gt 1 ] && exit 0; ` +
    'for i in 1 2 3; do echo alive >&$TSINIT_WATCHDOG_FD; sleep 0.1; done; kill -STOP $$';
  // (a period well above the gaps a loaded machine puts between the beats)
  const r = await run(['--watchdog', '2s', '--restart', 'on-failure', '--', 'sh', '-c', service]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(starts).length, 2);
  assert.match(r.stderr, /watchdog: no heartbeat from service \(pid (\d+)\) for \d+\.\ds; killing it with SIGABRT/);
  assert.match(r.stderr, /hang report/);
  assert.match(r.stderr, /T stopped/);
  assert.match(r.stderr, /exited with SIGABRT; restart 1\/5/);
});

pid1Test('sd_notify: READY=1 and WATCHDOG=1 over NOTIFY_SOCKET, then silence: killed', async () => {
  // The service checks the environment systemd's protocol gives it, then sends its datagrams with
  // the project's sd-notify helper (the libc module's sendto): a sender that lives on a moment after
  // it sent, as a service does, so that tsinit can check it belongs to the service's tree.
  const notify = (count: number, m: string) => `node ${SD_NOTIFY} 100 ${count} '${m}'`;
  const service = [
    '[ "$WATCHDOG_USEC" = 3000000 ] || { echo "WATCHDOG_USEC=$WATCHDOG_USEC"; exit 1; }',
    '[ "$WATCHDOG_PID" = $$ ] || { echo "WATCHDOG_PID=$WATCHDOG_PID, not $$"; exit 1; }',
    notify(1, 'READY=1'),
    notify(3, 'WATCHDOG=1'),
    'echo silent',
    'exec sleep 1000',
  ].join('\n');
  const r = await run(["-v", "--watchdog", "3s", "--", "sh", "-c", service]);
  assert.equal(r.code, 128 + 6, r.stdout + r.stderr);
  assert.match(r.stdout, /silent/);
  assert.match(r.stderr, /started \(ready\)|started \(notify\)/);
  assert.match(r.stderr, /no heartbeat from service .* killing it with SIGABRT/);
});

pid1Test('--watchdog-file: touching the file is a heartbeat; when it stops, the service is killed', async () => {
  const dir = tempDir();
  const hb = join(dir, 'hb');
  const r = await run(['--watchdog', '2s', '--watchdog-file', hb, '--', 'sh', '-c', `for i in 1 2 3 4; do touch ${hb}; sleep 0.3; done; echo quiet; sleep 1000`]);
  assert.equal(r.code, 134, r.stderr);
  assert.match(r.stdout, /quiet/);
  assert.match(r.stderr, /no heartbeat from service/);
});

pid1Test('--health-cmd: failing probes past the threshold kill the service', async () => {
  const dir = tempDir();
  const ok = join(dir, 'healthy');
  const passed = join(dir, 'passed');
  writeFileSync(ok, '');
  // The service turns sick once a probe has passed (failures count only after one has).
  const r = await run([
    '--health-cmd', `test -e ${ok} && echo x >> ${passed}`, '--health-interval', '100ms', '--health-timeout', '10s',
    '--health-failures', '2', '--',
    'sh', '-c', `until [ -s ${passed} ]; do sleep 0.01; done; rm ${ok}; echo sick; sleep 1000`,
  ]);
  assert.equal(r.code, 134, r.stderr);
  assert.match(r.stdout, /sick/);
  assert.match(r.stderr, /health-cmd probe failed \(1\/2\)/);
  assert.match(r.stderr, /failed its health-cmd probes; killing it with SIGABRT/);
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

pid1Test('--health-http against a server on 127.0.0.1 that starts hanging: killed after timeouts', async () => {
  const dir = tempDir();
  const port = await freePort();
  // The service is the server: it answers 200 to three probes (failures count only after one has
  // passed), then stops answering.
  const server = [
    "const http = require('http');",
    'let answered = 0;',
    'http.createServer((q, s) => {',
    '  if (answered === 3) return;',
    "  s.end('ok');",
    "  if (++answered === 3) console.log('hanging');",
    "}).listen(" + port + ", '127.0.0.1');",
  ].join('\n');
  writeFileSync(join(dir, 'server.js'), server);
  const r = await run([
    '--health-http', `http://127.0.0.1:${port}/`, '--health-interval', '100ms', '--health-timeout', '300ms',
    '--health-failures', '2', '--', process.execPath, join(dir, 'server.js'),
  ]);
  assert.equal(r.code, 134, r.stderr);
  assert.match(r.stdout, /hanging/);
  assert.match(r.stderr, /health-http probe failed \(1\/2\)/);
  assert.match(r.stderr, /failed its health-http probes; killing it with SIGABRT/);
});

pid1Test('self-stall: tsinit SIGSTOPped for 3x the watchdog period does not kill a healthy service', async () => {
  const dir = tempDir();
  const beats = join(dir, 'beats');
  const service = `echo start >> ${dir}/starts; while :; do echo b >&$TSINIT_WATCHDOG_FD; echo b >> ${beats}; sleep 0.05; done`;
  const t = start(['-v', '--watchdog', '1s', '--restart', 'always', '--', 'sh', '-c', service]);
  await until('the service to beat 6 times', () => lines(beats).length > 5, { saw: () => `${lines(beats).length} beats; tsinit: ${t.stderr}` });
  const pid = t.tsinitPid(true);
  process.kill(pid, 'SIGSTOP');
  // The service keeps beating while tsinit is stopped: wait for 3 s of its beats (3 periods).
  const before = lines(beats).length;
  await until('60 more beats while tsinit is stopped', () => lines(beats).length >= before + 60, { saw: () => `${lines(beats).length - before} beats; tsinit: ${t.stderr}` });
  process.kill(pid, 'SIGCONT');
  // And a couple more periods after tsinit resumed.
  const resumed = lines(beats).length;
  await until('40 more beats after tsinit resumed', () => lines(beats).length >= resumed + 40, { saw: () => `${lines(beats).length - resumed} beats; tsinit: ${t.stderr}` });
  process.kill(pid, 'SIGTERM');
  const r = await t.result;
  assert.equal(lines(join(dir, 'starts')).length, 1, 'the same incarnation all along');
  assert.doesNotMatch(r.stderr, /killing it/);
  assert.match(r.stderr, /tsinit itself did not run for \d+\.\ds; deadlines moved/);
});

/**
 * tsinit's open fds when no probe is in flight: the fewest seen over a few samples. A probe in
 * flight holds a pipe and /dev/null for a moment; a leak raises even the fewest.
 */
async function settledFdCount(pid: number): Promise<number> {
  let fewest = Infinity;
  for (let i = 0; i < 40; i++) {
    fewest = Math.min(fewest, readdirSync(`/proc/${pid}/fd`).length);
    await new Promise((r) => setTimeout(r, 5));
  }
  return fewest;
}

pid1Test('1,000 health probes leave tsinit with the same open fds', async () => {
  const dir = tempDir();
  const count = join(dir, 'count');
  const t = start(['--health-cmd', `echo x >> ${count}`, '--health-interval', '10ms', '--', 'sleep', '1000'], { deadlineMs: 6 * 60_000 });
  await until('10 probes', () => lines(count).length >= 10, { saw: () => `${lines(count).length} probes; tsinit: ${t.stderr}` });
  const pid = t.tsinitPid(true);
  const fdsAt10 = await settledFdCount(pid);
  await until('1,000 probes', () => lines(count).length >= 1000, { everyMs: 50, ms: 5 * 60_000, saw: () => `${lines(count).length} probes; tsinit: ${t.stderr}` });
  const fdsAt1000 = await settledFdCount(pid);
  process.kill(pid, 'SIGTERM');
  await t.result;
  assert.equal(fdsAt1000, fdsAt10);
});

pid1Test('--daemon --pidfile: tsinit adopts the daemon; SIGTERM reaches it; its status is the exit status', async () => {
  const dir = tempDir();
  const p = join(dir, 'pid');
  const t = start(['-v', '--daemon', '--pidfile', p, '--', 'sh', '-c', `sleep 30 & echo $! > ${p}; exit 0`]);
  await t.waitFor(/daemon adopted as the service: pid \d+ \(named by the pidfile\)/, 'stderr');
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 143, r.stderr);
});

pid1Test('--daemon: a daemon killed with -9 under on-failure is relaunched once, never two at once', async () => {
  const dir = tempDir();
  const p = join(dir, 'pid');
  const starts = join(dir, 'starts');
  const mark = new Marker();
  const t = start([
    '-v', '--daemon', '--pidfile', p, '--restart', 'on-failure', '--restart-limit', '1/1m', '--',
    'sh', '-c', `echo x >> ${starts}; sleep 30 & echo $! > ${p}; exit 0`,
  ], { env: mark.env });
  const [, first] = await t.waitFor(/daemon adopted as the service: pid (\d+)/, 'stderr');
  // This run's daemons: its processes that are not tsinit or unshare (the shell that starts each
  // one exits before it is adopted).
  const daemonPids = () => mark.processes().filter((q) => !q.argv.includes('--daemon')).map((q) => q.pid);
  const before = daemonPids();
  assert.equal(before.length, 1, JSON.stringify(mark.processes()));
  process.kill(before[0], 'SIGKILL');
  await until('the daemon to be relaunched and adopted', () => (t.stderr.match(/daemon adopted/g) ?? []).length === 2,
    { saw: () => t.stderr });
  assert.equal(daemonPids().length, 1, `exactly one daemon after the relaunch: ${JSON.stringify(mark.processes())}`);
  assert.notEqual(t.stderr.match(/daemon adopted as the service: pid (\d+)/g)![1], `daemon adopted as the service: pid ${first}`);
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 143);
  assert.equal(lines(starts).length, 2);
});

pid1Test('--daemon: a pidfile naming an unrelated live process is refused with a clear line', async () => {
  const dir = tempDir();
  const p = join(dir, 'pid');
  const r = await run([
    '--daemon', '--pidfile', p, '--daemon-timeout', '1s', '--',
    // The "daemon" writes the pid of a process that is not tsinit's child: tsinit's own (1).
    'sh', '-c', `sleep 30 & echo 1 > ${p}; exit 0`,
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /daemon: .*pid 1 .*not a child of tsinit/);
});

pid1Test('the logger keeps every line across 10 restarts of the service', async () => {
  const dir = tempDir();
  const c = join(dir, 'count');
  const f = join(dir, 'out');
  const service = `n=$(cat ${c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${c}; seq $((n*1000-999)) $((n*1000)); [ $n -ge 11 ] && exit 0; exit 1`;
  const r = await run(['--restart', 'on-failure', '--restart-limit', '20/1m', '--restart-delay', '10ms', '--restart-delay-max', '50ms', '--logger', `cat > ${f}`, '--', 'sh', '-c', service]);
  assert.equal(r.code, 0, r.stderr);
  let expected = '';
  for (let i = 1; i <= 11000; i++) expected += `${i}\n`;
  assert.ok(readFileSync(f, 'utf8') === expected, 'all 11,000 lines, once, in order');
});
