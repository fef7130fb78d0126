// Experiment for bench/profile-startup.mjs: bin/tsinit with a V8 code cache, the way Node 22's
// module.enableCompileCache() would do it, on Node 20 (vm.Script cachedData). Loads dist/tsinit-main.js
// as a CommonJS module compiled with the cache in $BENCH_CODE_CACHE; with $BENCH_CODE_CACHE_WRITE=1
// it writes the cache at exit (after the run, so it holds the functions the run compiled lazily).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = path.resolve(__dirname, '../../dist/tsinit-main.js');
const cacheFile = process.env.BENCH_CODE_CACHE;
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
if (cachedData && script.cachedDataRejected) process.env.BENCH_CODE_CACHE_REJECTED = '1';
const mod = new Module(file, null);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
if (process.env.BENCH_CODE_CACHE_WRITE === '1') {
  process.on('exit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
}
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
