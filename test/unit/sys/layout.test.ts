// The struct layouts and syscall numbers, one table per supported C library and architecture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAYOUTS, layoutFor } from '../../../src/sys/layout';
import { ROOT } from '../../helpers/harness';

test('layout: a table for each supported C library and architecture, none for the others', () => {
  assert.deepEqual(Object.keys(LAYOUTS).sort(), ['glibc-arm64', 'glibc-x64', 'musl-arm64', 'musl-x64']);
  assert.equal(layoutFor('glibc', 'riscv64'), null);
  assert.equal(layoutFor('uclibc', 'x64'), null);
  assert.equal(layoutFor('musl', 'arm64')!.SYS_setresuid, 147);
  assert.equal(layoutFor('glibc', 'x64')!.SYS_setresuid, 117);
  // The layout C program prints exactly the table's names (the comparison itself needs a compiler:
  // test/portability/check-layout.mjs).
  const printed = [...readFileSync(join(ROOT, 'test', 'portability', 'layout.c'), 'utf8').matchAll(/V\("(\w+)"/g)].map((m) => m[1]);
  assert.deepEqual(printed.sort(), Object.keys(LAYOUTS['glibc-x64']).sort());
});
