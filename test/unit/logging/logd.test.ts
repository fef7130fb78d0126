// The pure parts of `tsinit logd` and `tsinit logcheck`: record encoding, line framing, UTF-8,
// JSON passthrough, rotation decisions and names, sequence resume, and the verifier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  escapeBytes, LineSplitter, originalBytes, parseRecord, lastSeqInTail, RecordSink, streamKey,
  unescapeBytes, utf8Cut, ParsedRecord,
} from '../../../src/logging/records';
import {
  CURRENT, filesToPrune, isRotatedName, logFilesInOrder, needsCut, rotatedName, rotatedNameTime, rotationTime,
} from '../../../src/logging/rotate';
import { LogVerifier } from '../../../src/logging/logcheck';
import { parseLogdArgs } from '../../../src/logging/logd';
import { UsageError } from '../../../src/values';

const TIME = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

interface Encoded {
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
function encode(
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
function rebuild(e: Encoded): Buffer {
  return Buffer.concat(e.records.filter((r) => r.kind === 'line' || r.kind === 'json').map((r, i) => {
    const text = e.texts[e.records.indexOf(r)];
    const b = originalBytes(r, text);
    assert.ok(b, `record ${i} cannot be rebuilt: ${text}`);
    return b;
  }));
}

function randomBytes(n: number, seed: number): Buffer {
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

// ---- record shape --------------------------------------------------------------------------------

test('a plain line: @time, @seq, line, in that order, and nothing else', () => {
  const { texts } = encode(['hello world\n']);
  assert.deepEqual(texts, ['{"@time":"2025-01-02T03:04:05.678Z","@seq":1,"line":"hello world"}']);
});

test('seq continues from the resumed value without gap, across digit-count changes', () => {
  const lines = Array.from({ length: 25 }, (_, i) => `l${i}\n`).join('');
  const { records } = encode([lines], { lastSeq: 95 });
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 25 }, (_, i) => 96 + i));
  const big = encode(['a\nb\n'], { lastSeq: 9_007_199_254_740_989 });
  assert.deepEqual(big.records.map((r) => r.seq), [9_007_199_254_740_990, 9_007_199_254_740_991]);
});

test('separate streams: "@stream" after "@seq"', () => {
  const { texts } = encode(['x\n'], { stream: 'stderr' });
  assert.equal(texts[0], '{"@time":"2025-01-02T03:04:05.678Z","@seq":1,"@stream":"stderr","line":"x"}');
});

test('every ASCII byte round-trips through the JSON escapes, at every position of the 4-byte words', () => {
  for (let b = 0; b < 0x80; b++) {
    if (b === 0x0a) continue;
    for (let pos = 0; pos < 9; pos++) {
      const bytes = Buffer.from('abcdefghi');
      bytes[pos] = b;
      const { records } = encode([Buffer.concat([bytes, Buffer.from('\n')])]);
      const expected = b === 0x0d && pos === 8 ? 'abcdefgh' : bytes.toString('latin1');
      assert.equal(records[0].obj.line, expected, `byte ${b} at ${pos}`);
    }
  }
});

test('escapes are the ones JSON.stringify writes', () => {
  const line = 'q"b\\t\tn\u0001\u001f\u007f end';
  const { texts } = encode([line + '\n']);
  assert.equal(texts[0], `{"@time":"2025-01-02T03:04:05.678Z","@seq":1,"line":${JSON.stringify(line)}}`);
});

test('valid UTF-8 is copied raw, not escaped', () => {
  const line = 'héllo wörld — 日本語 🎉 end';
  const { texts, records } = encode([line + '\n']);
  assert.equal(records[0].obj.line, line);
  assert.ok(texts[0].includes('日本語'));
  assert.equal(records[0].obj['@escaped'], undefined);
});

test('empty lines, CRLF, a lone CR, and a final line without newline', () => {
  const { records } = encode(['\n\na\r\nb\rc\n\r\nlast']);
  assert.deepEqual(records.map((r) => [r.obj.line, r.obj['@cr'] ?? false, r.obj['@nonl'] ?? false]), [
    ['', false, false],
    ['', false, false],
    ['a', true, false],
    ['b\rc', false, false],
    ['', true, false],
    ['last', false, true],
  ]);
});

test('a final "\\r" without newline is kept in the line', () => {
  const { records } = encode(['x\r']);
  assert.equal(records[0].obj.line, 'x\r');
  assert.equal(records[0].obj['@nonl'], true);
  assert.equal(records[0].obj['@cr'], undefined);
});

// ---- invalid UTF-8 -------------------------------------------------------------------------------

