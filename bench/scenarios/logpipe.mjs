// (5) Log throughput: BENCH_LOG_MB MiB (default 1024) of 128-byte lines from helpers/producer.pl.
//   pipe:   `--logger 'cat > F'` against the plain shell pipe `producer | cat > F`;
//   writer: the built-in writer (`producer | tsinit logd DIR`, and `tsinit --log-dir DIR`) against
//           `producer | s6-log n10 s10485760 T DIR` (same rotation as logd's defaults, ISO timestamps).
// Time runs from the producer's first write (it stamps CLOCK_MONOTONIC) to the exit of the whole
// pipeline, so tsinit's startup (measured in scenario 1) is not counted against the pipe. The writer's
// RSS (and tsinit's) is sampled every 100 ms.
import fs from 'node:fs';
import path from 'node:path';
import {
  interleave, summary, start, sleep, rssKiB, descendants, comm, readStamps, stopTree, nowNs, TSINIT, HELPERS,
} from '../lib/util.mjs';
import { PM2_RUNTIME, envFor } from '../lib/subjects.mjs';

export const id = 'logpipe';
const LINE = 128;
const WRITERS = new Set(['cat', 's6-log', 'node', 'PM2 v7.0.4: God']);

function subjectsFor(ctx) {
  const P = (bytes, stamp) => `perl ${path.join(HELPERS, 'producer.pl')} ${bytes} ${LINE} ${stamp}`;
  const Pv = (bytes, stamp) => ['perl', path.join(HELPERS, 'producer.pl'), String(bytes), String(LINE), stamp];
  const s = [
    {
      name: 'shell pipe: svc | cat > F', group: 'pipe', ref: true, out: 'file',
      argv: (b, st, o) => ['sh', '-c', `${P(b, st)} | cat > ${o}`],
    },
    {
      name: "tsinit --logger 'cat > F' -- svc", group: 'pipe', init: 'tsinit', out: 'file', rootIsTsinit: true,
      argv: (b, st, o) => [TSINIT, '--logger', `cat > ${o}`, '--', ...Pv(b, st)],
    },
    {
      // not a target: shows what the pipe's capacity does (tsinit raises it to 1 MiB by default)
      name: "tsinit --pipe-size 65536 --logger 'cat > F' -- svc", group: 'pipe', init: 'tsinit', out: 'file', rootIsTsinit: true, info: true,
      argv: (b, st, o) => [TSINIT, '--pipe-size', '65536', '--logger', `cat > ${o}`, '--', ...Pv(b, st)],
    },
  ];
  if (ctx.have['pm2-runtime']) {
    // pm2-runtime copies its app's output to its own stdout (with a few lines of its own) and does
    // not exit when the app does: its time ends when the file holds all the bytes.
    s.push({
      name: 'pm2-runtime -- svc > F (until F holds every byte or stops growing)', group: 'pipe', init: 'pm2-runtime', out: 'file', stays: true, env: envFor('pm2-runtime'),
      argv: (b, st, o) => ['sh', '-c', `exec ${PM2_RUNTIME} start perl --interpreter none --no-autorestart -- ${path.join(HELPERS, 'producer.pl')} ${b} ${LINE} ${st} > ${o}`],
    });
  }
  if (ctx.have['s6-log']) {
    s.push({
      name: 's6-log: svc | s6-log n10 s10485760 T DIR', group: 'writer', ref: true, out: 'dir',
      argv: (b, st, o) => ['sh', '-c', `${P(b, st)} | s6-log n10 s10485760 T ${o}`],
    });
  }
  if (ctx.logd) {
    s.push({
      name: 'tsinit logd: svc | tsinit logd DIR', group: 'writer', init: 'tsinit', out: 'dir',
      argv: (b, st, o) => ['sh', '-c', `${P(b, st)} | ${TSINIT} logd ${o}`],
    });
    s.push({
      name: 'tsinit --log-dir DIR -- svc', group: 'writer', init: 'tsinit', out: 'dir', rootIsTsinit: true,
      argv: (b, st, o) => [TSINIT, '--log-dir', o, '--', ...Pv(b, st)],
    });
    // --log-stdout: the same, with the copy on stdout read by a pipe (as a log driver reads it)...
    s.push({
      name: 'tsinit --log-dir DIR --log-stdout -- svc | cat', group: 'tee', init: 'tsinit', out: 'dir', info: true, tee: 'read',
      argv: (b, st, o) => ['sh', '-c', `"$0" --log-dir ${o} --log-stdout -- ${P(b, st)} | cat > /dev/null`, TSINIT],
    });
    // ... and into a pipe nobody reads (a stalled log driver): what that costs the files.
    s.push({
      name: 'tsinit --log-dir DIR --log-stdout -- svc > stalled pipe', group: 'tee', init: 'tsinit', out: 'dir', info: true, tee: 'stalled',
      argv: (b, st, o) => ['sh', '-c', `mkfifo ${o}.fifo && exec 3<>${o}.fifo && exec "$0" --log-dir ${o} --log-stdout -- ${P(b, st)} > ${o}.fifo`, TSINIT],
    });
  }
  return s;
}

