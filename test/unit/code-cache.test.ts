// The V8 code cache made by the build (src/loader.ts, scripts/build.mjs): it exists for this Node,
// V8 accepts it, and tsinit runs the same with a cache that does not match or with none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Script } from 'node:vm';
import Module = require('node:module');

const root = resolve(__dirname, '../../..');
const dist = join(root, 'dist');
const caches = () => readdirSync(dist).filter((f) => f.endsWith('.cache'));

test('the build makes a code cache for this Node version and architecture, and V8 accepts it', () => {
  const found = caches();
  assert.equal(found.length, 1, `caches in dist/: ${found.join(', ')}`);
  assert.ok(found[0].endsWith(`.${process.version}-${process.arch}.cache`), found[0]);
  // the loader names the same file
  assert.ok(readFileSync(join(dist, 'tsinit.js'), 'utf8').includes(found[0].split('.')[1]), 'the loader knows the bundle hash');
  const file = join(dist, 'tsinit-main.js');
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData: readFileSync(join(dist, found[0])) });
  assert.equal(script.cachedDataRejected, false);
});

test('a cache that does not match, or none, changes nothing but speed', () => {
  // a copy of dist/ inside the repository, so that koffi resolves from node_modules as usual
  const copy = mkdtempSync(join(root, 'build', 'cache-test-'));
  try {
    cpSync(dist, copy, { recursive: true });
    const [cache] = readdirSync(copy).filter((f) => f.endsWith('.cache'));
    const run = () => spawnSync(process.execPath, [join(copy, 'tsinit.js'), '--', '/bin/sh', '-c', 'echo ran; exit 3'], { encoding: 'utf8', timeout: 60_000 });
    writeFileSync(join(copy, cache), Buffer.alloc(4096, 7)); // garbage: V8 rejects it
    let r = run();
    assert.equal(r.status, 3, `with a garbage cache: status ${r.status}, stderr ${r.stderr}`);
    assert.equal(r.stdout, 'ran\n');
    rmSync(join(copy, cache));
    r = run();
    assert.equal(r.status, 3, `without a cache: status ${r.status}, stderr ${r.stderr}`);
    assert.equal(r.stdout, 'ran\n');
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
