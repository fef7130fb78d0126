// sd_notify: the service tells tsinit READY=1, WATCHDOG=1 ... on a unix datagram socket named by
// NOTIFY_SOCKET, exactly as it would tell systemd, so services already instrumented for systemd (libsystemd's
// sd_notify, Python's sdnotify, `systemd-notify`, Go's coreos/go-systemd) work unchanged.
//
// Node has no unix datagram sockets (node:dgram is UDP only; the npm packages that add them, such as
// unix-dgram, are native addons that need a compiler and have been unmaintained for years). tsinit
// already loads koffi for libc, so the socket is three libc calls in src/sys/libc.ts: socket, bind,
// recv(MSG_DONTWAIT). A raw fd has no watcher in Node, so it is polled (every 50 ms by default, one
// cheap non-blocking recv when nothing is waiting): heartbeats are for periods of seconds.
//
// parseNotify is pure; NotifySocket owns the fd and the socket file.
import { now } from '../clock';
import { accessSync, chmodSync, chownSync, constants, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as libc from '../sys/libc';

export interface NotifyMessage {
  /** READY=1 */
  ready: boolean;
  /** RELOADING=1 */
  reloading: boolean;
  /** STOPPING=1 */
  stopping: boolean;
  /** WATCHDOG=1 -> 'ping', WATCHDOG=trigger -> 'trigger' */
  watchdog: 'ping' | 'trigger' | null;
  /** EXTEND_TIMEOUT_USEC=, in microseconds */
  extendTimeoutUsec?: number;
  /** WATCHDOG_USEC=: the service changes its watchdog period (0: off) */
  watchdogUsec?: number;
  /** STATUS=: free text for humans */
  status?: string;
  /** ERRNO=: the service's last error, for humans */
  errno?: number;
  /** assignments that are not understood or not valid, for debug lines ("FDSTORE=1", "MAINPID=4242") */
  ignored: string[];
}

const UINT = /^\d+$/;

/** Parses one datagram: newline-separated VAR=VALUE assignments, as systemd does. Pure. */
export function parseNotify(data: Buffer | string): NotifyMessage {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const msg: NotifyMessage = { ready: false, reloading: false, stopping: false, watchdog: null, ignored: [] };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      msg.ignored.push(line);
      continue;
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (!applyAssignment(msg, key, value)) msg.ignored.push(line);
  }
  return msg;
}

function applyAssignment(msg: NotifyMessage, key: string, value: string): boolean {
  switch (key) {
    case 'READY':
      return value === '1' && (msg.ready = true);
    case 'RELOADING':
      return value === '1' && (msg.reloading = true);
    case 'STOPPING':
      return value === '1' && (msg.stopping = true);
    case 'WATCHDOG':
      if (value === '1') msg.watchdog ??= 'ping';
      else if (value === 'trigger') msg.watchdog = 'trigger'; // trigger wins over a ping in the same datagram
      else return false;
      return true;
    case 'EXTEND_TIMEOUT_USEC':
    case 'WATCHDOG_USEC': {
      if (!UINT.test(value)) return false;
      const n = Number(value);
      if (!Number.isSafeInteger(n)) return false;
      if (key === 'WATCHDOG_USEC') msg.watchdogUsec = n;
      else msg.extendTimeoutUsec = n;
      return true;
    }
    case 'STATUS':
      msg.status = value;
      return true;
    case 'ERRNO':
      if (!UINT.test(value)) return false;
      msg.errno = Number(value);
      return true;
    default:
      return false;
  }
}

/** Microseconds (the protocol's unit) to whole milliseconds, rounding up so a deadline is never shortened. */
export function usecToMs(usec: number): number {
  return Math.ceil(usec / 1000);
}

/**
 * The environment systemd gives a watched service. WATCHDOG_USEC only with a watchdog.
 *
 * WATCHDOG_PID: libsystemd's sd_watchdog_enabled() treats the watchdog as meant for the process whose
 * pid it names, and as meant for *any* process when it is unset. posix_spawn does not know the pid
 * before the spawn, so pass `watchdogPid` only if it is known (it is after a fork, never before a
 * posix_spawn): use execWithWatchdogPid() to have the service's own pid set, or leave it unset.
 */
export function notifyEnv(opts: { socketPath: string; watchdogMs?: number; watchdogPid?: number }): Record<string, string> {
  const env: Record<string, string> = { NOTIFY_SOCKET: opts.socketPath };
  if (opts.watchdogMs !== undefined && opts.watchdogMs > 0) {
    env.WATCHDOG_USEC = String(Math.round(opts.watchdogMs * 1000));
    if (opts.watchdogPid !== undefined) env.WATCHDOG_PID = String(opts.watchdogPid);
  }
  return env;
}

