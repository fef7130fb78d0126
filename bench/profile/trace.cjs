// Preloaded with `node -r bench/profile/trace.cjs dist/tsinit.js ...` by bench/profile-startup.mjs.
// Records into $TRACE_OUT (JSON, at exit, or after $TRACE_AFTER_MS for a long-running tsinit):
// tsinit ends with libc's _exit(), which skips process.on('exit'), so the tracer also wraps the
// _exit function that tsinit declares through koffi and writes just before it runs.
//   - Node's own milestones (performance.nodeTiming) and when the bundle starts and ends its top level;
//   - the inclusive time of every non-builtin require (koffi and its parts);
//   - every synchronous fs call tsinit makes (count and time, grouped by path kind);
//   - memory (process.memoryUsage, V8 heap statistics).
'use strict';
const { performance } = require('node:perf_hooks');
const Module = require('node:module');
const fs = require('node:fs');
const v8 = require('node:v8');

const t = () => performance.now();
const marks = { preload: t() };
const requires = [];
let depth = 0;
const origRequire = Module.prototype.require;
Module.prototype.require = function (id) {
  const t0 = t();
  depth++;
  try {
    return origRequire.apply(this, arguments);
  } finally {
    depth--;
    const ms = t() - t0;
    if (!id.startsWith('node:') && ms >= 0.02) requires.push({ id, depth, ms });
  }
};
// koffi.load(lib).func('void _exit(int status)') -> a wrapper that writes the trace first.
let koffiWrapped = false;
const requireWithKoffi = Module.prototype.require;
Module.prototype.require = function (id) {
  const m = requireWithKoffi.apply(this, arguments);
  // koffi as tsinit loads it: its package, or its native module directly (src/sys/libc.ts)
  if ((id === 'koffi' || /koffi\.node$/.test(id)) && !koffiWrapped && m && typeof m.load === 'function') {
    koffiWrapped = true;
    const load = m.load;
    m.load = function () {
      const lib = load.apply(this, arguments);
      // koffi's library handle is frozen: hand out a view whose func() wraps _exit
      const func = (decl, ...rest) => {
        const fn = lib.func(decl, ...rest);
        if (typeof decl !== 'string' || !/\b_exit\s*\(/.test(decl)) return fn;
        return function () {
          write();
          return fn.apply(this, arguments);
        };
      };
      return new Proxy(lib, {
        get(target, key) {
          if (key === 'func') return func;
          const v = Reflect.get(target, key);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    };
  }
  return m;
};
const origCompile = Module.prototype._compile;
Module.prototype._compile = function (content, filename) {
  const t0 = t();
  // the loader (dist/tsinit.js, which runs the bundle inside its own top level) or the bundle alone
  const isMain = /dist\/tsinit(-main)?\.js$/.test(filename) && marks.mainStart === undefined;
  if (isMain) marks.mainStart = t0;
  try {
    return origCompile.apply(this, arguments);
  } finally {
    if (isMain) marks.mainTopLevelDone = t();
  }
};

const fsCalls = {};
const kind = (p) => {
  const s = String(p);
  if (/^\/proc\/\d+\/(stat|task)/.test(s) || s === '/proc') return '/proc scan (stat, task, children)';
  if (s.startsWith('/proc/')) return `/proc other (${s.replace(/\d+/g, 'N')})`;
  if (s.includes('node_modules')) return 'node_modules';
  return s.replace(/\d+/g, 'N');
};
for (const name of ['readFileSync', 'readdirSync', 'statSync', 'lstatSync', 'existsSync', 'openSync', 'accessSync', 'realpathSync']) {
  const orig = fs[name];
  fs[name] = function (p) {
    const t0 = t();
    try {
      return orig.apply(this, arguments);
    } finally {
      const k = `${name} ${typeof p === 'number' ? 'fd' : kind(p)}`;
      const e = (fsCalls[k] ??= { n: 0, ms: 0 });
      e.n++;
      e.ms += t() - t0;
    }
  };
}

let written = false;
function write() {
  if (written) return;
  written = true;
  marks.end = t();
  const nt = performance.nodeTiming;
  const out = {
    nodeTiming: { nodeStart: nt.nodeStart, v8Start: nt.v8Start, environment: nt.environment, bootstrapComplete: nt.bootstrapComplete, loopStart: nt.loopStart },
    marks,
    requires,
    fsCalls,
    // the built-in modules loaded by then (to check that features load theirs only when used)
    builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
    memory: process.memoryUsage(),
    heap: v8.getHeapStatistics(),
    heapSpaces: v8.getHeapSpaceStatistics().map((s) => ({ name: s.space_name, used: s.space_used_size, size: s.space_size, physical: s.physical_space_size })),
    resourceUsage: process.resourceUsage(),
  };
  if (process.env.TRACE_OUT) fs.writeFileSync(process.env.TRACE_OUT, JSON.stringify(out));
}
process.on('exit', write);
if (process.env.TRACE_AFTER_MS) setTimeout(write, Number(process.env.TRACE_AFTER_MS)).unref();
