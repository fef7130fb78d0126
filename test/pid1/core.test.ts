// Black-box tests of the core init: the built bin/tsinit as PID 1 of a fresh PID namespace (and as a
// subreaper outside one), checked the way a user would: exit codes, output, processes left in /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, HELPERS, pid1Test, rootTest, run, start, tempDir, TSINIT, until } from '../helpers/harness';

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ABRT: 6, KILL: 9, USR1: 10, SEGV: 11, TERM: 15 };

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

pid1Test('exit code passes through for every code 0..255', async () => {
  const codes = Array.from({ length: 256 }, (_, i) => i);
  const wrong: string[] = [];
  await inBatches(codes, 8, async (code) => {
    const r = await run(['--', 'sh', '-c', `exit ${code}`]);
    if (r.code !== code) wrong.push(`${code} -> ${r.code} (${r.stderr.trim()})`);
  });
  assert.deepEqual(wrong, []);
});

pid1Test('a service killed by signal N gives 128+N', async () => {
  for (const name of ['TERM', 'KILL', 'HUP', 'QUIT', 'USR1', 'SEGV', 'ABRT']) {
    const r = await run(['--', 'sh', '-c', `kill -${name} $$`]);
    assert.equal(r.code, 128 + SIGNALS[name], `${name}: ${r.stderr}`);
  }
});

pid1Test('the first non-option argument starts the command, without --', async () => {
  const r = await run(['sh', '-c', 'exit 3']);
  assert.equal(r.code, 3);
});

pid1Test('command not found: 127 with one clear line', async () => {
  const r = await run(['--', 'no-such-command-xyz']);
  assert.equal(r.code, 127);
  assert.equal(r.stderr, 'tsinit: cannot run no-such-command-xyz: command not found\n');
});

pid1Test('not executable: 126; a directory: 126; a bad shebang: 127', async () => {
  const dir = tempDir();
  const plain = join(dir, 'plain');
  writeFileSync(plain, 'echo hi\n');
  chmodSync(plain, 0o644);
  let r = await run(['--', plain]);
  assert.equal(r.code, 126);
  assert.match(r.stderr, /^tsinit: cannot run .*plain: permission denied\n$/);

  r = await run(['--', dir]);
  assert.equal(r.code, 126);
  assert.match(r.stderr, /is a directory/);

  const bad = join(dir, 'bad');
  writeFileSync(bad, '#!/no/such/interpreter\necho hi\n');
  chmodSync(bad, 0o755);
  r = await run(['--', bad]);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /^tsinit: cannot run .*bad: bad interpreter \/no\/such\/interpreter: no such file or directory\n$/);

  // A script without a #! line runs with /bin/sh, as execvp(3) does.
  const noShebang = join(dir, 'noshebang');
  writeFileSync(noShebang, 'exit 7\n');
  chmodSync(noShebang, 0o755);
  r = await run(['--', noShebang]);
  assert.equal(r.code, 7);
});

pid1Test('usage errors: one line, exit 125, never a stack trace', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--bogus', 'true'], {}, /unknown option '--bogus'/],
    [[], {}, /missing command/],
    [['--kill-after', 'soon', 'true'], {}, /invalid duration 'soon'/],
    [['--rewrite', 'TERM:NOPE', 'true'], {}, /unknown signal 'NOPE'/],
    [['--remap-exit', '256', 'true'], {}, /exit code 256 is out of range/],
    [['--user', 'no-such-user-xyz', 'true'], {}, /unknown user 'no-such-user-xyz'/],
    [['true'], { TSINIT_VERBOSE: 'maybe' }, /TSINIT_VERBOSE: invalid boolean 'maybe'/],
    [['true'], { TSINIT_KILL_AFTER: 'x' }, /TSINIT_KILL_AFTER: invalid duration/],
    [['true'], { TSINIT_NO_SUCH_OPTION: '1' }, /unknown environment variable TSINIT_NO_SUCH_OPTION/],
  ];
  for (const [args, env, pattern] of cases) {
    const r = await run(args, { env });
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.match(r.stderr, /^tsinit: [^\n]*\(see tsinit --help\)\n$/, 'exactly one line');
  }
});

