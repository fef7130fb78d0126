// (1) `X -- /bin/true` wall time, as PID 1 (in a fresh PID namespace) and not, with `node -e 0`
// as Node's floor. Wall time is measured around spawnSync, so every row carries the same spawn
// overhead; the `/bin/true` row (no init at all) shows it. Also `tsinit --help` and a usage error
// (commander's paths). pm2-runtime does not exit when its service does, so its row is the time
// until its service runs (helpers/stamp.pl), a lower bound of its `-- /bin/true`.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  interleave, summary, timeOnce, start, stopTree, readStamps, nowNs, sleep, PID1, REMOVED_ENV, TSINIT, ENV, HELPERS,
} from '../lib/util.mjs';
import { inits } from '../lib/subjects.mjs';

export const id = 'startup';

/** Spawn -> the service's stamp, for an init that stays; the run is then killed. */
async function timeToService(subject, tmp) {
  const stamp = path.join(tmp, 'startup-stamp');
  fs.rmSync(stamp, { force: true });
  const t0 = nowNs();
  const child = start(subject.cmd(['perl', path.join(HELPERS, 'stamp.pl'), stamp]), { env: subject.env });
  try {
    const end = Date.now() + 20_000;
    for (;;) {
      const s = readStamps(stamp);
      if (s.start !== undefined) return Number(s.start - t0) / 1e6;
      if (Date.now() > end || child.exitCode !== null) throw new Error(`${subject.name}: the service never ran`);
      await sleep(1);
    }
  } finally {
    await stopTree(child, subject.pid1);
  }
}

function usageError(argv) {
  const t0 = nowNs();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 30000, env: ENV });
  const ms = Number(nowNs() - t0) / 1e6;
  if (r.status !== 125) throw new Error(`${argv.join(' ')} exited with ${r.status ?? r.signal}, not 125`);
  return ms;
}

export async function run(ctx) {
  const modes = ctx.pid1 ? [false, true] : [false];
  const subjects = [];
  for (const pid1 of modes) {
    const pre = pid1 ? PID1 : [];
    const tag = pid1 ? ' (PID 1)' : '';
    subjects.push({ name: `node -e 0${tag}`, run: () => timeOnce([...pre, 'node', '-e', '0']), ref: true, pid1 });
    for (const s of inits(ctx, pid1, { pm2: true })) {
      if (s.name === 'pm2-runtime') {
        subjects.push({ name: `pm2-runtime, until the service runs${tag}`, init: s.name, run: () => timeToService(s, ctx.tmp), pid1 });
      } else {
        subjects.push({ name: `${s.name} -- /bin/true${tag}`, init: s.name, run: () => timeOnce(s.cmd(['/bin/true'])), pid1 });
      }
    }
    subjects.push({ name: `/bin/true, no init${tag}`, run: () => timeOnce([...pre, '/bin/true']), pid1 });
  }
  subjects.push({ name: 'tsinit --help', init: 'tsinit', kind: 'help', run: () => timeOnce([TSINIT, '--help']), pid1: false });
  subjects.push({ name: 'tsinit --bogus (usage error)', init: 'tsinit', kind: 'usage', run: () => usageError([TSINIT, '--bogus']), pid1: false });
  if (REMOVED_ENV.includes('NODE_EXTRA_CA_CERTS')) {
    // For the record: the floor as this machine's shells see it.
    subjects.push({
      name: 'node -e 0, with NODE_EXTRA_CA_CERTS (caller env)', run: () => timeOnce(['node', '-e', '0'], { env: process.env }), pid1: false, info: true,
    });
  }
  const res = await interleave(subjects, ctx.reps.startup, (s) => s.run());
  const rows = subjects.map((s) => ({
    subject: s.name,
    init: s.init ?? null,
    kind: s.kind ?? 'run',
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
    .map((r) => {
      const goal = r.kind === 'run' ? 1.25 : 1.3;
      const what = r.kind === 'run' ? `startup${r.pid1 ? ' as PID 1' : ' as subreaper'}` : r.kind === 'help' ? '`--help`' : 'a usage error';
      return {
        name: `${what} <= ${goal.toFixed(2)}x node -e 0`,
        measured: `${r.stats.median.toFixed(1)} ms vs ${rows.find((x) => x.subject === r.refSubject).stats.median.toFixed(1)} ms`,
        ratio: r.ratio,
        goal,
        samples: r.samples,
        ref: rows.find((x) => x.subject === r.refSubject).samples,
      };
    });
  return {
    id,
    title: '1. Startup: X -- /bin/true (wall time)',
    unit: 'ms',
    better: 'lower',
    rounds: res.rounds,
    settled: res.settled,
    rows,
    targets,
  };
}