test('invalid UTF-8 is kept lossless as \\xNN escapes, with backslashes doubled, and marked', () => {
  const input = Buffer.concat([Buffer.from('bad '), Buffer.from([0xff, 0xc3]), Buffer.from(' \\x41 ok é')]);
  const { records } = encode([Buffer.concat([input, Buffer.from('\n')])]);
  assert.equal(records[0].obj['@escaped'], true);
  assert.equal(records[0].obj.line, 'bad \\xff\\xc3 \\\\x41 ok é');
  assert.deepEqual(unescapeBytes(records[0].obj.line as string), input);
});

test('escapeBytes/unescapeBytes: overlongs, surrogates, out-of-range and truncated sequences', () => {
  const cases = [
    [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xe2, 0x82],
    [0x80], [0xf0, 0x9f, 0x8e], [0xf0, 0x9f, 0x8e, 0x89], [0x5c, 0x78, 0x30, 0x30],
  ];
  for (const c of cases) {
    const b = Buffer.from(c);
    const text = escapeBytes(b, 0, b.length);
    assert.deepEqual(unescapeBytes(text), b, `bytes ${c}`);
  }
  assert.equal(escapeBytes(Buffer.from([0xf0, 0x9f, 0x8e, 0x89]), 0, 4), '🎉');
  assert.equal(escapeBytes(Buffer.from([0xed, 0xa0, 0x80]), 0, 3), '\\xed\\xa0\\x80');
});

test('binary noise: every byte comes back, in any chunking', () => {
  const input = randomBytes(300_000, 7);
  const whole = encode([input], { maxLine: 4096 });
  assert.deepEqual(rebuild(whole), input);
  // Odd chunk sizes split lines, CRLF pairs and UTF-8 sequences between reads: same records.
  const chunks: Buffer[] = [];
  for (let p = 0, n = 1; p < input.length; p += n, n = (n * 7 + 3) % 5000 + 1) chunks.push(input.subarray(p, p + n));
  const chunked = encode(chunks, { maxLine: 4096 });
  assert.deepEqual(chunked.texts, whole.texts);
  assert.equal(whole.sink.inputBytes, input.length);
});

// ---- JSON passthrough ----------------------------------------------------------------------------

test('a JSON object line keeps its fields, byte for byte, after the added keys', () => {
  const line = '{"level":"info","msg":"hi \\u00e9","n":12345678901234567890,"nested":{"@seq":1}}';
  const { texts, records } = encode([line + '\n']);
  assert.equal(texts[0], '{"@time":"2025-01-02T03:04:05.678Z","@seq":1,' + line.slice(1));
  assert.equal(records[0].kind, 'json');
  assert.ok(texts[0].includes('12345678901234567890'), 'big numbers are not re-serialized');
  assert.deepEqual(rebuild(encode([line + '\n'])), Buffer.from(line + '\n'));
});

test('JSON passthrough: empty object, inner whitespace, CRLF, separate streams', () => {
  const { texts } = encode(['{}\n{ "a" : 1 }\r\n{ }\n'], { stream: 'stdout' });
  assert.deepEqual(texts, [
    '{"@time":"2025-01-02T03:04:05.678Z","@seq":1,"@stream":"stdout"}',
    '{"@time":"2025-01-02T03:04:05.678Z","@seq":2,"@stream":"stdout","@cr":true, "a" : 1 }',
    '{"@time":"2025-01-02T03:04:05.678Z","@seq":3,"@stream":"stdout" }',
  ]);
  const e = encode(['{}\n{ "a" : 1 }\r\n{ }\nx{"y":1}'], { stream: 'stdout' });
  assert.equal(rebuild(e).toString(), '{}\n{ "a" : 1 }\r\n{ }\nx{"y":1}');
});

test('lines that are not JSON objects, or whose keys collide with ours, stay text in "line"', () => {
  const lines = [
    '{"@seq":5,"a":1}', '{"@time":"x"}', '{"line":"mine"}', '{"@end":{}}', '[1,2]', '{broken', '{"a":1} trailing',
    ' {"a":1}', '{"a":1}{"b":2}', '{"a":"\u0001"}',
  ];
  const { records } = encode([lines.join('\n') + '\n']);
  assert.deepEqual(records.map((r) => [r.kind, r.obj.line]), lines.map((l) => ['line', l]));
});

test('a JSON object with invalid UTF-8 is kept escaped, not merged', () => {
  const input = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff]), Buffer.from('"}\n')]);
  const { records } = encode([input]);
  assert.equal(records[0].kind, 'line');
  assert.equal(records[0].obj['@escaped'], true);
});

