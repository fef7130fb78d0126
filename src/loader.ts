// dist/tsinit.js: loads the bundle, dist/tsinit-main.js, with the V8 code cache that the build made
// for it (scripts/build.mjs). With the cache, V8 deserializes the bytecode of everything a typical run
// executes instead of compiling it: startup gets faster, and so does the first signal tsinit
// forwards (its functions are compiled already). The cache is keyed by the bundle's content (the
// build writes the hash into this loader), the Node version and the architecture; any other Node
// finds no file and compiles as usual, and V8 itself rejects a cache made with other V8 flags
// (NODE_OPTIONS), so a mismatch only costs the compile it would have cost anyway.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import Module = require('node:module');

declare const TSINIT_BUNDLE_HASH: string;

type Wrapped = (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;

const file = join(__dirname, 'tsinit-main.js');
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(join(__dirname, cacheName(TSINIT_BUNDLE_HASH, process.version, process.arch)));
} catch {
  cachedData = undefined; // none for this Node: compile as usual
}
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
const mod = new Module(file, module);
mod.filename = file;
const fn = script.runInThisContext() as Wrapped;
fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname);

/** The cache's file name, next to the bundle. */
export function cacheName(hash: string, version: string, arch: string): string {
  return `tsinit-main.${hash}.${version}-${arch}.cache`;
}
