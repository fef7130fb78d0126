// Runs bytes through logd's line splitter and record sink as logd does, for the unit tests of the
// records, of the rotation and of logcheck.
import assert from 'node:assert/strict';
import { LineSplitter, originalBytes, parseRecord, RecordSink, streamKey, ParsedRecord } from '../../src/logging/records';

export const TIME = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

export interface Encoded {
  /** record texts, without newlines, in order */
  texts: string[];
  records: ParsedRecord[];
  sink: RecordSink;
  /** the files a writer would have made, cutting where the sink says */
  files: string[][];
}

/**
 * Runs input through a splitter and sink the way logd does, in the given chunks, writing the sink out
 * whenever it stops, and rotating where it cuts. `lastSeq` is what the run resumes from.
 */
export function encode(
  chunks: Array<Buffer | string>,
  opts: { maxLine?: number; maxBytes?: number; lastSeq?: number; stream?: string | null; capacity?: number; meta?: boolean } = {},
): Encoded {
  const sink = new RecordSink(opts.lastSeq ?? 0, opts.maxLine ?? 64 * 1024, opts.maxBytes ?? 2 ** 40, opts.capacity);
  sink.setTime(TIME);
  const splitter = new LineSplitter(sink, streamKey(opts.stream ?? null));
  const files: string[][] = [[]];
  const drain = () => {
    for (;;) {
      const end = sink.cut >= 0 ? sink.cut : sink.pos;
      const text = sink.buf.toString('utf8', sink.done, end);
      for (const t of text.split('\n').slice(0, -1)) files[files.length - 1].push(t);
      sink.fileSize += end - sink.done;
      sink.done = end;
      if (sink.cut < 0) break;
      files.push([]);
      sink.fileSize = 0;
      sink.cut = -1;
    }
    sink.pos = sink.done = 0;
  };
  if (opts.meta) sink.meta('@start', { test: true });
  for (const c of chunks) {
    const chunk = typeof c === 'string' ? Buffer.from(c) : c;
    let p = 0;
    do {
      p = splitter.feed(chunk, p);
      drain();
    } while (p < chunk.length);
  }
  while (!splitter.finish()) drain();
  if (opts.meta) {
    if (!sink.hasRoom()) drain();
    sink.meta('@end', sink.endValue('eof'));
  }
  drain();
  const texts = files.flat();
  const records = texts.map((t) => {
    const r = parseRecord(t);
    assert.ok(r, `not a record: ${t}`);
    return r;
  });
  return { texts, records, sink, files };
}

/** What the service wrote, rebuilt from the records. */
export function rebuild(e: Encoded): Buffer {
  return Buffer.concat(e.records.filter((r) => r.kind === 'line' || r.kind === 'json').map((r, i) => {
    const text = e.texts[e.records.indexOf(r)];
    const b = originalBytes(r, text);
    assert.ok(b, `record ${i} cannot be rebuilt: ${text}`);
    return b;
  }));
}

export function randomBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
