// Black-box tests of tsinit on a terminal and of --pty: the built bin/tsinit runs under a real
// pseudo-terminal (node-pty as the harness: a key is a byte written to the master), as PID 1 of a
// fresh PID namespace or as a subreaper, and is checked the way a user would see it: the exit code,
// what the terminal shows, process states in /proc, the terminal's foreground group.
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cleanEnv, Result, ROOT, run, tempDir, TSINIT } from '../helpers/harness';

// ---- the harness terminal ----------------------------------------------------------------------

interface HarnessPty {
  readonly pid: number;
  onData(cb: (d: Buffer | string) => void): unknown;
  onExit(cb: (e: { exitCode: number; signal?: number }) => void): unknown;
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
}
interface NodePtyModule {
  spawn(file: string, args: string[], opts: Record<string, unknown>): HarnessPty;
}
// node-pty is an optional dependency of tsinit and the harness of these tests (a missing one fails
// them, loudly). It is required, not imported, so that the build does not need it.
const nodePty = require('node-pty') as NodePtyModule;

const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc'];
/** Conditions are waited for without a deadline of their own: a test that hangs fails here, and
 * its abort signal ends the waits and the processes of the test. */
const TIMEOUT = 60_000;

/** Polls `check` until it returns a value, or the test is aborted (its timeout). */
async function until<T>(signal: AbortSignal, check: () => T | null | undefined | false): Promise<T> {
  for (;;) {
    const v = check();
    if (v) return v;
    if (signal.aborted) throw new Error('aborted (timeout) while waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

class Terminal {
  output = '';
  readonly exited: Promise<{ exitCode: number; signal: number }>;
  private readonly term: HarnessPty;
  private listeners: Array<() => void> = [];
  private done = false;

  constructor(argv: string[], opts: { env?: Record<string, string>; cols?: number; rows?: number } = {}) {
    this.term = nodePty.spawn(argv[0], argv.slice(1), {
      name: 'xterm',
      cols: opts.cols ?? 100,
      rows: opts.rows ?? 30,
      cwd: ROOT,
      env: cleanEnv(opts.env),
      encoding: null,
    });
    this.term.onData((d) => {
      this.output += d.toString();
      this.notify();
    });
    this.exited = new Promise((resolve) =>
      this.term.onExit((e) => {
        this.done = true;
        this.notify();
        resolve({ exitCode: e.exitCode, signal: e.signal ?? 0 });
      }),
    );
  }

  get pid(): number {
    return this.term.pid;
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  /** Resolves when the terminal has shown `pattern` (searched from `from`); rejects if it closes first. */
  async waitFor(pattern: RegExp, from = 0): Promise<number> {
    for (;;) {
      const m = pattern.exec(this.output.slice(from));
      if (m) return from + m.index + m[0].length;
      if (this.done) throw new Error(`terminal closed before ${pattern}: ${JSON.stringify(this.output)}`);
      await new Promise<void>((r) => this.listeners.push(r));
    }
  }

  /** A key (or typed text): bytes written to the master, as a terminal emulator does. */
  type(bytes: string): void {
    this.term.write(Buffer.from(bytes, 'latin1'));
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  /** SIGKILL to the terminal's process and everything under it (a subreaper's service outlives it). */
  kill(): void {
    if (this.done) return;
    const tree: number[] = [];
    const walk = (pid: number) => {
      tree.push(pid);
      for (const c of childrenOf(pid)) walk(c);
    };
    walk(this.pid);
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

const CTRL_C = '\x03';
const CTRL_Z = '\x1a';

function state(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** tsinit's host pid when it is PID 1: unshare's child. */
function tsinitPidIn(signal: AbortSignal, t: Terminal): Promise<number> {
  return until(signal, () => childrenOf(t.pid)[0]);
}

/** The service: tsinit's one child (no logger in these runs). */
function servicePid(signal: AbortSignal, tsinit: number): Promise<number> {
  return until(signal, () => childrenOf(tsinit)[0]);
}

/** Runs `body` with a terminal that is killed, with all its processes, at the end or on timeout. */
async function withTerminal<T>(ctx: TestContext, t: Terminal, body: (t: Terminal) => Promise<T>): Promise<T> {
  const onAbort = () => {
    ctx.diagnostic(`the terminal showed: ${JSON.stringify(t.output)}`);
    ctx.diagnostic(`processes: ${descendants(t.pid).map((pid) => `${pid} ${state(pid)} ${cmdline(pid).join(' ')}`).join('; ')}`);
    t.kill();
  };
  ctx.signal.addEventListener('abort', onAbort);
  try {
    return await body(t);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    t.kill();
  }
}

// Output the command line does not contain, so that the terminal's echo of a typed command never
// matches: `echo RE""ADY` shows READY.
const say = (word: string) => `echo ${word.slice(0, 2)}""${word.slice(2)}`;

// ---- terminal: foreground group, Ctrl-C, job control, Ctrl-Z ------------------------------------

for (const pid1 of [true, false]) {
  const where = pid1 ? 'as PID 1' : 'as a subreaper';

  test(`Ctrl-C on the terminal reaches the service, which dies of SIGINT: exit 130 (${where})`, { timeout: TIMEOUT }, async (ctx) => {
    const argv = [...(pid1 ? UNSHARE : []), TSINIT, '--', 'sh', '-c', 'echo READY; exec sleep 1000'];
    await withTerminal(ctx, new Terminal(argv), async (t) => {
      await t.waitFor(/READY/);
      t.type(CTRL_C);
      const e = await t.exited;
      assert.equal(e.exitCode, 130, t.output);
      assert.doesNotMatch(t.output, /tsinit:/);
    });
  });

  test(`bash -m has job control under tsinit (${where})`, { timeout: TIMEOUT }, async (ctx) => {
    const argv = [...(pid1 ? UNSHARE : []), TSINIT, '--', 'bash', '--norc', '-m', '-c', 'echo "flags=$-"'];
    await withTerminal(ctx, new Terminal(argv), async (t) => {
      const e = await t.exited;
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

for (const pty of [false, true]) {
  const mode = pty ? ' with --pty' : '';

  test(`Ctrl-Z stops the service and tsinit (not PID 1); SIGCONT resumes both and the run ends normally${mode}`, { timeout: TIMEOUT }, async (ctx) => {
    const argv = [TSINIT, ...(pty ? ['--pty'] : []), '--', ...WAITING_SERVICE];
    await withTerminal(ctx, new Terminal(argv), async (t) => {
      const at = await t.waitFor(/READY/);
      const tsinit = t.pid;
      const service = await servicePid(ctx.signal, tsinit);
      t.type(CTRL_Z);
      await until(ctx.signal, () => state(service) === 'T' && state(tsinit) === 'T');
      // What a shell's `fg` sends to the job it continues.
      process.kill(tsinit, 'SIGCONT');
      await until(ctx.signal, () => state(service) !== 'T' && state(tsinit) !== 'T');
      t.type('go\r');
      const e = await t.exited;
      assert.equal(e.exitCode, 5, t.output);
      assert.match(t.output.slice(at), /DONE go/);
    });
  });
}

test('Ctrl-Z as PID 1: the service stops, tsinit keeps running (no shell to return to); SIGCONT resumes the service', { timeout: TIMEOUT }, async (ctx) => {
  const argv = [...UNSHARE, TSINIT, '--', ...WAITING_SERVICE];
  await withTerminal(ctx, new Terminal(argv, { env: { DEBUG: 'tsinit:init' } }), async (t) => {
    let at = await t.waitFor(/READY/);
    const tsinit = await tsinitPidIn(ctx.signal, t);
    const service = await servicePid(ctx.signal, tsinit);
    t.type(CTRL_Z);
    await until(ctx.signal, () => state(service) === 'T');
    // tsinit has seen the stop, and went on running.
    at = await t.waitFor(/service stopped by SIGTSTP/, at);
    assert.notEqual(state(tsinit), 'T');
    process.kill(tsinit, 'SIGCONT');
    await until(ctx.signal, () => state(service) !== 'T');
    t.type('go\r');
    const e = await t.exited;
    assert.equal(e.exitCode, 5, t.output);
    assert.match(t.output.slice(at), /DONE go/);
  });
});

test('in an interactive shell: Ctrl-Z gives the prompt back with the job stopped, fg finishes it', { timeout: TIMEOUT }, async (ctx) => {
  const argv = ['bash', '--norc', '--noprofile', '-i'];
  await withTerminal(ctx, new Terminal(argv, { env: { PS1: 'PROMPT> ' } }), async (t) => {
    let at = await t.waitFor(/PROMPT> /);
    t.type(`${TSINIT} -- sh -c '${say('READY')}; read line; ${say('DONE')}; exit 7'\r`);
    at = await t.waitFor(/READY/, at);
    t.type(CTRL_Z);
    at = await t.waitFor(/Stopped/, at);
    at = await t.waitFor(/PROMPT> /, at);
    t.type('fg\r');
    // The service has the terminal again: what is typed now is its input.
    await until(ctx.signal, () => /\bfg\b[^]*tsinit/.test(t.output.slice(at)));
    t.type('hello\r');
    at = await t.waitFor(/DONE/, at);
    at = await t.waitFor(/PROMPT> /, at);
    t.type(`${say('STATUS')}=$?\r`);
    await t.waitFor(/STATUS=7/, at);
    t.type('exit\r');
    await t.exited;
  });
});

test('the foreground group is restored when tsinit exits', { timeout: TIMEOUT }, async (ctx) => {
  // A non-interactive bash runs tsinit in its own process group; after tsinit, that group must be
  // the terminal's foreground group again (not the ended service's).
  const script = `${TSINIT} -- sh -c 'exit 3'; echo "rc=$?"; echo "groups=$(ps -o pgid=,tpgid= -p $$)"`;
  await withTerminal(ctx, new Terminal(['bash', '-c', script]), async (t) => {
    await t.exited;
    assert.match(t.output, /rc=3/);
    const m = /groups=\s*(\d+)\s+(\d+)/.exec(t.output);
    assert.ok(m, t.output);
    assert.equal(m[2], m[1], `the foreground group is not bash's own: ${t.output}`);
  });
});

// ---- --pty --------------------------------------------------------------------------------------

test('--pty: the service writes to a terminal; its output reaches stdout (PID 1, stdout a pipe)', { timeout: TIMEOUT }, async (ctx) => {
  const r = await run(['--pty', '--', 'sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo tty']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'tty\r\n');
  assert.equal(r.stderr, '');
});

test('--pty: the output goes through --logger', { timeout: TIMEOUT }, async (ctx) => {
  const dir = tempDir();
  const out = join(dir, 'out');
  const r = await run(['--pty', '--logger', `cat > ${out}`, '--', 'sh', '-c', 'test -t 1 && echo tty; echo err >&2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(readFileSync(out, 'utf8'), 'tty\r\nerr\r\n');
});

test('--pty: exact exit codes: 0, 3, 143 for SIGTERM, 137 for SIGKILL; 127 for a missing command', { timeout: TIMEOUT }, async (ctx) => {
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

test('--pty: every byte of a large, fast output arrives, on stdout and through a slow logger', { timeout: TIMEOUT }, async (ctx) => {
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

test('--pty: the service gets fds 0, 1, 2 (its terminal) and nothing tsinit inherited', { timeout: TIMEOUT }, async () => {
  // fd 3 is a pipe that tsinit inherits; node-pty forks without closing fds.
  const proc = spawn(TSINIT, ['--pty', '--', 'sh', '-c', 'ls -C /proc/$$/fd; readlink /proc/$$/fd/0 /proc/$$/fd/1'], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  const code = await new Promise((r) => proc.on('close', r));
  assert.equal(code, 0);
  const [fds, in0, out1] = stdout.trim().split(/\r\n/);
  assert.deepEqual(fds.trim().split(/\s+/), ['0', '1', '2']);
  assert.match(in0, /^\/dev\/pts\/\d+$/);
  assert.equal(out1, in0);
});

test('--pty: stdin is forwarded (without echo) and its end is an end-of-file for the service', { timeout: TIMEOUT }, async (ctx) => {
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

test('--pty on a terminal: keys go to the service (Ctrl-C: 130), the window size follows', { timeout: TIMEOUT }, async (ctx) => {
  const service = 'stty size; trap "stty size" WINCH; echo READY; while :; do sleep 0.02; done';
  await withTerminal(ctx, new Terminal([...UNSHARE, TSINIT, '--pty', '--', 'sh', '-c', service], { cols: 100, rows: 30 }), async (t) => {
    let at = await t.waitFor(/30 100/);
    at = await t.waitFor(/READY/, at);
    t.resize(120, 40);
    at = await t.waitFor(/40 120/, at);
    t.type(CTRL_C);
    const e = await t.exited;
    assert.equal(e.exitCode, 130, t.output);
  });
});

test('--pty on a terminal: a shell in the pty keeps Ctrl-Z for its own jobs', { timeout: TIMEOUT }, async (ctx) => {
  const argv = [TSINIT, '--pty', '--', 'bash', '--norc', '--noprofile', '-i'];
  await withTerminal(ctx, new Terminal(argv, { env: { PS1: 'INNER> ' } }), async (t) => {
    let at = await t.waitFor(/INNER> /);
    t.type('sleep 1000\r');
    await until(ctx.signal, () => cmdlines(t.pid).some((argv) => argv[0] === 'sleep'));
    t.type(CTRL_Z);
    // The shell in the pty stopped its job and prompts again: the key was its own, not tsinit's.
    at = await t.waitFor(/Stopped[^]*INNER> /, at);
    assert.notEqual(state(t.pid), 'T');
    // The job is the shell's to continue; then Ctrl-C ends it and the shell prompts again.
    t.type('fg\r');
    at = await t.waitFor(/sleep 1000\r\r?\n/, at);
    // bash gives the job the terminal, then continues it: once it runs, Ctrl-C is the job's.
    await until(ctx.signal, () => descendants(t.pid).some((pid) => cmdline(pid)[0] === 'sleep' && state(pid) !== 'T'));
    t.type(CTRL_C);
    at = await t.waitFor(/INNER> /, at);
    t.type('exit 4\r');
    const e = await t.exited;
    assert.equal(e.exitCode, 4, t.output);
  });
});

test('--pty on a terminal: what is typed reaches the service, and the terminal is restored at the end', { timeout: TIMEOUT }, async (ctx) => {
  const script = `${TSINIT} --pty -- sh -c 'read line; echo "got $line"'; echo "rc=$?"; stty -a`;
  await withTerminal(ctx, new Terminal(['bash', '-c', script]), async (t) => {
    // The service's terminal echoes what is typed, as any terminal.
    // (tsinit's own command line contains the service's: look for the exec'd service itself)
    await until(ctx.signal, () => cmdlines(t.pid).some((argv) => argv[0] === 'sh' && argv[2]?.startsWith('read line')));
    t.type('hello\r');
    await t.exited;
    assert.match(t.output, /got hello/, t.output);
    assert.match(t.output, /rc=0/, t.output);
    // Raw mode is undone: the terminal makes signals of keys, echoes and edits lines again.
    assert.match(t.output, /[^-]isig\b/, t.output);
    assert.match(t.output, /[^-]icanon\b/, t.output);
    assert.match(t.output, /[^-]echo\b/, t.output);
  });
});

/** A process and all its descendants. */
function descendants(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]));
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The argv of a process and of each of its descendants. */
function cmdlines(root: number): string[][] {
  return descendants(root).map(cmdline);
}

// ---- --pty without node-pty ---------------------------------------------------------------------

/** Runs a copy of dist/tsinit.js as PID 1 from a directory where `modules` is its node_modules. */
function runCopy(dir: string, args: string[]): Promise<Result> {
  const entry = join(dir, 'dist', 'tsinit.js');
  return new Promise((resolve) => {
    const proc = spawn(UNSHARE[0], [...UNSHARE.slice(1), process.execPath, entry, ...args], {
      env: cleanEnv({ NODE_PATH: '' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A copy of the bundle beside a node_modules with koffi and, if given, a node-pty of our own. */
function installCopy(fakePty?: string): string {
  const dir = tempDir();
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true }); // the loader and the bundle
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(join(ROOT, 'node_modules', 'koffi'), join(dir, 'node_modules', 'koffi'));
  if (fakePty !== undefined) {
    mkdirSync(join(dir, 'node_modules', 'node-pty'));
    writeFileSync(join(dir, 'node_modules', 'node-pty', 'package.json'), '{"name":"node-pty","main":"index.js"}');
    writeFileSync(join(dir, 'node_modules', 'node-pty', 'index.js'), fakePty);
  }
  return dir;
}

test('--pty without node-pty: one clear line, exit 125; everything else works', { timeout: TIMEOUT }, async (ctx) => {
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

test('--pty with a node-pty whose native part does not load: the reason in one line, exit 125', { timeout: TIMEOUT }, async (ctx) => {
  const dir = installCopy("throw new Error('pty.node: invalid ELF header\\n    at more detail');\n");
  const r = await runCopy(dir, ['--pty', '--', 'true']);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, 'tsinit: --pty needs the optional package node-pty: pty.node: invalid ELF header\n');
});