function dirBytes(dir) {
  let n = 0;
  for (const f of fs.readdirSync(dir)) n += fs.statSync(path.join(dir, f)).size;
  return n;
}

async function once(subject, bytes, tmp) {
  const stamp = path.join(tmp, 'stamp');
  const out = path.join(tmp, subject.out === 'file' ? 'out.log' : 'logdir');
  fs.rmSync(stamp, { force: true });
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(`${out}.fifo`, { force: true });
  if (subject.out === 'dir') fs.mkdirSync(out);
  const child = start(subject.argv(bytes, stamp, out), { stdio: ['ignore', 'ignore', 'pipe'], ...(subject.env ? { env: subject.env } : {}) });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  // RSS sampling: the writer (cat / s6-log / logd) and, for tsinit rows, tsinit itself.
  const writer = [];
  const root = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      await sleep(100);
      if (done) break;
      const w = descendants(child.pid).find((p) => WRITERS.has(comm(p)));
      const wr = w ? rssKiB(w) : null;
      if (wr) writer.push(wr.rss / 1024);
      const rr = rssKiB(child.pid);
      if (rr) root.push(rr.rss / 1024);
    }
  })();
  let st;
  let lost = 0;
  if (subject.stays) {
    // Until the file holds every byte; or, once the producer is done, until it has not grown for
    // 3 s: then the bytes missing are lost (pm2-runtime drops output it cannot write fast enough).
    const end = Date.now() + 600_000;
    let size = 0;
    let grewAt = Date.now();
    let endNs = nowNs();
    for (;;) {
      let now = 0;
      try {
        now = fs.statSync(out).size;
      } catch {
        // not yet
      }
      if (now > size) {
        size = now;
        grewAt = Date.now();
        endNs = nowNs();
      }
      if (size >= bytes) break;
      const producerDone = readStamps(stamp).end !== undefined;
      // pm2-runtime exits some seconds after its app, whether it has written everything or not
      if (producerDone && (Date.now() - grewAt > 3000 || child.exitCode !== null)) {
        lost = bytes - size;
        break;
      }
      if (Date.now() > end || child.exitCode !== null) throw new Error(`${subject.name}: ${size} bytes arrived of ${bytes}\n${err}`);
      await sleep(2);
    }
    await stopTree(child, false);
    st = { code: 0, endNs };
  } else {
    st = await child.done;
  }
  done = true;
  await sampler;
  if (st.code !== 0) throw new Error(`${subject.name} exited with ${st.code ?? st.signal}\n${err}`);
  const stamps = readStamps(stamp);
  if (stamps.start === undefined) throw new Error(`${subject.name}: the producer left no start stamp\n${err}`);
  const sec = Number(st.endNs - stamps.start) / 1e9;
  const written = subject.out === 'file' ? fs.statSync(out).size : dirBytes(out);
  if (subject.out === 'file' && !subject.stays && written !== bytes) {
    throw new Error(`${subject.name}: ${written} bytes arrived of ${bytes}\n${err}`);
  }
  fs.rmSync(out, { recursive: true, force: true });
  const half = writer.length >> 1;
  return {
    lostBytes: lost,
    mibs: (bytes - lost) / 2 ** 20 / sec,
    linesPerSec: bytes / LINE / sec,
    sec,
    writerRssMax: writer.length ? Math.max(...writer) : NaN,
    // flat: no upward trend, the second half of the run peaks no higher than the first half (+10%)
    writerFlat: writer.length < 4 || Math.max(...writer.slice(half)) <= Math.max(...writer.slice(0, half)) * 1.1,
    writerRssFirst: writer[0] ?? NaN,
    rootRssMax: root.length ? Math.max(...root) : NaN,
  };
}

