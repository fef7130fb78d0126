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
import {
  chmodSync, chownSync, closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as libc from '../sys/libc';
import { readStat } from '../sys/proc';

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
 * Where to put the socket: /run/tsinit-notify when tsinit can make it its own, else a fresh private
 * directory in the temp dir. A directory is used only if it is a real directory (not a link) of
 * tsinit's uid that no one else can write: in a shared /tmp another uid could have made it first, and
 * could then swap the socket. Directories get 0711 exactly (the service's uid must reach the socket,
 * no one else may list the names; the socket file itself is 0600, the service's under --user). The name carries tsinit's pid and a random part, so that no two
 * tsinits (PID 1 of several namespaces share a /run) ever share one, and no one can guess it first.
 */
export function defaultNotifyPath(): string {
  // node:crypto only here: loading it costs every start about 2 ms, and only --notify needs it.
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  const name = `notify.${process.pid}.${randomBytes(6).toString('hex')}.sock`;
  // A directory of its own: the control socket's (/run/tsinit) is 0700, and the service's uid must
  // pass through this one.
  for (const dir of ['/run/tsinit-notify', join(tmpdir(), `tsinit-notify-${process.geteuid?.() ?? 0}`)]) {
    try {
      mkdirSync(dir, { mode: NOTIFY_DIR_MODE });
    } catch {
      // exists, or cannot be made: checked below
    }
    if (makeOwnPrivateDirectory(dir)) return join(dir, name);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-notify-'));
  chmodSync(dir, NOTIFY_DIR_MODE);
  return join(dir, name);
}

/** Others may pass through to the socket (the service's uid must), never list or write. */
export const NOTIFY_DIR_MODE = 0o711;

/**
 * True for a directory (not a link) of tsinit's own uid that no one else can write; its mode is then
 * set to NOTIFY_DIR_MODE through a descriptor of that very directory (a chmod by name could follow a
 * link planted meanwhile).
 */
export function makeOwnPrivateDirectory(dir: string): boolean {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (st.uid !== (process.geteuid?.() ?? st.uid) || (st.mode & 0o022) !== 0) return false;
    if ((st.mode & 0o7777) !== NOTIFY_DIR_MODE) fchmodSync(fd, NOTIFY_DIR_MODE);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Who sent a datagram, as the kernel says (SO_PASSCRED); null when it attached nothing. */
export type Sender = libc.PeerCredentials | null;

/** What notifyAccess needs to know of a process (from /proc): parent and process group. */
export interface ProcInfo {
  ppid: number;
  pgrp: number;
}

/**
 * Who may speak for the service (systemd's NotifyAccess=all, limited to the service's processes):
 * a process of the service's tree (the service, its descendants, or a member of its process group)
 * running as the service's uid or as root. Everyone else is refused: anyone who can send here can
 * keep a hung service alive (WATCHDOG=1) or have it killed (WATCHDOG=trigger). Pure, given `proc`.
 * A sender that has exited before tsinit reads its datagram cannot be placed, and is refused: send
 * from a process that lives on (sd_notify in the service itself), as with systemd.
 * Returns null to accept, else the reason to refuse.
 */
export function notifyAccess(
  sender: Sender,
  service: { pid: number; uid: number },
  proc: (pid: number) => ProcInfo | null,
): string | null {
  if (sender === null) return 'the kernel attached no sender credentials';
  if (sender.uid !== service.uid && sender.uid !== 0) return `sender pid ${sender.pid} runs as uid ${sender.uid}, not the service's uid ${service.uid}`;
  if (sender.pid === 0) return "the sender is outside tsinit's PID namespace";
  if (service.pid <= 0) return `sender pid ${sender.pid}: no service is running`;
  const first = proc(sender.pid);
  if (first === null) return `sender pid ${sender.pid} exited before tsinit could check it`;
  const group = proc(service.pid)?.pgrp;
  if (group !== undefined && first.pgrp === group) return null;
  let info: ProcInfo | null = first;
  let pid = sender.pid;
  for (let depth = 0; info !== null && depth < 1024; depth++) {
    if (pid === service.pid) return null;
    if (pid <= 1) break;
    pid = info.ppid;
    info = proc(pid);
  }
  return `sender pid ${sender.pid} is not a process of the service (pid ${service.pid})`;
}

/** notifyAccess's view of a live process, from /proc. */
export function procInfo(pid: number): ProcInfo | null {
  const st = readStat(pid);
  return st && st.state !== 'Z' ? { ppid: st.ppid, pgrp: st.pgrp } : null;
}

export interface NotifyHandlers {
  /** one parsed datagram; `now` is when tsinit read it (now()) */
  onMessage(msg: NotifyMessage, now: number): void;
  /** the socket failed (recv error): the checker's problem, not the service's; called at every failure */
  onUnknown(reason: string, now: number): void;
  /** the socket works again after onUnknown */
  onOk?(now: number): void;
  /** a datagram that `accept` refused, with the reason */
  onRefused?(reason: string, now: number): void;
}

export interface NotifySocketOptions {
  /** how often to poll the socket (default 50 ms) */
  pollMs?: number;
  /** the service's user, if it is not tsinit's: the socket is theirs to write to (mode 0600) */
  owner?: { uid: number; gid: number };
  /** who may send (see notifyAccess): null accepts, a string is the reason to refuse; default: anyone */
  accept?: (sender: Sender) => string | null;
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
  refused = 0;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly handlers: NotifyHandlers,
    private readonly opts: NotifySocketOptions,
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
      // The kernel attaches each sender's pid and uid: who may speak is checked per datagram.
      libc.passCredentials(fd);
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
      let got: ReturnType<typeof libc.receiveWithCredentials>;
      try {
        got = libc.receiveWithCredentials(this.fd);
      } catch (e) {
        this.fail(e instanceof libc.SysError ? `recv: ${e.code}` : String(e));
        return n;
      }
      if (this.failing !== null) {
        this.failing = null;
        this.handlers.onOk?.(this.clock());
      }
      if (got === null) break;
      n++;
      this.received++;
      const refusal = this.opts.accept?.(got.cred) ?? null;
      if (refusal !== null) {
        this.refused++;
        this.handlers.onRefused?.(refusal, this.clock());
        continue;
      }
      if (got.data.length === 0) continue;
      this.handlers.onMessage(parseNotify(got.data), this.clock());
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
