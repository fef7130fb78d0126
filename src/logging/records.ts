// The record format of `tsinit logd`, and the line framing that feeds it. Pure: no file is touched.
//
// One JSON object per line. Every record starts with the same two keys, in this order and with no
// spaces, which keeps the hot path a byte copy and lets any reader find them cheaply:
//
//   {"@time":"2025-01-02T03:04:05.678Z","@seq":42,"line":"hello"}
//
// then, only when they apply, "@stream", "@cr", "@nonl", "@part", "@more", "@escaped" (see docs/logd.md),
// then the user's data: "line" (a string), or the fields of a line that already is a JSON object,
// copied byte for byte. Metadata keys start with "@" so that the popular JSON loggers (pino, bunyan,
// zap: "time", "ts", "level", "msg") never collide with them.
import { isUtf8 } from 'node:buffer';
import { needsCut } from './rotate';

/** Every key logd may add. A JSON line that has one of them is kept as text in "line", never merged. */
export const RESERVED_KEYS: readonly string[] = [
  '@time', '@seq', '@stream', '@cr', '@nonl', '@part', '@more', '@escaped', '@start', '@end', 'line',
];

/** Flags of one data record. */
export const CR = 1; // the line ended with "\r\n"; the "\r" is not in "line"
export const NONL = 2; // the input stopped (EOF or stop) before this line's newline
export const MORE = 4; // a piece of an over-long line; the next piece of the same stream continues it

/** The largest record a line piece of `maxLine` bytes can make (6 bytes per escaped byte + keys). */
export function maxRecordBytes(maxLine: number): number {
  return maxLine * 6 + 512;
}

// Byte classes for the hot loop: 0 copies as is, 1 needs a JSON escape, 2 is part of a multi-byte
// (or invalid) UTF-8 sequence and needs a validity check.
const CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) CLASS[b] = b < 0x20 || b === 0x22 || b === 0x5c ? 1 : b >= 0x80 ? 2 : 0;

// JSON escapes for the class-1 bytes, the same ones JSON.stringify writes: \" \\ \n \t ... \u001f.
const ESCAPE: Uint8Array[] = [];
for (let b = 0; b < 256; b++) if (CLASS[b] === 1) ESCAPE[b] = bytes(JSON.stringify(String.fromCharCode(b)).slice(1, -1));

// The hot path works on plain Uint8Arrays: Buffer's subarray and element access cost more.
function bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}
export function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}
const LINE_KEY = bytes(',"line":"');
const K_CR = bytes(',"@cr":true');
const K_NONL = bytes(',"@nonl":true');
const K_PART = bytes(',"@part":');
const K_MORE = bytes(',"@more":true');
const K_ESCAPED = bytes(',"@escaped":true');

/**
 * Encodes records into one preallocated buffer and hands them to the file writer through `pos`/`done`.
 * It also decides where the current file must be rotated: a record never straddles two files.
 *
 * The writer owns `done` (bytes of `buf` already written) and `fileSize`; when everything is written
 * it resets `pos` and `done` to 0. When `cut` >= 0, the bytes before it belong to the current file and
 * the bytes after it to the next one; no record is encoded until the writer has rotated.
 */
export class RecordSink {
  /** the records (a Buffer view of `out`, for the writer) */
  readonly buf: Buffer;
  private readonly out: Uint8Array;
  pos = 0;
  done = 0;
  cut = -1;
  /** seq of the last record in the file that the pending cut closes */
  cutLastSeq = 0;
  /** size of the current file on disk (kept by the writer) */
  fileSize = 0;
  /** seq of the last record encoded */
  seq: number;
  // counters of this run, for the end record
  records = 0;
  lines = 0;
  outBytes = 0;
  inputBytes = 0;
  readonly firstSeq: number;
  private readonly reserve: number;
  private readonly dvOut: DataView;
  /** the last line source and a DataView on it (sources change once per read, not per line) */
  private dvSrc: Uint8Array | null = null;
  private dvIn: DataView | null = null;
  private prefix: Uint8Array = new Uint8Array(0);
  /** `seq` in ASCII, right-aligned (safe integers have at most 16 digits) */
  private readonly digits = new Uint8Array(20);
  private ndigits = 1;
  private prefixMs = -1;

