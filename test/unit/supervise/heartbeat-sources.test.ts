// The heartbeat sources against real pipes, files and processes (a fake clock where time matters),
// and one of them feeding a real Watchdog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watchdog } from '../../../src/supervise/watchdog';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FdHeartbeat, FileHeartbeat, StatLike } from '../../../src/supervise/heartbeat-sources';
import { spawnChild } from '../../../src/process/spawn';
import { withReaper } from '../../helpers/with-reaper';

const fdCount = () => readdirSync('/proc/self/fd').length;

/** A promise and its resolver, to wait for a callback. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test('FdHeartbeat: each write of the service is a beat; EOF once the service is gone; no fd left', () =>
  withReaper(async (reaper) => {
    const before = fdCount();
    let beats = 0;
    const ended = deferred<void>();
    const hb = FdHeartbeat.open({
      onBeat: () => beats++,
      onUnknown: (r) => assert.fail(r),
      onEnd: () => ended.resolve(),
    });
    assert.deepEqual(hb.env(), { TSINIT_WATCHDOG_FD: '3' });
    const child = spawnChild(
      {
        argv: ['/bin/sh', '-c', 'for i in 1 2 3; do echo alive >&"$TSINIT_WATCHDOG_FD"; done'],
        env: hb.env(),
        fds: hb.fds(),
      },
      reaper,
    );
    hb.spawned();
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    await ended.promise;
    assert.ok(beats >= 1, 'at least one beat (writes may coalesce)');
    assert.equal(hb.bytes, 'alive\n'.length * 3);
    hb.close();
    hb.close();
    await new Promise((r) => setImmediate(r)); // let libuv close the handle
    assert.equal(fdCount(), before);
  }));

test('FdHeartbeat: the service gets only the write end, as fd 3', () =>
  withReaper(async (reaper) => {
    const hb = FdHeartbeat.open({ onBeat: () => undefined, onUnknown: () => undefined });
    const dir = mkdtempSync(join(tmpdir(), 'tsinit-hb-'));
    const out = join(dir, 'fds');
    const child = spawnChild(
      { argv: ['/bin/sh', '-c', `ls /proc/self/fd > ${out}; readlink /proc/self/fd/3 >> ${out}`], fds: hb.fds() },
      reaper,
    );
    hb.spawned();
    await child.exited;
    hb.close();
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.match(lines[lines.length - 1], /^pipe:/);
    // 0, 1, 2, 3 and the fd ls uses to read the directory: nothing else
    assert.ok(lines.slice(0, -1).every((l) => Number(l) <= 4), lines.join(' '));
    rmSync(dir, { recursive: true, force: true });
  }));

test('FileHeartbeat: the baseline is not a beat; a touch, a rewrite and a replace are', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-hbfile-'));
  const path = join(dir, 'alive');
  writeFileSync(path, 'left over from the last run');
  let beats = 0;
  const src = new FileHeartbeat(path, { onBeat: () => beats++, onUnknown: (r) => assert.fail(r) }, { pollMs: 0 });
  await src.start();
  await src.poll();
  assert.equal(beats, 0);
  utimesSync(path, new Date(2001, 1, 1), new Date(2001, 1, 1)); // any change counts, even backwards
  await src.poll();
  assert.equal(beats, 1);
  await src.poll();
  assert.equal(beats, 1, 'no change, no beat');
  writeFileSync(join(dir, 'new'), 'x');
  utimesSync(join(dir, 'new'), new Date(2001, 1, 1), new Date(2001, 1, 1));
  renameSync(join(dir, 'new'), path); // same mtime, new inode
  await src.poll();
  assert.equal(beats, 2);
  src.close();
  rmSync(dir, { recursive: true, force: true });
});

test('FileHeartbeat: a missing file is not a failure; its creation is a beat', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-hbfile-'));
  const path = join(dir, 'alive');
  let beats = 0;
  const src = new FileHeartbeat(path, { onBeat: () => beats++, onUnknown: (r) => assert.fail(r) }, { pollMs: 0 });
  await src.start();
  await src.poll();
  assert.equal(beats, 0);
  writeFileSync(path, '');
  await src.poll();
  assert.equal(beats, 1);
  src.close();
  rmSync(dir, { recursive: true, force: true });
});

test('FileHeartbeat: a stat error is unknown at every failure, recovery is reported once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-hbfile-'));
  const path = join(dir, 'alive');
  writeFileSync(path, '');
  const unknown: string[] = [];
  let ok = 0;
  let failWith: string | null = null;
  const src = new FileHeartbeat(path, { onBeat: () => undefined, onUnknown: (r) => unknown.push(r), onOk: () => ok++ }, {
    pollMs: 0,
    stat: async (p) => {
      if (failWith) throw Object.assign(new Error(failWith), { code: failWith });
      const { statSync } = await import('node:fs');
      return statSync(p, { bigint: true }) as StatLike;
    },
  });
  await src.start();
  failWith = 'EACCES';
  await src.poll();
  await src.poll();
  assert.deepEqual(unknown, [`stat ${path}: EACCES`, `stat ${path}: EACCES`]);
  failWith = null;
  await src.poll();
  await src.poll();
  assert.equal(ok, 1);
  src.close();
  rmSync(dir, { recursive: true, force: true });
});

test('FileHeartbeat: a stat that hangs is unknown (on a fake clock), and never stacked', async () => {
  let t = 0;
  let calls = 0;
  const unknown: string[] = [];
  const src = new FileHeartbeat('/nfs/alive', { onBeat: () => undefined, onUnknown: (r) => unknown.push(r) }, {
    pollMs: 0,
    statTimeoutMs: 5000,
    clock: () => t,
    stat: () => {
      calls++;
      return new Promise<StatLike>(() => undefined);
    },
  });
  void src.start();
  for (t = 500; t < 4999; t += 500) void src.poll();
  assert.deepEqual(unknown, []);
  t = 5000;
  void src.poll();
  assert.deepEqual(unknown, ['stat /nfs/alive is hanging']);
  assert.equal(calls, 1, 'one stat in flight at a time');
  src.close();
});

// -- probes --

test('sources feed the watchdog: a real fd heartbeat keeps it quiet, silence kills (fake clock for the decisions)', async () => {
  let t = 0;
  const w = new Watchdog({ periodMs: 1000, startTimeoutMs: 5000, tickMs: 100, maxKills: { count: 3, windowMs: 60_000 } });
  w.start(0);
  const hb = FdHeartbeat.open({ onBeat: (now) => w.beat(now, 'fd'), onUnknown: (r, now) => w.unknown(now, 'fd', r) }, { clock: () => t });
  try {
    const [[, writeFd]] = hb.fds();
    const beat = deferred<void>();
    const onBeat = w.beat.bind(w);
    w.beat = (now, source) => {
      onBeat(now, source);
      beat.resolve();
    };
    t = 500;
    const { writeSync } = await import('node:fs');
    writeSync(writeFd, 'alive\n');
    await beat.promise;
    assert.equal(w.lastBeatAt, 500);
    const types: string[] = [];
    for (t = 500; t <= 1500; t += 100) for (const e of w.tick(t)) types.push(`${t}:${e.type}`);
    assert.deepEqual(types, ['500:started', '1500:kill']);
  } finally {
    hb.close();
  }
});
