// Black-box tests of hostile neighbours: a second uid (nobody) inside the container, or the service
// itself after --user, tries to make root tsinit follow a planted link, block on a FIFO, disclose a
// file, or stop working. tsinit runs as PID 1 of a fresh PID namespace, as root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync, chownSync, closeSync, constants, existsSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, statSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { asPid1, cleanEnv, ROOT, rootTest, run, start, tempDir, TSINIT, until } from '../helpers/harness';

const NOBODY = 65534;

/** A directory the attacker (uid nobody) owns, inside a root-only temp dir that it can traverse. */
function attackerDir(): { root: string; dir: string } {
  const root = tempDir();
  chmodSync(root, 0o711);
  const dir = join(root, 'nobody');
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  return { root, dir };
}

/** A file only root can read, with a recognisable secret in it. */
function secretFile(root: string): { path: string; secret: string } {
  const secret = `h13secret${process.pid}`;
  const path = join(root, 'shadow');
  writeFileSync(path, `root:$6$${secret}:19000:0:99999:7:::\n`, { mode: 0o600 });
  return { path, secret };
}

rootTest('--pidfile (needs root): a daemon of uid nobody that replaces its pidfile by a link to a root-only file: refused, nothing disclosed', async () => {
  const { root, dir } = attackerDir();
  const { path, secret } = secretFile(root);
  const pidfile = join(dir, 'daemon.pid');
  const r = await run([
    '--user', 'nobody', '--daemon', '--pidfile', pidfile, '--daemon-timeout', '5s', '--',
    'sh', '-c', `sleep 30 & ln -s ${path} ${pidfile}; exit 0`,
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /cannot read .*daemon\.pid: it is a symbolic link \(never followed\)/);
  assert.ok(!r.stderr.includes(secret) && !r.stderr.includes('root:'), `stderr disclosed the file: ${r.stderr}`);
});

rootTest('--pidfile (needs root): a FIFO planted as the pidfile never blocks tsinit: refused at --daemon-timeout', async () => {
  const { dir } = attackerDir();
  const pidfile = join(dir, 'daemon.pid');
  const r = await run([
    '--user', 'nobody', '--daemon', '--pidfile', pidfile, '--daemon-timeout', '5s', '--',
    'sh', '-c', `sleep 30 & mkfifo ${pidfile}; exit 0`,
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /cannot read .*daemon\.pid: it is not a regular file \(a FIFO\)/);
});

rootTest('--pidfile (needs root): a hard link to a root-only file is refused, and a pidfile that is not a pid is not shown', async () => {
  const { root, dir } = attackerDir();
  const { secret } = secretFile(root);
  const pidfile = join(dir, 'daemon.pid');
  const r = await run([
    '--user', 'nobody', '--daemon', '--pidfile', pidfile, '--daemon-timeout', '5s', '--',
    'sh', '-c', `sleep 30 & echo '${secret}' > ${pidfile}; exit 0`,
  ]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /daemon\.pid holds \d+ bytes, not a pid/);
  assert.ok(!r.stderr.includes(secret), r.stderr);
});

rootTest('--log-dir (needs root): a service of uid nobody that swaps current.jsonl for a link to a root-only file: the file is never written', async () => {
  const { root, dir } = attackerDir();
  const { path, secret } = secretFile(root);
  const before = readFileSync(path, 'utf8');
  const log = join(dir, 'log');
  mkdirSync(log);
  chownSync(log, NOBODY, NOBODY);
  const go = join(root, 'go');
  // Once logd has opened the file (its start record is in it), the service swaps the file for a link, writes on, and
  // waits for the test to have seen logd's refusal.
  const service = `echo first; until [ -s ${log}/current.jsonl ]; do sleep 0.05; done; ` +
    // rename: the swap is atomic, so logd never sees the name missing (and recreates it) in between
    `ln -s ${path} ${log}/planted; mv -f ${log}/planted ${log}/current.jsonl; ` +
    `i=0; while [ $i -lt 20 ]; do echo planted-line; i=$((i+1)); done; until [ -e ${go} ]; do sleep 0.05; done`;
  const t = start(['--user', 'nobody', '--grace', '300ms', '--log-dir', log, '--', 'sh', '-c', service]);
  await t.waitFor(/logd: cannot open .*current\.jsonl: .*symbolic link/, 'stderr');
  writeFileSync(go, '');
  const r = await t.result;
  assert.equal(readFileSync(path, 'utf8'), before, 'the root-only file was written through the planted link');
  assert.match(r.stderr, /logd: cannot open .*current\.jsonl: .*symbolic link/);
  assert.ok(!r.stderr.includes(secret), r.stderr);
  assert.ok(lstatSync(join(log, 'current.jsonl')).isSymbolicLink(), 'the planted link is left for the operator to see');
});

/** Runs tsinit as PID 1 under umask 000. */
function runUmask0(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', 'umask 000; exec "$@"', 'sh', ...asPid1([TSINIT, ...args])], {
      env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

test('fixed modes whatever the umask: log directory 0750, log files and the --events file 0640', async () => {
  const dir = tempDir();
  const log = join(dir, 'a', 'b', 'log');
  const events = join(dir, 'events.jsonl');
  const r = await runUmask0(['--log-dir', log, '--log-max-bytes', '4k', '--events', events, '--', 'sh', '-c', 'seq 1 2000']);
  assert.equal(r.code, 0, r.stderr);
  const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
  assert.equal(mode(log), '750');
  assert.equal(mode(join(dir, 'a')), '750', 'a parent logd created');
  const files = readdirSync(log);
  assert.ok(files.length > 2, `rotated files: ${files}`);
  for (const f of files) assert.equal(mode(join(log, f)), '640', f);
  assert.equal(mode(events), '640');
});

rootTest('--log-dir on a read-only file system (needs root): EROFS said in one line, no spin, SIGTERM ends logd', async () => {
  const dir = tempDir();
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  const p = spawn('unshare', ['--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c',
    `mount -t tmpfs -o ro none ${ro} && exec "$@"`, 'sh', TSINIT, '--grace', '300ms', '--log-dir', join(ro, 'logs'), '--', 'sleep', '1000'], {
    env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  p.stderr!.on('data', (d) => (stderr += d));
  const code = new Promise((resolve) => p.on('close', resolve));
  await until(() => /logd: cannot create directory/.test(stderr));
  assert.match(stderr, /logd: cannot create directory .*logs: read-only file system \(EROFS\)/);
  assert.doesNotMatch(stderr, /ENOENT/);
  // logd is retrying (not spinning): tsinit's stop reaches it, and it ends on SIGTERM after the grace.
  const kids = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(' ');
  const tsinitPid = Number(kids[0]);
  process.kill(tsinitPid, 'SIGTERM');
  assert.equal(await code, 143, stderr);
  assert.match(stderr, /logd: stopping before the log could be opened/, 'logd ended on SIGTERM after the grace');
});

test('--log-dir under /proc: the kernel refuses the directory; logd says so and still stops on SIGTERM', async () => {
  const t = start(['--grace', '300ms', '--log-dir', '/proc/tsinit-h13/logs', '--', 'sleep', '1000']);
  await t.waitFor(/logd: cannot create directory \/proc\/tsinit-h13(\/logs)?: no such file or directory \(ENOENT\)/, 'stderr');
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /logd: stopping before the log could be opened/);
});

/** A service that leaves `n` orphans to tsinit quickly: one orphan-reaped event each in --events. */
const orphans = (n: number) => `i=0; while [ $i -lt ${n} ]; do (true &); i=$((i+1)); done; echo done-orphans; exec sleep 1000`;

test('--events into a FIFO whose reader never reads: tsinit never blocks, SIGTERM works, the loss is counted once', async () => {
  const dir = tempDir();
  const fifo = join(dir, 'events');
  execFileSync('mkfifo', [fifo]);
  // A reader that holds the FIFO open and never reads: the FIFO fills at 64 KiB.
  const reader = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    const t = start(['--events', fifo, '--', 'sh', '-c', orphans(1500)]);
    // The orphans' events fill the FIFO several times over; tsinit must still answer SIGTERM.
    await t.waitFor(/done-orphans/);
    process.kill(t.tsinitPid(true), 'SIGTERM');
    const r = await t.result;
    assert.equal(r.code, 143, r.stderr);
    assert.equal((r.stderr.match(/dropping events/g) ?? []).length, 1, r.stderr);
    const [, lost] = r.stderr.match(/--events .*: (\d+) event\(s\) \(\d+ bytes\) could not be written: they are lost/) ?? [];
    assert.ok(Number(lost) > 0, r.stderr);
  } finally {
    closeSync(reader);
  }
});

test('--events fd:3 on a socket nobody reads: tsinit never blocks and SIGTERM works', async () => {
  const [cmd, ...argv] = asPid1([TSINIT, '--events', 'fd:3', '--', 'sh', '-c', orphans(3000)]);
  const p = spawn(cmd, argv, {
    env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d) => (stdout += d));
  p.stderr!.on('data', (d) => (stderr += d));
  (p.stdio[3] as NodeJS.ReadableStream).pause();
  await until(() => stdout.includes('done-orphans'));
  const kids = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim();
  process.kill(Number(kids.split(' ')[0]), 'SIGTERM');
  const code = await new Promise((resolve) => p.on('close', resolve));
  assert.equal(code, 143, stderr);
  assert.match(stderr, /could not be written: they are lost/);
});

rootTest('--events (needs root): a link or a hard link planted at the events path by uid nobody is refused before anything runs', async () => {
  const { root, dir } = attackerDir();
  const { path, secret } = secretFile(root);
  const before = readFileSync(path, 'utf8');
  const link = join(dir, 'events.jsonl');
  execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'ln', '-s', path, link]);
  const marker = join(root, 'ran');
  let r = await run(['--events', link, '--', 'sh', '-c', `touch ${marker}`]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /^tsinit: --events .*events\.jsonl: it is a symbolic link, never followed/);
  r = await run(['--events', '/dev/stderr', '--', 'true']);
  assert.equal(r.code, 0, 'a well-known fd path is the fd itself, not a followed link');
  const hard = join(root, 'hard.jsonl');
  linkSync(path, hard);
  r = await run(['--events', hard, '--', 'sh', '-c', `touch ${marker}`]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /it has other hard links/);
  assert.equal(readFileSync(path, 'utf8'), before);
  assert.ok(!existsSync(marker), 'the service ran');
  assert.ok(!r.stderr.includes(secret));
});

const SD_NOTIFY = join(ROOT, 'build/test/helpers/sd-notify.js');

rootTest('sd_notify under --user nobody (needs root): the service\'s heartbeats are accepted, the healthy service is not killed', async () => {
  // STOPPING=1 at the end: the watchdog then stands down while the sender lingers before it exits
  // (its linger is no heartbeat, and would race the period on a loaded machine).
  const r = await run(['--user', 'nobody', '--watchdog', '1s', '--', 'node', SD_NOTIFY, '200', '12', 'READY=1\\nWATCHDOG=1', '--last', 'STOPPING=1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sd-notify: sent 13, failed 0/);
  assert.doesNotMatch(r.stderr, /watchdog|refused/);
});

rootTest('sd_notify (needs root): uid nobody outside the service\'s tree cannot keep a hung --user nobody service alive; another uid cannot send at all', async () => {
  const { root } = attackerDir();
  const sockFile = join(root, 'nobody', 'socket');
  const go = join(root, 'go');
  // Beats on the heartbeat fd until the attacker is sending, then hangs.
  const service = `echo "$NOTIFY_SOCKET" > ${sockFile}; until [ -e ${go} ]; do echo beat >&$TSINIT_WATCHDOG_FD; sleep 0.1; done; ` +
    'echo silent; exec sleep 1000';
  const t = start(['--user', 'nobody', '--watchdog', '1s', '--', 'sh', '-c', service]);
  await until(() => existsSync(sockFile) && readFileSync(sockFile, 'utf8').trim() !== '');
  // The attackers run inside tsinit's PID and mount namespaces, as `docker exec -u` would put them:
  // setpriv reads its own /proc/PID/status, which only tsinit's /proc shows under its PID in there.
  // (--root and --wd keep the root and directory tsinit has, as in a chroot.)
  const attack = (uid: number) => spawn('nsenter', ['--target', String(t.tsinitPid(true)), '--pid', '--mount', '--root', '--wd', '--',
    'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'node', SD_NOTIFY, '50', '400', 'WATCHDOG=1', '--socket-from', sockFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sameUid = attack(NOBODY);
  const otherUid = attack(4242);
  let same = '';
  let other = '';
  sameUid.stdout!.on('data', (d) => (same += d));
  sameUid.stderr!.on('data', (d) => (same += d));
  otherUid.stderr!.on('data', (d) => (other += d));
  const otherDone = new Promise((res) => otherUid.on('close', res));
  // The attacker of the service's own uid is sending (and refused) before the service goes silent.
  await until('tsinit refuses the attacker of uid nobody', () => /refused a message/.test(t.stderr), {
    saw: () => `tsinit: ${JSON.stringify(t.stderr)}; attacker (exit ${sameUid.exitCode}): ${JSON.stringify(same)}`,
  });
  writeFileSync(go, '');
  await t.waitFor(/silent/);
  const r = await t.result;
  sameUid.kill();
  otherUid.kill();
  assert.equal(r.code, 134, `the hung service was kept alive: ${r.stderr}`);
  assert.match(r.stderr, /notify socket: refused a message: sender pid \d+ is not a process of the service/);
  assert.match(r.stderr, /watchdog: no heartbeat from service/);
  assert.equal((r.stderr.match(/refused a message/g) ?? []).length, 5, 'reported a few times, then only counted');
  await otherDone;
  assert.match(other, /sd-notify: EACCES/, 'uid 4242 reached the socket');
});

test('the watchdog never kills a service blocked on a full log pipe that the logger does not drain: "blocked by logging"', async () => {
  // The logger never reads (as logd on a full disk); the service beats, then blocks writing its output.
  const service = 'echo beat >&$TSINIT_WATCHDOG_FD; yes log-line | head -c 10000000; echo beat >&$TSINIT_WATCHDOG_FD; exec sleep 1000';
  const t = start(['--watchdog', '500ms', '--pipe-size', '64k', '--grace', '100ms', '--logger', 'exec sleep 1000', '--', 'sh', '-c', service]);
  await t.waitFor(/watchdog: the service may be blocked by logging: the log pipe is full \(65536 bytes unread\): the logger \(pid \d+\) is not reading it/, 'stderr');
  // Past the deadline: reported, not killed.
  await t.waitFor(/watchdog: no heartbeat from service \(pid \d+\) for \d+\.\ds, but it is blocked by logging .*: not killing/, 'stderr');
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 143, r.stderr);
  assert.doesNotMatch(r.stderr, /killing it with/);
  assert.match(r.stderr, /logger exited with \d+ bytes unread: they are lost/);
});

const KILL_LOOP = join(ROOT, 'build/test/helpers/kill-loop.js');

rootTest('--user nobody (needs root): uid nobody signalling tsinit (kill and tgkill, SIGKILL) in a tight loop while the service crash-loops: 0 delivered', async () => {
  const dir = tempDir();
  const starts = join(dir, 'starts');
  // once the test creates it, the next incarnation stays up, so that the final SIGTERM meets a service
  const hold = join(dir, 'hold');
  const up = join(dir, 'up');
  chmodSync(dir, 0o777);
  const t = start(['--user', 'nobody', '--restart', 'always', '--restart-delay', '1ms', '--restart-delay-max', '1ms',
    '--restart-limit', '100000/1m', '--', 'sh', '-c', `echo x >> ${starts}; test -e ${hold} && { echo up > ${up}; exec sleep 1000; }`], { pid1: false });
  const pid = t.tsinitPid(false);
  await until(() => existsSync(starts));
  const attacker = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', KILL_LOOP, String(pid), '3000', '9'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  attacker.stdout!.on('data', (d) => (out += d));
  await new Promise((res) => attacker.on('close', res));
  const spawnsBefore = readFileSync(starts, 'utf8').split('\n').length;
  writeFileSync(hold, '');
  await until('an incarnation that stays up', () => existsSync(up));
  if (t.proc.exitCode === null && t.proc.signalCode === null) process.kill(pid, 'SIGTERM');
  const r = await t.result;
  const m = /kill-loop: tries (\d+) delivered (\d+)/.exec(out);
  assert.ok(m, out);
  const [tries, delivered] = [Number(m[1]), Number(m[2])];
  process.stdout.write(`# attack: ${tries} tries, ${delivered} delivered, ${spawnsBefore} spawns of the service meanwhile\n`);
  assert.equal(delivered, 0, `signals delivered to tsinit: ${delivered} of ${tries}`);
  assert.ok(tries > 1000, `tries ${tries}`);
  assert.ok(spawnsBefore > 2, `the service crash-looped during the attack: ${spawnsBefore} spawns`);
  assert.notEqual(r.signal, 'SIGKILL', 'tsinit was SIGKILLed');
  assert.equal(r.code, 143, r.stderr.slice(-2000));
});

test('few file descriptors: at every ulimit -n, either everything works or one line and 125 before the service runs', async () => {
  const dir = tempDir();
  const outcomes: string[] = [];
  // Below the limit at which this Node can start tsinit at all (it needs about 18 fds of its own on
  // Node 20, more on later versions), nothing of tsinit runs: README, Limitations. From there up,
  // tsinit's own promise holds.
  let floor = 10;
  while (floor < 64 && spawnSync('sh', ['-c', `ulimit -n ${floor}; exec "$@"`, 'sh', TSINIT, '--version'], { env: cleanEnv() }).status !== 0) floor++;
  for (let n = floor; n <= floor + 16; n++) {
    const marker = join(dir, `ran-${n}`);
    const log = join(dir, `log-${n}`);
    const service = `touch ${marker}; echo out; echo err >&2; echo beat >&$TSINIT_WATCHDOG_FD`;
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn('sh', ['-c', `ulimit -n ${n}; exec "$@"`, 'sh', TSINIT, '--log-dir', log, '--grace', '30s', '--watchdog', '5s', '--', 'sh', '-c', service], {
        env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      p.stderr!.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ code, stderr }));
    });
    const ran = existsSync(marker);
    outcomes.push(`${n}:${r.code}`);
    assert.doesNotMatch(r.stderr, /\n\s+at |node:internal/, `ulimit -n ${n}: a stack trace`);
    if (r.code === 0) {
      assert.ok(ran, `ulimit -n ${n}`);
      const lines = readFileSync(join(log, 'current.jsonl'), 'utf8');
      assert.match(lines, /"line":"out"/, `ulimit -n ${n}: stdout reached the log`);
      assert.match(lines, /"line":"err"/, `ulimit -n ${n}: stderr reached the log`);
    } else {
      assert.equal(r.code, 125, `ulimit -n ${n}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `ulimit -n ${n}: ${r.stderr}`);
      assert.match(r.stderr, /^tsinit: .*too few file descriptors \(the limit is \d+, ulimit -n\)/, `ulimit -n ${n}`);
      assert.ok(!ran, `ulimit -n ${n}: the service ran without the fds it was promised`);
    }
  }
  process.stdout.write(`# tsinit --version needs ulimit -n ${floor}; ulimit -n -> exit code: ${outcomes.join(' ')}\n`);
  assert.ok(outcomes.some((o) => o.endsWith(':125')) && outcomes.some((o) => o.endsWith(':0')), outcomes.join(' '));
});
