// --pty: the service runs in a new pseudo-terminal through node-pty, an optional dependency that is
// loaded here and only here, when --pty is used.
//
//   tsinit's stdin ──(raw, if a terminal)──> pty master ──> service (session leader, pgid = pid)
//   tsinit's stdout or the logger pipe <──── pty master <── service's stdout and stderr
//
// In this mode tsinit copies bytes (DESIGN.md section 1). It never blocks on a write: output is written
// to a private non-blocking description of the destination, and when that is full the pty is no
// longer read, so the service blocks on its writes exactly as it would on a full pipe. Nothing read
// from the pty is dropped silently: what cannot be written at the end is reported with its count.
//
// Exit status: node-pty waits for its child itself (a thread calling waitpid on that pid), so the
// reaper is told to leave that pid alone from the moment it exists until node-pty has reported it.
import { now } from '../../clock';
import {
  accessSync, closeSync, constants as fsc, createReadStream, fstatSync, openSync, readdirSync, readSync, statSync,
  writeSync,
} from 'node:fs';
import { ReadStream as TtyReadStream } from 'node:tty';
import { Readable } from 'node:stream';
import { delimiter, join } from 'node:path';
import { Child, explain, SpawnError } from '../spawn';
import { EventLog } from '../../events';
import { Reaper } from '../reaper';
import { ExitStatus } from '../../exit-status';
import { SIGSTOP, SIGTSTP } from '../../signals';
import { readStatus } from '../../sys/proc';
import * as libc from '../../sys/libc';
import createDebug from '../../debug';

const debug = createDebug('pty');

// ---- node-pty, typed as far as tsinit uses it (its own typings may be absent: it is optional) ----

interface PtyProcess {
  readonly pid: number;
  /** the master fd (UnixTerminal) */
  readonly fd: number;
  onData(listener: (data: Buffer | string) => void): unknown;
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): void;
  pause(): void;
  resume(): void;
}

interface PtyForkOptions {
  name: string;
  cols: number;
  rows: number;
  cwd: string;
  env: Record<string, string>;
  encoding: null;
}

export interface NodePty {
  spawn(file: string, args: string[], options: PtyForkOptions): PtyProcess;
}

/** node-pty cannot be loaded: not installed, or its native part does not load. */
export class PtyUnavailable extends Error {
  constructor(readonly reason: string) {
    super(`--pty needs the optional package node-pty: ${reason}`);
  }
}

/** Loads node-pty (kept external by the bundler); throws PtyUnavailable with a one-line reason. */
export function loadNodePty(): NodePty {
  let m: Partial<NodePty>;
  try {
    m = require('node-pty') as Partial<NodePty>;
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    throw new PtyUnavailable(text.split('\n')[0].trim() || 'it failed to load');
  }
  if (typeof m.spawn !== 'function') throw new PtyUnavailable('it has no spawn function');
  return m as NodePty;
}

// ---- writing without blocking and without silent loss ----------------------------------------------

const HIGH_WATER = 64 * 1024;
const LOW_WATER = 16 * 1024;
const RETRY_MS = 5;

interface WriterHooks {
  /** the queue is above the high-water mark: stop reading the source */
  pause(): void;
  /** the queue is below the low-water mark again */
  resume(): void;
}

/**
 * Writes to an fd in order. A write that would block (EAGAIN) leaves the bytes queued and retries on
 * a short timer; above HIGH_WATER queued bytes the source is paused (backpressure). A hard error
 * (EPIPE, EIO, EBADF ...) ends writing; the bytes that could not be written are counted, never hidden.
 */
