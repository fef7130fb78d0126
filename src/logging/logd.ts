// `tsinit logd DIR`: the built-in log writer. Reads the service's output on stdin (and its stderr on
// --stderr-fd when streams are kept apart), writes JSON-lines records into DIR/current.jsonl, rotates
// by rename, and never loses a line silently: when it cannot write, it stops reading (the pipe backs
// up and the service blocks) and says so on stderr. See docs/logd.md for the format and policies.
//
// The pure parts live in records.ts (format, framing) and rotate.ts (names, decisions); this file
// holds the effects: reading the inputs, writing, fsync, rename, retrying.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { formatBytes, formatSeconds, parseInteger, parseSize, UsageError } from '../values';
import { lastSeqInTail, LineSplitter, RecordSink, streamKey } from './records';
import { CURRENT, filesToPrune, rotatedFiles, rotatedName, rotationTime } from './rotate';
import { SIGHUP, SIGINT, SIGTERM } from '../signals';
import { Tee } from './tee';
import { exitHard } from '../sys/libc';

const EXIT_OK = 0;
const EXIT_LOST = 1;
const EXIT_USAGE = 125;

const USAGE = 'usage: tsinit logd DIR [--max-bytes SIZE] [--keep N] [--stderr-fd N] [--max-line SIZE] [--stdout raw|json]';

export interface LogdOptions {
  dir: string;
  maxBytes: number;
  keep: number;
  stderrFd: number | null;
  maxLine: number;
  /** also copy every line to fd 1 (and fd 2 for a separate stderr): as read, or as its record */
  stdout: 'raw' | 'json' | null;
}

// ---- arguments -----------------------------------------------------------------------------------

export function parseLogdArgs(args: string[]): LogdOptions {
  const opts: LogdOptions = { dir: '', maxBytes: 10 * 1024 * 1024, keep: 10, stderrFd: null, maxLine: 64 * 1024, stdout: null };
  const dirs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--') || arg === '--') {
      if (arg !== '--') dirs.push(arg);
      else dirs.push(...args.slice(i + 1));
      if (arg === '--') break;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new UsageError(`logd: ${name} needs a value (${USAGE})`);
    if (name === '--max-bytes') opts.maxBytes = checkRange(parseSize(value), 4096, 2 ** 50, '--max-bytes', '4k..1P');
    else if (name === '--keep') opts.keep = parseInteger(value, 0, 2 ** 31 - 1, '--keep');
    else if (name === '--stderr-fd') opts.stderrFd = parseInteger(value, 3, 1 << 20, '--stderr-fd');
    else if (name === '--max-line') opts.maxLine = checkRange(parseSize(value), 64, 16 * 1024 * 1024, '--max-line', '64..16M');
    else if (name === '--stdout') opts.stdout = parseTeeMode(value);
    else throw new UsageError(`logd: unknown option ${name} (${USAGE})`);
  }
  if (dirs.length !== 1) throw new UsageError(`logd: ${dirs.length ? 'one DIR only' : 'missing DIR'} (${USAGE})`);
  opts.dir = dirs[0];
  if (opts.stderrFd !== null) {
    try {
      fs.fstatSync(opts.stderrFd);
    } catch {
      throw new UsageError(`logd: --stderr-fd ${opts.stderrFd}: that file descriptor is not open`);
    }
  }
  return opts;
}

function parseTeeMode(value: string): 'raw' | 'json' {
  if (value === 'raw' || value === 'json') return value;
  throw new UsageError(`logd: --stdout ${value}: one of raw, json (${USAGE})`);
}

function checkRange(n: number, min: number, max: number, what: string, range: string): number {
  if (n < min || n > max) throw new UsageError(`logd: ${what} ${n} is out of range (${range} bytes)`);
  return n;
}

// ---- small effects -------------------------------------------------------------------------------

/**
 * One line on stderr, never through process.stderr: Node makes a pipe behind process.stderr
 * non-blocking, and the description is shared with the service, whose writes then fail with EAGAIN.
 */
export function say(text: string): void {
  writeFully(2, Buffer.from(`tsinit: logd: ${text}\n`));
}

