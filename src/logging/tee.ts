// The best-effort copy of the log to an inherited fd (tsinit's stdout, which `docker logs` and
// `kubectl logs` read). The files stay the complete record; this copy must never hold them up: a
// stdout that blocks (a stalled log driver, a pipe nobody reads) or fails (EPIPE) costs at most a
// bounded queue in memory, and what it missed is counted and reported once at the end.
//
// TeeQueue is the pure part (what to keep, what to drop, whole lines where it can); Tee does the
// writing. Writes go through libuv's thread pool (fs.write) on the fd as it is: a blocking fd blocks a
// pool thread, never logd's event loop, and the fd's flags are never changed (the file description is
// shared with tsinit and whatever else writes to the container's stdout).
import * as fs from 'node:fs';

/** Memory the copy may hold while stdout does not keep up. */
export const TEE_CAPACITY = 4 * 1024 * 1024;
/** The largest single write (several queued chunks are coalesced up to this). */
const WRITE_MAX = 1024 * 1024;

const NL = 0x0a;

function countNewlines(b: Uint8Array, s: number, e: number): number {
  let n = 0;
  for (let i = b.indexOf(NL, s); i !== -1 && i < e; i = b.indexOf(NL, i + 1)) n++;
  return n;
}

/**
 * A byte queue of bounded size that drops whole lines when full. A line whose beginning was dropped
 * is dropped up to its newline, so stdout never shows the tail of a line without its head.
 */
export class TeeQueue {
  private chunks: Buffer[] = [];
  private size = 0;
  /** dropping the rest of a line whose beginning did not fit */
  private dropping = false;
  /** the last byte pushed was a newline (the stream is at a line start) */
  private atLineStart = true;
  missedBytes = 0;
  /** lines dropped (an unfinished one counts once its newline is dropped too, or at the end) */
  missedLines = 0;

  constructor(readonly capacity = TEE_CAPACITY) {}

  get queued(): number {
    return this.size;
  }

  /** Queues a copy of data[s, e) (the caller reuses its buffer); drops what does not fit. */
  push(data: Uint8Array, s = 0, e = data.length): void {
    if (e > s) this.atLineStart = data[e - 1] === NL;
    if (this.dropping) {
      const nl = data.indexOf(NL, s);
      if (nl === -1 || nl >= e) {
        this.missedBytes += e - s;
        return;
      }
      this.missedBytes += nl + 1 - s;
      this.missedLines++;
      this.dropping = false;
      s = nl + 1;
    }
    if (s >= e) return;
    const room = this.capacity - this.size;
    let keep = e;
    if (e - s > room) {
      // Keep the whole lines that fit, drop the rest of the chunk.
      const last = room > 0 ? data.lastIndexOf(NL, s + room - 1) : -1;
      keep = last >= s ? last + 1 : s;
    }
    if (keep > s) {
      this.chunks.push(Buffer.from(data.subarray(s, keep)));
      this.size += keep - s;
    }
    if (keep < e) this.drop(data, keep, e);
  }

  private drop(data: Uint8Array, s: number, e: number): void {
    this.missedBytes += e - s;
    this.missedLines += countNewlines(data, s, e);
    this.dropping = data[e - 1] !== NL;
  }

  /** Up to `max` bytes to write next (the chunks stay queued until done() says they are written). */
  peek(max = WRITE_MAX): Buffer | null {
    if (this.chunks.length === 0) return null;
    if (this.chunks.length === 1 || this.chunks[0].length >= max) return this.chunks[0];
    let n = 0;
    let k = 0;
    while (k < this.chunks.length && n + this.chunks[k].length <= max) n += this.chunks[k++].length;
    const joined = Buffer.concat(this.chunks.slice(0, k), n);
    this.chunks.splice(0, k, joined);
    return joined;
  }

  /** `n` bytes from the front were written. */
  done(n: number): void {
    this.size -= n;
    while (n > 0) {
      const first = this.chunks[0];
      if (first.length <= n) {
        n -= first.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  /** Everything still queued is given up for (the end of the run, or a failed fd). */
  abandon(): void {
    if (this.chunks.length === 0) return;
    for (const c of this.chunks) {
      this.missedBytes += c.length;
      this.missedLines += countNewlines(c, 0, c.length);
    }
    // The line in progress lost its head (queued or dropped): drop the rest of it too.
    this.dropping = !this.atLineStart;
    this.chunks = [];
    this.size = 0;
  }

  /** The count at the end: an unfinished dropped line counts as one. */
  totals(): { bytes: number; lines: number } {
    return { bytes: this.missedBytes, lines: this.missedLines + (this.dropping ? 1 : 0) };
  }
}

const RETRY_FIRST_MS = 10;
const RETRY_MAX_MS = 200;

/** Copies what it is given to `fd`, never blocking the caller. */
export class Tee {
  private readonly queue: TeeQueue;
  private writing = false;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  /** the fd failed for good (EPIPE, EBADF, ...): everything from then on is missed */
  failure: string | null = null;
  private lastProgress = 0;
  private waiters: Array<() => void> = [];
  /** settled: a write still in flight is no longer accounted */
  private closed = false;

  constructor(
    readonly fd: number,
    capacity = TEE_CAPACITY,
  ) {
    this.queue = new TeeQueue(capacity);
  }

  push(data: Uint8Array, s = 0, e = data.length): void {
    if (s >= e || this.closed) return;
    if (this.failure !== null) {
      this.queue.push(data, s, e);
      this.queue.abandon();
      return;
    }
    this.queue.push(data, s, e);
    this.kick();
  }

  private kick(): void {
    if (this.writing || this.retryTimer || this.failure !== null) return;
    const buf = this.queue.peek();
    if (!buf) return this.wake();
    this.writing = true;
    fs.write(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.writing = false;
      if (this.closed) return;
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') {
          // A non-blocking fd that is full: try again a little later, the queue keeps filling.
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.kick();
          }, this.retryMs);
          this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
          return;
        }
        this.failure = err.code ?? err.message;
        this.queue.abandon();
        return this.wake();
      }
      this.retryMs = RETRY_FIRST_MS;
      this.lastProgress = Date.now();
      this.queue.done(n);
      this.kick();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * At the end of the run: waits while the copy makes progress (at most `maxMs` in all, and no more
   * than `stallMs` without a completed write), then gives up what is left. Returns what was missed.
   */
  async settle(stallMs = 250, maxMs = 1000): Promise<{ bytes: number; lines: number; failure: string | null }> {
    const deadline = Date.now() + maxMs;
    this.lastProgress = Date.now();
    while ((this.queue.queued > 0 || this.writing) && this.failure === null) {
      const t = Date.now();
      const left = Math.min(deadline - t, this.lastProgress + stallMs - t);
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.closed = true;
    this.queue.abandon();
    return { ...this.queue.totals(), failure: this.failure };
  }
}
