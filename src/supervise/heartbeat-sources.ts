// Where heartbeats come from, besides sd_notify (notify.ts): the heartbeat fd and the heartbeat file.
// Each source only observes and calls back; the Watchdog (watchdog.ts) decides. `now` is always when
// tsinit saw the evidence, on tsinit's monotonic clock, never a time the service or a file claims.
//
// Callbacks: onBeat(now) for evidence of life; onUnknown(reason, now) when the source itself cannot
// look (a read or stat error: never a sign that the service is dead), at every failure (the Watchdog
// reports each cause once, and needs to know the failure goes on); onOk(now) once it can look again.
import { now } from '../clock';
import { stat } from 'node:fs';
// node:net is loaded when a heartbeat pipe is made, not at startup.
import type { Socket } from 'node:net';
import * as libc from '../sys/libc';

export interface BeatHandlers {
  onBeat(now: number): void;
  onUnknown(reason: string, now: number): void;
  onOk?(now: number): void;
}

const monotonic = () => now();

// ---- the heartbeat fd (s6's notification fd, mogilefsd's :still_alive) -------------------------

/** the fd number the service finds its end on, named by TSINIT_WATCHDOG_FD */
export const WATCHDOG_CHILD_FD = 3;

export interface FdHeartbeatHandlers extends BeatHandlers {
  /** every copy of the write end is closed: the service exited or closed its fd */
  onEnd?(now: number): void;
}

/**
 * One pipe per incarnation of the service: tsinit reads, the service writes a line whenever it
 * wants to say it is alive. A fresh pipe per spawn means a leftover process of an earlier incarnation
 * can never speak for the current one.
 *
 *   const hb = FdHeartbeat.open(handlers);
 *   spawnChild({ ..., fds: [...hb.fds()], env: { ...hb.env() } }, reaper);
 *   hb.spawned();      // right after the spawn (or after a failed spawn: close())
 *   ...
 *   hb.close();        // when the service has exited
 *
 * Any bytes count as a beat (a partial line still proves the writer runs). The child's end is not
 * close-on-exec in the service (posix_spawn's dup2 clears the flag): services that start children
 * should close it in them, or a child could keep beating for a hung parent.
 */
export class FdHeartbeat {
  private writeFd: number | null;
  private readonly reader: Socket;
  private readonly clock: () => number;
  beats = 0;
  bytes = 0;

  private constructor(
    readFd: number,
    writeFd: number,
    readonly childFd: number,
    handlers: FdHeartbeatHandlers,
    clock: () => number,
  ) {
    this.writeFd = writeFd;
    this.clock = clock;
    // net.Socket on a pipe fd: libuv watches it (non-blocking, no thread-pool thread parked in a
    // blocking read, as fs.createReadStream would), and destroy() closes the fd.
    const net = require('node:net') as typeof import('node:net');
    this.reader = new net.Socket({ fd: readFd, readable: true, writable: false });
    this.reader.on('data', (chunk: Buffer) => {
      this.beats++;
      this.bytes += chunk.length;
      handlers.onBeat(this.clock());
    });
    this.reader.on('end', () => handlers.onEnd?.(this.clock()));
    this.reader.on('error', (e: NodeJS.ErrnoException) =>
      handlers.onUnknown(`heartbeat fd: ${e.code ?? e.message}`, this.clock()),
    );
  }

  static open(handlers: FdHeartbeatHandlers, opts: { childFd?: number; clock?: () => number } = {}): FdHeartbeat {
    const [r, w] = libc.pipe();
    try {
      return new FdHeartbeat(r, w, opts.childFd ?? WATCHDOG_CHILD_FD, handlers, opts.clock ?? monotonic);
    } catch (e) {
      libc.close(r);
      libc.close(w);
      throw e;
    }
  }

  /** The [childFd, tsinitFd] pair for ChildSpec.fds. */
  fds(): Array<[number, number]> {
    if (this.writeFd === null) throw new Error('heartbeat fd already handed over');
    return [[this.childFd, this.writeFd]];
  }

  env(): Record<string, string> {
    return { TSINIT_WATCHDOG_FD: String(this.childFd) };
  }

