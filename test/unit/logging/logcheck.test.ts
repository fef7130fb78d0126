// The verifier of `tsinit logcheck` (src/logging/logcheck.ts) on logs made as logd makes them:
// what passes, and how each kind of damage is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogVerifier } from '../../../src/logging/logcheck';
import { encode } from '../../helpers/log-records';

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
