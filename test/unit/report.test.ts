import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, ProcSample, stateWord, takeSnapshot, TreeSnapshot } from '../../src/report';
import { Reaper } from '../../src/process/reaper';
import { spawnChild } from '../../src/process/spawn';
import * as libc from '../../src/sys/libc';
import { SIGKILL, SIGSTOP } from '../../src/signals';

// ---- formatting fixed data --------------------------------------------------------------------

const one = { total: 1, running: 0, diskWait: 0 };

function proc(p: Partial<ProcSample> & Pick<ProcSample, 'pid' | 'ppid' | 'state'>): ProcSample {
  return {
    comm: 'x',
    cmdline: '',
    wchan: '-',
    startTicks: 1000,
    utimeTicks: 0,
    stimeTicks: 0,
    rssKb: 1024,
    threads: one,
    ...p,
  };
}

const BEFORE: TreeSnapshot = {
  root: 100,
  takenAt: 10_000,
  uptimeSec: 80,
  ticksPerSecond: 100,
  procs: [
    proc({ pid: 100, ppid: 1, state: 'S', startTicks: 1000, utimeTicks: 50, stimeTicks: 10 }),
    proc({ pid: 102, ppid: 100, state: 'R', startTicks: 1500, utimeTicks: 100, stimeTicks: 900 }),
    // pid 103 existed before but was another process (other start time): its CPU is not subtracted
    proc({ pid: 103, ppid: 100, state: 'S', startTicks: 1200, utimeTicks: 5, stimeTicks: 5 }),
  ],
};

const NOW: TreeSnapshot = {
  root: 100,
  takenAt: 41_200,
  uptimeSec: 111.5,
  ticksPerSecond: 100,
  procs: [
    proc({ pid: 100, ppid: 1, state: 'T', comm: 'sh', cmdline: 'sh -c worker', wchan: 'do_signal_stop', startTicks: 1000, utimeTicks: 50, stimeTicks: 12, rssKb: 3300 }),
    proc({ pid: 101, ppid: 100, state: 'S', comm: 'sleep', cmdline: 'sleep 60', wchan: 'hrtimer_nanosleep', startTicks: 1100, rssKb: 812 }),
    proc({ pid: 102, ppid: 100, state: 'R', comm: 'spin', cmdline: 'spin --hard', startTicks: 1500, utimeTicks: 100, stimeTicks: 3900, rssKb: 1_500_000, threads: { total: 4, running: 2, diskWait: 1 } }),
    proc({ pid: 103, ppid: 100, state: 'D', comm: 'cp', cmdline: 'cp /nfs/a /nfs/b', wchan: 'nfs_wait_bit_killable', startTicks: 9000, utimeTicks: 1, stimeTicks: 2 }),
    proc({ pid: 104, ppid: 101, state: 'Z', comm: 'defunct' }),
  ],
};

test('formatReport: an indented tree with state words, wchan, elapsed time, CPU, RSS, command', () => {
  assert.deepEqual(formatReport(NOW), [
    'process tree of pid 100 (5 processes)',
    '  PID  PPID  STATE             THR  WCHAN                  ELAPSED   USER     SYS   RSS  COMMAND',
    '  100     1  T stopped           1  do_signal_stop           1m41s  0.50s   0.12s  3.2M  sh -c worker',
    '  101   100  S sleeping          1  hrtimer_nanosleep        1m40s  0.00s   0.00s  812K  \\_ sleep 60',
    '  104   101  Z zombie            1  -                        1m41s  0.00s   0.00s  1.0M     \\_ [defunct]',
    '  102   100  R running    4(2R,1D)  -                        1m36s  1.00s  39.00s  1.4G  \\_ spin --hard',
    '  103   100  D disk wait         1  nfs_wait_bit_killable      21s  0.01s   0.02s  1.0M  \\_ cp /nfs/a /nfs/b',
  ]);
});

test('formatReport: CPU since an earlier snapshot, per process and overall; a reused pid counts as new', () => {
  const lines = formatReport(NOW, { since: BEFORE });
  assert.equal(
    lines[0],
    'process tree of pid 100 (5 processes); CPU since the last heartbeat (31.2s ago): user 0.01s, system 30.04s',
  );
  assert.match(lines[1], /USER +SYS +\+USER +\+SYS +RSS +COMMAND$/);
  const row = (pid: number) => lines.find((l) => new RegExp(`^ +${pid} `).test(l))!.trim().split(/ {2,}/);
  assert.deepEqual(row(100).slice(6, 10), ['0.50s', '0.12s', '0.00s', '0.02s']);
  assert.deepEqual(row(102).slice(6, 10), ['1.00s', '39.00s', '0.00s', '30.00s']);
  assert.deepEqual(row(103).slice(6, 10), ['0.01s', '0.02s', 'new', 'new']);
});

