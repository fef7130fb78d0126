// node scripts/code-cache.cjs DIST_DIR CACHE_FILE -- TSINIT_ARGS...
//
// Makes the V8 code cache for DIST_DIR/tsinit-main.js (see src/loader.ts): runs the bundle once with
// TSINIT_ARGS, exactly as the loader would, and writes script.createCachedData() just before tsinit
// ends. Written after the run, the cache holds the bytecode of every function the run executed, not
// only the top level. tsinit ends with libc's _exit(), which skips process.on('exit'): the bundle
// gets a koffi whose _exit writes the cache first. Used by scripts/build.mjs only.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const [dist, cacheFile, sep, ...args] = process.argv.slice(2);
if (!dist || !cacheFile || sep !== '--') {
  process.stderr.write('usage: node scripts/code-cache.cjs DIST_DIR CACHE_FILE -- TSINIT_ARGS...\n');
  process.exit(2);
}
const file = path.join(dist, 'tsinit-main.js');
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file });
let written = false;
function writeCache() {
  if (written) return;
  written = true;
  fs.writeFileSync(cacheFile, script.createCachedData());
}
process.on('exit', writeCache);

const realRequire = Module.createRequire(file);
function withExitHook(koffi) {
  const load = (...a) => {
    const lib = koffi.load(...a);
    const func = (decl, ...rest) => {
      const fn = lib.func(decl, ...rest);
      if (typeof decl !== 'string' || !/\b_exit\s*\(/.test(decl)) return fn;
      return (...x) => {
        writeCache();
        return fn(...x);
      };
    };
    return new Proxy(lib, { get: (t, k) => (k === 'func' ? func : typeof t[k] === 'function' ? t[k].bind(t) : t[k]) });
  };
  return new Proxy(koffi, { get: (t, k) => (k === 'load' ? load : t[k]) });
}
const req = Object.assign((id) => (id === 'koffi' ? withExitHook(realRequire(id)) : realRequire(id)), realRequire);
process.argv = [process.argv[0], file, ...args];
const mod = new Module(file, module);
mod.filename = file;
script.runInThisContext().call(mod.exports, mod.exports, req, mod, file, dist);