  constructor(
    lastSeq: number,
    readonly maxLine: number,
    readonly maxBytes: number,
    capacity = 1 << 20,
  ) {
    this.seq = lastSeq;
    this.firstSeq = lastSeq + 1;
    const text = String(lastSeq);
    this.digits.fill(0x30).set(bytes(text), this.digits.length - text.length);
    this.ndigits = text.length;
    this.reserve = maxRecordBytes(maxLine);
    this.out = new Uint8Array(capacity + this.reserve);
    this.buf = Buffer.from(this.out.buffer, 0, this.out.length);
    this.dvOut = new DataView(this.out.buffer);
  }

  /** One timestamp per read: lines read together share the time logd read them (ms precision). */
  setTime(ms: number): void {
    if (ms === this.prefixMs) return;
    this.prefixMs = ms;
    this.prefix = bytes(`{"@time":"${new Date(ms).toISOString()}","@seq":`);
  }

  /** Room for one more record of any kind, and no rotation pending. */
  hasRoom(): boolean {
    return this.cut < 0 && this.out.length - this.pos >= this.reserve;
  }

  /** Records encoded but not yet written. */
  pendingBytes(): number {
    return this.pos - this.done;
  }

  /**
   * Encodes the line src[s, e) (without its newline, and without the "\r" when flags has CR).
   * `part` is 0 for a whole line, 1, 2, ... for the pieces of a split one. Call only when hasRoom().
   */
  line(src: Uint8Array, s: number, e: number, flags: number, part: number, stream: Uint8Array | null): void {
    const p0 = this.pos;
    const out = this.out;
    let q = this.head(stream);
    if (flags & CR) q = put(out, q, K_CR);
    if (flags & NONL) q = put(out, q, K_NONL);
    if (part > 0) q = putUint(out, put(out, q, K_PART), part);
    if (flags & MORE) q = put(out, q, K_MORE);
    const afterKeys = q;
    const isObject = part === 0 && e - s >= 2 && src[s] === 0x7b && src[e - 1] === 0x7d;
    q = isObject ? this.jsonObject(src, s, e, afterKeys) : 0;
    if (q === 0) q = this.plainLine(src, s, e, afterKeys);
    this.finishRecord(p0, q, flags, e - s);
  }