// ---- long lines ----------------------------------------------------------------------------------

test('an over-long line is split into marked pieces of at most maxLine bytes', () => {
  const line = 'x'.repeat(2500);
  const { records } = encode([line + '\nnext\n'], { maxLine: 1000 });
  assert.deepEqual(records.map((r) => [(r.obj.line as string).length, r.obj['@part'], r.obj['@more']]), [
    [1000, 1, true],
    [1000, 2, true],
    [500, 3, undefined],
    [4, undefined, undefined],
  ]);
});

test('a line of exactly maxLine bytes is not split; one more byte is', () => {
  assert.equal(encode(['y'.repeat(64) + '\n'], { maxLine: 64 }).records.length, 1);
  const r = encode(['y'.repeat(65) + '\n'], { maxLine: 64 }).records;
  assert.deepEqual(r.map((x) => (x.obj.line as string).length), [64, 1]);
});

test('pieces never split a UTF-8 character, so each piece stays readable text', () => {
  const line = 'aé日🎉'.repeat(400);
  for (const maxLine of [64, 65, 66, 67, 100]) {
    const e = encode([line + '\n'], { maxLine });
    for (const r of e.records) {
      assert.equal(r.obj['@escaped'], undefined, `maxLine ${maxLine}`);
      assert.ok(Buffer.byteLength(r.obj.line as string) <= maxLine);
    }
    assert.equal(e.records.map((r) => r.obj.line).join(''), line);
  }
});

test('utf8Cut: cuts before a character that would straddle the end', () => {
  const b = Buffer.from('ab日'); // 61 62 e6 97 a5
  assert.equal(utf8Cut(b, 5), 5);
  assert.equal(utf8Cut(b, 4), 2);
  assert.equal(utf8Cut(b, 3), 2);
  assert.equal(utf8Cut(Buffer.from([0x61, 0xff, 0xfe]), 3), 3);
});

test('a huge line in many reads: bounded memory, CRLF at a piece boundary still lossless', () => {
  const maxLine = 1024;
  const sink = new RecordSink(0, maxLine, 2 ** 40, 1 << 16);
  sink.setTime(TIME);
  const splitter = new LineSplitter(sink, null);
  const chunk = Buffer.alloc(10_000, 0x61);
  let records = 0;
  for (let i = 0; i < 500; i++) {
    let p = 0;
    while (p < chunk.length) {
      p = splitter.feed(chunk, p);
      assert.ok(splitter.held() <= maxLine);
      assert.ok(sink.pos <= sink.buf.length);
      records += sink.buf.subarray(0, sink.pos).filter((b) => b === 0x0a).length;
      sink.pos = sink.done = 0;
    }
  }
  assert.ok(records >= 4880);
  const e = encode(['z'.repeat(1024) + '\r\n'], { maxLine: 1024 });
  assert.deepEqual(rebuild(e).toString(), 'z'.repeat(1024) + '\r\n');
});

// ---- counts and end records ----------------------------------------------------------------------

test('the end record counts: records, lines, bytes written, input bytes', () => {
  const input = 'a\n' + 'b'.repeat(300) + '\n{"k":1}\r\ntail';
  const e = encode([input], { maxLine: 128, meta: true });
  const end = e.records.at(-1)!;
  assert.equal(end.kind, 'end');
  const written = e.texts.slice(0, -1).reduce((n, t) => n + Buffer.byteLength(t) + 1, 0);
  assert.deepEqual(end.obj['@end'], {
    reason: 'eof', first_seq: 1, records: 6, lines: 4, bytes: written, input_bytes: Buffer.byteLength(input),
  });
});

// ---- rotation ------------------------------------------------------------------------------------

test('rotated names: fixed width, sort by time then seq, and parse back', () => {
  const a = rotatedName(TIME, 42);
  assert.equal(a, '20250102T030405.678Z-0000000000000042.jsonl');
  assert.ok(isRotatedName(a));
  assert.equal(rotatedNameTime(a), TIME);
  const names = [rotatedName(TIME + 1, 50), rotatedName(TIME, 43), a, rotatedName(TIME - 86_400_000, 9)];
  assert.deepEqual([...names].sort(), [names[3], names[2], names[1], names[0]]);
  assert.ok(!isRotatedName(CURRENT) && !isRotatedName('notes.txt'));
});

test('rotationTime never goes before the newest existing name (clock stepped back)', () => {
  const existing = [rotatedName(TIME, 10), 'current.jsonl', 'other'];
  assert.equal(rotationTime(TIME - 5000, existing), TIME);
  assert.equal(rotationTime(TIME + 5, existing), TIME + 5);
  const next = rotatedName(rotationTime(TIME - 5000, existing), 20);
  assert.ok(next > existing[0]);
});

