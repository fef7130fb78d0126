// The bounded queue behind --log-stdout: what it keeps, what it drops (whole lines), what it counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TeeQueue } from '../../src/logging/tee';

const b = (s: string) => Buffer.from(s);

function drain(q: TeeQueue): string {
  let out = '';
  for (let chunk = q.peek(); chunk; chunk = q.peek()) {
    out += chunk.toString();
    q.done(chunk.length);
  }
  return out;
}

test('everything that fits is kept, in order, coalesced on peek', () => {
  const q = new TeeQueue(100);
  q.push(b('a\nb'));
  q.push(b('c\n'));
  assert.equal(q.queued, 5);
  assert.equal(q.peek()!.toString(), 'a\nbc\n');
  assert.equal(drain(q), 'a\nbc\n');
  assert.deepEqual(q.totals(), { bytes: 0, lines: 0 });
});

test('a chunk that does not fit keeps its whole lines that fit and drops the rest up to the next newline', () => {
  const q = new TeeQueue(10);
  q.push(b('1234\n6789\nABCDEF\n'));
  assert.equal(q.queued, 10);
  // the rest of "GH" belongs to a dropped line: dropped through its newline
  q.push(b('GH\nok\n'));
  assert.equal(drain(q), '1234\n6789\n');
  q.push(b('next\n'));
  assert.equal(drain(q), 'next\n');
  assert.deepEqual(q.totals(), { bytes: 'ABCDEF\n'.length + 'GH\nok\n'.length, lines: 3 });
});

test('a dropped unfinished line is counted once at the end, and the copy resumes at a line start', () => {
  const q = new TeeQueue(5);
  q.push(b('toolong'));
  q.push(b('still'));
  assert.deepEqual(q.totals(), { bytes: 12, lines: 1 });
  q.push(b(' more\nfine\n'));
  assert.equal(drain(q), 'fine\n');
  assert.deepEqual(q.totals(), { bytes: 18, lines: 1 });
});

test('a partial write leaves the rest queued; abandon counts what is left as missed', () => {
  const q = new TeeQueue(100);
  q.push(b('aa\nbb\ncc\n'));
  q.done(4);
  assert.equal(q.peek()!.toString(), 'b\ncc\n');
  q.abandon();
  assert.equal(q.queued, 0);
  assert.equal(q.peek(), null);
  assert.deepEqual(q.totals(), { bytes: 5, lines: 2 });
});

test('a slice of a reused buffer is copied', () => {
  const q = new TeeQueue(100);
  const buf = b('xx\nyy\n');
  q.push(buf, 3, 6);
  buf.fill(0x41);
  assert.equal(drain(q), 'yy\n');
});

test('abandoning a queue that ends mid-line after a drop counts each line once', () => {
  const q = new TeeQueue(10);
  q.push(b('12345'));
  q.push(b('678901234567\n'));
  assert.deepEqual(q.totals(), { bytes: 13, lines: 1 });
  q.abandon();
  assert.deepEqual(q.totals(), { bytes: 18, lines: 1 });
  q.push(b('after\n'));
  assert.equal(drain(q), 'after\n');
});

test('every newline pushed is either delivered or counted as missed (random chunks, partial writes)', () => {
  let text = '';
  for (let i = 1; i <= 20000; i++) text += `${i}\n`;
  const buf = Buffer.from(text);
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (const cap of [100, 4096, 65536]) {
    const q = new TeeQueue(cap);
    const out: Buffer[] = [];
    for (let pos = 0; pos < buf.length; ) {
      const n = Math.min(buf.length - pos, 1 + rand(3000));
      q.push(buf, pos, pos + n);
      pos += n;
      const p = rand(3) === 0 ? q.peek() : null;
      if (p) {
        const k = 1 + rand(p.length);
        out.push(Buffer.from(p.subarray(0, k)));
        q.done(k);
      }
    }
    q.abandon();
    const delivered = Buffer.concat(out).toString();
    assert.equal((delivered.match(/\n/g) ?? []).length + q.totals().lines, 20000, `capacity ${cap}`);
    assert.equal(delivered.length + q.totals().bytes, buf.length);
  }
});