  /**
   * "line":"..." with JSON escapes. Four bytes at a time (SWAR): a word without a byte to escape is
   * copied whole; only words holding a quote, a backslash or a control byte go byte by byte. Bytes
   * >= 0x80 are copied raw and the line's UTF-8 is validated once at the end (natively).
   */
  private plainLine(src: Uint8Array, s: number, e: number, afterKeys: number): number {
    const out = this.out;
    const dvOut = this.dvOut;
    if (src !== this.dvSrc) {
      this.dvSrc = src;
      this.dvIn = new DataView(src.buffer, src.byteOffset, src.length);
    }
    const dvIn = this.dvIn!;
    let q = put(out, afterKeys, LINE_KEY);
    let high = 0;
    let i = s;
    for (; i + 4 <= e; i += 4) {
      const w = dvIn.getInt32(i, true);
      high |= w;
      const x = w ^ 0x22222222; // a zero byte where w has '"'
      const y = w ^ 0x5c5c5c5c; // ... where w has '\'
      // Classic "has a byte less than n" / "has a zero byte" tests: exact as to whether any byte matches.
      if (((((w - 0x20202020) & ~w) | ((x - 0x01010101) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) === 0) {
        dvOut.setInt32(q, w, true);
        q += 4;
        continue;
      }
      for (let k = i; k < i + 4; k++) q = putEscaped(out, q, src[k]);
    }
    for (; i < e; i++) {
      const b = src[i];
      if (b >= 0x80) high = -1;
      q = putEscaped(out, q, b);
    }
    if (high & 0x80808080 && !isUtf8(src.subarray(s, e))) return this.escapedLine(src, s, e, afterKeys);
    out[q] = 0x22; // "}\n
    out[q + 1] = 0x7d;
    out[q + 2] = 0x0a;
    return q + 3;
  }

  /** A line that is a JSON object without any reserved key: our keys, then its own text as is. */
  private jsonObject(src: Uint8Array, s: number, e: number, q: number): number {
    const sub = src.subarray(s, e);
    if (!isUtf8(sub)) return 0;
    let obj: unknown;
    try {
      obj = JSON.parse(Buffer.from(sub.buffer, sub.byteOffset, sub.length).toString('utf8'));
    } catch {
      return 0;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 0;
    let empty = true;
    for (const key in obj) {
      empty = false;
      if (RESERVED_KEYS.includes(key)) return 0;
    }
    const out = this.out;
    if (!empty) out[q++] = 0x2c; // ','
    q = copySpan(out, q, src, s + 1, e);
    out[q++] = 0x0a;
    return q;
  }

  /** Invalid UTF-8: kept lossless as \xNN escapes (see escapeBytes), marked "@escaped". */
  private escapedLine(src: Uint8Array, s: number, e: number, q: number): number {
    q = put(this.out, q, K_ESCAPED);
    q = put(this.out, q, LINE_KEY) - 1; // JSON.stringify brings its own opening quote
    const text = escapeBytes(Buffer.from(src.buffer, src.byteOffset, src.length), s, e);
    q += this.buf.write(JSON.stringify(text), q, 'utf8');
    this.out[q++] = 0x7d;
    this.out[q++] = 0x0a;
    return q;
  }

  /** Metadata record: {"@time":...,"@seq":N,"@start":{...}} or "@end". */
  meta(key: '@start' | '@end', value: object): void {
    const p0 = this.pos;
    let q = this.head(null);
    q = put(this.out, q, bytes(`,${JSON.stringify(key)}:${JSON.stringify(value)}}\n`));
    this.pos = q;
    this.outBytes += q - p0;
    this.checkCut(p0, q);
  }

  /** The values the end record reports, counted since the start record (included in bytes). */
  endValue(reason: string): Record<string, unknown> {
    return {
      reason,
      first_seq: this.firstSeq,
      records: this.records,
      lines: this.lines,
      bytes: this.outBytes,
      input_bytes: this.inputBytes,
    };
  }

  /** Forces a rotation after what is encoded so far (SIGHUP); false when the file is empty. */
  cutNow(): boolean {
    if (this.cut >= 0 || this.fileSize + this.pendingBytes() === 0) return false;
    this.cut = this.pos;
    this.cutLastSeq = this.seq;
    return true;
  }

  private head(stream: Uint8Array | null): number {
    this.seq++;
    // The seq's decimal digits, incremented in place like an odometer: no division per record.
    const d = this.digits;
    let i = d.length - 1;
    while (d[i] === 0x39) d[i--] = 0x30;
    if (i < d.length - this.ndigits) {
      d[i] = 0x31;
      this.ndigits++;
    } else d[i]++;
    const out = this.out;
    let q = put(out, this.pos, this.prefix);
    for (let k = d.length - this.ndigits; k < d.length; k++) out[q++] = d[k];
    if (stream) q = put(out, q, stream);
    return q;
  }

  private finishRecord(p0: number, q: number, flags: number, lineBytes: number): void {
    this.pos = q;
    this.records++;
    if (!(flags & MORE)) this.lines++;
    this.outBytes += q - p0;
    this.inputBytes += lineBytes + (flags & CR ? 1 : 0) + (flags & (MORE | NONL) ? 0 : 1);
    this.checkCut(p0, q);
  }

  private checkCut(p0: number, q: number): void {
    if (needsCut(this.fileSize + (p0 - this.done), q - p0, this.maxBytes)) {
      this.cut = p0;
      this.cutLastSeq = this.seq - 1;
    }
  }
}

/** The "@stream" key for records of one input, or null when streams are merged. */
export function streamKey(name: string | null): Uint8Array | null {
  return name === null ? null : bytes(`,"@stream":${JSON.stringify(name)}`);
}

/** Short constant pieces: a loop; longer ones: a native copy. */
function put(out: Uint8Array, q: number, piece: Uint8Array): number {
  const n = piece.length;
  if (n <= 16) {
    for (let i = 0; i < n; i++) out[q + i] = piece[i];
  } else out.set(piece, q);
  return q + n;
}

/** One byte of a line, escaped if JSON needs it. */
function putEscaped(out: Uint8Array, q: number, b: number): number {
  if (CLASS[b] !== 1) {
    out[q] = b;
    return q + 1;
  }
  if (b === 0x22 || b === 0x5c) {
    out[q] = 0x5c;
    out[q + 1] = b;
    return q + 2;
  }
  return put(out, q, ESCAPE[b]);
}

/** src[a, b) to out at q. A subarray costs more than a short loop, so short runs are copied by hand. */
function copySpan(out: Uint8Array, q: number, src: Uint8Array, a: number, b: number): number {
  const n = b - a;
  if (n < 48) {
    for (let i = 0; i < n; i++) out[q + i] = src[a + i];
  } else out.set(src.subarray(a, b), q);
  return q + n;
}

function putUint(out: Uint8Array, q: number, n: number): number {
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  for (let i = q + digits - 1; i >= q; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return q + digits;
}

// ---- UTF-8 ---------------------------------------------------------------------------------------

/** Length of the valid UTF-8 sequence at src[i] (1..4), or 0 if the byte there starts none. */
export function utf8SequenceLength(src: Uint8Array, i: number, end: number): number {
  const b = src[i];
  if (b < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b === 0xe0) lo = 0xa0; // no overlong forms
    if (b === 0xed) hi = 0x9f; // no surrogates
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b === 0xf0) lo = 0x90;
    if (b === 0xf4) hi = 0x8f; // nothing above U+10FFFF
  } else return 0;
  if (i + n > end) return 0;
  if (src[i + 1] < lo || src[i + 1] > hi) return 0;
  for (let k = 2; k < n; k++) if ((src[i + k] & 0xc0) !== 0x80) return 0;
  return n;
}

/**
 * Text for bytes that are not valid UTF-8, reversibly: valid characters stay, a backslash becomes
 * two, and each byte that starts no valid sequence becomes \xNN (lower-case hex).
 */
export function escapeBytes(src: Buffer, s: number, e: number): string {
  let text = '';
  let run = s;
  const flush = (to: number) => {
    if (to > run) text += src.toString('utf8', run, to).replace(/\\/g, '\\\\');
  };
  for (let i = s; i < e; ) {
    const n = utf8SequenceLength(src, i, e);
    if (n > 0) {
      i += n;
      continue;
    }
    flush(i);
    text += '\\x' + src[i].toString(16).padStart(2, '0');
    run = ++i;
  }
  flush(e);
  return text;
}

/** The bytes escapeBytes was given. */
export function unescapeBytes(text: string): Buffer {
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') continue;
    parts.push(Buffer.from(text.slice(run, i), 'utf8'));
    if (text[i + 1] === 'x') {
      parts.push(Buffer.from([parseInt(text.slice(i + 2, i + 4), 16)]));
      i += 3;
    } else {
      parts.push(Buffer.from('\\'));
      i += 1;
    }
    run = i + 1;
  }
  parts.push(Buffer.from(text.slice(run), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * Where to cut a full piece buf[0, len) so that no UTF-8 character is split: before a lead byte in
 * the last 3 bytes whose sequence would run past the end. Invalid bytes are cut anywhere (they are
 * escaped one by one anyway).
 */
export function utf8Cut(buf: Uint8Array, len: number): number {
  for (let k = 1; k <= 3 && k <= len; k++) {
    const b = buf[len - k];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back for its lead
    if (b < 0xc2 || b > 0xf4) return len; // ASCII or a byte that starts no sequence: nothing straddles
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return k < need && len - k > 0 ? len - k : len;
  }
  return len;
}

// ---- framing -------------------------------------------------------------------------------------

/**
 * Splits one input stream into lines and feeds them to the sink. Memory is bounded: a line longer
 * than maxLine is emitted in pieces ("@part" n, "@more" on all but the last) as it arrives.
 */
export class LineSplitter {
  private readonly carry: Uint8Array;
  private carryLen = 0;
  private part = 0;

  constructor(
    private readonly sink: RecordSink,
    private readonly stream: Uint8Array | null,
  ) {
    this.carry = new Uint8Array(sink.maxLine);
  }

  /** Bytes of an unfinished line held here. */
  held(): number {
    return this.carryLen;
  }

  /**
   * Consumes chunk from p on, as far as the sink has room; returns where it stopped (chunk.length when
   * all is consumed). The caller must make room (write the sink out) and call again with the rest.
   */
  feed(chunk: Buffer, p: number): number {
    const sink = this.sink;
    const max = sink.maxLine;
    const end = chunk.length;
    const bytes = u8(chunk);
    while (p < end && sink.hasRoom()) {
      const nl = chunk.indexOf(10, p); // Buffer's indexOf is several times faster than Uint8Array's
      if (this.carryLen === 0 && nl !== -1 && nl - p <= max) {
        this.emit(bytes, p, nl, false);
        p = nl + 1;
        continue;
      }
      // A line that began in an earlier chunk, or is too long: gather it in the carry.
      const stop = nl === -1 ? end : nl;
      if (p < stop) {
        if (this.carryLen === max) {
          this.emitPiece();
          continue;
        }
        const n = Math.min(stop - p, max - this.carryLen);
        this.carry.set(bytes.subarray(p, p + n), this.carryLen);
        this.carryLen += n;
        p += n;
        continue;
      }
      this.emit(this.carry, 0, this.carryLen, false);
      this.carryLen = 0;
      p = nl + 1;
    }
    return p;
  }

  /** At EOF or stop: emits the unfinished line (marked "@nonl"). False if the sink has no room. */
  finish(): boolean {
    if (this.carryLen === 0 && this.part === 0) return true;
    if (!this.sink.hasRoom()) return false;
    this.emit(this.carry, 0, this.carryLen, true);
    this.carryLen = 0;
    return true;
  }

  /** A whole line (or the last piece of a split one) in buf[s, e). */
  private emit(buf: Uint8Array, s: number, e: number, unterminated: boolean): void {
    let flags = unterminated ? NONL : 0;
    if (!unterminated && e > s && buf[e - 1] === 0x0d) {
      e--;
      flags |= CR;
    }
    const part = this.part > 0 ? this.part + 1 : 0;
    this.part = 0;
    this.sink.line(buf, s, e, flags, part, this.stream);
  }

  /** The carry is full and the line goes on: emit a piece, keep a split character for the next. */
  private emitPiece(): void {
    const cut = utf8Cut(this.carry, this.carryLen);
    this.part++;
    this.sink.line(this.carry, 0, cut, MORE, this.part, this.stream);
    this.carry.copyWithin(0, cut, this.carryLen);
    this.carryLen -= cut;
  }
}

// ---- reading records back ------------------------------------------------------------------------

export interface ParsedRecord {
  seq: number;
  time: string;
  kind: 'start' | 'end' | 'line' | 'json';
  obj: Record<string, unknown>;
}

/** A logd record, or null for a line that is not one (damaged, torn, or foreign). */
export function parseRecord(text: string): ParsedRecord | null {
  if (!text.startsWith('{"@time":"')) return null;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const o = obj as Record<string, unknown>;
  const seq = o['@seq'];
  const time = o['@time'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || typeof time !== 'string') return null;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(o, k);
  const kind = has('@start') ? 'start' : has('@end') ? 'end' : has('line') ? 'line' : 'json';
  if (kind === 'line' && typeof o.line !== 'string') return null;
  return { seq, time, kind, obj: o };
}

/**
 * The input bytes a data record stands for, newline and "\r" included: concatenating these over a
 * stream's records gives back exactly what the service wrote. Null if the record is not in logd's
 * format (hand-edited, for example).
 */
export function originalBytes(rec: ParsedRecord, text: string): Buffer | null {
  const o = rec.obj;
  const tail = (o['@cr'] === true ? '\r' : '') + (o['@more'] === true || o['@nonl'] === true ? '' : '\n');
  if (rec.kind === 'line') {
    const line = o.line as string;
    const body = o['@escaped'] === true ? unescapeBytes(line) : Buffer.from(line, 'utf8');
    return Buffer.concat([body, Buffer.from(tail, 'latin1')]);
  }
  if (rec.kind !== 'json') return null;
  // Our keys are a prefix of the record's text, written exactly this way.
  let prefix = `{"@time":${JSON.stringify(rec.time)},"@seq":${rec.seq}`;
  if (typeof o['@stream'] === 'string') prefix += `,"@stream":${JSON.stringify(o['@stream'])}`;
  if (o['@cr'] === true) prefix += ',"@cr":true';
  if (o['@nonl'] === true) prefix += ',"@nonl":true';
  if (!text.startsWith(prefix)) return null;
  let rest = text.slice(prefix.length);
  if (rest.startsWith(',')) rest = rest.slice(1);
  return Buffer.from('{' + rest + tail, 'utf8');
}

/**
 * The seq of the last complete record in the tail of a file (`atStart`: the tail is the whole file).
 * 'more' when no complete record was found and a longer tail might hold one.
 */
export function lastSeqInTail(tail: Buffer, atStart: boolean): { seq: number; ended: boolean } | null | 'more' {
  let end = tail.lastIndexOf(10);
  while (end >= 0) {
    const nl = end > 0 ? tail.lastIndexOf(10, end - 1) : -1;
    if (nl < 0 && !atStart) return 'more';
    const rec = parseRecord(tail.toString('utf8', nl + 1, end));
    if (rec) return { seq: rec.seq, ended: rec.kind === 'end' };
    end = nl;
  }
  return atStart ? null : 'more';
}
