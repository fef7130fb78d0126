// Black-box tests of what tsinit does with signals, and of what the service receives (its environment,
// argv, working directory, exec errors), checked as users of tini, dumb-init and systemd expect. The
// built bin/tsinit runs as PID 1 of a fresh PID namespace and, where it differs, as a subreaper.
//
// Every test finds its processes by a marker of its own (an argument of the service, so also in
// tsinit's own argv, with the test runner's pid in it), waits with deadlines of its own, says what it saw when a deadline passes, and
// kills whatever carries its marker at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asPid1, cleanEnv, FALLBACKS_FORCED, rootTest, Running, start, tempDir, TSINIT } from '../helpers/harness';

const WAIT_MS = 30_000;
const TEST = { timeout: 180_000 };

// ---- helpers -------------------------------------------------------------------------------------

/** Rejects with what was seen if `p` does not settle within `ms`. */
async function within<T>(what: string, p: Promise<T>, seen: () => string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms; saw: ${seen()}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 5 ms until it returns a value; fails with `seen()` after `ms`. */
async function waitUntil<T>(what: string, check: () => T | null | undefined | false, seen: () => string, ms = WAIT_MS): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; saw: ${seen()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A process's state letter from /proc (R, S, T, Z ...), or 'gone'. */
function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return 'gone';
  }
}

/**
 * The service is stopped: its state is T, or it is in vfork (state D, waiting for a child that has not
 * exec'd yet) and that child, in its group, is stopped: dash forks its commands so, and the parent
 * then never shows T itself.
 */
function stopped(pid: number): boolean {
  const state = stateOf(pid);
  if (state === 'T') return true;
  if (state !== 'D') return false;
  const kids = readdirSync(`/proc/${pid}/task`).flatMap((t) =>
    readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean));
  return kids.length > 0 && kids.every((k) => stateOf(Number(k)) === 'T');
}

