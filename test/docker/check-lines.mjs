#!/usr/bin/env node
// Checks numbered lines that a service wrote through a logger, as seen on the host.
//
//   node check-lines.mjs SOURCE --seq N     lines 1..N, each exactly once (the output of `seq N`)
//   node check-lines.mjs SOURCE --end       lines 1..N, each exactly once, and a line 'end N'
//                                           (the output of the t-lines fixture stopped by SIGTERM)
//
// SOURCE is a plain file (a logger such as `cat > FILE`), where the lines must also be in order, or a
// directory written by `tsinit logd` (--log-dir), read as JSON lines from every file in it. The text of
// a record is its "line" field, or else its one string field that looks like one of our lines (so the
// check does not depend on the writer's other field names); records without one (such as a final
// summary record) are skipped. Prints one summary line; exits 0 when complete, 1 otherwise.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [source, mode, arg] = process.argv.slice(2);
if (!source || (mode !== '--seq' && mode !== '--end') || (mode === '--seq' && !/^\d+$/.test(arg ?? ''))) {
  console.error('usage: check-lines.mjs FILE|DIR --seq N | --end');
  process.exit(2);
}

const ours = /^(\d+|end \d+)$/;

function recordText(obj) {
  if (obj === null || typeof obj !== 'object') return undefined;
  if (typeof obj.line === 'string') return obj.line;
  return Object.values(obj).find((v) => typeof v === 'string' && ours.test(v));
}

function readLines() {
  if (!statSync(source).isDirectory()) {
    const text = readFileSync(source, 'utf8');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return { lines, ordered: true, what: 'file' };
  }
  const files = readdirSync(source).sort();
  const lines = [];
  let records = 0;
  let skipped = 0;
  for (const f of files) {
    const path = join(source, f);
    if (!statSync(path).isFile()) continue;
    for (const raw of readFileSync(path, 'utf8').split('\n')) {
      if (raw === '') continue;
      records++;
      let text;
      try {
        text = recordText(JSON.parse(raw));
      } catch {
        console.log(`not JSON in ${f}: ${raw.slice(0, 120)}`);
        process.exit(1);
      }
      if (text === undefined) skipped++;
      else lines.push(text);
    }
  }
  return { lines, ordered: false, what: `log dir (${files.length} file(s), ${records} records, ${skipped} skipped)` };
}

const { lines, ordered, what } = readLines();
const problems = [];
let n;
let numbers = lines;
if (mode === '--end') {
  const ends = lines.filter((l) => l.startsWith('end '));
  if (ends.length !== 1) problems.push(`expected one 'end N' line, found ${ends.length}`);
  n = ends.length > 0 ? Number(ends[0].slice(4)) : 0;
  if (ordered && lines.at(-1) !== ends[0]) problems.push(`the 'end' line is not the last line`);
  numbers = lines.filter((l) => !l.startsWith('end '));
  if (n < 1) problems.push('the service wrote no line before it stopped');
} else {
  n = Number(arg);
}

const seen = new Uint8Array(n + 1);
let duplicates = 0;
let strange = 0;
let outOfOrder = 0;
let firstProblem = '';
numbers.forEach((l, i) => {
  const v = /^\d+$/.test(l) ? Number(l) : NaN;
  if (!(v >= 1 && v <= n)) {
    strange++;
    firstProblem ||= `unexpected line ${i + 1}: ${JSON.stringify(l.slice(0, 80))}`;
    return;
  }
  if (seen[v]) duplicates++;
  seen[v] = 1;
  if (ordered && v !== i + 1) {
    outOfOrder++;
    firstProblem ||= `line ${i + 1} is ${v}`;
  }
});
const missing = [];
for (let v = 1; v <= n; v++) if (!seen[v]) missing.push(v);
if (missing.length) problems.push(`${missing.length} missing (first: ${missing.slice(0, 5).join(' ')})`);
if (duplicates) problems.push(`${duplicates} duplicated`);
if (strange) problems.push(`${strange} unexpected`);
if (outOfOrder) problems.push(`${outOfOrder} out of order`);
if (firstProblem) problems.push(firstProblem);

if (problems.length) {
  console.log(`INCOMPLETE ${what}: lines 1..${n}: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`complete ${what}: lines 1..${n} each exactly once${ordered ? ', in order' : ''}`);