  /** The service has its copy: close tsinit's, so that EOF means every writer is gone. */
  spawned(): void {
    if (this.writeFd !== null) libc.close(this.writeFd);
    this.writeFd = null;
  }

  /** Closes both ends (whatever is still open). Idempotent. */
  close(): void {
    this.spawned();
    this.reader.destroy();
  }
}

// ---- the heartbeat file (--watchdog-file): mtime by stat polling --------------------------------

export interface FileHeartbeatOptions {
  /** how often to stat the file (default 500 ms) */
  pollMs?: number;
  /** a stat that has not returned after this long is reported unknown (default max(5 s, 4 polls)) */
  statTimeoutMs?: number;
  clock?: () => number;
  /** for tests: the stat call */
  stat?: (path: string) => Promise<StatLike>;
}

export interface StatLike {
  ino: number | bigint;
  mtimeNs: bigint;
}

type Seen = { kind: 'absent' } | { kind: 'present'; key: string };

/** The absent-like errors: the file is not there (yet), which is the service's business, not a failure. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);

/** fs.stat on the thread pool: a hanging filesystem blocks a pool thread, never the event loop. */
function statAsync(path: string): Promise<StatLike> {
  return new Promise((resolve, reject) =>
    stat(path, { bigint: true }, (err, st) => (err ? reject(err) : resolve(st))),
  );
}

/**
 * The service touches a file; tsinit notices the mtime change by polling stat (never inotify:
 * watches are a per-user kernel resource that runs out, and do not work on every filesystem: network
 * and overlay mounts miss changes made elsewhere).
 * Only a change counts: the state at start() is the baseline, so a file left by an earlier incarnation
 * is not a heartbeat. One stat in flight at a time: a stat that hangs (a dead NFS server) is reported
 * as unknown, not stacked up. Only the change is used, never the mtime's value, which is wall-clock
 * time set by the service.
 */
export class FileHeartbeat {
  private seen: Seen | null = null;
  private pending: { since: number } | null = null;
  private failing: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly clock: () => number;
  private readonly statTimeoutMs: number;
  private readonly statFn: NonNullable<FileHeartbeatOptions['stat']>;
  beats = 0;

  constructor(
    readonly path: string,
    private readonly handlers: BeatHandlers,
    private readonly opts: FileHeartbeatOptions = {},
  ) {
    this.clock = opts.clock ?? monotonic;
    this.statTimeoutMs = opts.statTimeoutMs ?? Math.max(5000, 4 * (opts.pollMs ?? 500));
    this.statFn = opts.stat ?? statAsync;
  }

  /** Takes the baseline and starts polling (pollMs 0: the caller calls poll()). */
  start(): Promise<void> {
    this.seen = null;
    const first = this.poll();
    if (this.opts.pollMs !== 0 && !this.timer) {
      this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 500);
      this.timer.unref();
    }
    return first;
  }

  /** One stat (unless one is still in flight); resolves when it has been judged. */
  async poll(): Promise<void> {
    if (this.closed) return;
    const now = this.clock();
    if (this.pending) {
      if (now - this.pending.since >= this.statTimeoutMs) this.fail(`stat ${this.path} is hanging`);
      return;
    }
    this.pending = { since: now };
    let next: Seen;
    try {
      const st = await this.statFn(this.path);
      // A file replaced by rename has a new inode, maybe with an old mtime: a change all the same.
      next = { kind: 'present', key: `${st.ino}:${st.mtimeNs}` };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      if (!ABSENT.has(code)) {
        this.pending = null;
        this.fail(`stat ${this.path}: ${code}`);
        return;
      }
      next = { kind: 'absent' };
    }
    this.pending = null;
    if (this.closed) return;
    const at = this.clock();
    if (this.failing !== null) {
      this.failing = null;
      this.handlers.onOk?.(at);
    }
    const before = this.seen;
    this.seen = next;
    if (before === null) return; // the baseline
    if (next.kind === 'present' && (before.kind === 'absent' || before.key !== next.key)) {
      this.beats++;
      this.handlers.onBeat(at);
    }
  }

  private fail(reason: string): void {
    this.failing = reason;
    this.handlers.onUnknown(reason, this.clock());
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