test('filesToPrune keeps the newest N rotated files and ignores other names', () => {
  const names = [CURRENT, 'README', rotatedName(TIME + 3, 30), rotatedName(TIME + 1, 10), rotatedName(TIME + 2, 20)];
  assert.deepEqual(filesToPrune(names, 1), [rotatedName(TIME + 1, 10), rotatedName(TIME + 2, 20)]);
  assert.deepEqual(filesToPrune(names, 3), []);
  assert.equal(filesToPrune(names, 0).length, 3);
  assert.deepEqual(logFilesInOrder(names), [rotatedName(TIME + 1, 10), rotatedName(TIME + 2, 20), rotatedName(TIME + 3, 30), CURRENT]);
});

test('needsCut: a record never makes a non-empty file exceed the limit, and a big one gets its own file', () => {
  assert.equal(needsCut(0, 5000, 4096), false);
  assert.equal(needsCut(4000, 96, 4096), false);
  assert.equal(needsCut(4000, 97, 4096), true);
});

test('the sink cuts between records: files stay under the limit, in order, without loss', () => {
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i} ${'p'.repeat(i % 50)}\n`).join('');
  const e = encode([lines], { maxBytes: 4096, meta: true });
  assert.ok(e.files.length > 5);
  for (const f of e.files) assert.ok(f.reduce((n, t) => n + Buffer.byteLength(t) + 1, 0) <= 4096);
  assert.deepEqual(e.records.map((r) => r.seq), Array.from({ length: 402 }, (_, i) => i + 1));
  assert.deepEqual(rebuild(e).toString(), lines);
});

test('cutNow (SIGHUP) cuts after what is encoded, and not an empty file', () => {
  const sink = new RecordSink(0, 1024, 2 ** 40);
  sink.setTime(TIME);
  assert.equal(sink.cutNow(), false);
  new LineSplitter(sink, null).feed(Buffer.from('a\nb\n'), 0);
  assert.equal(sink.cutNow(), true);
  assert.equal(sink.cut, sink.pos);
  assert.equal(sink.cutLastSeq, 2);
  assert.equal(sink.hasRoom(), false);
});

// ---- resume --------------------------------------------------------------------------------------

test('lastSeqInTail: the last complete record, skipping a torn one; whether the run ended', () => {
  const e = encode(['a\nb\n'], { lastSeq: 10, meta: true });
  const file = e.texts.join('\n') + '\n';
  assert.deepEqual(lastSeqInTail(Buffer.from(file), true), { seq: 14, ended: true });
  const torn = e.texts.slice(0, 3).join('\n') + '\n' + e.texts[3].slice(0, 20);
  assert.deepEqual(lastSeqInTail(Buffer.from(torn), true), { seq: 13, ended: false });
  assert.equal(lastSeqInTail(Buffer.from(''), true), null);
  assert.equal(lastSeqInTail(Buffer.from('garbage\n'), true), null);
  // A tail that starts inside a record cannot vouch for it: read more.
  assert.equal(lastSeqInTail(Buffer.from(file.slice(5, 60)), false), 'more');
  assert.deepEqual(lastSeqInTail(Buffer.from(file.slice(5)), false), { seq: 14, ended: true });
});

// ---- logcheck ------------------------------------------------------------------------------------

function verify(files: string[][], allowOpen = false) {
  const v = new LogVerifier(allowOpen);
  files.forEach((lines, i) => {
    v.startFile(`f${i}`);
    lines.forEach((t, j) => v.line(t, Buffer.byteLength(t), j + 1));
  });
  return v.result('D');
}

const run = (lastSeq: number, input: string, maxBytes = 2 ** 40) => encode([input], { lastSeq, meta: true, maxBytes });
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `n${i}\n`).join('');

test('logcheck: a complete log passes, with its counts', () => {
  const r = verify(run(0, numbered(100)).files);
  assert.equal(r.complete, true, r.lines.join('\n'));
  assert.match(r.lines[0], /1 files, 102 records \(seq 1\.\.102\), 100 lines, 1 runs/);
  assert.match(r.lines.at(-1)!, /^complete/);
});

test('logcheck: two runs and rotated files', () => {
  const a = run(0, numbered(300), 4096);
  const b = run(302, numbered(50), 4096);
  const r = verify([...a.files.slice(0, -1), [...a.files.at(-1)!, ...b.files[0]], ...b.files.slice(1)]);
  assert.equal(r.complete, true, r.lines.join('\n'));
  assert.match(r.lines[0], /2 runs/);
});

test('logcheck: a deleted line is reported as missing, with where', () => {
  const files = run(0, numbered(100)).files;
  files[0].splice(50, 1);
  const r = verify(files);
  assert.equal(r.complete, false);
  assert.ok(r.lines.some((l) => /missing: seq 51, between f0:50 and f0:51/.test(l)), r.lines.join('\n'));
  assert.ok(r.lines.some((l) => /the end record says records 100, the files hold 99/.test(l)));
  assert.match(r.lines.at(-1)!, /^INCOMPLETE: 1 missing/);
});

test('logcheck: a duplicated line and a reordered one', () => {
  const dup = run(0, numbered(10)).files;
  dup[0].splice(5, 0, dup[0][4]);
  const r = verify(dup);
  assert.equal(r.complete, false);
  assert.ok(r.lines.some((l) => /duplicate: seq 5 at f0:6, already at f0:5/.test(l)), r.lines.join('\n'));
  const swapped = run(0, numbered(10)).files;
  [swapped[0][3], swapped[0][4]] = [swapped[0][4], swapped[0][3]];
  const s = verify(swapped);
  assert.equal(s.complete, false);
  assert.ok(s.lines.some((l) => /out of order/.test(l)));
});

test('logcheck: oldest files removed by rotation are tolerated, and said', () => {
  const files = run(0, numbered(300), 4096).files;
  const r = verify(files.slice(2));
  assert.equal(r.complete, true, r.lines.join('\n'));
  assert.ok(r.lines.some((l) => /note: seq 1\.\.\d+ are not here: the oldest files were removed by rotation/.test(l)));
  assert.ok(r.lines.some((l) => /began in a file removed by rotation; counts not checked/.test(l)));
});

test('logcheck: a run without end record (killed) fails; --allow-open accepts only the last one', () => {
  const a = run(0, numbered(10));
  const killed = a.files[0].slice(0, -1);
  const b = run(11, numbered(5));
  const r = verify([[...killed, ...b.files[0]]]);
  assert.equal(r.complete, false);
  assert.ok(r.lines.some((l) => /the run from seq 1 \(f0:1\) has no end record/.test(l)), r.lines.join('\n'));
  const open = verify([killed]);
  assert.equal(open.complete, false);
  assert.equal(verify([killed], true).complete, true);
  assert.equal(verify([[...killed, ...b.files[0]]], true).complete, false);
});

test('logcheck: damaged lines, edited records, and an empty directory', () => {
  const files = run(0, numbered(5)).files;
  files[0][3] = files[0][3].slice(0, 15);
  const r = verify(files);
  assert.equal(r.complete, false);
  assert.ok(r.lines.some((l) => /f0:4: not a logd record/.test(l)));
  const edited = run(0, '{"a":1}\n').files;
  edited[0][1] = edited[0][1].replace('"@seq":2', '"@seq":2 ');
  assert.equal(verify(edited).complete, false);
  const empty = verify([]);
  assert.equal(empty.complete, false);
  assert.ok(empty.lines.some((l) => /no logd records found/.test(l)));
});

// ---- arguments -----------------------------------------------------------------------------------

test('logd arguments: defaults, sizes, both option forms, and errors', () => {
  assert.deepEqual(parseLogdArgs(['/d']), { dir: '/d', maxBytes: 10 * 1024 * 1024, keep: 10, stderrFd: null, maxLine: 65536, stdout: null });
  assert.deepEqual(parseLogdArgs(['--max-bytes', '1M', '/d', '--keep=3', '--max-line', '4k']), {
    dir: '/d', maxBytes: 1024 * 1024, keep: 3, stderrFd: null, maxLine: 4096, stdout: null,
  });
  assert.equal(parseLogdArgs(['/d', '--stdout', 'json']).stdout, 'json');
  assert.equal(parseLogdArgs(['/d', '--stdout=raw']).stdout, 'raw');
  assert.equal(parseLogdArgs(['--stderr-fd', '2', '/d'].slice(2)).stderrFd, null);
  for (const bad of [[], ['a', 'b'], ['/d', '--keep'], ['/d', '--keep', '-1'], ['/d', '--max-bytes', '1k'], ['/d', '--frob', '1'],
    ['/d', '--stderr-fd', '2'], ['/d', '--stderr-fd', '999'], ['/d', '--stdout', 'xml']]) {
    assert.throws(() => parseLogdArgs(bad), UsageError, JSON.stringify(bad));
  }
});
