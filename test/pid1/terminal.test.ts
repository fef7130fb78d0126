// Black-box tests of tsinit on a terminal and of --pty: the built bin/tsinit runs under a real
// pseudo-terminal (util-linux `script` as the harness: a key is a byte written to the master, see
// test/helpers/terminal.ts), as PID 1 of a fresh PID namespace or as a subreaper, and is checked the
// way a user would see it: the exit code, what the terminal shows, process states in /proc, the
// terminal's foreground group. The --pty tests check what tsinit does on this machine: with node-pty
// (an optional dependency, absent where it could not be built) the behaviour, without it the
// documented one line and exit 125.
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  asPid1, childrenOf, cleanEnv, cmdline, descendants, pid1Test, Result, ROOT, run, Running, state, tempDir, TSINIT, until,
} from '../helpers/harness';
import { withTerminal } from '../helpers/terminal';

/** A hang-catcher for each test (every wait inside has its own, shorter, deadline). */
const TIMEOUT = 120_000;

/** tsinit's host pid when it is PID 1: unshare's child. */
function tsinitPidIn(unshare: number): Promise<number> {
  return until('tsinit to start as the child of unshare', () => childrenOf(unshare)[0]);
}

/** The service: tsinit's one child (no logger in these runs). */
/** Whether the process's group is its terminal's foreground group (/proc stat: pgrp, tpgid). */
function holdsTerminal(pid: number): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return f[2] === f[5];
}

function servicePid(tsinit: number): Promise<number> {
  return until('the service to start as the child of tsinit', () => childrenOf(tsinit)[0]);
}

const CTRL_C = '\x03';
const CTRL_Z = '\x1a';

/**
 * What tsinit prints for --pty where node-pty cannot be loaded (tsinit loads it from beside its
 * bundle, as here), or null where it loads.
 */
const PTY_MISSING: string | null = (() => {
  try {
    const m = createRequire(join(ROOT, 'dist', 'tsinit.js'))('node-pty') as { spawn?: unknown };
    return typeof m.spawn === 'function' ? null : 'it has no spawn function';
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
  }
})();

/**
 * A --pty test. With node-pty, `body`; without it, `missing` (the same tsinit command, as PID 1 and
 * not) must print the documented line and exit 125 without running the service.
 */
function ptyTest(name: string, missing: string[], body: (ctx: TestContext) => Promise<void>): void {
  if (PTY_MISSING === null) {
    pid1Test(name, { timeout: TIMEOUT }, body);
    return;
  }
  pid1Test(`${name} [node-pty cannot be loaded here: one line, exit 125]`, { timeout: TIMEOUT }, async () => {
    for (const pid1 of [true, false]) {
      const r = await run(missing, { pid1 });
      assert.equal(r.code, 125, `${missing.join(' ')} (pid1=${pid1}): ${r.stderr}`);
      assert.equal(r.stderr, `tsinit: --pty needs the optional package node-pty: ${PTY_MISSING}\n`);
      assert.equal(r.stdout, '');
    }
  });
}

// Output the command line does not contain, so that the terminal's echo of a typed command never
// matches: `echo RE""ADY` shows READY.
const say = (word: string) => `echo ${word.slice(0, 2)}""${word.slice(2)}`;

// ---- terminal: foreground group, Ctrl-C, job control, Ctrl-Z ------------------------------------

for (const pid1 of [true, false]) {
  const where = pid1 ? 'as PID 1' : 'as a subreaper';
  const register = (name: string, opts: { timeout: number }, fn: (ctx: TestContext) => Promise<void>) =>
    pid1 ? pid1Test(name, opts, fn) : test(name, opts, fn);
  const tsinit = (args: string[]) => (pid1 ? asPid1([TSINIT, ...args]) : [TSINIT, ...args]);

  register(`Ctrl-C on the terminal reaches the service, which dies of SIGINT: exit 130 (${where})`, { timeout: TIMEOUT }, async (ctx) => {
    await withTerminal(ctx, tsinit(['--', 'sh', '-c', 'echo READY; exec sleep 1000']), {}, async (t) => {
      await t.waitFor(/READY/);
      t.type(CTRL_C);
      const e = await t.ended();
      assert.equal(e.exitCode, 130, t.output);
      assert.doesNotMatch(t.output, /tsinit:/);
    });
  });

  register(`bash -m has job control under tsinit (${where})`, { timeout: TIMEOUT }, async (ctx) => {
    await withTerminal(ctx, tsinit(['--', 'bash', '--norc', '-m', '-c', 'echo "flags=$-"']), {}, async (t) => {
      const e = await t.ended();
      assert.equal(e.exitCode, 0, t.output);
      assert.match(t.output, /flags=\w*m\w*/);
      assert.doesNotMatch(t.output, /no job control|cannot set terminal process group/);
    });
  });
}

