// Preloaded only when profiling: tsinit listens on SIGPROF (it forwards it), and a JS listener on
// SIGPROF replaces the handler V8's CPU profiler samples with, so --cpu-prof records nothing after
// tsinit's first lines. This drops tsinit's SIGPROF listener for the profiled run only.
'use strict';
for (const m of ['on', 'addListener', 'prependListener', 'once']) {
  const orig = process[m];
  process[m] = function (ev, fn) {
    if (ev === 'SIGPROF') return this;
    return orig.call(this, ev, fn);
  };
}
