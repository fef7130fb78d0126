// The reaper with real children of this test process: statuses reach their watchers, orphans are
// reaped and counted, a late watch still gets its status, many exits at once are all reaped, and a
// pid left to another library is never waited for until it is released.
// Long sleeps here are 61 s, not 30: a black-box test counts every `sleep 30` on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ExitStatus } from '../../../src/exit-status';
import { Reaper } from '../../../src/process/reaper';
import { spawnChild } from '../../../src/process/spawn';
import * as libc from '../../../src/sys/libc';

function state(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
  } catch {
    return 'gone';
  }
}

/** Waits, with its own deadline, until `cond` holds; says what it waited for if it never does. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`waited 10 s for ${what}`);
}

/** A child that is not watched: spawned straight through libc, as a grandchild reparented to tsinit would be. */
function unwatched(script: string): number {
  return libc.spawn({ file: '/bin/sh', argv: ['/bin/sh', '-c', script], env: [], fds: [[0, 0], [1, 1], [2, 2]] });
}

test('a watched child: its status, by code or by signal', async () => {
  const reaper = new Reaper();
  reaper.start();
  try {
    assert.deepEqual(await spawnChild({ argv: ['/bin/sh', '-c', 'exit 3'] }, reaper).exited, { code: 3, signal: null });
    const sleeper = spawnChild({ argv: ['sleep', '61'] }, reaper);
    libc.kill(sleeper.pid, 9);
    assert.deepEqual(await sleeper.exited, { code: null, signal: 9 });
    assert.equal(reaper.reapedOrphans, 0);
  } finally {
    reaper.stop();
  }
});

test('an orphan is reaped, reported and counted; a late watch gets its remembered status', async () => {
  const orphans: Array<[number, ExitStatus]> = [];
  const reaper = new Reaper((pid, status) => orphans.push([pid, status]));
  reaper.start();
  try {
    const pid = unwatched('exit 7');
    await until(`orphan ${pid} reaped`, () => orphans.length === 1);
    assert.deepEqual(orphans, [[pid, { code: 7, signal: null }]]);
    assert.equal(reaper.reapedOrphans, 1);
    assert.equal(state(pid), 'gone', 'no zombie left');
    // --daemon adopts a process it found by observation: its status may already have been reaped.
    assert.deepEqual(await reaper.watch(pid), { code: 7, signal: null });
  } finally {
    reaper.stop();
  }
});

test('many exits at once: every child reaped, every status to its watcher', async () => {
  const reaper = new Reaper();
  reaper.start();
  try {
    const children = Array.from({ length: 50 }, (_, i) => spawnChild({ argv: ['/bin/sh', '-c', `exit ${i}`] }, reaper));
    const statuses = await Promise.all(children.map((c) => c.exited));
    assert.deepEqual(statuses.map((s) => s.code), children.map((_, i) => i));
    for (const c of children) assert.equal(state(c.pid), 'gone', `pid ${c.pid}`);
  } finally {
    reaper.stop();
  }
});

test('a pid left to another library (node-pty) is never waited for until it is released', async () => {
  const orphans: number[] = [];
  const reaper = new Reaper((pid) => orphans.push(pid));
  reaper.start();
  try {
    const left = unwatched('exit 5');
    reaper.leaveToOthers(left);
    const other = unwatched('exit 6');
    await until(`the other orphan ${other} reaped`, () => orphans.includes(other));
    await until(`pid ${left} a zombie`, () => state(left) === 'Z');
    reaper.reap();
    assert.equal(state(left), 'Z', 'still waiting for its own parent-side waiter');
    reaper.release(left);
    assert.equal(state(left), 'gone');
    assert.deepEqual(orphans, [other, left]);
  } finally {
    reaper.stop();
  }
});
