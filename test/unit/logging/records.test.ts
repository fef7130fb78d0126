// logd's records (src/logging/records.ts): encoding, line framing, UTF-8, JSON passthrough, long
// lines, the end record, where the sink cuts, and the sequence resumed from a file's tail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeBytes, LineSplitter, lastSeqInTail, RecordSink, unescapeBytes, utf8Cut } from '../../../src/logging/records';
import { TIME, encode, rebuild, randomBytes } from '../../helpers/log-records';

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

// ---- cuts between records -----------------------------------------------------------------------

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
