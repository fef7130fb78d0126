// The bounded copy behind --log-stdout: what it keeps, what it drops (whole lines), what it counts;
// the shared ring; and the writer thread on a real file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineDropper, Ring, Tee } from '../../../src/logging/tee';

const b = (s: string) => Buffer.from(s);

/** A ring of `cap` bytes fed through a dropper; `out()` plays the consumer and takes everything. */
function harness(cap: number) {
  const ring = Ring.create(cap);
  const drop = new LineDropper();
  return {
    ring,
    drop,
    push(s: string | Buffer, from = 0, to?: number) {
      const data = typeof s === 'string' ? b(s) : s;
      const [x, y] = drop.admit(data, from, to ?? data.length, ring.room());
      ring.put(data, x, y);
    },
    out(max = 1 << 20): string {
      let text = '';
      for (let [pos, len] = ring.next(max); len > 0; [pos, len] = ring.next(max)) {
        text += Buffer.from(ring.data.subarray(pos, pos + len)).toString();
        ring.consumed(len);
      }
      return text;
    },
  };
}

test('everything that fits is kept, in order, across the ring wrapping around', () => {
  const h = harness(8);
  h.push('a\nbc\n');
  assert.equal(h.out(), 'a\nbc\n');
  h.push('def\ngh\n'); // wraps
  assert.equal(h.out(), 'def\ngh\n');
  assert.deepEqual(h.drop.totals(), { bytes: 0, lines: 0 });
});

test('a chunk that does not fit keeps its whole lines that fit and drops the rest up to the next newline', () => {
  const h = harness(10);
  h.push('1234\n6789\nABCDEF\n');
  h.push('GH\nok\n'); // the ring is full: all of it is dropped
  assert.equal(h.out(), '1234\n6789\n');
  h.push('next\n');
  assert.equal(h.out(), 'next\n');
  assert.deepEqual(h.drop.totals(), { bytes: 'ABCDEF\n'.length + 'GH\nok\n'.length, lines: 3 });
});

test('a dropped unfinished line is counted once at the end, and the copy resumes at a line start', () => {
  const h = harness(5);
  h.push('toolong');
  h.push('still');
  assert.deepEqual(h.drop.totals(), { bytes: 12, lines: 1 });
  h.push(' more\nfine\n');
  assert.equal(h.out(), 'fine\n');
  assert.deepEqual(h.drop.totals(), { bytes: 18, lines: 1 });
});

test('abandoning what is queued counts it; a line whose head was queued loses its tail too', () => {
  const h = harness(10);
  h.push('12345');
  h.push('678901234567\n'); // no room for any of it: dropped, and its newline ends the line
  assert.deepEqual(h.drop.totals(), { bytes: 13, lines: 1 });
  h.drop.abandon(h.ring.used(), h.ring.pendingLines());
  assert.deepEqual(h.drop.totals(), { bytes: 18, lines: 1 });
  const g = harness(100);
  g.push('aa\nbb');
  g.drop.abandon(g.ring.used(), g.ring.pendingLines());
  g.ring.consumed(g.ring.used());
  g.push('b tail\nnew\n');
  assert.equal(g.out(), 'new\n');
  assert.deepEqual(g.drop.totals(), { bytes: 5 + 7, lines: 2 });
});

test('a slice of a reused buffer is copied', () => {
  const h = harness(100);
  const buf = b('xx\nyy\n');
  h.push(buf, 3, 6);
  buf.fill(0x41);
  assert.equal(h.out(), 'yy\n');
});

test('every newline pushed is either delivered or counted as missed (random chunks, partial writes)', () => {
  let text = '';
  for (let i = 1; i <= 20000; i++) text += `${i}\n`;
  const buf = Buffer.from(text);
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (const cap of [100, 4096, 65536]) {
    const h = harness(cap);
    let delivered = '';
    for (let pos = 0; pos < buf.length; ) {
      const n = Math.min(buf.length - pos, 1 + rand(3000));
      h.push(buf, pos, pos + n);
      pos += n;
      if (rand(3) === 0) {
        const [p, len] = h.ring.next(1 + rand(cap));
        delivered += Buffer.from(h.ring.data.subarray(p, p + len)).toString();
        h.ring.consumed(len);
      }
    }
    h.drop.abandon(h.ring.used(), h.ring.pendingLines());
    assert.equal((delivered.match(/\n/g) ?? []).length + h.drop.totals().lines, 20000, `capacity ${cap}`);
    assert.equal(delivered.length + h.drop.totals().bytes, buf.length);
  }
});

test('the writer thread copies everything to a real file and settles with nothing missed', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tsinit-tee-')), 'out');
  const fd = openSync(path, 'w');
  try {
    const tee = new Tee(fd, 1 << 16);
    let want = '';
    for (let i = 0; i < 2000; i++) {
      const line = `line ${i}\n`;
      want += line;
      tee.push(b(line));
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    const missed = await tee.settle(5000, 10_000);
    const got = readFileSync(path, 'utf8');
    assert.equal(got.length + missed.bytes, want.length);
    assert.equal(missed.failure, null);
    if (missed.bytes === 0) assert.equal(got, want);
  } finally {
    closeSync(fd);
  }
});