class FdWriter {
  private queue: Buffer[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private paused = false;
  private lastProgress = now();
  private waiters: Array<() => void> = [];
  /** once set, nothing more is written */
  failure: string | null = null;
  lost = 0;

  constructor(
    readonly fd: number,
    private readonly hooks: WriterHooks,
  ) {}

  write(buf: Buffer): void {
    if (buf.length === 0) return;
    if (this.failure !== null) {
      this.lost += buf.length;
      return;
    }
    this.queue.push(buf);
    this.queued += buf.length;
    if (this.timer === null) this.flush();
  }

  private flush = (): void => {
    this.timer = null;
    while (this.queue.length > 0 && this.failure === null) {
      const head = this.queue[0];
      let n: number;
      try {
        n = writeSync(this.fd, head);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? String(e);
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') break;
        this.fail(code);
        return;
      }
      if (n > 0) this.lastProgress = now();
      if (n >= head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      this.queued -= n;
    }
    if (!this.paused && this.queued > HIGH_WATER) {
      this.paused = true;
      this.hooks.pause();
    } else if (this.paused && this.queued <= LOW_WATER) {
      this.paused = false;
      this.hooks.resume();
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(this.flush, RETRY_MS);
      return;
    }
    for (const w of this.waiters.splice(0)) w();
  };

  private fail(reason: string): void {
    this.failure = reason;
    this.lost += this.queued;
    this.queue = [];
    this.queued = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.paused) {
      this.paused = false;
      this.hooks.resume();
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when everything queued is written, or written off after `stallMs` without progress. */
  finish(stallMs: number): Promise<void> {
    this.lastProgress = now();
    return new Promise((resolve) => {
      if (this.queue.length === 0 || this.failure !== null) return resolve();
      const stall = setInterval(() => {
        if (now() - this.lastProgress >= stallMs) this.fail(`nothing could be written for ${stallMs}ms`);
      }, Math.min(stallMs, 100));
      this.waiters.push(() => {
        clearInterval(stall);
        resolve();
      });
    });
  }

  /** Stops for good: queued bytes count as lost. */
  abandon(reason: string): void {
    if (this.failure === null) this.fail(reason);
  }
}

/**
 * A non-blocking description of what `fd` points to, private to tsinit: O_NONBLOCK on the shared
 * description would make the writes of everyone else who shares it (the caller, a shell) fail with
 * EAGAIN (DESIGN.md section 5). Pipes and terminals are reopened through /proc; anything else
 * (a regular file, whose offset must be shared; a socket, which cannot be reopened) is written
 * as it is.
 */
function privateWriteFd(fd: number): { fd: number; owned: boolean } {
  try {
    const st = fstatSync(fd);
    if (st.isFIFO() || st.isCharacterDevice()) {
      const own = openSync(`/proc/self/fd/${fd}`, fsc.O_WRONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
      return { fd: own, owned: true };
    }
  } catch (e) {
    debug('cannot reopen fd %d privately: %s', fd, (e as Error).message);
  }
  return { fd, owned: false };
}

/** True if `pid` ignores or catches SIGTSTP (from /proc: the SigIgn and SigCgt masks). */
function handlesTstp(pid: number): boolean {
  const st = readStatus(pid);
  if (!st) return false;
  const bit = 1n << BigInt(SIGTSTP - 1);
  return [st.SigIgn, st.SigCgt].some((mask) => mask !== undefined && (BigInt(`0x${mask.trim()}`) & bit) !== 0n);
}

// ---- starting ---------------------------------------------------------------------------------------

/** posix_spawn's answers (127, 126) for commands node-pty's execvp would fail on after the fork. */
function preflight(cmd: string, path: string | undefined): void {
  const fail = (e: number): never => {
    throw explain(cmd, new libc.SysError('exec', e));
  };
  const candidates = cmd.includes('/')
    ? [cmd]
    : (path ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).map((d) => join(d || '.', cmd));
  let denied = false;
  for (const candidate of candidates) {
    let isDir: boolean;
    try {
      isDir = statSync(candidate).isDirectory();
    } catch {
      continue;
    }
    try {
      if (isDir) throw new Error('directory');
      accessSync(candidate, fsc.X_OK);
    } catch {
      denied = true;
      continue;
    }
    const interp = interpreter(candidate);
    if (interp !== null && interp.startsWith('/')) {
      try {
        statSync(interp);
      } catch {
        fail(libc.errno.ENOENT);
      }
    }
    return;
  }
  fail(denied ? libc.errno.EACCES : libc.errno.ENOENT);
}

function interpreter(path: string): string | null {
  try {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(256);
      const n = readSync(fd, head, 0, head.length, 0);
      const m = /^#!\s*(\S+)/.exec(head.subarray(0, n).toString('latin1'));
      return m ? m[1] : null;
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** forkpty(3) keeps every fd that is not close-on-exec; posix_spawn's closefrom is not there. */
function closeOnExecAboveStdio(): void {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return;
  }
  for (const name of names) {
    const fd = Number(name);
    if (fd > 2) {
      try {
        libc.setCloseOnExec(fd);
      } catch {
        // the directory's own fd, already closed
      }
    }
  }
}

/** tsinit's terminal size (stdin's, else stdout's), or null without a terminal. */
export function terminalSize(): { rows: number; cols: number } | null {
  for (const fd of [0, 1]) {
    if (!libc.isatty(fd)) continue;
    const ws = libc.windowSize(fd);
    if (ws && ws.rows > 0 && ws.cols > 0) return ws;
  }
  return null;
}

const DEFAULT_SIZE = { rows: 24, cols: 80 };

export interface PtySpec {
  argv: string[];
  env?: Record<string, string>;
  /** [childFd, tsinitFd] pairs a pipe-mode service would get beyond 0-2: a pty cannot pass them */
  fds?: Array<[number, number]>;
  /** where the service's output goes: tsinit's fd 1 or the logger pipe's write end */
  output: number;
  user?: libc.SpawnRequest['user'];
  nice?: number;
}

/** A service running in its own pty: a Child (pid, group, exit status) plus the pty's controls. */
export interface PtyChild extends Child {
  /** the pty's window size; the kernel sends SIGWINCH to the pty's foreground group */
  resize(size: { rows: number; cols: number }): void;
}

type InputKind = 'none' | 'tty' | 'stream';

function stdinKind(interactive: boolean): InputKind {
  try {
    fstatSync(0);
  } catch {
    return 'none';
  }
  if (libc.isatty(0)) return interactive ? 'tty' : 'none';
  return 'stream';
}

const VEOF = 0x04;

/**
 * Everything --pty needs for the whole run: node-pty, stdin (read once, for every incarnation in
 * turn), the raw mode of tsinit's own terminal, and the pty of the current incarnation.
 */
export class PtyHost {
  private input: Readable | null = null;
  private readonly inputKind: InputKind;
  private inputEnded = false;
  private raw = false;
  private current: Session | null = null;

  /**
   * interactive: stdin is a terminal where tsinit is in the foreground. Then that terminal is put in
   * raw mode and every key goes to the pty, Ctrl-C and Ctrl-Z included (the pty's line discipline
   * turns them into signals for the service). Other stdin (a pipe, a file) is forwarded as it is,
   * with the pty's echo off, and its end becomes an end-of-file (Ctrl-D) in the pty.
   */
  constructor(
    private readonly nodePty: NodePty,
    private readonly o: {
      interactive: boolean;
      events: EventLog;
      stallMs: number;
      /** the suspend key stopped the service: tsinit gives the terminal back and stops too */
      onSuspendKey: () => void;
    },
  ) {
    this.inputKind = stdinKind(o.interactive);
    if (this.inputKind === 'tty') {
      const tty = new TtyReadStream(0);
      this.input = tty;
    } else if (this.inputKind === 'stream') {
      // A blocking read in the thread pool: nothing about fd 0's flags changes for others.
      this.input = createReadStream('', { fd: 0, autoClose: false, highWaterMark: 16 * 1024 });
    }
    if (this.input) {
      const keys = this.inputKind === 'tty';
      this.input.on('data', (chunk: Buffer | string) => this.current?.input(Buffer.from(chunk), keys));
      this.input.on('end', () => {
        this.inputEnded = true;
        this.current?.endOfInput();
      });
      this.input.on('error', (e) => {
        debug('stdin: %s', e.message);
        this.inputEnded = true;
      });
      this.input.pause();
    }
    this.enterRaw();
  }

  /** Starts one incarnation in a new pty. Throws SpawnError like spawnChild. */
  spawn(spec: PtySpec, reaper: Reaper): PtyChild {
    const cmd = spec.argv[0];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...spec.env })) if (v !== undefined) env[k] = v;
    preflight(cmd, env.PATH);
    if (spec.fds && spec.fds.length > 0) debug('a pty cannot pass fds %j to the service', spec.fds);
    closeOnExecAboveStdio();
    const size = terminalSize() ?? DEFAULT_SIZE;
    const options: PtyForkOptions = {
      name: env.TERM || 'xterm',
      cols: size.cols,
      rows: size.rows,
      cwd: process.cwd(),
      env,
      encoding: null,
    };
    let term: PtyProcess;
    try {
      const fork = () => this.nodePty.spawn(cmd, spec.argv.slice(1), options);
      term = spec.user || spec.nice !== undefined ? libc.withThreadCredentials(spec.user, spec.nice, fork) : fork();
    } catch (e) {
      if (e instanceof libc.SysError) throw new SpawnError(cmd, e.message, 125);
      throw new SpawnError(cmd, `cannot start it in a pseudo-terminal: ${(e as Error).message}`, 125);
    }
    // Before anything else can run: node-pty's thread waits for this pid, the reaper must not.
    reaper.leaveToOthers(term.pid);
    const session = new Session(term, spec.output, reaper, this.o, this.inputKind === 'stream');
    this.current = session;
    session.exited.then(() => {
      if (this.current === session) this.current = null;
      this.input?.pause();
    });
    session.onInputBlocked = (blocked) => (blocked ? this.input?.pause() : this.resumeInput());
    session.onSuspendKey = this.o.onSuspendKey;
    if (this.inputEnded && this.inputKind === 'stream') session.endOfInput();
    this.resumeInput();
    return session;
  }

  private resumeInput(): void {
    if (!this.input || !this.current || this.current.ended) return;
    if (this.inputKind === 'tty' && !this.raw) return;
    this.input.resume();
  }

  /** SIGWINCH: the pty follows tsinit's terminal. False when tsinit has no terminal size to give. */
  resize(): boolean {
    const size = terminalSize();
    if (!size) return false;
    try {
      this.current?.resize(size);
    } catch (e) {
      debug('resize: %s', (e as Error).message);
    }
    return true;
  }

  /** Raw mode on tsinit's terminal and keys to the pty (at start, and after `fg`). */
  enterRaw(): void {
    if (this.inputKind !== 'tty' || !(this.input instanceof TtyReadStream)) return;
    try {
      this.input.setRawMode(true);
      this.raw = true;
    } catch (e) {
      debug('raw mode: %s', (e as Error).message);
    }
    this.resumeInput();
  }

  /** The terminal as tsinit found it (before tsinit stops itself, and at the end). */
  leaveRaw(): void {
    if (!(this.input instanceof TtyReadStream)) return;
    this.input.pause();
    if (!this.raw) return;
    try {
      this.input.setRawMode(false);
    } catch (e) {
      debug('cooked mode: %s', (e as Error).message);
    }
    this.raw = false;
  }
}

/** One incarnation's pty. */
class Session implements PtyChild {
  readonly pid: number;
  readonly pgid: number;
  readonly exited: Promise<ExitStatus>;
  onInputBlocked: (blocked: boolean) => void = () => undefined;
  onSuspendKey: () => void = () => undefined;
  /** the service has exited (its output may still be on its way) */
  ended = false;
  private readonly master: number;
  private readonly out: FdWriter;
  private readonly outFd: { fd: number; owned: boolean };
  private readonly toPty: FdWriter;
  private closed = false;
  /** the last byte forwarded from stdin, -1 before any */
  private lastInput = -1;

  constructor(
    term: PtyProcess,
    output: number,
    reaper: Reaper,
    o: { events: EventLog; stallMs: number },
    noEcho: boolean,
  ) {
    this.pid = term.pid;
    // forkpty makes the child a session leader, so its group is its pid.
    this.pgid = term.pid;
    // A private copy of the master: node-pty closes its own when the pty ends, and a number that is
    // closed may be reused by anything; this one lives until tsinit is done with it.
    this.master = libc.dupCloexec(term.fd);
    if (noEcho) {
      try {
        libc.setEcho(this.master, false);
      } catch (e) {
        debug('echo off: %s', (e as Error).message);
      }
    }
    this.outFd = privateWriteFd(output);
    this.out = new FdWriter(this.outFd.fd, { pause: () => term.pause(), resume: () => term.resume() });
    this.toPty = new FdWriter(this.master, {
      pause: () => this.onInputBlocked(true),
      resume: () => {
        if (!this.ended) this.onInputBlocked(false);
      },
    });
    term.on('error', (e) => debug('pty %d: %s', this.pid, e.message));
    term.onData((d) => this.out.write(typeof d === 'string' ? Buffer.from(d) : d));
    this.exited = new Promise((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        reaper.release(this.pid);
        const status: ExitStatus = signal ? { code: null, signal } : { code: exitCode, signal: null };
        debug('pty %d exited: %j', this.pid, status);
        // stdin stays unread until the next incarnation, if any, instead of going into a dead pty.
        this.ended = true;
        this.onInputBlocked(true);
        this.toPty.abandon('the service exited');
        this.drain();
        this.out.finish(o.stallMs).then(() => {
          if (this.out.lost > 0) {
            o.events.emit({ type: 'pty-output-lost', pid: this.pid, bytes: this.out.lost, reason: this.out.failure ?? 'unknown' });
          }
          this.close();
          resolve(status);
        });
      });
    });
  }

