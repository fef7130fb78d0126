// Runs the built bin/tsinit as a user would: as PID 1 of a fresh PID namespace or as a plain child
// (subreaper mode), and collects what a user sees: the exit status, stdout, stderr.
//
// PID 1 takes `unshare --pid --fork --mount-proc` as root. Any other user gets the same inside a new
// user namespace (`unshare --user --map-root-user ...`): root in there, with only that one uid mapped,
// which is all these tests need except switching users (`--user`); such tests are registered only
// as root (rootTest). Where the kernel refuses user namespaces, the PID-1 tests are not registered
// (pid1Test), and the suite says in one line why (see not-run-reporter.mjs).
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, TestContext } from 'node:test';

export const ROOT = resolve(__dirname, '../../..');
export const TSINIT = join(ROOT, 'bin/tsinit');
/** FORCE_TSINIT_FALLBACKS as tsinit reads it: every C library extension replaced by its fallback. */
export const FALLBACKS_FORCED = !['', '0', undefined].includes(process.env.FORCE_TSINIT_FALLBACKS);
/** The shell helpers (test/helpers/*.sh) */
export const HELPERS = join(ROOT, 'test/helpers');

/** The longest any single wait of these tests lasts before it fails and says what it saw. */
export const WAIT_MS = 60_000;
/** The longest one run of tsinit lasts before it is killed and its test fails. */
export const RUN_MS = 120_000;

export const IS_ROOT = process.getuid?.() === 0;

const AS_ROOT_PID1 = ['unshare', '--pid', '--fork', '--mount-proc'];
const AS_USER_PID1 = ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--mount-proc'];

/**
 * How this process starts a command as PID 1 of a new PID namespace: the argv prefix, or why it
 * cannot (decided once per test file, by trying).
 */
export const PID1: { prefix: string[]; refused: null } | { prefix: null; refused: string } = (() => {
  const prefix = IS_ROOT ? AS_ROOT_PID1 : AS_USER_PID1;
  const r = spawnSync(prefix[0], [...prefix.slice(1), 'true'], { encoding: 'utf8' });
  if (r.status === 0) return { prefix, refused: null };
  const why = (r.error?.message ?? r.stderr.trim().split('\n')[0]) || `exit status ${r.status}`;
  const hint = IS_ROOT ? '' : ' (the kernel or its security policy refuses unprivileged user namespaces:' +
    ' see sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone,' +
    ' kernel.apparmor_restrict_unprivileged_userns; or run npm test as root)';
  return { prefix: null, refused: `\`${prefix.join(' ')} true\` failed: ${why}${hint}` };
})();

// ---- registering tests that need more than a plain process ------------------------------------

type TestFn = (t: TestContext) => void | Promise<void>;
interface TestOptions {
  timeout?: number;
}

/**
 * Notes a test that is not registered, for the one line the suite prints about them at the end
 * (not-run-reporter.mjs, which `npm test` loads, reads them from a file named by its pid: this
 * file's parent). Without that reporter (a file run on its own), nothing is written.
 */
function notRegistered(needs: string, name: string): void {
  let runner = '';
  try {
    runner = readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8');
  } catch {
    // no parent to tell
  }
  if (!runner.includes('not-run-reporter')) return;
  appendFileSync(join(tmpdir(), `tsinit-tests-not-run.${process.ppid}`), JSON.stringify({ needs, name }) + '\n');
}

const NEEDS_ROOT = `root: this is uid ${process.getuid?.()}; run npm test as root to run them`;
const NEEDS_NAMESPACES = () => `new namespaces (tsinit as PID 1 of a PID namespace, a private mount): ${PID1.refused}`;

function register(name: string, a: TestOptions | TestFn, b?: TestFn): void {
  if (typeof a === 'function') test(name, a);
  else test(name, { timeout: a.timeout }, b!);
}

/** A test that runs tsinit as PID 1 of a new PID namespace: registered wherever that is possible. */
export function pid1Test(name: string, fn: TestFn): void;
export function pid1Test(name: string, opts: TestOptions, fn: TestFn): void;
export function pid1Test(name: string, a: TestOptions | TestFn, b?: TestFn): void {
  if (PID1.refused !== null) notRegistered(NEEDS_NAMESPACES(), name);
  else register(name, a, b);
}

