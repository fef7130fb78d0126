// Experiment for bench/profile-startup.mjs: what tsinit's stop-the-tree step would cost if it found
// its descendants by walking /proc/PID/task/TID/children from itself instead of reading the stat
// file of every process on the machine. Emulated from outside src/: readdirSync('/proc') answers
// with tsinit's descendants only (found through the children files), so listProcesses() then reads
// just their stat files. Preload only; tsinit itself is unchanged.
'use strict';
const fs = require('node:fs');
const orig = fs.readdirSync;
function children(pid) {
  const out = [];
  let tasks;
  try {
    tasks = orig(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const c of text.split(' ')) if (c) out.push(c);
  }
  return out;
}
fs.readdirSync = function (p, ...rest) {
  if (p === '/proc') {
    const all = [];
    const todo = [String(process.pid)];
    while (todo.length) {
      for (const c of children(todo.pop())) {
        all.push(c);
        todo.push(c);
      }
    }
    return all;
  }
  return orig.call(this, p, ...rest);
};