// The service waits in a read from its terminal (not in a loop that forks: a process that the key
// stops between vfork and exec keeps its parent in vfork, never stopped, for shells too), and can
// only finish once it runs again and gets its line.
const WAITING_SERVICE = ['sh', '-c', 'echo READY; read line; echo "DONE $line"; exit 5'];

/** Ctrl-Z outside PID 1: the service and tsinit stop; SIGCONT to tsinit, as a shell's `fg` sends it. */
async function ctrlZOutsidePid1(ctx: TestContext, args: string[]): Promise<void> {
  await withTerminal(ctx, [TSINIT, ...args, '--', ...WAITING_SERVICE], {}, async (t) => {
    const at = await t.waitFor(/READY/);
    const tsinit = t.pid;
    const service = await servicePid(tsinit);
    t.type(CTRL_Z);
    await until('the service and tsinit to stop', () => state(service) === 'T' && state(tsinit) === 'T',
      { saw: () => t.describe() });
    // What a shell's `fg` sends to the job it continues; the harness stopped with its child, and
    // is continued too.
    await t.harnessStopped();
    process.kill(tsinit, 'SIGCONT');
    await t.resumeHarness();
    await until('the service and tsinit to run again', () => state(service) !== 'T' && state(tsinit) !== 'T',
      { saw: () => t.describe() });
    t.type('go\r');
    const e = await t.ended();
    assert.equal(e.exitCode, 5, t.output);
    assert.match(t.output.slice(at), /DONE go/);
  });
}

test('Ctrl-Z stops the service and tsinit (not PID 1); SIGCONT resumes both and the run ends normally', { timeout: TIMEOUT }, (ctx) =>
  ctrlZOutsidePid1(ctx, []));

ptyTest('Ctrl-Z stops the service and tsinit (not PID 1); SIGCONT resumes both and the run ends normally with --pty',
  ['--pty', '--', ...WAITING_SERVICE], (ctx) => ctrlZOutsidePid1(ctx, ['--pty']));

pid1Test('Ctrl-Z as PID 1: the service stops, tsinit keeps running (no shell to return to); SIGCONT resumes the service', { timeout: TIMEOUT }, async (ctx) => {
  await withTerminal(ctx, asPid1([TSINIT, '--', ...WAITING_SERVICE]), { env: { DEBUG: 'tsinit:init' } }, async (t) => {
    let at = await t.waitFor(/READY/);
    const tsinit = await tsinitPidIn(t.pid);
    const service = await servicePid(tsinit);
    // Without addtcsetpgrp_np tsinit hands the terminal over just after the spawn, so the service
    // can print READY before it holds the terminal: a Ctrl-Z then would go to tsinit's group.
    await until('the service to hold the terminal', () => holdsTerminal(service), { saw: () => t.describe() });
    t.type(CTRL_Z);
    await until('the service to stop', () => state(service) === 'T', { saw: () => t.describe() });
    // tsinit has seen the stop, and went on running.
    at = await t.waitFor(/service stopped by SIGTSTP/, at);
    assert.notEqual(state(tsinit), 'T');
    process.kill(tsinit, 'SIGCONT');
    await until('the service to run again', () => state(service) !== 'T', { saw: () => t.describe() });
    t.type('go\r');
    const e = await t.ended();
    assert.equal(e.exitCode, 5, t.output);
    assert.match(t.output.slice(at), /DONE go/);
  });
});

