// What is left of the tree, with real descendants of this test process: SIGTERM first, SIGKILL at the
// deadline for what ignores it, escapees found through /proc, the spared subtree left alone, and a
// hurry that kills at once.
// Long sleeps here are 61 s, not 30: a black-box test counts every `sleep 30` on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { now } from '../../../src/clock';
import { Reaper } from '../../../src/process/reaper';
import { spawnChild } from '../../../src/process/spawn';
import { liveDescendants, terminateTree } from '../../../src/process/tree';

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`waited 10 s for ${what}`);
}

function ready(path: string): boolean {
  try {
    return readFileSync(path, 'utf8') === 'up\n';
  } catch {
    return false;
  }
}

const pids = () => liveDescendants(new Set()).map((p) => p.pid).sort((a, b) => a - b);

test('SIGTERM to everything, SIGKILL at the deadline for what ignores it; setsid escapees too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-tree-test-'));
  const reaper = new Reaper();
  reaper.start();
  try {
    // One process that honours SIGTERM (it writes why it ended), one that ignores it, one in a new session.
    spawnChild({ argv: ['/bin/sh', '-c', `trap 'echo term > ${dir}/polite; exit 0' TERM; while :; do sleep 0.05; done`] }, reaper);
    spawnChild({ argv: ['/bin/sh', '-c', `trap '' TERM; echo up > ${dir}/stubborn; while :; do sleep 0.05; done`] }, reaper);
    spawnChild({ argv: ['setsid', 'sleep', '61'] }, reaper);
    await until('the stubborn one to ignore TERM', () => ready(join(dir, 'stubborn')));
    const killed: number[][] = [];
    await terminateTree({ spare: () => [], killAt: now() + 300, reaper, onKill: (p) => killed.push(p) });
    assert.deepEqual(pids(), [], 'nothing left');
    assert.equal(readFileSync(join(dir, 'polite'), 'utf8'), 'term\n');
    assert.equal(killed.length, 1, `one kill, of what ignored SIGTERM: ${JSON.stringify(killed)}`);
  } finally {
    reaper.stop();
  }
});

test('the spared subtree is left alone; a hurry kills the rest at once', async () => {
  const reaper = new Reaper();
  reaper.start();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'tsinit-tree-test-'));
    const logger = spawnChild({ argv: ['sleep', '61'] }, reaper);
    spawnChild({ argv: ['/bin/sh', '-c', `trap '' TERM; echo up > ${dir}/stubborn; while :; do sleep 0.05; done`] }, reaper);
    await until('the stubborn one to ignore TERM', () => ready(join(dir, 'stubborn')));
    const hurry = new AbortController();
    const killed: Array<[number[], unknown]> = [];
    const done = terminateTree({
      spare: () => [logger.pid], killAt: now() + 3_600_000, reaper, hurry: hurry.signal,
      onKill: (p, why) => killed.push([p, why]),
    });
    hurry.abort('second SIGINT');
    await done;
    assert.deepEqual(pids(), [logger.pid]);
    assert.equal(killed.length, 1);
    assert.equal(killed[0][1], 'second SIGINT');
    await terminateTree({ spare: () => [], killAt: now(), reaper });
    assert.deepEqual(pids(), []);
  } finally {
    reaper.stop();
  }
});

test('a process spared only after the stop began (a restarted logger) is left alone too', async () => {
  const reaper = new Reaper();
  reaper.start();
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-tree-test-'));
  try {
    spawnChild({ argv: ['/bin/sh', '-c', `trap '' TERM; echo up > ${dir}/stubborn; while :; do sleep 0.05; done`] }, reaper);
    await until('the stubborn one to ignore TERM', () => ready(join(dir, 'stubborn')));
    const spared: number[] = [];
    const hurry = new AbortController();
    let asked = 0;
    const spare = () => (asked++, spared);
    const done = terminateTree({ spare, killAt: now() + 3_600_000, reaper, hurry: hurry.signal });
    // the stop is under way (the stubborn one got its SIGTERM); a new logger starts now
    const logger = spawnChild({ argv: ['sleep', '61'] }, reaper);
    spared.push(logger.pid);
    const before = asked;
    await until('two sweeps that see the newcomer', () => asked >= before + 2);
    hurry.abort('second SIGINT');
    await done;
    assert.deepEqual(pids(), [logger.pid]);
  } finally {
    await terminateTree({ spare: () => [], killAt: now(), reaper });
    reaper.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