  /** Bytes from tsinit's stdin; `keys`: typed on tsinit's terminal (Ctrl-Z is looked for). */
  input(buf: Buffer, keys: boolean): void {
    if (this.ended || buf.length === 0) return;
    const at = keys ? this.suspendKeyAt(buf) : -1;
    if (at >= 0) {
      this.input(buf.subarray(0, at), false);
      // The kernel discards a terminal's SIGTSTP for an orphaned process group, and the service's
      // group is one (its parent, tsinit, is in another session): do what the key would otherwise
      // do. Then tsinit stops too (init.ts), so the shell gets the terminal back; `fg` continues
      // both. (Not left to SIGCHLD: a service in vfork, whose child the signal stopped before its
      // exec, is never reported stopped.)
      libc.kill(-this.pgid, SIGSTOP);
      this.onSuspendKey();
      this.input(buf.subarray(at + 1), true);
      return;
    }
    this.lastInput = buf[buf.length - 1];
    this.toPty.write(buf);
  }

  /**
   * Where the pty's suspend key is in `buf`, if it would stop the service: the pty makes signals
   * of keys, the service's own group is the pty's foreground (a shell in the pty gives its jobs the
   * terminal, and they get the key as usual), and the service leaves SIGTSTP at its default (an
   * interactive shell ignores it; a handler gets the key's signal). Never as PID 1: there would be
   * no shell to return to.
   */
  private suspendKeyAt(buf: Buffer): number {
    if (process.pid === 1) return -1;
    try {
      const key = libc.suspendKey(this.master);
      if (key === null) return -1;
      const at = buf.indexOf(key);
      if (at < 0 || libc.getForegroundGroup(this.master) !== this.pgid) return -1;
      return handlesTstp(this.pid) ? -1 : at;
    } catch {
      return -1;
    }
  }

