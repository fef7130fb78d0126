// (6) The service exits -> the logger sees EOF and exits -> the init exits.
// The service (helpers/exitsvc.pl) stamps the moment it exits, the logger (helpers/eoflogger.pl)
// the moment it reads EOF, right before it exits; the bench takes the moment the init's exit
// reaches it (libuv's SIGCHLD, well under 0.1 ms on an idle event loop). Reported: service exit ->
// init exit (the target), split into service exit -> logger EOF and logger EOF -> init exit.
// Anchor: the same pair in a shell pipe (`svc | logger`).
import path from 'node:path';
import fs from 'node:fs';
import { interleave, summary, start, readStamps, TSINIT, HELPERS, PID1 } from '../lib/util.mjs';

export const id = 'exitpath';

async function once(subject, tmp) {
  const stamp = path.join(tmp, 'exit-stamps');
  fs.rmSync(stamp, { force: true });
  const child = start(subject.argv(stamp), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const st = await child.done;
  if (st.code !== 0) throw new Error(`${subject.name} exited with ${st.code ?? st.signal}\n${err}`);
  const s = readStamps(stamp);
  if (s.exit === undefined || s.eof === undefined) throw new Error(`${subject.name}: missing stamps\n${err}`);
  return {
    ms: Number(st.endNs - s.exit) / 1e6,
    eofMs: Number(s.eof - s.exit) / 1e6,
    afterEofMs: Number(st.endNs - s.eof) / 1e6,
  };
}

export async function run(ctx) {
  if (!ctx.have.perl) return { id, title: '6. Exit path', skipped: 'needs perl for the helpers' };
  const svc = (stamp) => ['perl', path.join(HELPERS, 'exitsvc.pl'), stamp, '100'];
  const logger = (stamp) => `exec perl ${path.join(HELPERS, 'eoflogger.pl')} ${stamp}`;
  const subjects = [
    { name: 'shell: svc | logger', ref: true, argv: (st) => ['sh', '-c', `${svc(st).join(' ')} | ${logger(st)}`] },
    { name: 'tsinit --logger (subreaper)', init: 'tsinit', argv: (st) => [TSINIT, '--logger', logger(st), '--', ...svc(st)] },
  ];
  if (ctx.pid1) {
    subjects.push({
      name: 'tsinit --logger (PID 1)',
      init: 'tsinit',
      argv: (st) => [...PID1, TSINIT, '--logger', logger(st), '--', ...svc(st)],
    });
  }
  const res = await interleave(subjects, { ...ctx.reps.exitpath, values: [(x) => x.ms] }, (s) => once(s, ctx.tmp));
  const rows = subjects.map((s) => {
    const r = res.get(s.name);
    return {
      subject: s.name,
      init: s.init ?? null,
      ref: s.ref ?? false,
      samples: r.map((x) => x.ms),
      stats: summary(r.map((x) => x.ms)),
      extra: {
        serviceExitToLoggerEofMs: summary(r.map((x) => x.eofMs)).median,
        loggerEofToInitExitMs: summary(r.map((x) => x.afterEofMs)).median,
      },
    };
  });
  const ref = rows.find((r) => r.ref);
  for (const r of rows) {
    r.refSubject = ref.subject;
    r.ratio = r.stats.median / ref.stats.median;
  }
  const targets = rows
    .filter((r) => r.init === 'tsinit')
    .map((r) => ({
      name: `service exit -> init exit with a logger ${r.subject.includes('PID 1') ? 'as PID 1' : 'as subreaper'} <= 2x a shell pipe`,
      measured: `median ${r.stats.median.toFixed(2)} ms vs ${ref.stats.median.toFixed(2)} ms (p95 ${r.stats.p95.toFixed(2)})`,
      ratio: r.ratio,
      goal: 2,
      samples: r.samples,
      ref: ref.samples,
    }));
  return {
    id,
    title: '6. Service exits, logger exits on EOF -> init exits',
    unit: 'ms',
    better: 'lower',
    rounds: res.rounds,
    settled: res.settled,
    rows,
    targets,
  };
}
