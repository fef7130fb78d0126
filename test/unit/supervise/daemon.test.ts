import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdoptDecision, Candidate, DaemonObservation, DaemonTracker, DaemonTrackerConfig, observeDaemon, parsePidfile,
  PidfileWatcher,
} from '../../../src/supervise/daemon';
import { Reaper } from '../../../src/process/reaper';
import { spawnChild } from '../../../src/process/spawn';
import * as libc from '../../../src/sys/libc';
import { readStat } from '../../../src/sys/proc';
import { SIGKILL } from '../../../src/signals';

const TSINIT = 1;
const FIRST = 100;
const ok = { code: 0, signal: null };

function tracker(over: Partial<DaemonTrackerConfig> = {}): DaemonTracker {
  return new DaemonTracker({
    firstPid: FIRST,
    firstStartTicks: 5000,
    startedAt: 0,
    timeoutMs: 10_000,
    settleMs: 250,
    tsinitPid: TSINIT,
    ...over,
  });
}

const child = (pid: number, extra: Partial<Candidate> = {}): Candidate => ({
  pid,
  state: 'S',
  comm: `proc${pid}`,
  starttime: 6000,
  ...extra,
});

/** Polls every 50 ms from `from` with the same observation until a final answer (or `until`). */
function pollUntilFinal(t: DaemonTracker, obs: Omit<DaemonObservation, 'now'>, from: number, until = 20_000): AdoptDecision & { at: number } {
  let d: AdoptDecision = { action: 'wait', reason: '' };
  let now = from;
  for (; now <= until; now += 50) {
    d = t.decide({ ...obs, now });
    if (d.action !== 'wait') break;
  }
  return { ...d, at: now };
}

test('parsePidfile: one positive pid on the first line', () => {
  assert.equal(parsePidfile('1234\n'), 1234);
  assert.equal(parsePidfile('  77  \nextra'), 77);
  assert.equal(parsePidfile(''), null);
  assert.equal(parsePidfile('0'), null);
  assert.equal(parsePidfile('12ab'), null);
  assert.equal(parsePidfile('-5'), null);
});

test('waits while the first process runs; fails if it never exits within the timeout', () => {
  const t = tracker();
  assert.equal(t.decide({ now: 100, firstExit: null, children: [child(FIRST)] }).action, 'wait');
  const d = t.decide({ now: 10_000, firstExit: null, children: [child(FIRST)] });
  assert.equal(d.action, 'fail');
  assert.match((d as { reason: string }).reason, /must fork and exit, but pid 100 is still running after 10s/);
});

test('the first process exiting non-zero fails at once', () => {
  const d = tracker().decide({ now: 100, firstExit: { code: 3, signal: null }, children: [child(200)] });
  assert.deepEqual(d, { action: 'fail', reason: 'the command (pid 100) exited with code 3 before daemonizing' });
  const k = tracker().decide({ now: 100, firstExit: { code: null, signal: 9 }, children: [] });
  assert.match((k as { reason: string }).reason, /exited with signal SIGKILL/);
});

test('the only survivor is adopted once it has stayed the only one for settleMs', () => {
  const t = tracker();
  const d = pollUntilFinal(t, { firstExit: ok, children: [child(200)] }, 100);
  assert.deepEqual(d, { action: 'adopt', pid: 200, via: 'only-survivor', at: 350 });
});

test('double fork: the intermediate that exits is not adopted, the daemon it leaves is', () => {
  const t = tracker();
  // 100 ms: the intermediate (200) is the only survivor; 150 ms: it has forked 201 and become a zombie.
  assert.equal(t.decide({ now: 100, firstExit: ok, children: [child(200)] }).action, 'wait');
  assert.equal(t.decide({ now: 150, firstExit: ok, children: [child(200, { state: 'Z' }), child(201)] }).action, 'wait');
  const d = pollUntilFinal(t, { firstExit: ok, children: [child(201)] }, 200);
  // 201 has been the only live survivor since 150.
  assert.deepEqual(d, { action: 'adopt', pid: 201, via: 'only-survivor', at: 400 });
});

