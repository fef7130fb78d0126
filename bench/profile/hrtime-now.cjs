// Experiment for bench/profile-startup.mjs: Node 20 loads its perf_hooks internals the first time
// anything touches the `performance` global, which costs 1 to 5 ms on this machine; tsinit's first
// performance.now() comes on the SIGTERM path (requestStop) and in finish(). This preload puts a
// process.hrtime-based performance.now() in place without touching Node's lazy getter, to measure
// what tsinit would gain by reading the clock with process.hrtime.bigint() itself.
'use strict';
const origin = process.hrtime.bigint();
Object.defineProperty(globalThis, 'performance', {
  value: { now: () => Number(process.hrtime.bigint() - origin) / 1e6 },
  writable: true,
  configurable: true,
  enumerable: false,
});
