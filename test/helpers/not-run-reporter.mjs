// A node:test reporter that `npm test` loads beside the spec reporter: at the end of the run it prints
// one line per reason for the tests that were not registered on this machine (tests that need root,
// run as another user; PID-1 tests where no PID namespace can be made), with how many. The test
// files write those tests to a file named by this process's pid (test/helpers/harness.ts).
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function* notRunReporter(source) {
  for await (const _event of source) {
    // the spec reporter shows the tests themselves
  }
  const file = join(tmpdir(), `tsinit-tests-not-run.${process.pid}`);
  let entries = [];
  try {
    entries = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    // every test ran
  }
  rmSync(file, { force: true });
  const byNeed = new Map();
  for (const { needs, name } of entries) byNeed.set(needs, [...(byNeed.get(needs) ?? []), name]);
  for (const [needs, names] of byNeed) {
    yield `ℹ not run: ${names.length} test${names.length === 1 ? '' : 's'} needing ${needs}\n`;
  }
}
