// Runs the built bin/tsinit as a user would: as PID 1 of a fresh PID namespace
// (unshare --pid --fork --mount-proc) or as a plain child (subreaper mode), and collects what a
// user sees: the exit status, stdout, stderr.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../..');
export const TSINIT = join(ROOT, 'bin/tsinit');
export const HELPERS = join(ROOT, 'test/helpers');

export interface RunOptions {
  /** run as PID 1 in a new PID namespace (default true) */
  pid1?: boolean;
  env?: Record<string, string>;
  input?: string;
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment without TSINIT_ variables (tsinit rejects unknown ones), plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TSINIT_') && k !== 'DEBUG') env[k] = v;
  return { ...env, ...extra };
}

export class Running {
  stdout = '';
  stderr = '';
  readonly result: Promise<Result>;
  private listeners: Array<() => void> = [];

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d) => {
      this.stdout += d;
      this.notify();
    });
    proc.stderr!.on('data', (d) => {
      this.stderr += d;
      this.notify();
    });
    this.result = new Promise((res) =>
      proc.on('close', (code, signal) => {
        this.notify();
        res({ code, signal, stdout: this.stdout, stderr: this.stderr });
      }),
    );
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  /** Resolves when stdout (or stderr) matches; rejects if the process ends first. */
  async waitFor(pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    for (;;) {
      const m = this[stream].match(pattern);
      if (m) return m;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`ended before ${pattern}: stdout=${this.stdout} stderr=${this.stderr}`);
      }
      await new Promise<void>((r) => this.listeners.push(r));
    }
  }

  /** tsinit's pid as seen from here (for PID 1 runs: the child of unshare). */
  tsinitPid(pid1: boolean): number {
    if (!pid1) return this.proc.pid!;
    const kids = readFileSync(`/proc/${this.proc.pid}/task/${this.proc.pid}/children`, 'utf8').trim();
    const pid = Number(kids.split(' ')[0]);
    // 0 would make process.kill() signal the test runner's own process group.
    if (!(pid > 0)) throw new Error(`tsinit is not running (stderr: ${this.stderr})`);
    return pid;
  }
}

export function start(args: string[], opts: RunOptions = {}): Running {
  const pid1 = opts.pid1 ?? true;
  const argv = pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', TSINIT, ...args] : [TSINIT, ...args];
  const proc = spawn(argv[0], argv.slice(1), { env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  if (opts.input !== undefined) proc.stdin!.end(opts.input);
  else proc.stdin!.end();
  return new Running(proc);
}

export function run(args: string[], opts: RunOptions = {}): Promise<Result> {
  return start(args, opts).result;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tsinit-test-'));
}

/** Polls `check` until it returns a value (bounded by the test's own timeout). */
export async function until<T>(check: () => T | null | undefined | false, everyMs = 10): Promise<T> {
  for (;;) {
    const v = check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