test('in an interactive shell: Ctrl-Z gives the prompt back with the job stopped, fg finishes it', { timeout: TIMEOUT }, async (ctx) => {
  await withTerminal(ctx, ['bash', '--norc', '--noprofile', '-i'], { env: { PS1: 'PROMPT> ' } }, async (t) => {
    let at = await t.waitFor(/PROMPT> /);
    t.type(`${TSINIT} -- sh -c '${say('READY')}; read line; ${say('DONE')}; exit 7'\r`);
    at = await t.waitFor(/READY/, at);
    t.type(CTRL_Z);
    at = await t.waitFor(/Stopped/, at);
    at = await t.waitFor(/PROMPT> /, at);
    t.type('fg\r');
    // The service has the terminal again: what is typed now is its input.
    await t.waitFor(/\bfg\b[^]*tsinit/, at);
    t.type('hello\r');
    at = await t.waitFor(/DONE/, at);
    at = await t.waitFor(/PROMPT> /, at);
    t.type(`${say('STATUS')}=$?\r`);
    await t.waitFor(/STATUS=7/, at);
    t.type('exit\r');
    await t.ended();
  });
});

test('the foreground group is restored when tsinit exits', { timeout: TIMEOUT }, async (ctx) => {
  // A non-interactive bash runs tsinit in its own process group; after tsinit, that group must be
  // the terminal's foreground group again (not the ended service's). Fields 5 and 8 of
  // /proc/PID/stat: the process group and the terminal's foreground group.
  const script = `${TSINIT} -- sh -c 'exit 3'; echo "rc=$?"; echo "groups=$(cut -d' ' -f5,8 /proc/$$/stat)"`;
  await withTerminal(ctx, ['bash', '-c', script], {}, async (t) => {
    await t.ended();
    assert.match(t.output, /rc=3/);
    const m = /groups=(\d+) (\d+)/.exec(t.output);
    assert.ok(m, t.output);
    assert.equal(m[2], m[1], `the foreground group is not bash's own: ${t.output}`);
  });
});

// ---- --pty --------------------------------------------------------------------------------------

const TTY_CHECK = ['--pty', '--', 'sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo tty'];
ptyTest('--pty: the service writes to a terminal; its output reaches stdout (PID 1, stdout a pipe)', TTY_CHECK, async () => {
  const r = await run(TTY_CHECK);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'tty\r\n');
  assert.equal(r.stderr, '');
});

