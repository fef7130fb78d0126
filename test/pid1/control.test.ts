// Black-box tests of the control socket and its clients: tsinit runs as PID 1 of a fresh PID
// namespace with --control-socket in the test's own directory; `tsinit status|health|ctl` are run as
// a user would, and what a hostile or clumsy client can do is tried with raw connections.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, chmodSync, unlinkSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { asPid1, cleanEnv, pid1Test, rootTest, Running, start, TSINIT, tempDir } from '../helpers/harness';

interface ClientResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsinit ARGS` (a client subcommand) and collects what it says. */
function client(args: string[], opts: { env?: Record<string, string>; wrap?: string[] } = {}): Promise<ClientResult> {
  const argv = [...(opts.wrap ?? []), TSINIT, ...args];
  const p = spawn(argv[0], argv.slice(1), { env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  return new Promise((res) => p.on('close', (code) => res({ code, stdout, stderr })));
}

/** One raw exchange: send `text` (or nothing), read until the server closes. */
function raw(path: string, text: string | null): Promise<{ answer: string; closed: boolean }> {
  return new Promise((res, rej) => {
    const s = net.connect({ path });
    let answer = '';
    s.on('connect', () => {
      if (text !== null) s.write(text);
    });
    s.on('data', (d) => (answer += d));
    s.on('error', rej);
    s.on('close', () => res({ answer, closed: true }));
  });
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

/** Waits until `path` has `n` lines; fails after `ms` saying what it saw. */
async function linesUntil(path: string, n: number, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (lines(path).length < n) {
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000}s for ${what}: ${path} has ${lines(path).length} of ${n} lines`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A service that records each start (its pid) and each SIGHUP, and exits 0 on SIGTERM. */
function service(dir: string): string[] {
  const starts = join(dir, 'starts');
  const hups = join(dir, 'hups');
  return ['sh', '-c', `echo $$ >> ${starts}; trap 'echo hup >> ${hups}' HUP; trap 'exit 0' TERM; while :; do sleep 0.05; done`];
}

pid1Test('status, health, ctl signal/restart/stop through the socket; 0600; removed at exit', async () => {
  const dir = tempDir();
  const sock = join(dir, 'run', 'ctl.sock');
  const events = join(dir, 'events.jsonl');
  const t = start(['-v', '--events', events, '--control-socket', sock, '--', ...service(dir)], { env: {} });
  await t.waitFor(/control socket listening at/, 'stderr');
  await linesUntil(join(dir, 'starts'), 1, 'the first start');
  const mode = lstatSync(sock).mode & 0o777;
  assert.equal(mode, 0o600, `socket mode ${mode.toString(8)}`);

  const s = await client(['status', '--control-socket', sock]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^service {3}running \(pid \d+, up \d+s\), restarts 0$/m);
  const js = await client(['status', '--json', '--control-socket', sock]);
  const status = JSON.parse(js.stdout);
  assert.equal(status.service.state, 'running');
  assert.equal(status.tsinit.pid, 1);
  assert.equal(status.tsinit.controlSocket, sock);
  const firstPid = status.service.pid;

  const h = await client(['health'], { env: { TSINIT_CONTROL_SOCKET: sock } });
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, new RegExp(`^healthy: running \\(pid ${firstPid}, up \\d+s\\)\\n$`));

  const sig = await client(['ctl', 'signal', 'HUP', '--control-socket', sock]);
  assert.equal(sig.code, 0, sig.stderr);
  assert.equal(sig.stdout, `forwarded SIGHUP to process group ${firstPid}\n`);
  await linesUntil(join(dir, 'hups'), 1, 'the service to get SIGHUP');
  await t.waitFor(/control: signal HUP from pid \d+ \(uid 0\): forwarded SIGHUP/, 'stderr');

  const rs = await client(['ctl', 'restart', '--control-socket', sock]);
  assert.equal(rs.code, 0, rs.stderr);
  assert.match(rs.stdout, /^restarting service \(pid \d+\) as asked; sending SIGTERM\n$/);
  await linesUntil(join(dir, 'starts'), 2, 'the second start');
  const after = JSON.parse((await client(['status', '--json', '--control-socket', sock])).stdout);
  assert.equal(after.service.restarts, 1);
  assert.notEqual(after.service.pid, firstPid);
  assert.deepEqual(after.service.lastExit && [after.service.lastExit.code, after.service.lastExit.signal], [0, null]);

  const st = await client(['ctl', 'stop', '--control-socket', sock]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /stop asked through the control socket/);
  const r = await t.result;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(sock), false, 'the socket is removed at exit');
  // the events of the run: the restart and the stop appear as -v lines too
  assert.match(r.stderr, /control: restart from pid \d+ \(uid 0\)/);
  assert.match(r.stderr, /exiting with 0 \(stop asked through the control socket\)/);
  // ... and as --events records, from the same catalogue
  const records = lines(events).map((l) => JSON.parse(l));
  const commands = records.filter((e) => e.type === 'control').map((e) => [e.command, e.ok, e.uid]);
  assert.deepEqual(commands, [['signal HUP', true, 0], ['restart', true, 0], ['stop', true, 0]]);
  assert.ok(records.some((e) => e.type === 'control-listening' && e.path === sock), 'control-listening record');
  assert.ok(records.some((e) => e.type === 'restart-asked'), 'restart-asked record');

  const none = await client(['health', '--control-socket', sock]);
  assert.equal(none.code, 1);
  assert.match(none.stdout, /^unhealthy: no tsinit answers \(.*ctl\.sock: no such socket\)\n$/);
});