test('formatReport: a custom title and label, a cap on the process count, escaped command lines', () => {
  const many: TreeSnapshot = {
    ...NOW,
    procs: [
      proc({ pid: 100, ppid: 1, state: 'S', cmdline: 'node -e \nwhile(1);' }),
      ...Array.from({ length: 10 }, (_, i) => proc({ pid: 200 + i, ppid: 100, state: 'S', utimeTicks: 100 })),
    ],
  };
  const start: TreeSnapshot = { ...BEFORE, procs: [] }; // everything is new since then: all its CPU counts
  const lines = formatReport(many, { title: 'timeout: the job', since: start, sinceLabel: 'the start', maxProcesses: 3 });
  assert.match(lines[0], /^timeout: the job; CPU since the start \(31\.2s ago\): user 10\.00s, system 0\.00s$/);
  assert.equal(lines.length, 2 + 3 + 1);
  assert.equal(lines[5], '  ... and 8 more');
  assert.match(lines[2], /node -e \\nwhile\(1\);$/);
});

test('formatReport: a tree that is gone says so', () => {
  assert.deepEqual(formatReport({ ...NOW, procs: [] }), ['process tree of pid 100 (0 processes): no such process any more']);
});

test('stateWord', () => {
  assert.deepEqual(['R', 'S', 'D', 'T', 'Z', 't', 'I', '?'].map(stateWord), [
    'running', 'sleeping', 'disk wait', 'stopped', 'zombie', 'traced', 'idle', 'unknown',
  ]);
});

// ---- a real tree ------------------------------------------------------------------------------

/** Waits until `cond` holds, checking every 10 ms, failing after 10 s. */
async function eventually<T>(what: string, probe: () => T | null | undefined | false): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const v = probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

test('a real tree: sleep shows S, a SIGSTOPped process T stopped, a busy loop R with CPU', async () => {
  const reaper = new Reaper();
  reaper.start();
  // One parent with three children: sleeping, stopped, spinning.
  const parent = spawnChild(
    { argv: ['/bin/sh', '-c', 'sleep 60 & sleep 60 & while :; do :; done & wait'] },
    reaper,
  );
  try {
    const kids = await eventually('three children', () => {
      const s = takeSnapshot(parent.pid);
      const k = s.procs.filter((p) => p.ppid === parent.pid);
      return k.length === 3 && k.every((p) => p.cmdline !== '') && k;
    });
    const sleeps = kids.filter((p) => p.cmdline === 'sleep 60');
    const spinner = kids.find((p) => p.cmdline !== 'sleep 60')!;
    assert.equal(sleeps.length, 2);
    libc.kill(sleeps[1].pid, SIGSTOP);
    const baseline = takeSnapshot(parent.pid, { now: 0, light: true });
    assert.ok(baseline.procs.every((p) => p.cmdline === '' && p.wchan === '-'));
    const snap = await eventually('the spinner used CPU since the baseline, the stopped sleep shows T', () => {
      const s = takeSnapshot(parent.pid, { now: 1000 });
      const spin = s.procs.find((p) => p.pid === spinner.pid)!;
      const stopped = s.procs.find((p) => p.pid === sleeps[1].pid)!;
      const before = baseline.procs.find((p) => p.pid === spinner.pid)!;
      const used = spin.utimeTicks + spin.stimeTicks - before.utimeTicks - before.stimeTicks;
      return spin.state === 'R' && used > 0 && stopped.state === 'T' && s;
    });
    const lines = formatReport(snap, { since: baseline });
    const line = (pid: number) => lines.find((l) => new RegExp(`^ +${pid} `).test(l)) ?? '';
    assert.match(line(parent.pid), /S sleeping .* \/bin\/sh -c sleep 60/);
    assert.match(line(sleeps[0].pid), /S sleeping .*\\_ sleep 60$/);
    assert.match(line(sleeps[1].pid), /T stopped .*\\_ sleep 60$/);
    assert.match(line(spinner.pid), /R running /);
    const cols = line(spinner.pid).trim().split(/ {2,}/);
    const [sinceUser, sinceSys] = [cols[8], cols[9]].map((c) => Number(c.replace('s', '')));
    assert.ok(sinceUser + sinceSys > 0, line(spinner.pid));
    // Sleeping processes say where they wait, where the kernel shows it.
    assert.notEqual(snap.procs.find((p) => p.pid === sleeps[0].pid)!.wchan, '');
  } finally {
    libc.kill(-parent.pgid, SIGKILL);
    await parent.exited;
    reaper.stop();
  }
});

test('takeSnapshot: a pid that does not exist gives an empty tree; spared subtrees are left out', async () => {
  assert.deepEqual(takeSnapshot(2 ** 22 + 1).procs, []);
  const reaper = new Reaper();
  reaper.start();
  const parent = spawnChild({ argv: ['/bin/sh', '-c', '(sleep 60; :) & sleep 60 & wait'] }, reaper);
  try {
    const kids = await eventually('two children', () => {
      const k = takeSnapshot(parent.pid).procs.filter((p) => p.ppid === parent.pid);
      return k.length === 2 && k;
    });
    const sub = kids.find((k) => takeSnapshot(k.pid).procs.length > 1) ?? kids[0];
    const spared = takeSnapshot(parent.pid, { spare: new Set([sub.pid]) });
    assert.ok(!spared.procs.some((p) => p.pid === sub.pid || p.ppid === sub.pid));
    assert.ok(spared.procs.some((p) => p.pid === parent.pid));
  } finally {
    libc.kill(-parent.pgid, SIGKILL);
    await parent.exited;
    reaper.stop();
  }
});
