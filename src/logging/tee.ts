// The best-effort copy of the log to an inherited fd (tsinit's stdout, which `docker logs` and
// `kubectl logs` read). The files stay the complete record; this copy must never hold them up: a
// stdout that blocks (a stalled log driver, a pipe nobody reads) or fails (EPIPE) costs at most a
// bounded buffer in memory, and what it missed is counted and reported once at the end.
//
// The writer is a worker thread that writes a shared ring buffer to the fd with plain blocking
// writes: it drains stdout as fast as the reader takes it, whatever logd's event loop is doing (a
// writer on the event loop would get a turn only between batches of reads, and a thread-pool write
// only reports back at the same moments), and the fd's flags are never touched (the file
// description is shared with tsinit and whatever else writes to the container's stdout). logd only
// copies into the ring, never waits: what does not fit is dropped, a whole line at a time.
//
// LineDropper and Ring are the pure parts (unit-tested); Tee adds the thread.
import { Worker } from 'node:worker_threads';

/** Memory the copy may hold while stdout does not keep up. */
export const TEE_CAPACITY = 4 * 1024 * 1024;

const NL = 0x0a;

function countNewlines(b: Uint8Array, s: number, e: number): number {
  let n = 0;
  for (let i = b.indexOf(NL, s); i !== -1 && i < e; i = b.indexOf(NL, i + 1)) n++;
  return n;
}

/**
 * Decides what of each chunk goes into a buffer with `room` bytes free: all of it if it fits, else
 * the whole lines that fit. A line whose beginning was dropped is dropped up to its newline, so the
 * copy never shows the tail of a line without its head. Counts what it drops.
 */
export class LineDropper {
  private dropping = false;
  /** the last byte seen was a newline (the stream is at a line start) */
  private atLineStart = true;
  missedBytes = 0;
  missedLines = 0;

  /** The part of data[s, e) to keep, [from, to); the rest is counted as missed. */
  admit(data: Uint8Array, s: number, e: number, room: number): [number, number] {
    if (e <= s) return [s, s];
    this.atLineStart = data[e - 1] === NL;
    if (this.dropping) {
      const nl = data.indexOf(NL, s);
      if (nl === -1 || nl >= e) {
        this.missedBytes += e - s;
        return [e, e];
      }
      this.missedBytes += nl + 1 - s;
      this.missedLines++;
      this.dropping = false;
      s = nl + 1;
    }
    if (e - s <= room) return [s, e];
    const last = room > 0 ? data.lastIndexOf(NL, s + room - 1) : -1;
    const keep = last >= s ? last + 1 : s;
    this.missedBytes += e - keep;
    this.missedLines += countNewlines(data, keep, e);
    this.dropping = data[e - 1] !== NL;
    return [s, keep];
  }

  /** What was queued but will never be written (the end of the run, or a failed fd). */
  abandon(bytes: number, lines: number): void {
    if (bytes === 0) return;
    this.missedBytes += bytes;
    this.missedLines += lines;
    // The line in progress lost its head (queued or dropped): drop the rest of it too.
    this.dropping = !this.atLineStart;
  }

  /** The count at the end: an unfinished dropped line counts as one. */
  totals(): { bytes: number; lines: number } {
    return { bytes: this.missedBytes, lines: this.missedLines + (this.dropping ? 1 : 0) };
  }
}

// The ring's control words (Int32 indexes into the SharedArrayBuffer's first 32 bytes).
const W = 0; // next byte the producer writes
const R = 1; // next byte the consumer writes out
const USED = 2; // bytes in the ring (the consumer waits on it)
const STATE = 3; // RUN, CLOSING (consumer exits when empty), FAILED (consumer gave up)
const IN_WRITE = 4; // 1 while the consumer is inside write(2)
const RUN = 0;
const CLOSING = 1;
const FAILED = 2;
const HEADER = 32;

/** A single-producer single-consumer byte ring in shared memory. */
export class Ring {
  readonly ctl: Int32Array;
  readonly data: Uint8Array;

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly capacity: number,
  ) {
    this.ctl = new Int32Array(sab, 0, HEADER / 4);
    this.data = new Uint8Array(sab, HEADER, capacity);
  }

  static create(capacity: number): Ring {
    return new Ring(new SharedArrayBuffer(HEADER + capacity), capacity);
  }

  used(): number {
    return Atomics.load(this.ctl, USED);
  }

  room(): number {
    return this.capacity - this.used();
  }

  /** Producer: copies src[s, e) in (the caller made sure it fits) and wakes the consumer. */
  put(src: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (n <= 0) return;
    const w = Atomics.load(this.ctl, W);
    const first = Math.min(n, this.capacity - w);
    this.data.set(src.subarray(s, s + first), w);
    if (first < n) this.data.set(src.subarray(s + first, e), 0);
    Atomics.store(this.ctl, W, (w + n) % this.capacity);
    Atomics.add(this.ctl, USED, n);
    Atomics.notify(this.ctl, USED);
  }

  /** Consumer: the next contiguous run of bytes to write out, [pos, pos + len). */
  next(max: number): [number, number] {
    const used = this.used();
    const r = Atomics.load(this.ctl, R);
    return [r, Math.min(used, this.capacity - r, max)];
  }

  /** Consumer: `n` bytes were written out. */
  consumed(n: number): void {
    Atomics.store(this.ctl, R, (Atomics.load(this.ctl, R) + n) % this.capacity);
    Atomics.sub(this.ctl, USED, n);
  }

  /** Newlines among the bytes still in the ring (for the count of what is missed). */
  pendingLines(): number {
    const used = this.used();
    const r = Atomics.load(this.ctl, R);
    const first = Math.min(used, this.capacity - r);
    return countNewlines(this.data, r, r + first) + countNewlines(this.data, 0, used - first);
  }

  get state(): number {
    return Atomics.load(this.ctl, STATE);
  }

  set state(s: number) {
    Atomics.store(this.ctl, STATE, s);
    Atomics.notify(this.ctl, USED);
  }
}

