// Orphan reaping without status theft.
//
// tsinit spawns every process of its own with posix_spawn (spawn.ts), never through libuv, so no one
// else in the process waits for those children: a plain waitpid(-1, WNOHANG) loop, as in tini,
// reaps everything and hands each status to whoever watches that pid. The one exception is a child
// that another library waits for itself (node-pty's thread calls waitpid on its pid): while such a
// pid exists, the reaper lists its children from /proc and waits for every other pid by number.
import createDebug from '../debug';
import { waitpid } from '../sys/libc';
import { childrenOf } from '../sys/proc';
import { decodeWaitStatus, ExitStatus } from '../exit-status';

const debug = createDebug('reaper');
const REMEMBERED = 256;
/** the longest interval Node's timers take (about 24.8 days) */
const FOREVER_MS = 2 ** 31 - 1;

export class Reaper {
  private watchers = new Map<number, (status: ExitStatus) => void>();
  private waitedByOthers = new Set<number>();
  /** statuses of recently reaped unwatched pids, for a watch() that comes late (daemon adoption) */
  private recent = new Map<number, ExitStatus>();
  /** holds the event loop open while a child of tsinit's own is awaited; never fires in practice */
  private keepAlive: NodeJS.Timeout | null = null;
  private sweepQueued = false;
  /** between start() and stop(): a stopped reaper's queued sweep must not take another's statuses */
  private active = false;
  reapedOrphans = 0;

  constructor(private onOrphan: (pid: number, status: ExitStatus) => void = () => undefined) {}

  start(): void {
    this.active = true;
    process.on('SIGCHLD', this.onSigchld);
    this.reap(); // children that exited before the handler was there
  }

  stop(): void {
    this.active = false;
    process.off('SIGCHLD', this.onSigchld);
    this.setKeepAlive(false);
  }

  /**
   * Event-driven, never periodic (an idle tsinit never wakes up). A SIGCHLD is never lost while it
   * is pending, and several exits merge into one signal, which the waitpid loop covers; a child
   * that exits while that loop runs raises a new SIGCHLD. As a safety net for anything not foreseen,
   * every SIGCHLD that reaped something, and every exit of a watched child, is followed by one
   * more sweep on the next turn of the event loop (one waitpid call).
   */
  private onSigchld = (): void => {
    if (this.reap() > 0) this.sweepSoon();
  };

  private sweepSoon(): void {
    if (this.sweepQueued) return;
    this.sweepQueued = true;
    setImmediate(() => {
      this.sweepQueued = false;
      if (this.active) this.reap();
    }).unref();
  }

  /** Node's signal handles do not keep the process alive: this timer does, while tsinit waits. */
  private setKeepAlive(on: boolean): void {
    if (on && !this.keepAlive) this.keepAlive = setInterval(this.reap, FOREVER_MS);
    if (!on && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  /** The status of `pid` once it is reaped. `pid` must be a child of tsinit. */
  watch(pid: number): Promise<ExitStatus> {
    const known = this.recent.get(pid);
    if (known) {
      this.recent.delete(pid);
      return Promise.resolve(known);
    }
    return new Promise((resolve) => {
      this.watchers.set(pid, resolve);
      this.setKeepAlive(true);
    });
  }

  /** Never wait for `pid`: another library does (node-pty). Call release() once it has. */
  leaveToOthers(pid: number): void {
    this.waitedByOthers.add(pid);
  }

  release(pid: number): void {
    this.waitedByOthers.delete(pid);
    this.reap();
  }

  /** Reaps every child that has exited; returns how many. Safe to call at any time. */
  reap = (): number => {
    let count = 0;
    if (this.waitedByOthers.size === 0) {
      for (let r = waitpid(-1); r !== null; r = waitpid(-1)) {
        this.dispatch(r.pid, r.status);
        count++;
      }
    } else {
      for (const pid of childrenOf(process.pid)) {
        if (this.waitedByOthers.has(pid)) continue;
        const r = waitpid(pid);
        if (r) {
          this.dispatch(r.pid, r.status);
          count++;
        }
      }
    }
    if (count > 0) debug('reaped %d', count);
    return count;
  };

  private dispatch(pid: number, raw: number): void {
    const status = decodeWaitStatus(raw);
    if (!status) return;
    const watcher = this.watchers.get(pid);
    if (watcher) {
      this.watchers.delete(pid);
      if (this.watchers.size === 0) this.setKeepAlive(false);
      this.sweepSoon();
      watcher(status);
      return;
    }
    this.reapedOrphans++;
    this.recent.set(pid, status);
    if (this.recent.size > REMEMBERED) this.recent.delete(this.recent.keys().next().value!);
    this.onOrphan(pid, status);
  }
}