test('--help documents every option with its environment twin; --version prints the version', async () => {
  const help = await run(['--help'], { pid1: false });
  assert.equal(help.code, 0);
  for (const twin of ['TSINIT_KILL_AFTER', 'TSINIT_REWRITE', 'TSINIT_REMAP_EXIT', 'TSINIT_NO_SUBREAPER', 'TSINIT_USER']) {
    assert.ok(help.stdout.includes(twin), twin);
  }
  const version = await run(['--version'], { pid1: false });
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

pid1Test('status theft: 20 runs of 2,000 orphans exiting as the service exits 42 all give 42', async () => {
  const codes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await run(['--', join(HELPERS, 'orphans.sh'), '2000', '42', tempDir()]);
    assert.match(r.stdout, /orphans ready/);
    codes.push(r.code!);
  }
  assert.deepEqual(codes, Array(20).fill(42));
});

pid1Test('5,000 orphans exiting at once while the service runs: all reaped, counted, no zombie left', async () => {
  const r = await run(['-v', '--', join(HELPERS, 'orphans.sh'), '5000', '0', tempDir(), 'keep']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /orphans released\nno zombies\n/);
  // the 5,000 cats (the shell that started them is the service's own child)
  assert.match(r.stderr, /reaped 5000 orphan\(s\)/);
});

pid1Test('every forwarded signal reaches the service', async () => {
  const names = ['HUP', 'TRAP', 'ABRT', 'USR1', 'USR2', 'ALRM', 'STKFLT', 'CONT', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];
  const t = start(['--', join(HELPERS, 'signals.sh')]);
  await t.waitFor(/ready/);
  const pid = t.tsinitPid(true);
  for (const name of names) {
    process.kill(pid, `SIG${name}` as NodeJS.Signals);
    await t.waitFor(new RegExp(`got ${name}\n`));
  }
  process.kill(pid, 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 0);
  assert.match(r.stdout, /got TERM\n/);
});

/** A service whose child (a grandchild of tsinit) reports the signals it gets into a file. */
function grandchildService(out: string): string[] {
  return ['sh', '-c', `OUT=${out} ${join(HELPERS, 'signals.sh')} > ${out}.ready & echo started; wait`];
}

pid1Test('signals go to the whole process group by default, to the main process with --signal-main-only', async () => {
  for (const mainOnly of [false, true]) {
    const out = join(tempDir(), 'got');
    const t = start([...(mainOnly ? ['--signal-main-only'] : []), '--kill-after', '200ms', '--', ...grandchildService(out)]);
    await t.waitFor(/started/);
    // The grandchild's traps are in place once it says so.
    await until('the grandchild to say its traps are set', () => readGot(`${out}.ready`)!.startsWith('ready'),
      { saw: () => readGot(`${out}.ready`) });
    process.kill(t.tsinitPid(true), 'SIGUSR2');
    if (!mainOnly) await until('the grandchild to get USR2', () => readGot(out)!.includes('got USR2'), { saw: () => readGot(out) });
    process.kill(t.tsinitPid(true), 'SIGTERM');
    const r = await t.result;
    assert.ok(r.code !== null);
    const got = readGot(out) ?? '';
    assert.equal(got.includes('got USR2'), !mainOnly, `mainOnly=${mainOnly}: ${got}`);
  }
});

function readGot(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

pid1Test('--rewrite changes a signal and drops one rewritten to none', async () => {
  const t = start(['-r', 'USR1:USR2', '--rewrite', 'HUP:none', '--', join(HELPERS, 'signals.sh')]);
  await t.waitFor(/ready/);
  const pid = t.tsinitPid(true);
  process.kill(pid, 'SIGHUP');
  process.kill(pid, 'SIGUSR1');
  await t.waitFor(/got USR2\n/);
  process.kill(pid, 'SIGTERM');
  const r = await t.result;
  assert.doesNotMatch(r.stdout, /got HUP|got USR1/);
});

pid1Test('TERM can be rewritten to the signal a service stops on (QUIT for nginx)', async () => {
  const t = start(['--rewrite', 'TERM:QUIT', '--', 'sh', '-c', 'trap "exit 9" QUIT; echo ready; while :; do sleep 0.05; done']);
  await t.waitFor(/ready/);
  process.kill(t.tsinitPid(true), 'SIGTERM');
  assert.equal((await t.result).code, 9);
});

pid1Test('a service that ignores SIGTERM is killed after --kill-after: exit 137', async () => {
  const t = start(['-v', '--kill-after', '300ms', '--', 'sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done']);
  await t.waitFor(/ready/);
  process.kill(t.tsinitPid(true), 'SIGTERM');
  const r = await t.result;
  assert.equal(r.code, 137);
  assert.match(r.stderr, /stopping service .* received SIGTERM; sending SIGTERM/);
  assert.match(r.stderr, /still running 300ms after the stop signal; sending SIGKILL/);
});

pid1Test('a second SIGINT during the stop kills at once (double Ctrl-C)', async () => {
  const t = start(['-v', '--kill-after', '1h', '--', 'sh', '-c', 'trap "" INT TERM; echo ready; while :; do sleep 0.05; done']);
  await t.waitFor(/ready/);
  const pid = t.tsinitPid(true);
  process.kill(pid, 'SIGINT');
  await t.waitFor(/stopping service/, 'stderr');
  process.kill(pid, 'SIGINT');
  const r = await t.result;
  assert.equal(r.code, 137);
  assert.match(r.stderr, /second SIGINT during the stop; sending SIGKILL/);
});

pid1Test('a background child left behind gets SIGTERM and is reaped before tsinit exits', async () => {
  const out = join(tempDir(), 'left');
  const script = `sh -c 'trap "echo term > ${out}; exit 0" TERM; while :; do sleep 0.05; done' & sleep 0.2; exit 5`;
  const r = await run(['-v', '--', 'sh', '-c', script]);
  assert.equal(r.code, 5);
  assert.equal(readFileSync(out, 'utf8'), 'term\n');
});

pid1Test('stdin passes through to the service', async () => {
  const r = await run(['--', 'sh'], { input: 'exit 3\n' });
  assert.equal(r.code, 3);
});

pid1Test('the service sees only fds 0, 1, 2, in its own process group', async () => {
  // Field 5 of /proc/PID/stat is the process group.
  const r = await run(['--', 'sh', '-c', 'ls /proc/$$/fd; cut -d" " -f5 /proc/$$/stat; echo pid $$']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  // ls opens the directory itself as fd 3 in its own process, not in the shell
  assert.deepEqual(lines.slice(0, 3), ['0', '1', '2']);
  const pid = lines.find((l) => l.startsWith('pid '))!.slice(4);
  assert.equal(lines[lines.length - 2].trim(), pid, 'pgid equals pid');
});

test('an fd tsinit inherited never reaches the service, even one above a lowered ulimit -n', async () => {
  // fd 40 is open (not close-on-exec) when tsinit starts; the shell then lowers the limit below it,
  // as a container runtime's lower limit would be applied to an init that already holds fds.
  const held = openSync('/dev/null', 'r');
  try {
    const stdio: Array<'pipe' | 'ignore' | number> = ['ignore', 'pipe', 'pipe'];
    stdio[40] = held;
    const service = 'ls /proc/$$/fd; echo beat >&$TSINIT_WATCHDOG_FD';
    const p = spawn('sh', ['-c', 'ulimit -n 30; exec "$@"', 'sh', TSINIT, '--watchdog', '5s', '--', 'sh', '-c', service], { env: cleanEnv(), stdio });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    const { code } = await until('tsinit exits', () => p.exitCode !== null && { code: p.exitCode }, { saw: () => `stdout ${JSON.stringify(out)} stderr ${JSON.stringify(err)}` });
    assert.equal(code, 0, err);
    // ls opens the directory itself as fd 3 in its own process; the shell has 0-2 and the heartbeat.
    assert.deepEqual(out.trim().split('\n').map(Number).sort((a, b) => a - b), [0, 1, 2, 3], `the service's fds: ${out}`);
  } finally {
    closeSync(held);
  }
});

pid1Test('the service starts with no signal blocked and none ignored', async () => {
  // grep is the service itself and reads its own status as exec left it (a shell would show its
  // own transient masks: dash blocks every signal around each fork).
  const r = await run(['--', 'grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
});

pid1Test('--nice is visible in /proc', async () => {
  const r = await run(['--nice', '7', '--', 'sh', '-c', 'cut -d" " -f19 /proc/$$/stat']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '7\n');
});

rootTest('--user is visible in /proc, with --nice (needs root)', async () => {
  const r = await run(['--nice', '7', '--user', 'nobody', '--', 'sh', '-c', 'cut -d" " -f19 /proc/$$/stat; id -u; id -g; grep ^Groups /proc/$$/status']);
  assert.equal(r.code, 0, r.stderr);
  const [nice, uid, gid] = r.stdout.split('\n');
  assert.equal(nice, '7');
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':');
  assert.equal(uid, passwd[2]);
  assert.equal(gid, passwd[3]);
});

rootTest('--user USER:GROUP sets the group and the user gets its supplementary groups (needs root)', async () => {
  const r = await run(['--user', '65534:0', '--', 'sh', '-c', 'id -u; id -g']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '65534\n0\n');
  const groups = await run(['--user', 'root', '--', 'sh', '-c', 'id -G']);
  assert.equal(groups.stdout.trim().split(' ')[0], '0');
});

pid1Test('environment twins configure tsinit; =0 and false mean off', async () => {
  let r = await run(['--', 'sh', '-c', 'exit 143'], { env: { TSINIT_REMAP_EXIT: '143,3' } });
  assert.equal(r.code, 0);
  r = await run(['--', 'true'], { env: { TSINIT_VERBOSE: '1' } });
  assert.match(r.stderr, /service started/);
  for (const off of ['0', 'false', 'no']) {
    r = await run(['--', 'true'], { env: { TSINIT_VERBOSE: off } });
    assert.equal(r.stderr, '', off);
  }
  // the command line wins over the environment
  r = await run(['--remap-exit', '4', '--', 'sh', '-c', 'exit 3'], { env: { TSINIT_REMAP_EXIT: '3' } });
  assert.equal(r.code, 3);
});

test('as a subreaper outside a PID namespace: orphans are reaped and none is left after exit', async () => {
  const dir = tempDir();
  const pidfile = join(dir, 'orphan.pid');
  // The orphan escapes with a double fork and its own session.
  const r = await run(
    ['-v', '--', 'sh', '-c', `(setsid sh -c 'echo $$ > ${pidfile}; exec sleep 60' >/dev/null 2>&1 &) ; until [ -s ${pidfile} ]; do sleep 0.01; done; exit 4`],
    { pid1: false },
  );
  assert.equal(r.code, 4, r.stderr);
  const orphan = Number(readFileSync(pidfile, 'utf8'));
  assert.equal(existsSync(`/proc/${orphan}`), false, 'the escaped orphan is gone and reaped');
});

test('--no-subreaper outside a namespace: an orphan goes to the real init and is left alone', async () => {
  const pidfile = join(tempDir(), 'orphan.pid');
  const r = await run(
    ['--no-subreaper', '--', 'sh', '-c', `(sh -c 'echo $$ > ${pidfile}; exec sleep 60' >/dev/null 2>&1 &) ; until [ -s ${pidfile} ]; do sleep 0.01; done`],
    { pid1: false },
  );
  assert.equal(r.code, 0, r.stderr);
  const orphan = Number(readFileSync(pidfile, 'utf8'));
  try {
    assert.equal(existsSync(`/proc/${orphan}`), true, 'tsinit did not adopt it, so it did not stop it');
  } finally {
    process.kill(orphan, 'SIGKILL');
  }
});

pid1Test('never crash: an unexpected error is one line, the tree is stopped gracefully, the logger drained, exit 125', async () => {
  const dir = tempDir();
  const out = join(dir, 'out');
  const r = await run(
    ['--logger', `cat > ${out}`, '--', 'sh', '-c', `trap 'echo got TERM; exit 0' TERM; seq 1 1000; while :; do sleep 0.05; done`],
    { env: { TSINIT_FAILPOINT: 'service-started' } },
  );
  assert.equal(r.code, 125);
  assert.equal(r.stderr, 'tsinit: internal error: failpoint service-started\n');
  let expected = '';
  for (let i = 1; i <= 1000; i++) expected += `${i}\n`;
  const logged = readFileSync(out, 'utf8');
  assert.ok(logged.startsWith(expected), 'every line the service wrote reached the logger');
  assert.match(logged.slice(expected.length), /got TERM\n$/, 'the service was stopped with SIGTERM');
});