/** A test that mounts in a private mount namespace (inPrivateMount): registered wherever PID 1 tests are. */
export const privateMountTest = pid1Test;

/** A test that needs real root (its name says so): registered only as root. */
export function rootTest(name: string, fn: TestFn): void;
export function rootTest(name: string, opts: TestOptions, fn: TestFn): void;
export function rootTest(name: string, a: TestOptions | TestFn, b?: TestFn): void {
  if (!name.includes('(needs root)')) throw new Error(`a root-only test says "(needs root)" in its name: ${name}`);
  if (!IS_ROOT) notRegistered(NEEDS_ROOT, name);
  else if (PID1.refused !== null) notRegistered(NEEDS_NAMESPACES(), name);
  else register(name, a, b);
}

// ---- running tsinit ---------------------------------------------------------------------------

export interface RunOptions {
  /** run as PID 1 in a new PID namespace (default true) */
  pid1?: boolean;
  env?: Record<string, string>;
  input?: string;
  /** how long this run may take before it is killed and its result rejected (default RUN_MS) */
  deadlineMs?: number;
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

/** The argv that starts `argv` as PID 1 of a new PID namespace (throws where that is refused). */
export function asPid1(argv: string[]): string[] {
  if (PID1.prefix === null) throw new Error(`cannot start a PID namespace: ${PID1.refused}`);
  return [...PID1.prefix, ...argv];
}

/**
 * The argv that runs `argv` in a private mount namespace (where it may mount a tmpfs), as root or,
 * for another user, as root of a new user namespace.
 */
export function inPrivateMount(argv: string[]): string[] {
  return ['unshare', ...(IS_ROOT ? [] : ['--user', '--map-root-user']), '--mount', '--propagation', 'private', ...argv];
}

const clip = (s: string, n = 2000) => (s.length > n ? `...${s.slice(-n)}` : s);

export class Running {
  stdout = '';
  stderr = '';
  readonly result: Promise<Result>;
  private listeners: Array<() => void> = [];
  private ended = false;

