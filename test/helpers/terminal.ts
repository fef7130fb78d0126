// A terminal for black-box tests, made with util-linux `script` (no native module): `script` opens a
// pseudo-terminal, makes its child the session leader with the terminal as its controlling terminal,
// copies what the test writes to its stdin into the master (a key is a byte, as a terminal emulator
// sends it) and what the terminal shows to its stdout.
//
// What `script` adds, and how the tests live with it:
// - It runs a command string with $SHELL -c: the string here is `stty cols C rows R && exec ARGV`, so
//   the terminal has a size (a pty starts at 0x0) and `pid` is the command itself once it runs.
// - When its child stops with SIGSTOP, `script` stops itself too, and continues the child when it is
//   continued (job control of nested terminals). A test whose command stops that way continues the
//   harness with `resumeHarness()`.
// - The exit status is the child's, or 128+N when a signal N killed it.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { TestContext } from 'node:test';
import { cleanEnv, cmdline, childrenOf, descendants, ROOT, state, until, WAIT_MS } from './harness';

/** The string `sh -c` reads as the one word `s`. */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface TerminalOptions {
  env?: Record<string, string>;
  cols?: number;
  rows?: number;
}

export class Terminal {
  output = '';
  /** what `script` itself wrote to stderr (its own errors) */
  errors = '';
  readonly exited: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
  private listeners: Array<() => void> = [];
  private done = false;
  private childPid = 0;
  private slavePath = '';

  private constructor(private readonly proc: ChildProcess, readonly argv: string[]) {
    proc.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString('latin1');
      this.notify();
    });
    proc.stderr!.on('data', (d: Buffer) => {
      this.errors += d.toString();
      this.notify();
    });
    proc.stdin!.on('error', () => undefined); // the terminal may be gone when the test types
    this.exited = new Promise((resolve) =>
      proc.on('close', (exitCode, signal) => {
        this.done = true;
        this.notify();
        resolve({ exitCode, signal });
      }),
    );
  }

  /** Opens a terminal running `argv`; resolves once the command runs on it. */
  static async open(argv: string[], opts: TerminalOptions = {}): Promise<Terminal> {
    const command = `stty cols ${opts.cols ?? 100} rows ${opts.rows ?? 30} && exec ${argv.map(quote).join(' ')}`;
    const proc = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
      cwd: ROOT,
      env: cleanEnv({ TERM: 'xterm', SHELL: '/bin/sh', ...opts.env }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const t = new Terminal(proc, argv);
    // The child is on the terminal once its fd 0 is the pty's slave.
    await until('script to start its child on the new terminal', () => {
      if (t.done) throw new Error(`script ended at once: ${t.errors}${t.output}`);
      const child = childrenOf(proc.pid!)[0];
      if (!child) return false;
      let fd0 = '';
      try {
        fd0 = readlinkSync(`/proc/${child}/fd/0`);
      } catch {
        return false;
      }
      if (!fd0.startsWith('/dev/pts/')) return false;
      t.childPid = child;
      t.slavePath = fd0;
      return true;
    }, { saw: () => `script ${proc.pid}: ${t.describe()}` });
    return t;
  }

  /** The process on the terminal (the command, once `script`'s shell has exec'd it). */
  get pid(): number {
    return this.childPid;
  }

  /** The harness itself: the `script` process. */
  get harnessPid(): number {
    return this.proc.pid!;
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  /**
   * Resolves when the terminal has shown `pattern` (searched from `from`); rejects if it closes
   * first or after `ms`, with what it showed.
   */
  async waitFor(pattern: RegExp, from = 0, ms = WAIT_MS): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = pattern.exec(this.output.slice(from));
      if (m) return from + m.index + m[0].length;
      if (this.done) throw new Error(`terminal closed before it showed ${pattern}: ${JSON.stringify(this.output.slice(from))}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out after ${ms / 1000}s waiting for the terminal to show ${pattern}; ` +
          `it showed ${JSON.stringify(this.output.slice(from))}; ${this.describe()}`);
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.listeners.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  /** Resolves with the exit status when the terminal's command has ended (bounded by `ms`). */
  async ended(ms = WAIT_MS): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s waiting for the terminal's command to end; ` +
        `it showed ${JSON.stringify(this.output)}; ${this.describe()}`)), ms);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A key (or typed text): bytes written to the master, as a terminal emulator does. */
  type(bytes: string): void {
    this.proc.stdin!.write(Buffer.from(bytes, 'latin1'));
  }

  /** A new window size: the kernel sends SIGWINCH to the terminal's foreground group. */
  resize(cols: number, rows: number): void {
    const r = spawnSync('stty', ['-F', this.slavePath, 'cols', String(cols), 'rows', String(rows)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`stty -F ${this.slavePath} failed: ${r.stderr}`);
  }

  /** Continues `script` after it stopped itself because its child stopped (see the top of this file). */
  async resumeHarness(): Promise<void> {
    await this.harnessStopped();
    process.kill(this.harnessPid, 'SIGCONT');
  }

  /**
   * Waits until `script` has stopped with its stopped child. Wait for this before continuing the
   * child: a script that looks only after the child runs again never sees the stop, never stops.
   */
  async harnessStopped(): Promise<void> {
    await until('script (the terminal harness) to stop with its stopped child', () => state(this.harnessPid) === 'T',
      { saw: () => this.describe() });
  }

  /** The processes of the terminal, for failure messages. */
  describe(): string {
    return `processes: ${descendants(this.harnessPid).map((pid) => `${pid} ${state(pid)} ${cmdline(pid).join(' ')}`).join('; ')}`;
  }

  /** SIGKILL to the harness and everything under it (a subreaper's service outlives it). */
  kill(): void {
    if (this.done) return;
    for (const pid of descendants(this.harnessPid).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

/** Runs `body` with a terminal that is killed, with all its processes, at the end or on timeout. */
export async function withTerminal<T>(
  ctx: TestContext, argv: string[], opts: TerminalOptions, body: (t: Terminal) => Promise<T>,
): Promise<T> {
  const t = await Terminal.open(argv, opts);
  const onAbort = () => {
    ctx.diagnostic(`the terminal showed: ${JSON.stringify(t.output)}`);
    ctx.diagnostic(t.describe());
    t.kill();
  };
  ctx.signal.addEventListener('abort', onAbort);
  try {
    return await body(t);
  } catch (e) {
    ctx.diagnostic(`the terminal showed: ${JSON.stringify(t.output)}`);
    throw e;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    t.kill();
  }
}
