// (7) Idle wakeups: every init supervises `sleep` as PID 1, all at once (they are idle, so they do not
// disturb one another), and the bench counts the context switches of all the init's threads
// (voluntary + involuntary, /proc/PID/task/TID/status) and its CPU time (schedstat) over a quiet
// window (10 s; 5 s with --quick) that starts 30 s after the service runs: in its first 30 s or so
// a Node process that allocated at startup runs V8's memory reducer (up to three incremental
// garbage collections, 8 s apart), a one-off that is not what "idle" means. A process that sleeps
// in epoll_wait with no timer pending never wakes: 0 per second. Floor: an idle node (one timer
// due in 12 days).
import fs from 'node:fs';
import { summary, start, pid1Of, childrenOf, sleep, nowMs, stopTree, PID1 } from '../lib/util.mjs';
import { inits } from '../lib/subjects.mjs';

export const id = 'idle';
const SETTLE_MS = 30_000;

function threadsOf(pid) {
  let switches = 0;
  let cpuNs = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      switches += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)[1]) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)[1]);
      cpuNs += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread gone
    }
  }
  return { switches, cpuNs };
}

export async function run(ctx) {
  const pid1 = ctx.pid1;
  const pre = pid1 ? PID1 : [];
  const tag = pid1 ? ' (PID 1)' : '';
  const windowMs = ctx.quick ? 5000 : 10000;
  const subjects = [
    { name: `idle node${tag}`, argv: [...pre, 'node', '-e', 'setInterval(() => {}, 1 << 30)'], ref: true, child: false },
    ...inits(ctx, pid1, { pm2: true }).map((s) => ({ name: `${s.name} -- sleep${tag}`, init: s.name, argv: s.cmd(['sleep', '1000']), env: s.env, child: true })),
  ];
  const rounds = ctx.reps.idle.rounds;
  const samples = new Map(subjects.map((s) => [s.name, []]));
  const cpu = new Map(subjects.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    const running = [];
    try {
      for (const s of subjects) {
        const child = start(s.argv, { stdio: ['ignore', 'ignore', 'ignore'], ...(s.env ? { env: s.env } : {}) });
        running.push({ s, child });
      }
      for (const r of running) {
        r.pid = pid1 ? await pid1Of(r.child.pid) : r.child.pid;
        const end = nowMs() + 60000; // pm2-runtime takes seconds to start on a loaded machine
        while (r.s.child && childrenOf(r.pid).length === 0) {
          if (nowMs() > end) throw new Error(`${r.s.name}: no service started`);
          await sleep(5);
        }
      }
      await sleep(SETTLE_MS);
      for (const r of running) r.before = threadsOf(r.pid);
      const t0 = nowMs();
      await sleep(windowMs);
      const sec = (nowMs() - t0) / 1000;
      for (const r of running) {
        const after = threadsOf(r.pid);
        samples.get(r.s.name).push((after.switches - r.before.switches) / sec);
        cpu.get(r.s.name).push((after.cpuNs - r.before.cpuNs) / 1000 / sec);
      }
    } finally {
      for (const r of running) await stopTree(r.child, pid1);
    }
  }
  const rows = subjects.map((s) => ({
    subject: s.name,
    init: s.init ?? null,
    ref: s.ref ?? false,
    samples: samples.get(s.name),
    stats: summary(samples.get(s.name)),
    extra: { cpuUsPerSec: summary(cpu.get(s.name)).median },
  }));
  const ts = rows.find((r) => r.init === 'tsinit');
  return {
    id,
    title: `7. Idle: wakeups per second while the service sleeps (${windowMs / 1000} s window)`,
    unit: 'wakeups/s',
    better: 'lower',
    rounds,
    settled: true,
    rows,
    targets: [
      {
        name: 'idle wakeups: 0 per second',
        measured: `${ts.stats.median.toFixed(2)}/s (CPU ${ts.extra.cpuUsPerSec.toFixed(0)} µs/s) vs idle node ${rows[0].stats.median.toFixed(2)}/s`,
        ratio: NaN,
        goal: 0,
        samples: ts.samples,
      },
    ],
  };
}
