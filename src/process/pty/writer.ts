// Writing the pty's output without blocking tsinit and without silent loss: when the destination is
// full the pty is no longer read, so the service blocks on its writes exactly as it would on a full
// pipe; what cannot be written at the end is counted.
import { constants as fsc, fstatSync, openSync, writeSync } from 'node:fs';
import { now } from '../../clock';
import createDebug from '../../debug';

const debug = createDebug('pty');

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
export class FdWriter {
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
 * EAGAIN, as it does to a service that shares tsinit's stdout. Pipes and terminals are reopened through /proc; anything else
 * (a regular file, whose offset must be shared; a socket, which cannot be reopened) is written
 * as it is.
 */
export function privateWriteFd(fd: number): { fd: number; owned: boolean } {
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