pid1Test('umask 000 still gives a 0600 socket', async () => {
  const dir = tempDir();
  const sock = join(dir, 'ctl.sock');
  const argv = ['-c', 'umask 000; exec "$@"', 'sh', ...asPid1([TSINIT, '-v', '--control-socket', sock, '--', 'sleep', '1000'])];
  const u = new Running(spawn('sh', argv, { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] }));
  await u.waitFor(/control socket listening/, 'stderr');
  assert.equal(lstatSync(sock).mode & 0o777, 0o600, 'socket');
  process.kill(u.tsinitPid(true), 'SIGTERM');
  await u.result;
});

pid1Test('a stalled client, an oversized request and nonsense never hold tsinit up', async () => {
  const dir = tempDir();
  const sock = join(dir, 'ctl.sock');
  const t = start(['-v', '--control-socket', sock, '--', 'sleep', '1000']);
  await t.waitFor(/control socket listening/, 'stderr');
  // a client that connects and says nothing: disconnected after the request timeout...
  const stalled = raw(sock, null);
  // ... while other clients are served meanwhile
  const s = await client(['status', '--control-socket', sock]);
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(await stalled, { answer: '', closed: true });
  const big = await raw(sock, 'x'.repeat(10_000));
  assert.match(big.answer, /"ok":false,"message":"request too long \(at most 256 bytes\)"/);
  const junk = await raw(sock, 'rm -rf /\n');
  assert.match(junk.answer, /unknown request 'rm -rf \/'/);
  const badsig = await client(['ctl', 'signal', 'NOPE', '--control-socket', sock]);
  assert.equal(badsig.code, 1);
  assert.match(badsig.stderr, /^tsinit: unknown signal 'NOPE'\n$/);
  const usage = await client(['ctl', 'frobnicate']);
  assert.equal(usage.code, 125);
  assert.match(usage.stderr, /^tsinit: unknown or incomplete command 'frobnicate' \(usage: tsinit ctl/);
  // many clients at once, none of them reading: tsinit still stops at once on SIGTERM
  const idle = Array.from({ length: 40 }, () => net.connect({ path: sock }).on('error', () => undefined));
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  for (const c of idle) c.destroy();
  assert.equal(r.code, 143, r.stderr);
  assert.equal(existsSync(sock), false);
});

rootTest('another uid is refused by its credentials even where the socket mode would let it in (needs root)', async () => {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const sock = join(dir, 'ctl.sock');
  const t = start(['-v', '--control-socket', sock, '--', 'sleep', '1000']);
  await t.waitFor(/control socket listening/, 'stderr');
  chmodSync(sock, 0o666); // a careless admin: the kernel's peer credentials still stop nobody
  const r = await client(['status', '--control-socket', sock], { wrap: ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups'] });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^tsinit: permission denied: only root and uid 0 may use this socket\n$/);
  await t.waitFor(/control: refused a client \(pid \d+, uid 65534\): only root and uid 0 may use it/, 'stderr');
  process.kill(t.tsinitPid(true), 'SIGTERM');
  await t.result;
});

pid1Test('at the path: a stale socket is replaced; a live one, a symlink or a file is left alone', async () => {
  const dir = tempDir();
  const sock = join(dir, 'ctl.sock');
  // a tsinit killed with SIGKILL leaves its socket behind
  const first = start(['-v', '--control-socket', sock, '--', 'sleep', '1000']);
  await first.waitFor(/control socket listening/, 'stderr');
  process.kill(first.tsinitPid(true), 'SIGKILL');
  await first.result;
  assert.equal(lstatSync(sock).isSocket(), true, 'left behind');
  const second = start(['-v', '--control-socket', sock, '--', 'sleep', '1000']);
  await second.waitFor(/control socket listening/, 'stderr');
  assert.equal((await client(['health', '--control-socket', sock])).code, 0);

  // a live tsinit there: the newcomer leaves it alone (and says so), the first still answers
  const third = start(['--control-socket', sock, '--', 'sleep', '1000']);
  await third.waitFor(/no control socket at .*ctl\.sock: another tsinit answers at/, 'stderr');
  const s = JSON.parse((await client(['status', '--json', '--control-socket', sock])).stdout);
  assert.equal(s.tsinit.pid, 1);
  process.kill(third.tsinitPid(true), 'SIGTERM');
  await third.result;
  assert.equal(lstatSync(sock).isSocket(), true, 'the newcomer did not remove the live socket at its exit');
  process.kill(second.tsinitPid(true), 'SIGTERM');
  await second.result;

  // a symlink: never followed, never removed; a file: left alone
  const target = join(dir, 'precious');
  writeFileSync(target, 'keep me');
  symlinkSync(target, sock);
  const fourth = start(['--control-socket', sock, '--', 'true']);
  const r4 = await fourth.result;
  assert.equal(r4.code, 0);
  assert.match(r4.stderr, /no control socket at .*ctl\.sock: .*exists and is not a socket: not replacing it/);
  assert.equal(readlinkSync(sock), target);
  assert.equal(readFileSync(target, 'utf8'), 'keep me');
  unlinkSync(sock);
  writeFileSync(sock, 'a file');
  const r5 = await start(['--control-socket', sock, '--', 'true']).result;
  assert.match(r5.stderr, /exists and is not a socket/);
  assert.equal(readFileSync(sock, 'utf8'), 'a file');
});

pid1Test('the default socket: /run/tsinit/control.sock as PID 1 (own /run), none when nested; clients find it', async () => {
  const dir = tempDir();
  const out = join(dir, 'out');
  // A private /run, so that this test owns /run/tsinit; tsinit is exec'd as PID 1. The service asks
  // its own tsinit through the default path, then a nested tsinit (not PID 1) shows it opens none.
  const script = `mount -t tmpfs tmpfs /run && exec "$0" -v -- sh -c '
    until "$0" health > ${out}.health; do sleep 0.05; done
    stat -c %a /run/tsinit > ${out}.mode; "$0" status --json > ${out}.status
    "$0" -v -- true 2> ${out}.nested; ls /run/tsinit > ${out}.ls' "$0"`;
  const p = spawn(asPid1(['sh', '-c', script, TSINIT])[0], asPid1(['sh', '-c', script, TSINIT]).slice(1), { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((res) => p.on('close', res));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /control socket listening at \/run\/tsinit\/control\.sock/);
  assert.match(readFileSync(`${out}.health`, 'utf8'), /^healthy: running \(pid \d+/);
  assert.equal(readFileSync(`${out}.mode`, 'utf8').trim(), '700');
  assert.equal(JSON.parse(readFileSync(`${out}.status`, 'utf8')).tsinit.pid, 1);
  assert.doesNotMatch(readFileSync(`${out}.nested`, 'utf8'), /control socket/);
  assert.equal(readFileSync(`${out}.ls`, 'utf8').trim(), 'control.sock');
  rmSync(dir, { recursive: true, force: true });
});

/** Asks `tsinit health` until its line matches; fails after `ms` with the last answer. */
async function healthUntil(sock: string, re: RegExp, what: string, ms = 60_000): Promise<ClientResult> {
  const deadline = Date.now() + ms;
  for (;;) {
    const last = await client(['health', '--control-socket', sock]);
    if (re.test(last.stdout)) return last;
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000}s for ${what}; the last answer was: ${last.stdout}${last.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The status (JSON) once `ok` holds; fails after `ms` with the last one. */
async function statusUntil(sock: string, ok: (s: any) => boolean, what: string, ms = 60_000): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await client(['status', '--json', '--control-socket', sock]);
    const s = r.code === 0 ? JSON.parse(r.stdout) : null;
    if (s && ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000}s for ${what}; the last status was: ${r.stdout}${r.stderr}`);
    await new Promise((r2) => setTimeout(r2, 50));
  }
}

pid1Test('tsinit health follows the probe: starting, healthy, unhealthy while it fails, healthy again', async () => {
  const dir = tempDir();
  const sock = join(dir, 'ctl.sock');
  const ok = join(dir, 'ok');
  const gate = join(dir, 'gate');
  // A threshold the test never reaches: the failing state lasts until the test ends it (no race with
  // the watchdog, however slow the machine). The service marks itself healthy once the gate opens.
  const t = start([
    '--control-socket', sock, '--restart', 'on-failure', '--health-cmd', `test -e ${ok}`, '--health-interval', '100ms',
    '--health-failures', '1000', '--', 'sh', '-c', `while ! test -e ${gate}; do sleep 0.05; done; touch ${ok}; exec sleep 1000`,
  ]);
  const starting = await healthUntil(sock, /^unhealthy: starting: pid \d+ is not ready yet/, 'starting');
  assert.equal(starting.code, 1);
  writeFileSync(gate, '');
  const healthy = await healthUntil(sock, /^healthy: running \(pid \d+, up \d+s, ready, health-cmd passing\)\n$/, 'healthy');
  assert.equal(healthy.code, 0);
  rmSync(ok);
  const failing = await healthUntil(sock, /^unhealthy: health-cmd probe failing \(\d+\/1000\): /, 'the probe failing');
  assert.equal(failing.code, 1);
  writeFileSync(ok, '');
  assert.equal((await healthUntil(sock, /^healthy: /, 'healthy once the probe passes again')).code, 0);
  // a restart through the socket: restarting, then the next incarnation is ready again
  const first = (await statusUntil(sock, () => true, 'a status')).service.pid;
  assert.equal((await client(['ctl', 'restart', '--control-socket', sock])).code, 0);
  const s = await statusUntil(sock, (x) => x.service.pid !== first && x.service.state === 'ready', 'the next incarnation, ready');
  assert.equal(s.service.restarts, 1);
  assert.equal((await client(['health', '--control-socket', sock])).code, 0);
  process.kill(t.tsinitPid(true), 'SIGTERM');
  await t.result;
});

pid1Test('a watchdog kill after failed probes: the next incarnation is healthy, status counts the kill', async () => {
  const dir = tempDir();
  const sock = join(dir, 'ctl.sock');
  const ok = join(dir, 'ok');
  const t = start([
    '--control-socket', sock, '--restart', 'on-failure', '--health-cmd', `test -e ${ok}`, '--health-interval', '100ms',
    '--health-failures', '3', '--', 'sh', '-c', `touch ${ok}; exec sleep 1000`,
  ]);
  const first = await statusUntil(sock, (x) => x.service.state === 'ready', 'ready');
  rmSync(ok);
  const s = await statusUntil(sock, (x) => x.watchdog.kills === 1 && x.service.state === 'ready', 'a kill and the next incarnation ready');
  assert.notEqual(s.service.pid, first.service.pid);
  assert.equal(s.service.restarts, 1);
  assert.equal(s.service.lastExit.signal, 6, 'killed with SIGABRT');
  assert.equal(s.watchdog.lastKill, 'probe-failures');
  assert.equal(s.probe.lastFailure !== null, true);
  assert.equal((await client(['health', '--control-socket', sock])).code, 0);
  process.kill(t.tsinitPid(true), 'SIGTERM');
  await t.result;
});