  /** The end of a non-terminal stdin: Ctrl-D, twice after a partial line (the first only ends the line). */
  endOfInput(): void {
    if (this.ended) return;
    const partial = this.lastInput !== -1 && this.lastInput !== 0x0a;
    this.toPty.write(Buffer.from(partial ? [VEOF, VEOF] : [VEOF]));
  }

  /**
   * node-pty's reader stops early: libuv takes a short read plus POLLHUP for the end of the stream,
   * but a pty hands out its buffer in pieces, and node-pty also stops reading 200 ms after its
   * child's exit. What is left is still in the kernel: read it from tsinit's own copy of the master
   * until EIO (the other side is closed and nothing is left) or EAGAIN (some other process still
   * holds the pty open: what it writes later is not the service's).
   */
  private drain(): void {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.master, buf, 0, buf.length, null);
      } catch (e) {
        debug('pty %d drained: %s', this.pid, (e as NodeJS.ErrnoException).code);
        return;
      }
      if (n <= 0) return;
      this.out.write(Buffer.from(buf.subarray(0, n)));
    }
  }

  resize(size: { rows: number; cols: number }): void {
    if (this.closed) return;
    libc.setWindowSize(this.master, size.rows, size.cols);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.master);
    if (this.outFd.owned) closeSync(this.outFd.fd);
  }
}

