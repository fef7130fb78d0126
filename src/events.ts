// The event stream: each event (event-catalogue.ts) as its human line on stderr and, with --events,
// its JSON line, written without ever going through process.stderr.
import { closeSync, constants, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import { describe, TsinitEvent } from './event-catalogue';
import { UsageError } from './values';
import * as libc from './sys/libc';

import { writeAll } from './write-all';
export { writeAll };

/** Mode of an --events file tsinit creates, whatever the umask. */
export const EVENTS_FILE_MODE = 0o640;
/** Events held for a slow reader; past this, events are counted and dropped, never waited for. */
export const EVENTS_BUFFER_BYTES = 1 << 20;

/** Names that are a file descriptor of tsinit's own, written as a path. */
function fdOfPath(path: string): number | null {
  if (path === '/dev/stdout') return 1;
  if (path === '/dev/stderr') return 2;
  const m = /^\/(?:dev\/fd|proc\/self\/fd)\/(\d+)$/.exec(path);
  return m ? Number(m[1]) : null;
}

const O = constants;

/**
 * Opens the --events target so that writing to it can never block tsinit: a description of tsinit's
 * own with O_NONBLOCK (never the shared one behind fd:N, which would make it non-blocking for the
 * service too), or send(MSG_DONTWAIT) for a socket. A path is never followed if it is a link (the
 * directory may be another uid's), must be a regular file of tsinit's uid with one link, a FIFO or a
 * device; a file it creates gets EVENTS_FILE_MODE. Every problem is a UsageError, before anything runs.
 */
export function openEventsTarget(target: string): { fd: number; socket: boolean; owned: boolean } {
  const m = /^fd:(\d+)$/.exec(target);
  const fdNumber = m ? Number(m[1]) : fdOfPath(target);
  if (fdNumber !== null) return reopenFd(target, fdNumber);
  const fail = (why: string): never => {
    throw new UsageError(`--events ${target}: ${why}`);
  };
  const base = O.O_WRONLY | O.O_APPEND | O.O_NOFOLLOW | O.O_NONBLOCK;
  let fd: number;
  let created = false;
  try {
    fd = openSync(target, base | O.O_CREAT | O.O_EXCL, EVENTS_FILE_MODE);
    created = true;
  } catch (e) {
    let code = (e as NodeJS.ErrnoException).code;
    fd = -1;
    if (code === 'EEXIST') {
      try {
        fd = openSync(target, base);
      } catch (e2) {
        code = (e2 as NodeJS.ErrnoException).code;
        // A FIFO nobody reads yet: open it read-write, so that events wait in it for a reader.
        if (code === 'ENXIO') {
          try {
            fd = openSync(target, O.O_RDWR | O.O_NOFOLLOW | O.O_NONBLOCK);
          } catch (e3) {
            code = (e3 as NodeJS.ErrnoException).code;
          }
        }
      }
    }
    if (fd < 0) {
      if (code === 'ELOOP') fail('it is a symbolic link, never followed (for one of tsinit\'s file descriptors use fd:N)');
      if (code === 'ENOENT' || code === 'ENOTDIR') fail('its directory does not exist');
      if (code === 'ENXIO') fail('it is a socket (give it as an open fd:N)');
      if (code === 'EISDIR') fail('it is a directory');
      fail(`cannot open it (${code})`);
    }
  }
  const st = fstatSync(fd);
  const euid = process.geteuid?.() ?? st.uid;
  let why: string | null = null;
  if (st.isDirectory()) why = 'it is a directory';
  else if (st.isFile() && st.nlink > 1) why = 'it has other hard links (refused)';
  else if (st.isFile() && st.uid !== euid) why = `it belongs to uid ${st.uid}, not to tsinit (uid ${euid}) (refused)`;
  if (why) {
    closeSync(fd);
    fail(why);
  }
  if (created) fchmodSync(fd, EVENTS_FILE_MODE);
  return { fd, socket: false, owned: true };
}

function reopenFd(target: string, n: number): { fd: number; socket: boolean; owned: boolean } {
  const fail = (why: string): never => {
    throw new UsageError(`--events ${target}: ${why}`);
  };
  let st;
  try {
    st = fstatSync(n);
  } catch {
    return fail(`file descriptor ${n} is not open`);
  }
  if (st.isSocket()) return { fd: n, socket: true, owned: false };
  if (st.isDirectory()) fail(`file descriptor ${n} is a directory`);
  try {
    return { fd: openSync(`/proc/self/fd/${n}`, O.O_WRONLY | O.O_APPEND | O.O_NONBLOCK), socket: false, owned: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENXIO') fail(`nobody reads file descriptor ${n}`);
    return fail(`cannot open file descriptor ${n} for writing without blocking (${code})`);
  }
}

/**
 * The --events stream: lines are queued (at most EVENTS_BUFFER_BYTES) and written as far as the
 * target takes them without waiting; the rest is retried on a timer. A reader that stalls or is
 * gone costs events, never tsinit's progress: what is dropped is counted and said once when it
 * starts, and the total once at the end.
 */
export class JsonEventWriter {
  private queue: Buffer[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private broken: string | null = null;
  dropped = 0;
  droppedBytes = 0;

  constructor(
    private fd: number,
    private readonly socket: boolean,
    private readonly owned: boolean,
    private readonly name: string,
    private readonly say: (line: string) => void,
    private readonly limit = EVENTS_BUFFER_BYTES,
  ) {}

  write(line: string): void {
    if (this.fd < 0) return;
    const buf = Buffer.from(line);
    if (this.broken !== null || this.queued + buf.length > this.limit) {
      this.drop(1, buf.length, this.broken ?? 'the reader is not keeping up');
      return;
    }
    this.queue.push(buf);
    this.queued += buf.length;
    this.pump();
  }

  private drop(events: number, bytes: number, why: string): void {
    if (this.dropped === 0) this.say(`--events ${this.name}: ${why}; dropping events (counted) rather than waiting`);
    this.dropped += events;
    this.droppedBytes += bytes;
  }

  private pump(): void {
    while (this.queue.length > 0 && this.broken === null) {
      const head = this.queue[0];
      let n: number;
      try {
        n = this.socket ? libc.sendNonBlocking(this.fd, head) : writeSync(this.fd, head);
      } catch (e) {
        const code = e instanceof libc.SysError ? e.code : ((e as NodeJS.ErrnoException).code ?? String(e));
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') n = 0;
        else {
          this.broken = `cannot write (${code})`;
          this.drop(this.queue.length, this.queued, this.broken);
          this.queue = [];
          this.queued = 0;
          return;
        }
      }
      if (n === 0) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            this.pump();
          }, 20);
          // Pending events must never keep tsinit alive by themselves.
          this.timer.unref();
        }
        return;
      }
      this.queued -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
  }

  /** A last attempt; whatever is still held is counted as dropped, and the total said once. */
  close(): void {
    if (this.fd < 0) return;
    this.pump();
    if (this.timer) clearTimeout(this.timer);
    if (this.queue.length > 0) this.drop(this.queue.length, this.queued, 'the reader is not keeping up');
    this.queue = [];
    this.queued = 0;
    if (this.dropped > 0) this.say(`--events ${this.name}: ${this.dropped} event(s) (${this.droppedBytes} bytes) could not be written: they are lost`);
    if (this.owned) closeSync(this.fd);
    this.fd = -1;
  }
}

export class EventLog {
  private json: JsonEventWriter | null = null;
  /** who else sees every event (the status model) */
  private readonly listeners: Array<(e: TsinitEvent) => void> = [];

  constructor(
    private verbose: boolean,
    private warnReaped = false,
  ) {}

  /** --events FILE (appended) or fd:N; throws UsageError when it cannot be used. */
  openJson(target: string): void {
    const { fd, socket, owned } = openEventsTarget(target);
    this.json = new JsonEventWriter(fd, socket, owned, target, (line) => writeAll(2, `tsinit: ${line}\n`));
  }

  /** `fn` sees every event, in order, after its line is written. */
  subscribe(fn: (e: TsinitEvent) => void): void {
    this.listeners.push(fn);
  }

  emit(e: TsinitEvent): void {
    const [level, text] = describe(e);
    const show = level !== 'info' || this.verbose;
    if (e.type === 'orphan-reaped' ? this.warnReaped : show) {
      for (const line of text.split('\n')) writeAll(2, `tsinit: ${line}\n`);
    }
    this.json?.write(JSON.stringify({ time: new Date().toISOString(), ...e, level }) + '\n');
    for (const fn of this.listeners) fn(e);
  }

  close(): void {
    this.json?.close();
    this.json = null;
  }
}