ptyTest('--pty: the output goes through --logger', ['--pty', '--logger', 'cat', '--', 'echo', 'hi'], async () => {
  const dir = tempDir();
  const out = join(dir, 'out');
  const r = await run(['--pty', '--logger', `cat > ${out}`, '--', 'sh', '-c', 'test -t 1 && echo tty; echo err >&2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(readFileSync(out, 'utf8'), 'tty\r\nerr\r\n');
});

ptyTest('--pty: exact exit codes: 0, 3, 143 for SIGTERM, 137 for SIGKILL; 127 for a missing command', ['--pty', '--', 'sh', '-c', 'exit 3'], async () => {
  const cases: Array<[string, number]> = [
    ['exit 0', 0],
    ['exit 3', 3],
    ['kill -TERM $$', 143],
    ['kill -KILL $$', 137],
  ];
  for (const [script, code] of cases) {
    for (const pid1 of [true, false]) {
      const r = await run(['--pty', '--', 'sh', '-c', script], { pid1 });
      assert.equal(r.code, code, `${script} (pid1=${pid1}): ${r.stderr}`);
    }
  }
  const r = await run(['--pty', '--', 'no-such-command-xyz']);
  assert.equal(r.code, 127);
  assert.equal(r.stderr, 'tsinit: cannot run no-such-command-xyz: command not found\n');
});

ptyTest('--pty: every byte of a large, fast output arrives, on stdout and through a slow logger', ['--pty', '--', 'seq', '1', '200000'], async () => {
  // node-pty alone loses the end of such an output on Linux (libuv takes a short read plus
  // POLLHUP for the end of the stream); tsinit reads what is left itself.
  const expected = Array.from({ length: 200_000 }, (_, i) => `${i + 1}\r\n`).join('');
  // Without tsinit's own draining, about one run in three loses some of the end here.
  for (let i = 0; i < 10; i++) {
    const r = await run(['--pty', '--', 'seq', '1', '200000'], { pid1: i % 2 === 0 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, expected.length, `run ${i}`);
    assert.equal(r.stdout, expected);
  }
  const dir = tempDir();
  const out = join(dir, 'out');
  // The logger starts reading late: the pipe fills, tsinit stops reading the pty, seq blocks.
  const r = await run(['--pty', '--logger', `sleep 0.5; exec cat > ${out}`, '--', 'seq', '1', '200000']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out, 'utf8'), expected);
});

const FDS = ['--pty', '--', 'sh', '-c', 'ls -C /proc/$$/fd; readlink /proc/$$/fd/0 /proc/$$/fd/1'];
ptyTest('--pty: the service gets fds 0, 1, 2 (its terminal) and nothing tsinit inherited', FDS, async () => {
  // fd 3 is a pipe that tsinit inherits; node-pty forks without closing fds.
  const proc = spawn(TSINIT, FDS, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  const code = await new Promise((r) => proc.on('close', r));
  assert.equal(code, 0);
  const [fds, in0, out1] = stdout.trim().split(/\r\n/);
  assert.deepEqual(fds.trim().split(/\s+/), ['0', '1', '2']);
  assert.match(in0, /^\/dev\/pts\/\d+$/);
  assert.equal(out1, in0);
});

ptyTest('--pty: stdin is forwarded (without echo) and its end is an end-of-file for the service', ['--pty', '--', 'cat'], async () => {
  let r = await run(['--pty', '--', 'sh', '-c', 'read line; echo "got $line"'], { input: 'hello\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'got hello\r\n');
  r = await run(['--pty', '--', 'cat'], { input: 'a\nb\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'a\r\nb\r\n');
  // A last line without a newline: Ctrl-D ends the line, a second one ends the input.
  r = await run(['--pty', '--', 'cat'], { input: 'partial' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'partial');
});

const WINCH_SERVICE = ['sh', '-c', 'stty size; trap "stty size" WINCH; echo READY; while :; do sleep 0.02; done'];
ptyTest('--pty on a terminal: keys go to the service (Ctrl-C: 130), the window size follows', ['--pty', '--', ...WINCH_SERVICE], async (ctx) => {
  await withTerminal(ctx, asPid1([TSINIT, '--pty', '--', ...WINCH_SERVICE]), { cols: 100, rows: 30 }, async (t) => {
    let at = await t.waitFor(/30 100/);
    at = await t.waitFor(/READY/, at);
    t.resize(120, 40);
    at = await t.waitFor(/40 120/, at);
    t.type(CTRL_C);
    const e = await t.ended();
    assert.equal(e.exitCode, 130, t.output);
  });
});

const INNER_SHELL = ['bash', '--norc', '--noprofile', '-i'];
ptyTest('--pty on a terminal: a shell in the pty keeps Ctrl-Z for its own jobs', ['--pty', '--', 'bash', '-c', 'exit 4'], async (ctx) => {
  await withTerminal(ctx, [TSINIT, '--pty', '--', ...INNER_SHELL], { env: { PS1: 'INNER> ' } }, async (t) => {
    let at = await t.waitFor(/INNER> /);
    t.type('sleep 1000\r');
    await until('the inner shell to run sleep', () => cmdlines(t.pid).some((argv) => argv[0] === 'sleep'), { saw: () => t.describe() });
    t.type(CTRL_Z);
    // The shell in the pty stopped its job and prompts again: the key was its own, not tsinit's.
    at = await t.waitFor(/Stopped[^]*INNER> /, at);
    assert.notEqual(state(t.pid), 'T');
    // The job is the shell's to continue; then Ctrl-C ends it and the shell prompts again.
    t.type('fg\r');
    at = await t.waitFor(/sleep 1000\r\r?\n/, at);
    // bash gives the job the terminal, then continues it: once it runs, Ctrl-C is the job's.
    await until('the continued sleep to run', () => descendants(t.pid).some((pid) => cmdline(pid)[0] === 'sleep' && state(pid) !== 'T'),
      { saw: () => t.describe() });
    t.type(CTRL_C);
    at = await t.waitFor(/INNER> /, at);
    t.type('exit 4\r');
    const e = await t.ended();
    assert.equal(e.exitCode, 4, t.output);
  });
});

ptyTest('--pty on a terminal: what is typed reaches the service, and the terminal is restored at the end', ['--pty', '--', 'sh', '-c', 'read line'], async (ctx) => {
  const script = `${TSINIT} --pty -- sh -c 'read line; echo "got $line"'; echo "rc=$?"; stty -a`;
  await withTerminal(ctx, ['bash', '-c', script], {}, async (t) => {
    // The service's terminal echoes what is typed, as any terminal.
    // (tsinit's own command line contains the service's: look for the exec'd service itself)
    await until('the service to run in the pty', () => cmdlines(t.pid).some((argv) => argv[0] === 'sh' && argv[2]?.startsWith('read line')),
      { saw: () => t.describe() });
    t.type('hello\r');
    await t.ended();
    assert.match(t.output, /got hello/, t.output);
    assert.match(t.output, /rc=0/, t.output);
    // Raw mode is undone: the terminal makes signals of keys, echoes and edits lines again.
    assert.match(t.output, /[^-]isig\b/, t.output);
    assert.match(t.output, /[^-]icanon\b/, t.output);
    assert.match(t.output, /[^-]echo\b/, t.output);
  });
});

/** The argv of a process and of each of its descendants. */
function cmdlines(root: number): string[][] {
  return descendants(root).map(cmdline);
}

// ---- --pty without node-pty ---------------------------------------------------------------------

/** Runs a copy of dist/tsinit.js as PID 1 from a directory where `modules` is its node_modules. */
function runCopy(dir: string, args: string[]): Promise<Result> {
  const argv = asPid1([process.execPath, join(dir, 'dist', 'tsinit.js'), ...args]);
  const proc = spawn(argv[0], argv.slice(1), { env: cleanEnv({ NODE_PATH: '' }), stdio: ['ignore', 'pipe', 'pipe'] });
  return new Running(proc, true, argv).result;
}

/** A copy of the bundle beside a node_modules with koffi and, if given, a node-pty of our own. */
function installCopy(fakePty?: string): string {
  const dir = tempDir();
  // all of dist/: the bundle may be more than one file (a loader and what it loads)
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(join(ROOT, 'node_modules', 'koffi'), join(dir, 'node_modules', 'koffi'));
  if (fakePty !== undefined) {
    mkdirSync(join(dir, 'node_modules', 'node-pty'));
    writeFileSync(join(dir, 'node_modules', 'node-pty', 'package.json'), '{"name":"node-pty","main":"index.js"}');
    writeFileSync(join(dir, 'node_modules', 'node-pty', 'index.js'), fakePty);
  }
  return dir;
}

pid1Test('--pty without node-pty: one clear line, exit 125; everything else works', { timeout: TIMEOUT }, async () => {
  const dir = installCopy();
  // The copy really cannot see node-pty (nor any in a parent directory), but does load koffi.
  const req = createRequire(join(dir, 'dist', 'tsinit.js'));
  assert.throws(() => req.resolve('node-pty'), /Cannot find module 'node-pty'/);
  req.resolve('koffi');

  let r = await runCopy(dir, ['--pty', '--', 'sh', '-c', 'echo should not run']);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, "tsinit: --pty needs the optional package node-pty: Cannot find module 'node-pty'\n");
  assert.equal(r.stdout, '');

  r = await runCopy(dir, ['--', 'sh', '-c', 'echo fine; exit 3']);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'fine\n');
  const out = join(dir, 'out');
  r = await runCopy(dir, ['--logger', `cat > ${out}`, '--', 'sh', '-c', 'echo logged']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'logged\n');
});

pid1Test('--pty with a node-pty whose native part does not load: the reason in one line, exit 125', { timeout: TIMEOUT }, async () => {
  const dir = installCopy("throw new Error('pty.node: invalid ELF header\\n    at more detail');\n");
  const r = await runCopy(dir, ['--pty', '--', 'true']);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, 'tsinit: --pty needs the optional package node-pty: pty.node: invalid ELF header\n');
});