function sigCaught(pid: number, sig: number): boolean {
  try {
    const m = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(sig - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** pids of live processes whose argv contains `marker`. */
function marked(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').includes(marker)) continue;
      if (!['Z', 'gone'].includes(stateOf(Number(name)))) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function killMarked(marker: string): void {
  for (const pid of marked(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * A shell service marked with `marker` ($0): prints "got NAME" for every signal in `traps` (names or
 * numbers), exits with `code` on `exitOn`, prints "ready <pid>" once its traps are set.
 */
function service(marker: string, traps: string[], exitOn: string, code: number, before = ''): string[] {
  const lines = [before, ...traps.map((s) => `trap 'echo got ${s}' ${s}`), `trap 'echo got ${exitOn}; exit ${code}' ${exitOn}`];
  lines.push('echo "ready $$"', 'while :; do sleep 0.05; done');
  return ['sh', '-c', lines.join('\n'), marker];
}

interface Run {
  t: Running;
  pid: number;
  service: number;
  seen: () => string;
  send: (sig: NodeJS.Signals | number) => void;
  saw: (pattern: RegExp, stream?: 'stdout' | 'stderr') => Promise<unknown>;
}

/** The pid, as seen from here, of tsinit's child whose pid is `nsPid` in tsinit's namespace. */
function hostPid(tsinit: number, nsPid: number): number {
  for (const task of readdirSync(`/proc/${tsinit}/task`)) {
    for (const kid of readFileSync(`/proc/${tsinit}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean)) {
      const m = /NSpid:([\s\d]+)/.exec(readFileSync(`/proc/${kid}/status`, 'utf8'));
      if (m && Number(m[1].trim().split(/\s+/).pop()) === nsPid) return Number(kid);
    }
  }
  throw new Error(`no child of ${tsinit} is pid ${nsPid} in its namespace`);
}

/** Starts tsinit with `args`, waits for the service's "ready <pid>". */
async function begin(args: string[], pid1: boolean, env: Record<string, string> = {}): Promise<Run> {
  const t = start(args, { pid1, env });
  const seen = () => `exit=${t.proc.exitCode} stdout=${JSON.stringify(t.stdout)} stderr=${JSON.stringify(t.stderr)}`;
  const m = await within('the service says ready', t.waitFor(/ready (\d+)/), seen);
  const pid = t.tsinitPid(pid1);
  return {
    t,
    pid,
    service: pid1 ? hostPid(pid, Number(m[1])) : Number(m[1]),
    seen,
    send: (sig) => process.kill(pid, sig),
    saw: (pattern, stream = 'stdout') => within(`${stream} shows ${pattern}`, t.waitFor(pattern, stream), seen),
  };
}

async function exitOf(r: Run): Promise<number | null> {
  return (await within('tsinit exits', r.t.result, r.seen)).code;
}

const MODES = [true, false];
const where = (pid1: boolean) => (pid1 ? 'as PID 1' : 'as a subreaper');

// ---- 1. stop signals: TERM and INT only; QUIT is forwarded -----------------------------------------

for (const pid1 of MODES) {
  test(`QUIT is forwarded, not a stop: the service keeps running and a later TERM stops it gracefully (${where(pid1)})`, TEST, async () => {
    const mark = `quit-forwarded-${pid1}-${process.pid}`;
    try {
      const r = await begin(['--', ...service(mark, ['QUIT'], 'TERM', 5)], pid1);
      r.send('SIGQUIT');
      await r.saw(/got QUIT\n/);
      // Were QUIT a stop, this TERM would be a second stop signal and SIGKILL the service (137).
      r.send('SIGTERM');
      assert.equal(await exitOf(r), 5, r.seen());
      assert.match(r.t.stdout, /got QUIT\ngot TERM\n/);
    } finally {
      killMarked(mark);
    }
  });
}

test('during a stop, QUIT and USR1 are forwarded; only a second stop signal escalates (as PID 1)', TEST, async () => {
  const mark = `quit-during-stop-${process.pid}`;
  try {
    const r = await begin(['-v', '--kill-after', '1h', '--', ...service(mark, ['TERM', 'QUIT', 'USR1'], 'HUP', 6)], true);
    r.send('SIGTERM');
    await r.saw(/got TERM\n/);
    r.send('SIGQUIT');
    await r.saw(/got QUIT\n/);
    r.send('SIGUSR1');
    await r.saw(/got USR1\n/);
    r.send('SIGHUP');
    assert.equal(await exitOf(r), 6, r.seen());
    assert.doesNotMatch(r.t.stderr, /SIGKILL/);
  } finally {
    killMarked(mark);
  }
  const mark2 = `second-stop-escalates-${process.pid}`;
  try {
    const r = await begin(['-v', '--kill-after', '1h', '--', ...service(mark2, ['TERM', 'INT'], 'HUP', 6)], true);
    r.send('SIGTERM');
    await r.saw(/got TERM\n/);
    r.send('SIGINT');
    assert.equal(await exitOf(r), 137, r.seen());
    assert.match(r.t.stderr, /second SIGINT during the stop; sending SIGKILL/);
  } finally {
    killMarked(mark2);
  }
});

test('--stop-signals QUIT,TERM (and TSINIT_STOP_SIGNALS): QUIT starts the stop, a second QUIT escalates', TEST, async () => {
  for (const [args, env] of [[['--stop-signals', 'QUIT,TERM'], {}], [[], { TSINIT_STOP_SIGNALS: 'QUIT, TERM' }]] as const) {
    const mark = `stop-signals-${args.length}-${process.pid}`;
    try {
      const r = await begin(['-v', '--kill-after', '1h', ...args, '--', ...service(mark, ['QUIT'], 'HUP', 6)], true, env);
      r.send('SIGQUIT');
      await r.saw(/stopping service .*received SIGQUIT; sending SIGQUIT/, 'stderr');
      await r.saw(/got QUIT\n/);
      r.send('SIGQUIT');
      assert.equal(await exitOf(r), 137, r.seen());
    } finally {
      killMarked(mark);
    }
  }
});

// ---- 2. the rewrite applies first; none drops any signal ---------------------------------------

test('--rewrite TERM:none, INT:none, QUIT:none drop the signal: no stop, nothing sent (as PID 1)', TEST, async () => {
  const mark = `rewrite-none-${process.pid}`;
  try {
    const r = await begin(
      ['-v', '-r', 'TERM:none', '-r', 'INT:none', '--rewrite', 'QUIT:none', '--', ...service(mark, ['TERM', 'INT', 'QUIT'], 'USR1', 4)],
      true,
    );
    for (const sig of ['TERM', 'INT', 'QUIT']) {
      r.send(`SIG${sig}` as NodeJS.Signals);
      await r.saw(new RegExp(`dropped SIG${sig} \\(rewritten to none\\)`), 'stderr');
    }
    r.send('SIGUSR1');
    assert.equal(await exitOf(r), 4, r.seen());
    assert.doesNotMatch(r.t.stdout, /got (TERM|INT|QUIT)/);
    assert.doesNotMatch(r.t.stderr, /stopping/);
  } finally {
    killMarked(mark);
  }
});

test('the stop is decided on the rewritten signal: HUP:TERM stops, TERM:USR2 only forwards (as PID 1)', TEST, async () => {
  const mark = `rewrite-then-decide-${process.pid}`;
  try {
    const r = await begin(['-v', '--kill-after', '1h', '-r', 'HUP:TERM', '--', ...service(mark, [], 'TERM', 5)], true);
    r.send('SIGHUP');
    await r.saw(/stopping service .*received SIGHUP; sending SIGTERM/, 'stderr');
    assert.equal(await exitOf(r), 5, r.seen());
  } finally {
    killMarked(mark);
  }
  const mark2 = `rewrite-term-usr2-${process.pid}`;
  try {
    const r = await begin(['-v', '--kill-after', '1h', '-r', 'TERM:USR2', '--', ...service(mark2, ['USR2'], 'HUP', 6)], true);
    r.send('SIGTERM');
    await r.saw(/got USR2\n/);
    r.send('SIGHUP');
    assert.equal(await exitOf(r), 6, r.seen());
    assert.doesNotMatch(r.t.stderr, /stopping/);
  } finally {
    killMarked(mark2);
  }
});

// ---- 3. a rewrite tsinit can never apply is a usage error -----------------------------------------

test('--rewrite refuses a FROM tsinit cannot catch and a number that is no signal here: 125, one line', TEST, async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['-r', '1:32'], {}, /32/],
    [['-r', '32:TERM'], {}, /32/],
    [['-r', '33:TERM'], {}, /33/],
    [['-r', 'KILL:TERM'], {}, /SIGKILL|KILL/],
    [['-r', 'STOP:TERM'], {}, /SIGSTOP|STOP/],
    [['-r', 'CHLD:TERM'], {}, /SIGCHLD|CHLD/],
    [['-r', '65:TERM'], {}, /65/],
    [['-r', '0:TERM'], {}, /'0'|0/],
    [['-r', 'TERM:99'], {}, /99/],
    [[], { TSINIT_REWRITE: 'HUP:TERM,1:32' }, /TSINIT_REWRITE.*32/],
  ];
  for (const [args, env, pattern] of cases) {
    const t = start([...args, '--', 'sh', '-c', 'exit 0', 'rewrite-usage'], { env });
    const r = await within(`tsinit ${args.join(' ')}`, t.result, () => t.stderr);
    assert.equal(r.code, 125, `${args.join(' ')} ${JSON.stringify(env)}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, /^tsinit: [^\n]*\n$/, 'exactly one line');
    assert.match(r.stderr, pattern);
  }
  // a real-time signal above glibc's and musl's own is a valid FROM
  const ok = start(['-r', '40:TERM', '--', 'sh', '-c', 'exit 3', 'rewrite-usage']);
  assert.equal((await within('tsinit -r 40:TERM', ok.result, () => ok.stderr)).code, 3, ok.stderr);
});

// ---- 4. every catchable signal is listened to: SEGV & co. sent with kill, real-time signals ----

// Real-time signals are listened to through Node's signal binding, which Node 24 no longer offers to
// JavaScript: there they keep their default action (README, Limitations), and only the named ones
// are sent here.
const REALTIME_LISTENED = (() => {
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    (process as unknown as { binding(name: string): unknown }).binding('signal_wrap');
    return true;
  } catch {
    return false;
  } finally {
    process.noDeprecation = quiet;
  }
})();
const FAULTS_AND_REALTIME: Array<string | number> = ['SEGV', 'ILL', 'BUS', 'FPE', ...(REALTIME_LISTENED ? [40, 64] : [])];

for (const pid1 of MODES) {
  test(`SEGV, ILL, BUS, FPE and real-time signals sent with kill are forwarded; tsinit survives (${where(pid1)})`, TEST, async () => {
    const mark = `fault-signals-${pid1}-${process.pid}`;
    try {
      const r = await begin(['--signal-main-only', '--', ...service(mark, FAULTS_AND_REALTIME.map(String), 'USR1', 7)], pid1);
      for (const sig of FAULTS_AND_REALTIME) {
        r.send(typeof sig === 'number' ? sig : (`SIG${sig}` as NodeJS.Signals));
        await r.saw(new RegExp(`got ${sig}\n`));
      }
      r.send('SIGUSR1');
      assert.equal(await exitOf(r), 7, r.seen());
      assert.deepEqual(marked(mark), [], 'nothing of the run is left');
    } finally {
      killMarked(mark);
    }
  });
}

// ---- 5. job control stops the job ------------------------------------------------------------

test('TSTP stops a service that catches it and, outside PID 1, tsinit itself; CONT resumes both', TEST, async () => {
  const mark = `tstp-subreaper-${process.pid}`;
  try {
    const r = await begin(['--', ...service(mark, ['TSTP', 'TTIN', 'TTOU'], 'USR1', 0)], false);
    r.send('SIGTSTP');
    const states = () => `service ${stateOf(r.service)}, tsinit ${stateOf(r.pid)}; ${r.seen()}`;
    await waitUntil('the service is stopped', () => stopped(r.service), states);
    await waitUntil('tsinit is stopped', () => stateOf(r.pid) === 'T', states);
    r.send('SIGCONT');
    await waitUntil('the service runs again', () => !['T', 'gone'].includes(stateOf(r.service)), states);
    r.send('SIGUSR1');
    assert.equal(await exitOf(r), 0, r.seen());
  } finally {
    killMarked(mark);
  }
});

test('as PID 1, TSTP stops the service group (SIGSTOP for a service that catches it), not tsinit', TEST, async () => {
  const mark = `tstp-pid1-${process.pid}`;
  try {
    const r = await begin(['--', ...service(mark, ['TSTP'], 'USR1', 0)], true);
    r.send('SIGTSTP');
    const states = () => `service ${stateOf(r.service)}, tsinit ${stateOf(r.pid)}; ${r.seen()}`;
    await waitUntil('the service is stopped', () => stopped(r.service), states);
    assert.notEqual(stateOf(r.pid), 'T', states());
    r.send('SIGCONT');
    await waitUntil('the service runs again', () => !['T', 'gone'].includes(stateOf(r.service)), states);
    r.send('SIGUSR1');
    assert.equal(await exitOf(r), 0, r.seen());
  } finally {
    killMarked(mark);
  }
});

for (const pid1 of MODES) {
  test(`without a terminal, TTIN and TTOU stop the service group and never tsinit (${where(pid1)})`, TEST, async () => {
    const mark = `ttin-ttou-${pid1}-${process.pid}`;
    try {
      const r = await begin(['--', ...service(mark, ['TTIN', 'TTOU'], 'USR1', 0)], pid1);
      const states = () => `service ${stateOf(r.service)}, tsinit ${stateOf(r.pid)}; ${r.seen()}`;
      for (const sig of ['SIGTTIN', 'SIGTTOU'] as const) {
        r.send(sig);
        await waitUntil(`the service is stopped by ${sig}`, () => stopped(r.service), states);
        assert.notEqual(stateOf(r.pid), 'T', `tsinit stopped by ${sig}: ${states()}`);
        r.send('SIGCONT');
        await waitUntil('the service runs again', () => !['T', 'gone'].includes(stateOf(r.service)), states);
      }
      r.send('SIGUSR1');
      assert.equal(await exitOf(r), 0, r.seen());
    } finally {
      killMarked(mark);
    }
  });
}

// ---- 6. tsinit sits in /, the service, logger and probes start where tsinit was started ---------

/** Starts bin/tsinit (as PID 1 or not) in `cwd`. */
function startIn(cwd: string, args: string[], pid1: boolean, env: Record<string, string> = {}): Running {
  const argv = pid1 ? asPid1([TSINIT, ...args]) : [TSINIT, ...args];
  const proc = spawn(argv[0], argv.slice(1), { cwd, env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdin!.end();
  return new Running(proc);
}

for (const pid1 of MODES) {
  test(`tsinit's own cwd is /; the service, the logger and probes start where tsinit was started (${where(pid1)})`, TEST, async () => {
    const mark = `cwd-${pid1}-${process.pid}`;
    const dir = tempDir();
    try {
      const t = startIn(
        dir,
        [
          '--logger', `pwd -P > logger-cwd; exec cat > /dev/null`,
          '--health-cmd', 'pwd -P > probe-cwd', '--health-interval', '50ms',
          '--', 'sh', '-c', `pwd -P > service-cwd; trap 'exit 0' USR1; while :; do sleep 0.05; done`, mark,
        ],
        pid1,
      );
      const seen = () => `files ${readdirSync(dir).join(',')}; stderr ${JSON.stringify(t.stderr)}`;
      for (const f of ['service-cwd', 'logger-cwd', 'probe-cwd']) {
        await waitUntil(`${f} is written`, () => existsSync(join(dir, f)) && readFileSync(join(dir, f), 'utf8').endsWith('\n'), seen);
        assert.equal(readFileSync(join(dir, f), 'utf8'), `${dir}\n`, f);
      }
      const pid = t.tsinitPid(pid1);
      // Without posix_spawn_file_actions_addchdir_np (forced here, or glibc 2.28) tsinit stays where
      // it was started, so that its children start there too (README, Where it runs). Both are read
      // against tsinit's root, which a test run inside a chroot sees by its full path.
      const root = readlinkSync(`/proc/${pid}/root`);
      assert.equal(readlinkSync(`/proc/${pid}/cwd`), FALLBACKS_FORCED ? join(root, dir) : root, "tsinit's own working directory");
      process.kill(pid, 'SIGUSR1');
      assert.equal((await within('tsinit exits', t.result, seen)).code, 0, t.stderr);
    } finally {
      killMarked(mark);
    }
  });
}

// ---- 7. --user sets HOME, USER, LOGNAME ---------------------------------------------------------

rootTest('--user (needs root) sets HOME, USER and LOGNAME from the passwd entry; a uid without one gets HOME=/', TEST, async () => {
  const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':');
  const show = ['sh', '-c', 'echo "HOME=${HOME-unset} USER=${USER-unset} LOGNAME=${LOGNAME-unset}"', 'user-env'];
  const env = { HOME: '/root', USER: 'root', LOGNAME: 'root' };
  for (const spec of ['nobody', nobody[2], `nobody:${nobody[3]}`]) {
    const t = start(['--user', spec, '--', ...show], { env });
    const r = await within(`--user ${spec}`, t.result, () => t.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `HOME=${nobody[5]} USER=nobody LOGNAME=nobody\n`, `--user ${spec}`);
  }
  const t = start(['--user', '54321', '--', ...show], { env });
  const r = await within('--user 54321', t.result, () => t.stderr);
  assert.equal(r.stdout, 'HOME=/ USER=unset LOGNAME=unset\n', 'a uid that has no passwd entry');
});

// ---- 8. the service's environment --------------------------------------------------------------

test('the service gets no TSINIT_* variable, only what options give it, and NODE_OPTIONS unchanged', TEST, async () => {
  const show = ['sh', '-c', 'env | grep "^TSINIT_" | sed "s/=.*//" | sort; echo "NODE_OPTIONS=${NODE_OPTIONS-unset}"', 'service-env'];
  const env = { TSINIT_KILL_AFTER: '3s', TSINIT_VERBOSE: '0', TSINIT_GRACE: '1s', NODE_OPTIONS: '--max-old-space-size=99  --no-warnings' };
  for (const pid1 of MODES) {
    let t = start(['--', ...show], { pid1, env });
    let r = await within('tsinit', t.result, () => t.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'NODE_OPTIONS=--max-old-space-size=99  --no-warnings\n', where(pid1));
    // an option that gives the service a variable of its own
    t = start(['--watchdog', '1h', '--', ...show], { pid1, env });
    r = await within('tsinit --watchdog', t.result, () => t.stderr);
    assert.equal(r.stdout, 'TSINIT_WATCHDOG_FD\nNODE_OPTIONS=--max-old-space-size=99  --no-warnings\n', where(pid1));
  }
  // unset stays unset, empty stays empty
  let t = start(['--', ...show], { env: {} });
  assert.equal((await within('tsinit', t.result, () => t.stderr)).stdout, 'NODE_OPTIONS=unset\n');
  t = start(['--', ...show], { env: { NODE_OPTIONS: '' } });
  assert.equal((await within('tsinit', t.result, () => t.stderr)).stdout, 'NODE_OPTIONS=\n');
});

test('a tsinit inside the job takes none of the outer one\'s TSINIT_* options', TEST, async () => {
  const dir = tempDir();
  const t = start(['--', TSINIT, '--', 'sh', '-c', 'echo inner ran', 'nested-env'], { env: { TSINIT_LOG_DIR: join(dir, 'logs') } });
  const r = await within('nested tsinit', t.result, () => t.stderr);
  assert.equal(r.code, 0, r.stderr);
  // Only the outer tsinit's logd wrote the log (two writers in one directory make it inconsistent).
  const check = start(['logcheck', join(dir, 'logs')], { pid1: false });
  const c = await within('tsinit logcheck', check.result, () => check.stderr);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /1 runs?\b/);
});

// ---- 9. argv and environment bytes unchanged ------------------------------------------------------

for (const pid1 of MODES) {
  test(`non-UTF-8 bytes in the service's argv and environment arrive unchanged (${where(pid1)})`, TEST, async () => {
    const dir = tempDir();
    const svc = join(dir, 'svc.sh');
    writeFileSync(svc, 'printf %s "$2" | od -An -v -tx1\nprintf %s "$V" | od -An -v -tx1\n');
    // A launcher, because Node passes arguments to a child as UTF-8 strings only.
    const launch = join(dir, 'launch.sh');
    writeFileSync(launch, `A=$(printf '\\377\\376a\\303\\251\\200'); V=$(printf '\\377x\\200'); export V; exec "$@" "$A"\n`);
    const tsinit = pid1 ? asPid1([TSINIT]) : [TSINIT];
    const proc = spawn('sh', [launch, ...tsinit, '--', 'sh', svc, 'bytes-unchanged'], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stdin!.end();
    const t = new Running(proc);
    const r = await within('tsinit', t.result, () => t.stderr);
    assert.equal(r.code, 0, r.stderr);
    const [arg, value] = r.stdout.trim().split('\n').map((l) => l.trim());
    assert.equal(arg, 'ff fe 61 c3 a9 80', 'argument bytes');
    assert.equal(value, 'ff 78 80', 'environment value bytes');
  });
}

// ---- 10. exec errors -----------------------------------------------------------------------------

test('exec errors: a binary for another machine is 126 "exec format error", a CR in #! is named', TEST, async () => {
  const dir = tempDir();
  const foreign = join(dir, 'foreign');
  const elf = readFileSync('/bin/true');
  elf.writeUInt16LE(0, 18); // e_machine EM_NONE: no kernel (and no binfmt_misc emulator) runs it
  writeFileSync(foreign, elf);
  chmodSync(foreign, 0o755);
  let t = start(['--', foreign, 'exec-errors']);
  let r = await within('foreign binary', t.result, () => t.stderr);
  assert.equal(r.code, 126, r.stderr);
  assert.equal(r.stderr, `tsinit: cannot run ${foreign}: exec format error\n`);

  const data = join(dir, 'data');
  writeFileSync(data, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x0a, 0x65, 0x78, 0x69, 0x74, 0x20, 0x33, 0x0a]));
  chmodSync(data, 0o755);
  t = start(['--', data, 'exec-errors']);
  r = await within('binary data', t.result, () => t.stderr);
  assert.equal(r.code, 126, r.stderr);
  assert.match(r.stderr, /exec format error/);

  const crlf = join(dir, 'crlf.sh');
  writeFileSync(crlf, '#!/bin/sh\r\necho hi\r\n');
  chmodSync(crlf, 0o755);
  t = start(['--', crlf, 'exec-errors']);
  r = await within('CRLF script', t.result, () => t.stderr);
  assert.equal(r.code, 127, r.stderr);
  assert.match(r.stderr, /^tsinit: cannot run [^\n]*crlf\.sh: bad interpreter \/bin\/sh\\r: [^\n]*carriage return[^\n]*\n$/);
});

// ---- 11. durations ----------------------------------------------------------------------------

test('durations: the longest a timer can wait works, beyond it is a usage error; --timeout 0 is no limit', TEST, async () => {
  for (const [args, env] of [
    [['--timeout', '2147483.647'], {}],
    [['--timeout', '0'], {}],
    [[], { TSINIT_TIMEOUT: '0' }],
    [['--kill-after', '2147483647ms'], {}],
  ] as const) {
    const mark = `durations-${args.join('-') || 'env'}-${process.pid}`;
    try {
      const r = await begin(['-v', ...args, '--', ...service(mark, ['TERM'], 'USR1', 0)], true, env);
      r.send('SIGTERM');
      await r.saw(/got TERM\n/);
      r.send('SIGUSR1');
      assert.equal(await exitOf(r), 0, `${args.join(' ')} ${JSON.stringify(env)}: ${r.seen()}`);
      assert.doesNotMatch(r.t.stderr, /tsinit: timeout|SIGKILL/);
    } finally {
      killMarked(mark);
    }
  }
  for (const args of [['--timeout', '2147483.648'], ['--kill-after', '25d'], ['--grace', '2147483648ms']]) {
    const t = start([...args, '--', 'sh', '-c', 'exit 0', 'durations-usage']);
    const r = await within(args.join(' '), t.result, () => t.stderr);
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^tsinit: [^\n]*too long[^\n]*\n$/);
  }
});

// ---- 12. start: signals during tsinit's start, SIGUSR1, NODE_OPTIONS ------------------------------

/** The pid of unshare's child (tsinit) as soon as it exists. */
function childOf(pid: number): number | null {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(' ')[0]) : null;
  } catch {
    return null;
  }
}

test('SIGUSR1 during the start never opens the inspector (as PID 1)', TEST, async () => {
  const mark = `usr1-at-start-${process.pid}`;
  try {
    const t = start(['--', 'sh', '-c', 'trap "" USR1; echo "ready $$"; while :; do sleep 0.05; done', mark]);
    const seen = () => `stderr ${JSON.stringify(t.stderr)}`;
    const pid = await waitUntil('tsinit exists', () => childOf(t.proc.pid!), seen);
    // One every millisecond until tsinit listens (its SIGHUP handler is its own, Node has none), at
    // most 200: an endless flood keeps Node's inspector thread retrying and Node from starting at all.
    let before = 0;
    while (!sigCaught(pid, 1) && !['gone', 'Z'].includes(stateOf(pid)) && before < 200) {
      try {
        process.kill(pid, 'SIGUSR1');
        before++;
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(before > 0, 'at least one SIGUSR1 was sent before tsinit listened');
    await within('the service says ready', t.waitFor(/ready \d+/), seen);
    process.kill(pid, 'SIGTERM');
    await within('tsinit exits', t.result, seen);
    assert.doesNotMatch(t.stderr, /Debugger listening/);
  } finally {
    killMarked(mark);
  }
});

test('NODE_OPTIONS never applies to tsinit itself and reaches a Node service unchanged', TEST, async () => {
  const dir = tempDir();
  const preload = join(dir, 'preload.js');
  const record = join(dir, 'required');
  writeFileSync(preload, `require('fs').appendFileSync(${JSON.stringify(record)}, process.argv.slice(1).join(' ') + '\\n');\n`);
  const env = { NODE_OPTIONS: `--require ${preload}` };
  for (const pid1 of MODES) {
    writeFileSync(record, '');
    const t = start(['--', process.execPath, '-e', 'console.log(process.env.NODE_OPTIONS)', 'node-options-service'], { pid1, env });
    const r = await within('tsinit', t.result, () => t.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `--require ${preload}\n`);
    assert.equal(readFileSync(record, 'utf8'), 'node-options-service\n', `only the service ran the preload (${where(pid1)})`);
  }
});

test('a SIGTERM sent the moment tsinit listens, before the service exists, stops the run (as PID 1)', TEST, async () => {
  const mark = `term-at-start-${process.pid}`;
  try {
    const t = start(['--', 'sh', '-c', 'trap "exit 5" TERM; echo "ready $$"; while :; do sleep 0.05; done', mark]);
    const seen = () => `stdout ${JSON.stringify(t.stdout)} stderr ${JSON.stringify(t.stderr)}`;
    const pid = await waitUntil('tsinit exists', () => childOf(t.proc.pid!), seen);
    // SIGSYS is the last signal bin/tsinit listens to, in one go (Node itself catches only INT, TERM,
    // USR1 and SEGV at start, and would drop a SIGTERM as PID 1).
    await waitUntil('tsinit listens to signals', () => sigCaught(pid, 31) || stateOf(pid) === 'gone', seen);
    process.kill(pid, 'SIGTERM');
    const r = await within('tsinit exits', t.result, seen);
    assert.ok(r.code === 143 || r.code === 5, `stopped by the early SIGTERM: ${seen()}`);
  } finally {
    killMarked(mark);
  }
});