  constructor(readonly proc: ChildProcess, private readonly pid1 = true, argv: string[] = proc.spawnargs, deadlineMs = RUN_MS) {
    proc.stdout!.on('data', (d) => {
      this.stdout += d;
      this.notify();
    });
    proc.stderr!.on('data', (d) => {
      this.stderr += d;
      this.notify();
    });
    this.result = new Promise((res, rej) => {
      const timer = setTimeout(() => {
        rej(new Error(`\`${argv.join(' ')}\` did not end within ${deadlineMs / 1000}s (killed); ` +
          `stdout: ${JSON.stringify(clip(this.stdout))}; stderr: ${JSON.stringify(clip(this.stderr))}`));
        this.kill();
      }, deadlineMs);
      proc.on('close', (code, signal) => {
        clearTimeout(timer);
        this.ended = true;
        this.notify();
        res({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
    // A test that fails before it awaits the result must not also get an unhandled rejection.
    this.result.catch(() => undefined);
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  /**
   * Resolves when stdout (or stderr) matches; rejects if the process ends first or after `ms`,
   * saying what the streams held.
   */
  async waitFor(pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout', ms = WAIT_MS): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this[stream].match(pattern);
      if (m) return m;
      const saw = `stdout=${JSON.stringify(clip(this.stdout))} stderr=${JSON.stringify(clip(this.stderr))}`;
      if (this.ended || this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`ended before ${stream} matched ${pattern}: ${saw}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms / 1000}s waiting for ${stream} to match ${pattern}: ${saw}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.listeners.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  /** tsinit's pid as seen from here (for PID 1 runs: the child of unshare). */
  tsinitPid(pid1 = this.pid1): number {
    if (!pid1) return this.proc.pid!;
    const kids = childrenOf(this.proc.pid!);
    // 0 would make process.kill() signal the test runner's own process group.
    if (!(kids[0] > 0)) throw new Error(`tsinit is not running (stderr: ${this.stderr})`);
    return kids[0];
  }

  /** SIGKILL to tsinit and everything under it (as PID 1, killing it ends its whole namespace). */
  kill(): void {
    for (const pid of descendants(this.proc.pid!).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

export function start(args: string[], opts: RunOptions = {}): Running {
  const pid1 = opts.pid1 ?? true;
  const argv = pid1 ? asPid1([TSINIT, ...args]) : [TSINIT, ...args];
  const proc = spawn(argv[0], argv.slice(1), { env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdin!.on('error', () => undefined); // tsinit may exit before it reads its input
  if (opts.input !== undefined) proc.stdin!.end(opts.input);
  else proc.stdin!.end();
  return new Running(proc, pid1, ['tsinit', ...args], opts.deadlineMs);
}

export function run(args: string[], opts: RunOptions = {}): Promise<Result> {
  return start(args, opts).result;
}

const tempDirs: string[] = [];

/**
 * A fresh directory for one test, removed when the test file's process exits, so that runs leave
 * nothing in /tmp. TSINIT_TEST_KEEP=1 keeps them, to look at after a failure.
 */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-test-'));
  if (tempDirs.push(dir) === 1 && !process.env.TSINIT_TEST_KEEP) process.on('exit', removeTempDirs);
  return dir;
}

function removeTempDirs(): void {
  for (const dir of tempDirs) {
    try {
      // Symlinks a test planted are removed, not followed; mounts live in private namespaces only.
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // a file another uid made unreadable: left behind, like any other failure to clean up
    }
  }
}

// ---- waiting ----------------------------------------------------------------------------------

export interface WaitOptions {
  /** the deadline (default WAIT_MS) */
  ms?: number;
  everyMs?: number;
  /** what to report as seen when the deadline passes (default: the last value of the check) */
  saw?: () => unknown;
}

/**
 * Polls `check` until it returns a value; after the deadline, fails saying what it waited for and
 * what it saw. (The form without a description is kept for older callers.)
 */
export async function until<T>(what: string, check: () => T | null | undefined | false, opts?: WaitOptions): Promise<T>;
export async function until<T>(check: () => T | null | undefined | false, everyMs?: number): Promise<T>;
export async function until<T>(
  a: string | (() => T | null | undefined | false),
  b?: (() => T | null | undefined | false) | number,
  c: WaitOptions = {},
): Promise<T> {
  const [what, check, opts] = typeof a === 'string'
    ? [a, b as () => T | null | undefined | false, c]
    : [`${a}`, a, { everyMs: b as number | undefined }];
  const ms = opts.ms ?? WAIT_MS;
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) {
      const saw = opts.saw ? opts.saw() : v;
      throw new Error(`timed out after ${ms / 1000}s waiting for ${what}; saw: ${typeof saw === 'string' ? saw : JSON.stringify(saw)}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 10));
  }
}

// ---- processes --------------------------------------------------------------------------------

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process and all its descendants, parents first. */
export function descendants(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]));
  return out;
}

/** The state letter of a process (R, S, T, Z...), or null once it is gone. */
export function state(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/** The environment variable that marks the processes of one test (never a TSINIT_ name: tsinit checks those). */
export const MARK_VAR = 'TEST_MARK';

let marks = 0;

/**
 * A marker unique to one test: put `env` into the environment of what the test starts, and
 * `processes()` finds what is left of it, whatever its command line (other tests run the same ones).
 */
export class Marker {
  readonly value = `${process.pid}-${++marks}-${randomBytes(4).toString('hex')}`;

  get env(): Record<string, string> {
    return { [MARK_VAR]: this.value };
  }

  /** The live (not zombie) processes that carry this marker, with their argv. */
  processes(): Array<{ pid: number; argv: string[] }> {
    const needle = `${MARK_VAR}=${this.value}\0`;
    const found: Array<{ pid: number; argv: string[] }> = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      let environ: string;
      try {
        environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      } catch {
        continue; // gone meanwhile, or another user's
      }
      if (!(environ.startsWith(needle) || environ.includes(`\0${needle}`))) continue;
      const s = state(pid);
      if (s !== null && s !== 'Z') found.push({ pid, argv: cmdline(pid) });
    }
    return found;
  }

  /** The marked processes whose argv is exactly `argv`. */
  running(argv: string[]): number[] {
    return this.processes().filter((p) => p.argv.join('\0') === argv.join('\0')).map((p) => p.pid);
  }
}
