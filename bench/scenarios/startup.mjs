// (1) `X -- /bin/true` wall time, as PID 1 (in a fresh PID namespace) and not, with `node -e 0`
// as Node's floor. Wall time is measured around spawnSync, so every row carries the same spawn
// overhead; the `/bin/true` row (no init at all) shows it.
import { interleave, summary, timeOnce, PID1, REMOVED_ENV } from '../lib/util.mjs';
import { inits } from '../lib/subjects.mjs';

export const id = 'startup';

export async function run(ctx) {
  const modes = ctx.pid1 ? [false, true] : [false];
  const subjects = [];
  for (const pid1 of modes) {
    const pre = pid1 ? PID1 : [];
    const tag = pid1 ? ' (PID 1)' : '';
    subjects.push({ name: `node -e 0${tag}`, argv: [...pre, 'node', '-e', '0'], ref: true, pid1 });
    for (const s of inits(ctx, pid1)) {
      subjects.push({ name: `${s.name} -- /bin/true${tag}`, init: s.name, argv: [...s.prefix, '/bin/true'], pid1 });
    }
    subjects.push({ name: `/bin/true, no init${tag}`, argv: [...pre, '/bin/true'], pid1 });
  }
  if (REMOVED_ENV.includes('NODE_EXTRA_CA_CERTS')) {
    // For the record: the floor as this machine's shells see it.
    subjects.push({ name: 'node -e 0, with NODE_EXTRA_CA_CERTS (caller env)', argv: ['node', '-e', '0'], env: process.env, pid1: false, info: true });
  }
  const res = await interleave(subjects, ctx.reps.startup, (s) => timeOnce(s.argv, s.env ? { env: s.env } : {}));
  const rows = subjects.map((s) => ({
    subject: s.name,
    init: s.init ?? null,
    pid1: s.pid1,
    ref: s.ref ?? false,
    info: s.info ?? false,
    samples: res.get(s.name),
    stats: summary(res.get(s.name)),
  }));
  // ratio: to node -e 0 in the same mode (Node's floor)
  for (const r of rows) {
    const floor = rows.find((x) => x.ref && x.pid1 === r.pid1);
    r.refSubject = floor.subject;
    r.ratio = r.stats.median / floor.stats.median;
  }
  const targets = rows
    .filter((r) => r.init === 'tsinit')
    .map((r) => ({
      name: `startup${r.pid1 ? ' as PID 1' : ''} <= 1.10x node -e 0`,
      measured: `${r.stats.median.toFixed(1)} ms vs ${rows.find((x) => x.subject === r.refSubject).stats.median.toFixed(1)} ms`,
      ratio: r.ratio,
      goal: 1.1,
      met: r.ratio <= 1.1,
    }));
  return {
    id,
    title: '1. Startup: X -- /bin/true (wall time)',
    unit: 'ms',
    better: 'lower',
    rows,
    targets,
  };
}
