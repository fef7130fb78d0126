// (4) A signal sent to the init -> the service's handler runs. The init runs as PID 1 and
// supervises helpers/sigservice.pl, which prints a CLOCK_MONOTONIC timestamp from inside its
// handler; the bench subtracts the moment just before its kill(2).
//   the first signal after start (a SIGHUP 30 ms after the service is ready: the path runs cold);
//   SIGHUP x K: forwarded while the service keeps running (many samples per init start);
//   SIGTERM x 1: the stop path (one sample per init start, in a process that has been idle 50 ms).
// pm2-runtime does not forward SIGHUP (it dies of it), so it gets the SIGTERM only, which it turns
// into a SIGINT to its app.
import path from 'node:path';
import { interleave, summary, start, pid1Of, sleep, nowNs, stopTree, HELPERS } from '../lib/util.mjs';
import { inits } from '../lib/subjects.mjs';

export const id = 'signals';

/** Line reader over a child's stdout with an awaitable next(). */
function lines(stream) {
  const queue = [];
  const waiters = [];
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      // the service's own lines only (pm2-runtime writes its log lines to the same stdout)
      if (!/^(R|[HT] \d+)$/.test(line)) continue;
      const w = waiters.shift();
      if (w) w.resolve(line);
      else queue.push(line);
    }
  });
  stream.on('end', () => {
    for (const w of waiters.splice(0)) w.reject(new Error('service output ended'));
  });
  return {
    next(timeoutMs = 5000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('timeout waiting for the service')), timeoutMs);
        waiters.push({
          resolve: (l) => (clearTimeout(t), resolve(l)),
          reject: (e) => (clearTimeout(t), reject(e)),
        });
      });
    },
  };
}

async function once(subject, hups) {
  const child = start(subject.cmd(['perl', path.join(HELPERS, 'sigservice.pl')]), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: subject.env,
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const out = lines(child.stdout);
  try {
    const init = subject.pid1 ? await pid1Of(child.pid) : child.pid;
    const ready = await out.next();
    if (ready !== 'R') throw new Error(`unexpected service output ${ready}`);
    await sleep(30);
    const hup = [];
    if (subject.init === 'pm2-runtime') hups = 0;
    for (let i = 0; i < hups; i++) {
      const t0 = nowNs();
      process.kill(init, 'SIGHUP');
      const l = await out.next();
      if (!l.startsWith('H ')) throw new Error(`unexpected service output ${l}`);
      hup.push(Number(BigInt(l.slice(2)) - t0) / 1e6);
      await sleep(2);
    }
    await sleep(50); // the stop comes to an init that has been idle, as docker stop does
    const t0 = nowNs();
    process.kill(init, 'SIGTERM');
    const l = await out.next();
    if (!l.startsWith('T ')) throw new Error(`unexpected service output ${l}`);
    const term = Number(BigInt(l.slice(2)) - t0) / 1e6;
    const status = await Promise.race([child.done, sleep(5000).then(() => null)]);
    return { term, first: hup[0], hup: hup.slice(1), exited: status !== null };
  } catch (e) {
    e.message += `\n${subject.name}: ${err}`;
    throw e;
  } finally {
    if (child.exitCode === null && child.signalCode === null) await stopTree(child, subject.pid1);
  }
}

export async function run(ctx) {
  if (!ctx.have.perl) return { id, title: '4. Signals', skipped: 'needs perl for the service helper' };
  const pid1 = ctx.pid1;
  const tag = pid1 ? ' (PID 1)' : '';
  const subjects = inits(ctx, pid1, { pm2: true }).map((s) => ({ ...s, name: `${s.name}${tag}` }));
  const res = await interleave(
    subjects,
    { ...ctx.reps.signals, values: [(x) => x.term, (x) => x.first ?? NaN, (x) => x.hup] },
    (s) => once(s, ctx.hups + 1),
  );
  const rows = [];
  for (const s of subjects) {
    const r = res.get(s.name);
    const term = r.map((x) => x.term);
    const hup = r.flatMap((x) => x.hup);
    const first = r.map((x) => x.first).filter((x) => x !== undefined);
    rows.push({ subject: `${s.name}: SIGTERM`, init: s.init, kind: 'term', samples: term, stats: summary(term) });
    if (first.length) rows.push({ subject: `${s.name}: first signal after start`, init: s.init, kind: 'first', samples: first, stats: summary(first) });
    if (hup.length) rows.push({ subject: `${s.name}: SIGHUP`, init: s.init, kind: 'hup', samples: hup, stats: summary(hup) });
  }
  for (const kind of ['term', 'first', 'hup']) {
    const anchors = rows.filter((r) => r.kind === kind && r.init !== 'tsinit');
    if (!anchors.length) continue;
    const best = anchors.reduce((a, b) => (a.stats.p99 <= b.stats.p99 ? a : b));
    best.ref = true;
    for (const r of rows.filter((x) => x.kind === kind)) {
      r.refSubject = best.subject;
      r.ratio = r.stats.median / best.stats.median;
    }
  }
  const goals = { term: ['SIGTERM -> service handler, p50', 0.2], first: ['first signal after start -> handler', 0.3] };
  const targets = Object.entries(goals).map(([kind, [name, goal]]) => {
    const ts = rows.find((r) => r.kind === kind && r.init === 'tsinit');
    const med = ts.stats.median;
    return {
      name: `${name} <= ${goal} ms`,
      measured: `p50 ${med.toFixed(3)} ms, p95 ${ts.stats.p95.toFixed(3)} ms (n=${ts.stats.n})`,
      ratio: med / goal,
      goal,
      samples: ts.samples,
    };
  });
  return {
    id,
    title: '4. Signal to the init -> service handler runs (latency)',
    unit: 'ms',
    better: 'lower',
    rounds: res.rounds,
    settled: res.settled,
    rows,
    targets,
  };
}
