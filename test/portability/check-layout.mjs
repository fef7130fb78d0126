// Compares what test/portability/layout.c printed (compiled against one C library on one
// architecture) with tsinit's table for that pair (src/sys/layout.ts, built into build/).
//   node test/portability/check-layout.mjs glibc-x64 < output-of-layout
// Prints each difference and 'N checked, N differ'; exits 1 on any difference or missing name.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { LAYOUTS } = require('../../build/src/sys/layout.js');
const key = process.argv[2];
const table = LAYOUTS[key];
if (!table) {
  console.log(`no table ${key} (have: ${Object.keys(LAYOUTS).join(', ')})`);
  process.exit(1);
}
const printed = new Map(
  readFileSync(0, 'utf8').trim().split('\n').map((line) => {
    const [name, value] = line.split(' ');
    return [name, Number(value)];
  }),
);
let differ = 0;
for (const [name, want] of Object.entries(table)) {
  const got = printed.get(name);
  if (got !== want) {
    differ++;
    console.log(`${key}: ${name} is ${got ?? '(not printed)'} in the C library, ${want} in the table`);
  }
  printed.delete(name);
}
for (const name of printed.keys()) {
  differ++;
  console.log(`${key}: ${name} is printed but not in the table`);
}
console.log(`${key}: ${Object.keys(table).length} checked, ${differ} differ`);
process.exit(differ === 0 ? 0 : 1);