// The consumer thread: blocking writes of the ring to the fd until told to close (or the fd fails).
// Plain JavaScript (the worker is started from this string), mirroring Ring's consumer side.
const WRITER = `
const fs = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const { sab, capacity, fd } = workerData;
const ctl = new Int32Array(sab, 0, ${HEADER / 4});
const data = new Uint8Array(sab, ${HEADER}, capacity);
const nap = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  const used = Atomics.load(ctl, ${USED});
  if (used === 0) {
    if (Atomics.load(ctl, ${STATE}) !== ${RUN}) break;
    Atomics.wait(ctl, ${USED}, 0, 1000);
    continue;
  }
  const r = Atomics.load(ctl, ${R});
  const len = Math.min(used, capacity - r, 1 << 20);
  let n;
  Atomics.store(ctl, ${IN_WRITE}, 1);
  try {
    n = fs.writeSync(fd, data, r, len);
  } catch (e) {
    Atomics.store(ctl, ${IN_WRITE}, 0);
    if (e.code === 'EAGAIN') { Atomics.wait(nap, 0, 0, 10); continue; }
    if (e.code === 'EINTR') continue;
    Atomics.store(ctl, ${STATE}, ${FAILED});
    parentPort.postMessage(e.code || String(e.message));
    break;
  }
  Atomics.store(ctl, ${IN_WRITE}, 0);
  Atomics.store(ctl, ${R}, (r + n) % capacity);
  Atomics.sub(ctl, ${USED}, n);
}
`;

/** Copies what it is given to `fd` from a worker thread; never blocks the caller. */
export class Tee {
  private readonly ring: Ring;
  private readonly dropper = new LineDropper();
  private readonly worker: Worker | null = null;
  /** the fd failed for good (EPIPE, EBADF, ...): everything from then on is missed */
  failure: string | null = null;
  private closed = false;
  /** the writer thread has started (under heavy load that can take a while) */
  private online = false;
  /** settle() is to give up now (logd was told to stop) */
  private hurried = false;

  constructor(
    readonly fd: number,
    capacity = TEE_CAPACITY,
  ) {
    this.ring = Ring.create(capacity);
    try {
      // stdout/stderr: true keeps the worker's own stdio away from process.stdout, which must never
      // be touched (it would make the shared pipe non-blocking).
      this.worker = new Worker(WRITER, { eval: true, workerData: { sab: this.ring.sab, capacity, fd }, stdout: true, stderr: true });
      this.worker.unref();
      this.worker.on('online', () => (this.online = true));
      this.worker.on('message', (code: string) => (this.failure = code));
      this.worker.on('error', (e) => (this.failure = e.message));
    } catch (e) {
      this.failure = `no writer thread: ${(e as Error).message}`;
    }
  }

  private get failed(): boolean {
    return this.failure !== null || this.ring.state === FAILED;
  }

  push(data: Uint8Array, s = 0, e = data.length): void {
    if (e <= s || this.closed) return;
    const [from, to] = this.dropper.admit(data, s, e, this.failed ? 0 : this.ring.room());
    this.ring.put(data, from, to);
  }

  /**
   * At the end of the run: waits while the copy makes progress (at most `maxMs` in all, and no more
   * than `stallMs` without progress once the writer thread runs), then gives up what is left.
   * hurry() ends the wait at once. Returns what was missed.
   */
  async settle(stallMs = 250, maxMs = 1000): Promise<{ bytes: number; lines: number; failure: string | null }> {
    this.closed = true;
    if (!this.failed) this.ring.state = CLOSING;
    const deadline = Date.now() + maxMs;
    let lastUsed = this.ring.used();
    let lastProgress = Date.now();
    while (this.ring.used() > 0 && !this.failed && !this.hurried && Date.now() < deadline && Date.now() - lastProgress < stallMs) {
      await new Promise((r) => setTimeout(r, 5));
      const used = this.ring.used();
      // A writer that has not started yet is slow, not stalled.
      if (used !== lastUsed || !this.online) lastProgress = Date.now();
      lastUsed = used;
    }
    // A message from the worker may still be on its way: the failure flag in shared memory is not.
    if (this.ring.state === FAILED && this.failure === null) {
      await new Promise((r) => setTimeout(r, 20));
      this.failure ??= 'write error';
    }
    this.dropper.abandon(this.ring.used(), this.ring.pendingLines());
    return { ...this.dropper.totals(), failure: this.failure };
  }

  /**
   * The writer thread is stuck inside write(2) (a stdout nobody reads). process.exit() would wait
   * for that thread forever: the process must end with _exit(2).
   */
  get stuck(): boolean {
    return Atomics.load(this.ring.ctl, IN_WRITE) === 1;
  }

  /** Ends a settle() in progress at once (what is left is counted as missed). */
  hurry(): void {
    this.hurried = true;
  }
}