/**
 * Wraps a command so that WATCHDOG_PID holds the service's own pid, as systemd sets it: a shell
 * exports its $$ and execs the command, which keeps that pid. Without it, a child of the service
 * that inherits WATCHDOG_USEC could send WATCHDOG=1 for a main process that hangs. The cost: a
 * command that cannot be run is reported by the shell (exit 127/126 and sh's own message) rather than
 * by tsinit's spawn error, so check the command exists before wrapping.
 */
export function execWithWatchdogPid(argv: string[]): string[] {
  return ['/bin/sh', '-c', 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', 'tsinit-notify', ...argv];
}

/**
 * Where to put the socket: /run/tsinit (created 0755) when writable, else a directory in the temp dir.
 * Either may exist already and belong to another user (root made it, this is a user or root of a
 * user namespace): then it is not used.
 * The name carries tsinit's pid so that two tsinits never share one; a socket left by an earlier run
 * with the same pid (PID 1 after a container restart) is replaced by NotifySocket.open.
 */
export function defaultNotifyPath(): string {
  for (const dir of ['/run/tsinit', join(tmpdir(), `tsinit-${process.getuid?.() ?? 0}`)]) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      accessSync(dir, constants.W_OK | constants.X_OK);
      return join(dir, `notify.${process.pid}.sock`);
    } catch {
      // not writable: next
    }
  }
  return join(tmpdir(), `tsinit-notify.${process.pid}.sock`);
}

export interface NotifyHandlers {
  /** one parsed datagram; `now` is when tsinit read it (now()) */
  onMessage(msg: NotifyMessage, now: number): void;
  /** the socket failed (recv error): the checker's problem, not the service's; called at every failure */
  onUnknown(reason: string, now: number): void;
  /** the socket works again after onUnknown */
  onOk?(now: number): void;
}

export interface NotifySocketOptions {
  /** how often to poll the socket (default 50 ms) */
  pollMs?: number;
  /** the service's user, if it is not tsinit's: the socket is theirs to write to (mode 0600) */
  owner?: { uid: number; gid: number };
  clock?: () => number;
}

/** at most this many datagrams per poll, so that a flood cannot starve tsinit's event loop */
const MAX_PER_POLL = 256;

export class NotifySocket {
  private fd: number | null;
  private timer: NodeJS.Timeout | null = null;
  private failing: string | null = null;
  private readonly clock: () => number;
  received = 0;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly handlers: NotifyHandlers,
    opts: NotifySocketOptions,
  ) {
    this.fd = fd;
    this.clock = opts.clock ?? (() => now());
    if (opts.pollMs !== 0) {
      this.timer = setInterval(() => this.poll(), opts.pollMs ?? 50);
      // The socket must never keep tsinit alive by itself.
      this.timer.unref();
    }
  }

  /** Binds the socket at `path` (replacing a stale socket there) and starts polling it. Throws SysError. */
  static open(path: string, handlers: NotifyHandlers, opts: NotifySocketOptions = {}): NotifySocket {
    removeStaleSocket(path);
    const fd = libc.bindDatagramSocket(path);
    try {
      // Only the service may speak for the service: anyone who can write here can keep a hung
      // service alive (WATCHDOG=1) or have it killed (WATCHDOG=trigger).
      if (opts.owner) chownSync(path, opts.owner.uid, opts.owner.gid);
      chmodSync(path, 0o600);
    } catch (e) {
      libc.close(fd);
      tryUnlink(path);
      throw e;
    }
    return new NotifySocket(path, fd, handlers, opts);
  }

  /** Reads every datagram waiting (up to a bound); returns how many. Called by the timer, or directly. */
  poll(): number {
    let n = 0;
    while (this.fd !== null && n < MAX_PER_POLL) {
      let data: Buffer | null;
      try {
        data = libc.receive(this.fd);
      } catch (e) {
        this.fail(e instanceof libc.SysError ? `recv: ${e.code}` : String(e));
        return n;
      }
      if (this.failing !== null) {
        this.failing = null;
        this.handlers.onOk?.(this.clock());
      }
      if (data === null) break;
      n++;
      this.received++;
      if (data.length === 0) continue;
      this.handlers.onMessage(parseNotify(data), this.clock());
    }
    return n;
  }

  /** Every failure is passed on (the Watchdog reports each cause once and needs to know it goes on). */
  private fail(reason: string): void {
    this.failing = reason;
    this.handlers.onUnknown(`notify socket ${this.path}: ${reason}`, this.clock());
  }

  /** Stops polling, closes the fd and removes the socket file. Idempotent. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.fd !== null) libc.close(this.fd);
    this.fd = null;
    tryUnlink(this.path);
  }
}

function removeStaleSocket(path: string): void {
  try {
    // Never remove anything but a socket: a mistyped path must not cost the user a file.
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: fine; anything else, bind reports it
  }
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