/** Writes all of buf to a possibly non-blocking fd; gives up quietly on errors (stderr may be gone). */
export function writeFully(fd: number, buf: Buffer): void {
  for (let tries = 0; buf.length > 0 && tries < 1000; ) {
    try {
      buf = buf.subarray(fs.writeSync(fd, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      tries++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** A file operation that failed with an errno: what, where, why. Everything else is a bug. */
class FileError extends Error {
  constructor(
    readonly op: string,
    readonly path: string,
    readonly code: string,
    reason: string,
  ) {
    super(`cannot ${op} ${path}: ${reason} (${code})`);
  }
}

function fileOp<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code !== 'string') throw e;
    const reason = /^[A-Z0-9]+: ([^,]+)/.exec(err.message)?.[1] ?? err.message;
    throw new FileError(op, path, err.code, reason);
  }
}

// ---- the files -----------------------------------------------------------------------------------

interface Resumed {
  lastSeq: number;
  previous: 'none' | 'ended' | 'unfinished';
}

/** Modes of what logd creates, whatever the umask: the log is the service's output, not everyone's. */
export const DIR_MODE = 0o750;
export const FILE_MODE = 0o640;

const O = fs.constants;

/**
 * Creates `dir` and its missing parents one level at a time (DIR_MODE, set exactly with fchmod).
 * Unlike mkdirSync's recursive mode, which spins for ever where the kernel answers ENOENT to a
 * mkdir whose parent exists (/proc, sysfs), every step either succeeds or throws the kernel's own
 * errno for that step (EROFS on a read-only file system, not ENOENT).
 */
export function makeDirectory(dir: string, depth = 0): void {
  try {
    fs.mkdirSync(dir, DIR_MODE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir || depth > 64 || exists(parent)) throw e;
    makeDirectory(parent, depth + 1);
    fs.mkdirSync(dir, DIR_MODE);
  }
  const fd = fs.openSync(dir, O.O_RDONLY | O.O_DIRECTORY | O.O_NOFOLLOW);
  try {
    fs.fchmodSync(fd, DIR_MODE);
  } finally {
    fs.closeSync(fd);
  }
}

function exists(path: string): boolean {
  try {
    fs.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why an open log file is refused, or null. The service may be able to write the log directory; a
 * link, FIFO or device planted there, a hard link to another file, or a file of another owner would
 * make root logd write into (or read from) something that is not its log.
 */
function refusal(st: fs.Stats): string | null {
  if (!st.isFile()) return `it is not a regular file (${st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : 'a special file'})`;
  if (st.nlink > 1) return 'it has other hard links';
  const euid = process.geteuid?.() ?? st.uid;
  if (st.uid !== euid) return `it belongs to uid ${st.uid}, not to logd (uid ${euid})`;
  return null;
}

/** The log directory: resume, append, rotate by rename, prune. Every method may throw FileError. */
class LogFiles {
  private fd = -1;
  private sink: RecordSink | null = null;
  private readonly current: string;
  /** the directory, opened once: files are reached through it, so a directory swapped later is not followed */
  private dirFd = -1;
  private base = '';

  constructor(
    private readonly opts: LogdOptions,
  ) {
    this.current = join(opts.dir, CURRENT);
  }

  /** A name inside the log directory, as a path through the directory fd (/proc), else the plain path. */
  private at(name: string): string {
    return name === '' ? this.base : join(this.base, name);
  }

  /** Creates the directory if needed and opens it; the directory itself is never a followed link. */
  private openDir(): void {
    if (this.dirFd >= 0) return;
    const dir = this.opts.dir;
    fileOp('create directory', dir, () => makeDirectory(dir));
    this.dirFd = fileOp('open directory', dir, () => {
      try {
        return fs.openSync(dir, O.O_RDONLY | O.O_DIRECTORY | O.O_NOFOLLOW);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOTDIR' && fs.lstatSync(dir).isSymbolicLink()) {
          throw Object.assign(new Error('ELOOP: it is a symbolic link (never followed)'), { code: 'ELOOP' });
        }
        throw e;
      }
    });
    const viaProc = `/proc/self/fd/${this.dirFd}`;
    this.base = exists(viaProc) ? viaProc : dir;
  }

  /** The directory itself was removed: the next open creates it again at its path. */
  private reopenDirIfRemoved(): void {
    let gone = true;
    try {
      gone = fs.fstatSync(this.dirFd).nlink === 0;
    } catch {
      // closed or unusable: reopen
    }
    if (!gone) return;
    try {
      fs.closeSync(this.dirFd);
    } catch {
      // already closed
    }
    this.dirFd = -1;
  }

  /** Opens a file of the directory without following a link and without blocking on a FIFO; checks it. */
  private openFile(name: string, flags: number): number {
    const path = join(this.opts.dir, name);
    const fd = fileOp('open', path, () => fs.openSync(this.at(name), flags | O.O_NOFOLLOW | O.O_NONBLOCK, FILE_MODE));
    try {
      const why = refusal(fileOp('stat', path, () => fs.fstatSync(fd)));
      if (why) throw new FileError('open', path, 'EPERM', `${why}: refused, never written`);
      if (flags & O.O_CREAT) fileOp('chmod', path, () => fs.fchmodSync(fd, FILE_MODE));
      return fd;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** The seq to continue from: the last record of the current file, else of the newest rotated one. */
  resume(): Resumed {
    this.openDir();
    const dir = this.opts.dir;
    const names = fileOp('read directory', dir, () => fs.readdirSync(this.at('')));
    const candidates = [CURRENT, ...rotatedFiles(names).reverse()].filter((n) => names.includes(n));
    let best: { seq: number; ended: boolean } | null = null;
    for (const name of candidates) {
      const found = this.lastSeqOfFile(name);
      if (found && (!best || found.seq > best.seq)) best = found;
      if (found && name !== CURRENT) break;
    }
    if (!best) return { lastSeq: 0, previous: 'none' };
    return { lastSeq: best.seq, previous: best.ended ? 'ended' : 'unfinished' };
  }

  private lastSeqOfFile(name: string): { seq: number; ended: boolean } | null {
    const path = join(this.opts.dir, name);
    let fd: number;
    try {
      fd = this.openFile(name, O.O_RDONLY);
    } catch (e) {
      if (e instanceof FileError && e.code === 'ENOENT') return null; // rotated away meanwhile
      throw e;
    }
    try {
      const size = fileOp('stat', path, () => fs.fstatSync(fd).size);
      // Records are bounded (see maxRecordBytes), so a few MiB from the end always hold a whole one.
      for (const window of [1 << 20, 8 << 20, 64 << 20]) {
        const n = Math.min(size, window);
        const tail = Buffer.allocUnsafe(n);
        const got = fileOp('read', path, () => fs.readSync(fd, tail, 0, n, size - n));
        const found = lastSeqInTail(tail.subarray(0, got), n === size);
        if (found !== 'more') return found;
        if (n === size) return null;
      }
      return null;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Starts writing for `sink`; the current file is opened now, so that the first cut is right. */
  attach(sink: RecordSink): void {
    this.sink = sink;
    if (this.fd < 0) this.open();
    else sink.fileSize = this.stat().size;
  }

  private open(): void {
    const sink = this.sink!;
    this.openDir();
    this.fd = this.openFile(CURRENT, O.O_RDWR | O.O_CREAT | O.O_APPEND);
    let size = this.stat().size;
    if (size > 0 && !this.endsWithNewline(size)) {
      // A record torn by a kill in the middle of a write: keep it (it is the user's data), and go on
      // after it on a new line. logcheck reports it as damaged.
      fileOp('write', this.current, () => fs.writeSync(this.fd, '\n'));
      size += 1;
      say(`${this.current} ended in an incomplete record (logd killed while writing?): kept, continuing after it`);
    }
    sink.fileSize = size;
  }

  private stat(): fs.Stats {
    return fileOp('stat', this.current, () => fs.fstatSync(this.fd));
  }

  private endsWithNewline(size: number): boolean {
    const last = Buffer.alloc(1);
    fileOp('read', this.current, () => fs.readSync(this.fd, last, 0, 1, size - 1));
    return last[0] === 0x0a;
  }

  /** Writes everything the sink holds, rotating where it says. */
  drain(): void {
    const sink = this.sink!;
    if (this.fd < 0) this.open();
    else if (this.stat().nlink === 0) {
      // Someone removed the file (or the whole directory): what went into it since is gone with it.
      say(`${this.current} was removed while logd was writing it; recreating it (records written to it before are gone)`);
      this.closeQuietly();
      this.reopenDirIfRemoved();
      this.open();
    }
    for (;;) {
      const end = sink.cut >= 0 ? sink.cut : sink.pos;
      while (sink.done < end) {
        const n = fileOp('write', this.current, () => fs.writeSync(this.fd, sink.buf, sink.done, end - sink.done));
        sink.done += n;
        sink.fileSize += n;
      }
      if (sink.cut < 0) break;
      this.rotate();
      sink.cut = -1;
    }
    if (sink.done === sink.pos) sink.done = sink.pos = 0;
  }

  /** Retry-safe: each step either happened or will happen again on the next drain. */
  private rotate(): void {
    const sink = this.sink!;
    const dir = this.opts.dir;
    if (sink.fileSize > 0) {
      fileOp('fsync', this.current, () => fs.fsyncSync(this.fd));
      this.closeQuietly();
      const names = fileOp('read directory', dir, () => fs.readdirSync(this.at('')));
      const name = rotatedName(rotationTime(Date.now(), names), sink.cutLastSeq);
      // rename(2) never follows a link at either name: a link planted at the target is replaced.
      fileOp('rename', this.current, () => fs.renameSync(this.at(CURRENT), this.at(name)));
      this.syncDir();
    }
    if (this.fd < 0) this.open();
    this.prune();
  }

  private prune(): void {
    const dir = this.opts.dir;
    let names: string[];
    try {
      names = fs.readdirSync(this.at(''));
    } catch {
      return;
    }
    for (const name of filesToPrune(names, this.opts.keep)) {
      try {
        fs.unlinkSync(this.at(name));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') say(`cannot remove old log file ${join(dir, name)}: ${code}`);
      }
    }
  }

  /** Durability of renames and new files: best effort, some file systems cannot fsync a directory. */
  private syncDir(): void {
    try {
      fs.fsyncSync(this.dirFd);
    } catch {
      // nothing to do: the data itself was fsynced
    }
  }

  /** At the end of a run: everything on disk. */
  close(): void {
    if (this.fd < 0) return;
    fileOp('fsync', this.current, () => fs.fsyncSync(this.fd));
    this.closeQuietly();
    this.syncDir();
  }

  private closeQuietly(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = -1;
  }
}

// ---- the inputs ----------------------------------------------------------------------------------

/** Reads one fd in big chunks; onData returns false to pause. */
interface Reader {
  pause(): void;
  resume(): void;
}

const READ_CHUNK = 1 << 20;

/**
 * A pipe is read through libuv (epoll, on the main thread): when a stop signal is handled, no read is
 * in flight in a worker thread that could take bytes out of the pipe after logd decided to stop.
 * libuv makes the fd non-blocking; the pipe's read end is shared with tsinit and with the next
 * logger, so logd reopens the pipe through /proc to get a description of its own.
 */
function openReader(fd: number, onData: (chunk: Buffer) => boolean, onEnd: (err?: Error) => void): Reader {
  const st = fs.fstatSync(fd);
  if (st.isFIFO() || st.isSocket()) {
    let own = fd;
    if (st.isFIFO()) {
      try {
        own = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      } catch {
        own = fd; // no /proc: share the description (Node restores stdio flags at exit)
      }
    }
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const socket = new net.Socket({
      fd: own,
      readable: true,
      writable: false,
      onread: { buffer, callback: (n: number, buf: Uint8Array) => onData(Buffer.from(buf.buffer, buf.byteOffset, n)) },
    } as net.SocketConstructorOpts);
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    socket.on('end', () => end());
    socket.on('error', (err) => end(err));
    socket.on('close', () => end());
    return { pause: () => socket.pause(), resume: () => socket.resume() };
  }
  return fileReader(fd, onData, onEnd);
}

/** Files, terminals, /dev/null: plain reads in a loop. */
function fileReader(fd: number, onData: (chunk: Buffer) => boolean, onEnd: (err?: Error) => void): Reader {
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  let paused = false;
  let reading = false;
  const next = () => {
    if (paused || reading) return;
    reading = true;
    fs.read(fd, buffer, 0, buffer.length, null, (err, n) => {
      reading = false;
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') return void setTimeout(next, 10);
        return onEnd(err);
      }
      if (n === 0) return onEnd();
      if (onData(buffer.subarray(0, n))) next();
      else paused = true;
    });
  };
  setImmediate(next);
  return {
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      next();
    },
  };
}

// ---- the writer ----------------------------------------------------------------------------------

interface Input {
  name: string;
  fd: number;
  splitter: LineSplitter | null;
  reader: Reader | null;
  /** read but not yet encoded (a copy: the read buffer is reused) */
  held: Buffer | null;
  heldPos: number;
  paused: boolean;
  eof: boolean;
  /** --stdout raw: where this input's bytes are copied */
  tee: Tee | null;
}

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1000;

class Logd {
  private readonly files: LogFiles;
  private sink: RecordSink | null = null;
  private readonly inputs: Input[];
  private reading = false;
  private blocked: { since: number; message: string; attempts: number } | null = null;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopReason: 'eof' | 'signal' | null = null;
  private endEncoded = false;
  private stalls = 0;
  private stalledMs = 0;
  private finished = false;
  private resolve: (code: number) => void = () => undefined;

  constructor(private readonly opts: LogdOptions) {
    this.files = new LogFiles(opts);
    const input = (name: string, fd: number): Input =>
      ({ name, fd, splitter: null, reader: null, held: null, heldPos: 0, paused: false, eof: false, tee: null });
    this.inputs = [input('stdin', 0)];
    if (opts.stderrFd !== null) this.inputs.push(input(`fd ${opts.stderrFd}`, opts.stderrFd));
    if (opts.stdout !== null) {
      this.tees.push(new Tee(1));
      if (opts.stdout === 'raw') {
        // Each stream to its own: docker logs keeps the service's stderr apart too.
        this.inputs[0].tee = this.tees[0];
        if (this.inputs[1]) this.tees.push((this.inputs[1].tee = new Tee(2)));
      } else {
        this.recordTee = this.tees[0];
      }
    }
  }

  /** The copies to stdout (and stderr), for the end of the run. */
  readonly tees: Tee[] = [];
  /** --stdout json: the records of lines go here as they are encoded */
  private recordTee: Tee | null = null;

  /** Encodes with `fn`; in json mode, copies the records it added. */
  private encodeTeed<T>(fn: () => T): T {
    const sink = this.sink!;
    const from = sink.pos;
    const result = fn();
    this.recordTee?.push(sink.buf, from, sink.pos);
    return result;
  }

  run(): Promise<number> {
    return new Promise((resolve) => {
      this.resolve = (code) => {
        if (this.finished) return;
        this.finished = true;
        if (this.retryTimer) clearTimeout(this.retryTimer);
        resolve(code);
      };
      this.step();
    });
  }

  onSignal(sig: number): void {
    if (this.finished) return;
    if (sig === SIGTERM || sig === SIGINT) {
      this.stopReason = 'signal';
      this.pauseAll();
      this.step();
    } else if (sig === SIGHUP && this.sink?.cutNow()) {
      this.step(); // rotate now
    }
  }

  /** Makes all the progress that can be made now; on a write error, schedules the next attempt. */
  private step(): void {
    if (this.finished) return;
    if (!this.sink && !this.attempt(() => this.begin())) return this.stuck();
    if (!this.flush()) return this.stuck();
    for (const input of this.inputs) if (!this.encodeHeld(input)) return this.stuck();
    if (this.stopReason) return this.finish();
    this.startOrResumeReading();
  }

  /** The run starts once the seq to continue from is known: the start record comes first. */
  private begin(): void {
    const { lastSeq, previous } = this.files.resume();
    const o = this.opts;
    const sink = new RecordSink(lastSeq, o.maxLine, o.maxBytes);
    this.files.attach(sink);
    sink.setTime(Date.now());
    sink.meta('@start', { pid: process.pid, after_seq: lastSeq, previous, max_bytes: o.maxBytes, keep: o.keep, max_line: o.maxLine });
    const separate = this.inputs.length > 1;
    this.inputs[0].splitter = new LineSplitter(sink, streamKey(separate ? 'stdout' : null));
    if (separate) this.inputs[1].splitter = new LineSplitter(sink, streamKey('stderr'));
    this.sink = sink;
  }

  private startOrResumeReading(): void {
    if (!this.reading) {
      this.reading = true;
      for (const input of this.inputs) {
        try {
          input.reader = openReader(input.fd, (chunk) => this.onData(input, chunk), (err) => this.onEnd(input, err));
        } catch (e) {
          // A closed or unusable fd is an input that has ended; later, not from inside this step.
          setImmediate(() => this.onEnd(input, e as Error));
        }
      }
      return;
    }
    for (const input of this.inputs) {
      if (input.paused && !input.eof && input.held === null) {
        input.paused = false;
        input.reader?.resume();
      }
    }
  }

  private pauseAll(): void {
    for (const input of this.inputs) {
      if (!input.paused && input.reader) input.reader.pause();
      input.paused = true;
    }
  }

  /** A chunk from an input; false pauses that input. The chunk's memory is reused after we return. */
  private onData(input: Input, chunk: Buffer): boolean {
    if (this.finished || this.stopReason === 'signal') {
      input.paused = true;
      return false;
    }
    this.sink!.setTime(Date.now());
    input.tee?.push(chunk);
    input.held = chunk;
    input.heldPos = 0;
    const ok = this.encodeHeld(input);
    if (input.held !== null) input.held = Buffer.from(input.held.subarray(input.heldPos));
    input.heldPos = 0;
    if (ok) return true;
    input.paused = true;
    this.stuck();
    return false;
  }

  /** Encodes what an input holds, writing as the sink fills; false when a write failed. */
  private encodeHeld(input: Input): boolean {
    while (input.held !== null) {
      const held = input.held;
      input.heldPos = this.encodeTeed(() => input.splitter!.feed(held, input.heldPos));
      if (input.heldPos >= input.held.length) input.held = null;
      if (!this.flush()) return false;
    }
    return true;
  }

  private onEnd(input: Input, err?: Error): void {
    if (input.eof) return;
    input.eof = true;
    if (err) say(`cannot read ${input.name}: ${err.message}; treating it as the end of input`);
    if (this.inputs.every((i) => i.eof) && !this.stopReason) {
      this.stopReason = 'eof';
      this.step();
    }
  }

  /** The end of the run: unfinished lines, the end record, fsync. */
  private finish(): void {
    const sink = this.sink!;
    for (const input of this.inputs) {
      while (!this.encodeTeed(() => input.splitter!.finish())) if (!this.flush()) return this.stuck();
    }
    if (!this.endEncoded) {
      if (!sink.hasRoom() && !this.flush()) return this.stuck();
      const end = { ...sink.endValue(this.stopReason!), stalls: this.stalls, stalled_ms: Math.round(this.stalledMs) };
      sink.meta('@end', end);
      this.endEncoded = true;
    }
    if (!this.flush()) return this.stuck();
    try {
      this.files.close();
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      say(`${e.message}: the last records may not be on disk`);
      return this.resolve(EXIT_LOST);
    }
    this.resolve(EXIT_OK);
  }

  /** Writes out the sink; false (and the stall reported) on a file error. */
  private flush(): boolean {
    if (!this.attempt(() => this.files.drain())) return false;
    if (this.blocked) {
      const waited = performance.now() - this.blocked.since;
      this.stalledMs += waited;
      say(`writing again after ${formatSeconds(waited)} (${this.blocked.attempts} attempts); nothing was lost`);
      this.blocked = null;
      this.retryMs = RETRY_FIRST_MS;
    }
    return true;
  }

  private attempt(fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      this.onFileError(e);
      return false;
    }
  }

  private onFileError(e: FileError): void {
    if (this.blocked) {
      this.blocked.attempts++;
      return;
    }
    this.stalls++;
    this.blocked = { since: performance.now(), message: e.message, attempts: 1 };
    this.pauseAll();
    const { records, bytes } = this.pending();
    say(`${e.message}; holding ${records} records (${formatBytes(bytes)}) and not reading input until it can write (retrying)`);
  }

  /** After a failed write: retry later, or, when told to stop, give up and say what is lost. */
  private stuck(): void {
    if (this.finished) return;
    if (this.stopReason === 'signal') {
      if (!this.sink) {
        say(`stopping before the log could be opened (${this.blocked?.message}); no input was read`);
        return this.resolve(EXIT_OK);
      }
      const { records, bytes, unencoded } = this.pending();
      const what = this.blocked ? this.blocked.message : 'cannot write';
      say(`stopping with ${records} records (${formatBytes(bytes)}) and ${formatBytes(unencoded)} of input not written (${what}): they are lost`);
      return this.resolve(EXIT_LOST);
    }
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.step();
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  /** What is held in memory, not yet in the file. */
  private pending(): { records: number; bytes: number; unencoded: number } {
    const sink = this.sink;
    let records = 0;
    if (sink) for (let i = sink.buf.indexOf(10, sink.done); i !== -1 && i < sink.pos; i = sink.buf.indexOf(10, i + 1)) records++;
    let unencoded = 0;
    for (const input of this.inputs) {
      unencoded += (input.held ? input.held.length - input.heldPos : 0) + (input.splitter?.held() ?? 0);
    }
    return { records, bytes: sink ? sink.pendingBytes() : 0, unencoded };
  }
}

// ---- entry point ---------------------------------------------------------------------------------

export async function runLogd(args: string[], onSignal: (h: (sig: number) => void) => void): Promise<number> {
  let opts: LogdOptions;
  try {
    opts = parseLogdArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    writeFully(2, Buffer.from(`tsinit: ${e.message}\n`));
    return EXIT_USAGE;
  }
  const logd = new Logd(opts);
  let settling = false;
  onSignal((sig) => {
    // Told to stop while the copy to stdout catches up: the files are done, the copy gives up now.
    if (settling && (sig === SIGTERM || sig === SIGINT)) for (const tee of logd.tees) tee.hurry();
    logd.onSignal(sig);
  });
  // A bug must not look like a clean exit: one line, and the usage/internal status.
  process.on('uncaughtException', (e) => {
    say(`internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    process.exit(EXIT_USAGE);
  });
  // An empty event loop would end logd with status 0 while records may be held: say so instead.
  let result: number | null = null;
  const onBeforeExit = () => {
    if (result === null) {
      say('internal error: nothing left to wait for');
      process.exit(EXIT_USAGE);
    }
  };
  process.on('beforeExit', onBeforeExit);
  result = await logd.run();
  // Best effort: a stdout that does not keep up costs a moment here (at most 1 s), never the files.
  settling = true;
  const settled = await Promise.all(logd.tees.map((tee) => tee.settle()));
  for (const [i, tee] of logd.tees.entries()) {
    const missed = settled[i];
    if (missed.bytes > 0) {
      const why = missed.failure ? `it failed (${missed.failure})` : 'it did not keep up';
      say(`the copy to ${tee.fd === 1 ? 'stdout' : 'stderr'} missed ${missed.lines} lines (${formatBytes(missed.bytes)}): ${why}; ${opts.dir} has every line`);
    }
  }
  process.off('beforeExit', onBeforeExit);
  // A copy's thread blocked in a write to a stdout nobody reads would hold process.exit() forever.
  if (logd.tees.some((t) => t.stuck)) exitHard(result);
  return result;
}
