// (2) The init's own RSS (VmRSS in /proc/PID/status of the init process, not its children) while
// it supervises `sleep`, read once the service runs and the init has been idle for a moment.
// Floor: an idle `node` (a process that only keeps a timer), in the same position (PID 1 when the
// inits run as PID 1).
import { interleave, summary, start, pid1Of, childrenOf, rssKiB, sleep, nowMs, stopTree, PID1 } from '../lib/util.mjs';
import { inits } from '../lib/subjects.mjs';

export const id = 'rss';
const SETTLE_MS = 400;

async function measure(argv, pid1, expectChild, env) {
  const child = start(argv, { stdio: ['ignore', 'ignore', 'pipe'], ...(env ? { env } : {}) });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  try {
    const pid = pid1 ? await pid1Of(child.pid) : child.pid;
    if (expectChild) {
      const end = nowMs() + 5000;
      while (childrenOf(pid).length === 0) {
        if (nowMs() > end) throw new Error(`${argv.join(' ')}: no service started\n${err}`);
        await sleep(2);
      }
    }
    await sleep(SETTLE_MS);
    const m = rssKiB(pid);
    if (!m) throw new Error(`${argv.join(' ')}: gone before measuring\n${err}`);
    return m;
  } finally {
    // SIGKILL: an idle node as PID 1 has no handler for SIGTERM (the kernel drops it).
    await stopTree(child, pid1);
  }
}

export async function run(ctx) {
  const pid1 = ctx.pid1;
  const pre = pid1 ? PID1 : [];
  const tag = pid1 ? ' (PID 1)' : '';
  const subjects = [
    { name: `idle node${tag}`, argv: [...pre, 'node', '-e', 'setInterval(() => {}, 1 << 30)'], ref: true, child: false },
    ...inits(ctx, pid1, { pm2: true }).map((s) => ({ name: `${s.name} -- sleep${tag}`, init: s.name, argv: s.cmd(['sleep', '1000']), env: s.env, child: true })),
  ];
  const res = await interleave(subjects, { ...ctx.reps.rss, values: [(x) => x.rss] }, (s) => measure(s.argv, pid1, s.child, s.env));
  const rows = subjects.map((s) => {
    const m = res.get(s.name);
    return {
      subject: s.name,
      init: s.init ?? null,
      ref: s.ref ?? false,
      samples: m.map((x) => x.rss / 1024),
      stats: summary(m.map((x) => x.rss / 1024)),
      extra: { hwmMiB: summary(m.map((x) => x.hwm / 1024)).median },
    };
  });
  const floor = rows.find((r) => r.ref);
  for (const r of rows) {
    r.refSubject = floor.subject;
    r.ratio = r.stats.median / floor.stats.median;
  }
  const ts = rows.find((r) => r.init === 'tsinit');
  return {
    id,
    title: "2. RSS of the init while it supervises sleep (VmRSS)",
    unit: 'MiB',
    better: 'lower',
    rounds: res.rounds,
    settled: res.settled,
    rows,
    targets: [
      {
        name: 'RSS supervising sleep <= 1.10x an idle node',
        measured: `${ts.stats.median.toFixed(1)} MiB vs ${floor.stats.median.toFixed(1)} MiB`,
        ratio: ts.ratio,
        goal: 1.1,
        samples: ts.samples,
        ref: floor.samples,
      },
    ],
  };
}