test('nothing survived: fail (after settling, so a reparenting in flight is not mistaken for it)', () => {
  const t = tracker();
  assert.equal(t.decide({ now: 100, firstExit: ok, children: [] }).action, 'wait');
  const d = pollUntilFinal(t, { firstExit: ok, children: [] }, 150);
  assert.equal(d.action, 'fail');
  assert.match((d as { reason: string }).reason, /exited 0, but no process of it survived/);
});

test("tsinit's own children (logger, probes) and older processes are never candidates", () => {
  const t = tracker({ exclude: () => new Set([300]) });
  const children = [child(300), child(301, { starttime: 4000 }), child(302)];
  assert.deepEqual(pollUntilFinal(t, { firstExit: ok, children }, 100), { action: 'adopt', pid: 302, via: 'only-survivor', at: 350 });
});

test('several survivors without a pidfile: wait, then fail at the timeout asking for --pidfile', () => {
  const t = tracker();
  const d = pollUntilFinal(t, { firstExit: ok, children: [child(200), child(201)] }, 100);
  assert.equal(d.at, 10_000);
  assert.equal(d.action, 'fail');
  assert.match((d as { reason: string }).reason, /2 processes survived the command after 10s: 200 \(proc200\), 201 \(proc201\); name the daemon with --pidfile/);
});

test('pidfile: adopts the survivor it names', () => {
  const t = tracker({ pidfilePath: '/run/d.pid' });
  const children = [child(200), child(201)];
  assert.equal(t.decide({ now: 100, firstExit: ok, children, pidfile: { state: 'absent' } }).action, 'wait');
  const d = pollUntilFinal(t, { firstExit: ok, children, pidfile: { state: 'written', content: '201\n' } }, 150);
  assert.deepEqual(d, { action: 'adopt', pid: 201, via: 'pidfile', at: 400 });
});

test('pidfile: a stale (unchanged) pidfile is never trusted, even when it names a live child', () => {
  const t = tracker({ pidfilePath: '/run/d.pid' });
  const obs = { firstExit: ok, children: [child(200)], pidfile: { state: 'unchanged' as const, content: '200\n' } };
  const d = pollUntilFinal(t, obs, 100);
  assert.equal(d.at, 10_000);
  assert.equal(d.action, 'fail');
  assert.match((d as { reason: string }).reason, /^after 10s, \/run\/d\.pid was not rewritten since the start: it still holds pid 200 \(proc200\); refusing a stale pidfile$/);
});

test('pidfile: a fresh pidfile naming an unrelated live process is refused with a clear reason', () => {
  const t = tracker({ pidfilePath: '/run/d.pid' });
  const obs: Omit<DaemonObservation, 'now'> = {
    firstExit: ok,
    children: [child(200)],
    pidfile: { state: 'written', content: '42\n' },
    pidfileTarget: { pid: 42, ppid: 7, comm: 'postgres' },
  };
  const d = pollUntilFinal(t, obs, 100);
  assert.deepEqual(d, {
    action: 'fail',
    reason: '/run/d.pid names pid 42 (postgres, parent 7), which is not a child of tsinit: an unrelated process, ' +
      'or a descendant tsinit cannot wait for; refusing it',
    at: 350,
  });
});

