// Orphan reaping without status theft.
//
// tsinit spawns every process of its own with posix_spawn (src/process/spawn.ts), never through libuv, so no
// one else in the process waits for those children: a plain waitpid(-1, WNOHANG) loop, as in tini,
// reaps everything and hands each status to whoever watches that pid. The one exception is a child
// that another library waits for itself (node-pty's thread calls waitpid on its pid): while such a
// pid exists, the reaper lists its children from /proc and waits for every other pid by number.
import createDebug from '../debug';
import { waitpid } from '../sys/libc';
import { childrenOf } from '../sys/proc';
import { decodeWaitStatus, ExitStatus } from '../exit-status';

const debug = createDebug('reaper');
const SAFETY_SWEEP_MS = 1000;
const REMEMBERED = 256;

export class Reaper {
  private watchers = new Map<number, (status: ExitStatus) => void>();
  private waitedByOthers = new Set<number>();
  /** statuses of recently reaped unwatched pids, for a watch() that comes late (daemon adoption) */
  private recent = new Map<number, ExitStatus>();
  private timer: NodeJS.Timeout | null = null;
  reapedOrphans = 0;

  constructor(private onOrphan: (pid: number, status: ExitStatus) => void = () => undefined) {}

  start(): void {
    process.on('SIGCHLD', this.reap);
    // A SIGCHLD is never lost by the kernel while pending, but a sweep costs one syscall and
    // protects against any path we did not foresee.
    this.timer = setInterval(this.reap, SAFETY_SWEEP_MS);
    if (this.watchers.size === 0) this.timer.unref();
    this.reap();
  }

  stop(): void {
    process.off('SIGCHLD', this.reap);
    if (this.timer) clearInterval(this.timer);
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
      this.timer?.ref();
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
      // Node's signal handles do not keep the process alive; the sweep timer does, while tsinit
      // is waiting for a child of its own.
      if (this.watchers.size === 0) this.timer?.unref();
      watcher(status);
      return;
    }
    this.reapedOrphans++;
    this.recent.set(pid, status);
    if (this.recent.size > REMEMBERED) this.recent.delete(this.recent.keys().next().value!);
    this.onOrphan(pid, status);
  }
}
