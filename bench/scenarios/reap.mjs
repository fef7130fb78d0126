// (3) N orphans (default 5,000) exiting at once, with the init as PID 1 of a fresh namespace.
//
// The service (helpers/orphans.pl) makes N real orphans: an intermediate process forks them and
// exits, so they are reparented to the init. They all block on one trigger fifo; the bench closes
// it and they all exit. Each orphan holds the write end of the ALIVE fifo, so the bench's blocking
// read of ALIVE returns EOF at the moment the last orphan has exited (the kernel closes a process's
// files just before it turns into a zombie). From that moment the bench lists the namespace's own
// /proc (every zombie still has its entry) until only the init and the service are left.
//
// Reported: last exit -> zero zombies (ms), the spread of the exits (trigger -> last exit), the
// zombies left 0.3 s later, and the CPU time the init spent (sum of its threads' schedstat) from the
// trigger to zero zombies.
import fs from 'node:fs';
import path from 'node:path';
import {
  interleave, summary, start, pid1Of, nsPids, nsZombies, sleep, sleepSync, nowNs, nowMs, stopTree, mkfifo,
  HELPERS,
} from '../lib/util.mjs';
import { inits } from '../lib/subjects.mjs';

export const id = 'reap';

function cpuNs(pid) {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread gone
    }
  }
  return total;
}

async function once(subject, n, dir) {
  const trigger = path.join(dir, 'trigger');
  const alive = path.join(dir, 'alive');
  const ready = path.join(dir, 'ready');
  mkfifo(trigger);
  mkfifo(alive);
  fs.rmSync(ready, { force: true });
  // Read-write: the orphans' open for reading does not wait, and none of them sees EOF before we close it.
  const trig = fs.openSync(trigger, fs.constants.O_RDWR);
  // Non-blocking read end first, so that the intermediate's open for writing does not wait.
  const aliveNb = fs.openSync(alive, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const child = start(subject.cmd(['perl', path.join(HELPERS, 'orphans.pl'), String(n), trigger, alive, ready]), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: subject.env,
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  let aliveFd = -1;
  try {
    const init = await pid1Of(child.pid);
    const end = nowMs() + 120_000;
    while (!fs.existsSync(ready)) {
      if (nowMs() > end || child.exitCode !== null) throw new Error(`orphans never ready under ${subject.name}\n${err}`);
      await sleep(5);
    }
    // Let the last children reach their read, and the init settle.
    await sleep(150);
    const base = nsPids(init).length - n; // the init and the service
    // A writer exists now (the orphans), so a blocking open for reading returns at once.
    aliveFd = fs.openSync(alive, fs.constants.O_RDONLY);
    fs.closeSync(aliveNb);
    const cpu0 = cpuNs(init);
    const tTrigger = nowNs();
    fs.closeSync(trig);
    fs.readSync(aliveFd, Buffer.alloc(1)); // blocks until EOF: the last orphan has exited
    const tLast = nowNs();
    let tZero = null;
    let scans = 0;
    // An init that does not reap orphans at all (pm2-runtime) is given 2 s.
    const deadline = tLast + 2_000_000_000n;
    for (;;) {
      const count = nsPids(init).length;
      scans++;
      if (count <= base) {
        tZero = nowNs();
        break;
      }
      if (nowNs() > deadline) break;
      if (scans > 50) sleepSync(1); // do not take a CPU away from the init for seconds
    }
    const cpu1 = cpuNs(init);
    await sleep(300);
    const left = nsZombies(init);
    return {
      ms: tZero === null ? Infinity : Number(tZero - tLast) / 1e6,
      spreadMs: Number(tLast - tTrigger) / 1e6,
      zombiesLeft: left,
      initCpuMs: (cpu1 - cpu0) / 1e6,
      scans,
    };
  } finally {
    if (aliveFd >= 0) fs.closeSync(aliveFd);
    try {
      fs.closeSync(trig);
    } catch {
      // closed above
    }
    try {
      fs.closeSync(aliveNb);
    } catch {
      // closed above
    }
    await stopTree(child, true);
  }
}

export async function run(ctx) {
  if (!ctx.pid1) return { id, title: '3. Reaping', skipped: 'needs a PID namespace (unshare as root)' };
  if (!ctx.have.perl) return { id, title: '3. Reaping', skipped: 'needs perl for the orphan helper' };
  const n = ctx.orphans;
  const subjects = inits(ctx, true, { pm2: true }).map((s) => ({ ...s, name: `${s.name} (PID 1)` }));
  const res = await interleave(subjects, { ...ctx.reps.reap, values: [(x) => (Number.isFinite(x.ms) ? x.ms : NaN)] }, (s) => once(s, n, ctx.tmp));
  const rows = subjects.map((s) => {
    const r = res.get(s.name);
    return {
      subject: s.name,
      init: s.init,
      samples: r.map((x) => x.ms),
      stats: summary(r.map((x) => x.ms)),
      extra: {
        neverMs: r.filter((x) => !Number.isFinite(x.ms)).length,
        exitSpreadMs: summary(r.map((x) => x.spreadMs)).median,
        zombiesLeftMax: Math.max(...r.map((x) => x.zombiesLeft)),
        initCpuMs: summary(r.map((x) => x.initCpuMs)).median,
        initCpuUsPerOrphan: (summary(r.map((x) => x.initCpuMs)).median * 1000) / n,
      },
    };
  });
  const anchors = rows.filter((r) => r.init !== 'tsinit' && Number.isFinite(r.stats.median));
  const best = anchors.length ? anchors.reduce((a, b) => (a.stats.median <= b.stats.median ? a : b)) : null;
  for (const r of rows) {
    if (!best) continue;
    r.refSubject = best.subject;
    r.ratio = r.stats.median / Math.max(best.stats.median, 0.001);
  }
  if (best) best.ref = true;
  const ts = rows.find((r) => r.init === 'tsinit');
  return {
    id,
    title: `3. ${n} orphans exiting at once: last exit -> zero zombies`,
    unit: 'ms',
    better: 'lower',
    rounds: res.rounds,
    settled: res.settled,
    rows,
    targets: [
      {
        name: `${n} orphans: last exit -> no zombie, median <= 2 ms`,
        measured: `${ts.stats.median.toFixed(2)} ms median, ${ts.stats.max.toFixed(1)} ms max, ${ts.extra.zombiesLeftMax} left`,
        ratio: ts.stats.median / 2,
        goal: 2,
        samples: ts.samples,
        also: ts.extra.zombiesLeftMax === 0,
      },
    ],
  };
}