test('pidfile: naming a dead pid, the first process, or garbage', () => {
  const reason = (obs: Omit<DaemonObservation, 'now'>) => {
    const d = pollUntilFinal(tracker({ pidfilePath: 'P' }), obs, 100);
    return d.action === 'adopt' ? 'adopt' : d.reason;
  };
  const base = { firstExit: ok, children: [child(200)] };
  assert.equal(reason({ ...base, pidfile: { state: 'written', content: '4242' }, pidfileTarget: null }), 'P names pid 4242, which is not running; refusing it');
  assert.equal(reason({ ...base, pidfile: { state: 'written', content: '100' } }), "P names pid 100, the command's first process, which has exited; refusing it");
  assert.equal(reason({ ...base, pidfile: { state: 'written', content: 'hello' } }), 'after 10s, P holds 5 bytes, not a pid');
  assert.equal(reason({ ...base, pidfile: { state: 'error', reason: 'EACCES' } }), 'after 10s, cannot read P: EACCES');
  assert.equal(reason({ ...base, pidfile: { state: 'absent' } }), 'after 10s, P was not written');
});

test('pidfile: a daemon that rewrites a wrong pid in time is adopted', () => {
  const t = tracker({ pidfilePath: 'P' });
  const base = { firstExit: ok, children: [child(200)] };
  assert.equal(t.decide({ ...base, now: 100, pidfile: { state: 'written', content: '4' }, pidfileTarget: null }).action, 'wait');
  const d = pollUntilFinal(t, { ...base, pidfile: { state: 'written', content: '200' } }, 150);
  assert.equal(d.action, 'adopt');
});

// ---- the effectful helpers, for real ---------------------------------------------------------

test('PidfileWatcher: absent, unchanged since the baseline, written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-pidfile-'));
  const path = join(dir, 'd.pid');
  try {
    const w = new PidfileWatcher(path);
    w.baseline();
    assert.deepEqual(w.read(), { state: 'absent' });
    writeFileSync(path, '1\n');
    assert.deepEqual(w.read(), { state: 'written', content: '1\n' });
    w.baseline(); // a restart: the file from the last run is now the stale one
    assert.deepEqual(w.read(), { state: 'unchanged', content: '1\n' });
    unlinkSync(path);
    writeFileSync(path, '1\n'); // the same pid again, but a new file: written
    assert.equal(w.read().state, 'written');
    const bad = new PidfileWatcher(join(path, 'sub'));
    assert.deepEqual(bad.read(), { state: 'error', reason: 'ENOTDIR' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a real daemon: sh -c "sleep 30 & echo $! > P; exit 0" is adopted through its pidfile', async () => {
  // As tsinit is, this test process is a subreaper: the daemon is reparented to it when the shell exits.
  libc.setChildSubreaper();
  const reaper = new Reaper();
  reaper.start();
  const dir = mkdtempSync(join(tmpdir(), 'tsinit-daemon-'));
  const path = join(dir, 'd.pid');
  const watcher = new PidfileWatcher(path);
  watcher.baseline();
  const first = spawnChild({ argv: ['/bin/sh', '-c', `sleep 30 & echo $! > ${path}; exit 0`] }, reaper);
  const firstStart = readStat(first.pid)?.starttime;
  let firstExit: Awaited<typeof first.exited> | null = null;
  void first.exited.then((s) => (firstExit = s));
  const t = new DaemonTracker({ firstPid: first.pid, firstStartTicks: firstStart, startedAt: 0, timeoutMs: 10_000, pidfilePath: path, settleMs: 0 });
  let adopted: number | null = null;
  try {
    for (let i = 0; i < 1000 && adopted === null; i++) {
      const d = t.decide(observeDaemon(i * 10, firstExit, watcher));
      if (d.action === 'fail') assert.fail(d.reason);
      if (d.action === 'adopt') adopted = d.pid;
      else await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(adopted !== null);
    // The background job of the shell (still 'sh' until its exec of sleep, same pid either way).
    assert.equal(adopted, parsePidfile(readFileSync(path, 'utf8')));
    assert.equal(readStat(adopted)?.ppid, process.pid);
    // It is tsinit's child now: its real wait status comes from the reaper.
    const status = reaper.watch(adopted);
    libc.kill(adopted, SIGKILL);
    assert.deepEqual(await status, { code: null, signal: 9 });
  } finally {
    if (adopted !== null) libc.kill(adopted, SIGKILL);
    reaper.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