export async function run(ctx) {
  if (!ctx.have.perl) return { id, title: '5. Log throughput', skipped: 'needs perl for the producer' };
  const bytes = ctx.logMB * 2 ** 20;
  const subjects = subjectsFor(ctx);
  // The warm-up round uses a sixteenth of the input: it warms the page cache and tmpfs, not the data.
  const res = await interleave(subjects, { ...ctx.reps.logpipe, values: [(x) => x.mibs] }, (s, round) =>
    once(s, round < 0 ? Math.max(2 ** 20, Math.floor(bytes / 16 / LINE) * LINE) : bytes, ctx.tmp),
  );
  const rows = subjects.map((s) => {
    const r = res.get(s.name);
    const init = s.init ?? null;
    return {
      subject: s.name,
      init,
      info: s.info ?? false,
      group: s.group,
      ref: s.ref ?? false,
      samples: r.map((x) => x.mibs),
      stats: summary(r.map((x) => x.mibs)),
      extra: {
        linesPerSec: summary(r.map((x) => x.linesPerSec)).median,
        seconds: summary(r.map((x) => x.sec)).median,
        writerRssMaxMiB: Math.max(...r.map((x) => x.writerRssMax)),
        writerRssFirstMiB: summary(r.map((x) => x.writerRssFirst)).median,
        writerRssFlat: r.every((x) => x.writerFlat),
        lostBytesMax: Math.max(...r.map((x) => x.lostBytes)),
        ...(s.rootIsTsinit ? { tsinitRssMaxMiB: Math.max(...r.map((x) => x.rootRssMax)) } : {}),
      },
    };
  });
  for (const g of ['pipe', 'writer']) {
    const ref = rows.find((r) => r.group === g && r.ref);
    for (const r of rows.filter((x) => x.group === g)) {
      if (!ref) continue;
      r.refSubject = ref.subject;
      r.ratio = r.stats.median / ref.stats.median;
    }
  }
  const targets = [];
  const logDir = rows.find((r) => r.subject === 'tsinit --log-dir DIR -- svc');
  for (const [tee, goal] of [['read', 0.8], ['stalled', null]]) {
    const sub = subjects.find((x) => x.tee === tee);
    const row = sub && rows.find((r) => r.subject === sub.name);
    if (!row || !logDir) continue;
    const ratio = row.extra.linesPerSec / logDir.extra.linesPerSec;
    targets.push({
      name: tee === 'read' ? '--log-dir --log-stdout (stdout read) >= 0.8x --log-dir lines/s' : '--log-dir --log-stdout into a stalled pipe vs --log-dir lines/s (cost of a stalled stdout)',
      measured: `${(row.extra.linesPerSec / 1e6).toFixed(2)} M lines/s vs ${(logDir.extra.linesPerSec / 1e6).toFixed(2)} M`,
      ratio,
      ...(goal === null ? { met: null } : { goal, higher: true, met: ratio >= goal }),
    });
  }
  const pipe = rows.find((r) => r.group === 'pipe' && r.init === 'tsinit' && !r.info);
  targets.push({
    name: 'log pipe (--logger) >= 1.0x the plain shell pipe',
    measured: `${pipe.stats.median.toFixed(0)} MiB/s vs ${rows.find((r) => r.group === 'pipe' && r.ref).stats.median.toFixed(0)} MiB/s`,
    ratio: pipe.ratio,
    goal: 1,
    higher: true,
    samples: pipe.samples,
    ref: rows.find((r) => r.group === 'pipe' && r.ref).samples,
  });
  const s6 = rows.find((r) => r.group === 'writer' && r.ref);
  if (!ctx.logd) {
    targets.push({ name: 'built-in writer >= 1.0x s6-log lines/s, flat RSS', measured: 'not available: `tsinit logd` does not work yet', ratio: NaN, met: null });
  } else if (!s6) {
    targets.push({ name: 'built-in writer >= 1.0x s6-log lines/s, flat RSS', measured: 'anchor s6-log missing', ratio: NaN, met: null });
  } else {
    for (const w of rows.filter((r) => r.group === 'writer' && r.init === 'tsinit' && !r.subject.startsWith('tsinit logd'))) {
      const ratio = w.extra.linesPerSec / s6.extra.linesPerSec;
      targets.push({
        name: '`--log-dir` lines/s >= 2x s6-log with timestamps, flat RSS',
        measured: `${(w.extra.linesPerSec / 1e6).toFixed(2)} M lines/s vs ${(s6.extra.linesPerSec / 1e6).toFixed(2)} M; RSS max ${w.extra.writerRssMaxMiB.toFixed(0)} MiB, ${w.extra.writerRssFlat ? 'flat' : 'growing'}`,
        ratio,
        goal: 2,
        higher: true,
        samples: w.samples,
        ref: s6.samples,
        also: w.extra.writerRssFlat,
      });
    }
  }
  return {
    id,
    title: `5. Log throughput, ${ctx.logMB} MiB of ${LINE}-byte lines`,
    unit: 'MiB/s',
    better: 'higher',
    rounds: res.rounds,
    settled: res.settled,
    rows,
    targets,
    notes: ctx.logd ? [] : ['built-in writer rows: not available (`tsinit logd` is still a placeholder)'],
  };
}
