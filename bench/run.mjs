#!/usr/bin/env node
// npm run bench [-- --quick] [-- --only startup,rss,reap,signals,logpipe,exitpath,idle]
//
// Runs every scenario for tsinit and each anchor installed (tini, dumb-init, catatonit, s6-log, and
// pm2-runtime, which the bench installs into bench/.cache on first use), interleaved, each until its
// medians settle or a round limit, and prints a markdown table; writes bench/results.json and
// bench/chart.svg (bench/results-quick.json and bench/chart-quick.svg with --quick). See docs/bench.md.
//
// Environment: BENCH_LOG_MB (log scenario size, default 1024; 256 with --quick), BENCH_ORPHANS
// (default 5000; 1000 with --quick), BENCH_TMP (scratch directory, default /dev/shm).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BENCH, TSINIT, ENV, REMOVED_ENV, which, canUnshare, scratchDir, fmt, describeStats, judge, killRunning } from './lib/util.mjs';
import { ensurePm2 } from './lib/subjects.mjs';
import { renderChart } from './lib/chart.mjs';
import * as startup from './scenarios/startup.mjs';
import * as rss from './scenarios/rss.mjs';
import * as reap from './scenarios/reap.mjs';
import * as signals from './scenarios/signals.mjs';
import * as logpipe from './scenarios/logpipe.mjs';
import * as exitpath from './scenarios/exitpath.mjs';
import * as idle from './scenarios/idle.mjs';

const SCENARIOS = [startup, rss, reap, signals, logpipe, exitpath, idle];

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyArg = argv.find((a) => a.startsWith('--only'));
const only = onlyArg ? (onlyArg.includes('=') ? onlyArg.split('=')[1] : argv[argv.indexOf(onlyArg) + 1]).split(',') : null;
const log = (s) => process.stderr.write(`${s}\n`);

// Rounds per scenario: `warmup` dropped, then at least `min` and at most `max`; the scenario stops
// early once every subject's median has stayed within `tol` (relative) or `abs` (in the scenario's
// unit) over the last `window` rounds (see interleave in lib/util.mjs).
// --quick's startup rounds are as many as a full run's at least: with 12 to 31 rounds, the ratios
// nearest their goals (--help, a usage error) moved by 0.3x from run to run and their verdicts flipped.
const REPS = quick
  ? {
      startup: { warmup: 2, min: 30, max: 60, tol: 0.02, abs: 0.2 },
      rss: { warmup: 0, min: 3, max: 5, tol: 0.01, abs: 0.2, window: 2 },
      reap: { warmup: 0, min: 3, max: 6, tol: 0.2, abs: 0.5, window: 2 },
      signals: { warmup: 1, min: 6, max: 20, tol: 0.05, abs: 0.02 },
      logpipe: { warmup: 0, min: 3, max: 5, tol: 0.05, abs: 20, window: 2 },
      exitpath: { warmup: 1, min: 8, max: 30, tol: 0.05, abs: 0.1 },
      idle: { rounds: 1 },
    }
  : {
      startup: { warmup: 3, min: 30, max: 80, tol: 0.02, abs: 0.2 },
      rss: { warmup: 1, min: 5, max: 8, tol: 0.01, abs: 0.1, window: 2 },
      reap: { warmup: 1, min: 4, max: 10, tol: 0.15, abs: 0.3, window: 2 },
      signals: { warmup: 2, min: 15, max: 40, tol: 0.04, abs: 0.01 },
      logpipe: { warmup: 1, min: 3, max: 6, tol: 0.04, abs: 15, window: 2 },
      exitpath: { warmup: 2, min: 15, max: 50, tol: 0.04, abs: 0.05 },
      idle: { rounds: 2 },
    };

/** Does the built-in writer work yet? `printf 'probe\n' | tsinit logd DIR` must exit 0 and keep the line. */
function probeLogd(tmp) {
  const dir = path.join(tmp, 'logd-probe');
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync(TSINIT, ['logd', dir], { input: 'tsinit-bench-probe\n', stdio: ['pipe', 'ignore', 'pipe'], timeout: 10000, env: ENV });
  let found = false;
  try {
    for (const f of fs.readdirSync(dir)) {
      if (fs.readFileSync(path.join(dir, f), 'utf8').includes('tsinit-bench-probe')) found = true;
    }
  } catch {
    // no directory
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { ok: r.status === 0 && found, why: r.status !== 0 ? `tsinit logd exited ${r.status ?? r.signal}` : found ? '' : 'no line written' };
}

const countProcesses = () => fs.readdirSync('/proc').filter((e) => e.charCodeAt(0) >= 48 && e.charCodeAt(0) <= 57).length;

function checkTsinit() {
  const r = spawnSync(TSINIT, ['--', '/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10000, env: ENV });
  if (r.status !== 0) {
    log(`tsinit does not run (${r.status ?? r.signal}): ${r.stderr}`);
    log('build it first: node scripts/build.mjs');
    process.exit(1);
  }
}

function fmtStat(v, unit) {
  if (!Number.isFinite(v)) return '–';
  const d = unit === 'MiB/s' ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;
  return `${v.toFixed(d)}`;
}

function notes(r) {
  const e = r.extra ?? {};
  const out = [];
  const st = describeStats(r.stats);
  if (st) out.push(st);
  if (e.lostBytesMax) out.push(`**lost up to ${fmt(e.lostBytesMax / 2 ** 20, 0)} MiB** of the output`);
  if (e.neverMs) out.push(`${e.neverMs} of ${r.stats.n} runs never reached zero zombies (2 s)`);
  if (e.cpuUsPerSec !== undefined) out.push(`CPU ${fmt(e.cpuUsPerSec, 0)} µs/s`);
  if (e.loggerEofToInitExitMs !== undefined) out.push(`logger EOF→init exit ${fmt(e.loggerEofToInitExitMs, 2)} ms`);
  if (e.hwmMiB !== undefined) out.push(`peak ${fmt(e.hwmMiB)} MiB`);
  if (e.exitSpreadMs !== undefined) out.push(`exits spread over ${fmt(e.exitSpreadMs, 0)} ms`);
  if (e.initCpuUsPerOrphan !== undefined) out.push(`init CPU ${fmt(e.initCpuMs)} ms (${fmt(e.initCpuUsPerOrphan)} µs/orphan)`);
  if (e.zombiesLeftMax !== undefined) out.push(`${e.zombiesLeftMax} zombies left`);
  if (e.linesPerSec !== undefined) out.push(`${(e.linesPerSec / 1e6).toFixed(2)} M lines/s`);
  if (e.writerRssMaxMiB !== undefined) {
    out.push(`writer RSS ${fmt(e.writerRssFirstMiB, 0)}→max ${fmt(e.writerRssMaxMiB, 0)} MiB${e.writerRssFlat ? ' (flat)' : ' (growing)'}`);
  }
  if (e.tsinitRssMaxMiB !== undefined) out.push(`tsinit RSS max ${fmt(e.tsinitRssMaxMiB, 0)} MiB`);
  if (e.serviceExitToLoggerEofMs !== undefined) out.push(`service exit→logger EOF ${fmt(e.serviceExitToLoggerEofMs, 2)} ms`);
  return out.join('; ');
}

const cell = (s) => String(s).replace(/\|/g, '\\|');

function table(results) {
  const lines = [
    '| scenario | subject | n | median | p95 | p99 | ratio | reference | notes |',
    '|---|---|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const s of results) {
    if (s.skipped || s.error) {
      lines.push(`| ${s.title} | – | – | – | – | – | – | – | ${s.skipped ? `skipped: ${s.skipped}` : `failed: ${s.error.split('\n')[0]}`} |`);
      continue;
    }
    for (const r of s.rows) {
      const subj = r.init === 'tsinit' ? `**${cell(r.subject)}**` : cell(r.subject);
      lines.push(
        `| ${s.title.replace(/^(\d+)\..*/, '$1')} ${s.id} (${s.unit}) | ${subj} | ${r.stats.n} | ${fmtStat(r.stats.median, s.unit)} | ${fmtStat(r.stats.p95, s.unit)} | ${fmtStat(r.stats.p99, s.unit)} | ${
          Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : '–'
        } | ${r.ref ? '(this is the reference)' : cell(r.refSubject ?? '')} | ${cell(notes(r))} |`,
      );
    }
  }
  return lines.join('\n');
}

/** One line per scenario: rounds, whether the medians settled, the load and the host's processes. */
function conditionsTable(results) {
  const lines = ['| scenario | rounds | medians settled | load before → after | host processes | seconds |', '|---|---:|---|---|---|---:|'];
  for (const s of results) {
    const c = s.conditions;
    if (!c || s.skipped || s.error) continue;
    lines.push(
      `| ${s.title.replace(/^(\d+)\..*/, '$1')} ${s.id} | ${s.rounds ?? '–'} | ${s.settled ? 'yes' : '**no** (round limit)'} | ${c.loadBefore.toFixed(1)} → ${c.loadAfter.toFixed(1)} | ${c.processesBefore} → ${c.processesAfter} | ${c.seconds.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Each target's verdict from its samples (see judge in lib/util.mjs): met or not met only when the
 * 90% interval of the median (or of the ratio of medians) lies wholly on one side of the goal; 'edge'
 * when it straddles it. `also` is a condition that must hold besides (no zombie left, flat RSS).
 */
function decide(t) {
  if (!t.samples) return { ...t, verdict: t.met === true ? 'met' : t.met === false ? 'not met' : 'n/a' };
  const { samples, ref, ...rest } = t;
  const j = judge({ samples, ref, goal: t.goal, higher: t.higher });
  return { ...rest, interval: [j.lo, j.hi], verdict: t.also === false ? 'not met' : j.verdict, met: t.also === false ? false : j.verdict === 'met' };
}

function fmtRange(t) {
  if (!t.interval || !t.interval.every(Number.isFinite)) return '–';
  const [lo, hi] = t.interval;
  const d = Math.abs(hi) < 1 ? 3 : 2;
  return `${lo.toFixed(d)}–${hi.toFixed(d)}`;
}

function targetTable(targets) {
  const lines = ['| target | measured | ratio | 90% interval (vs goal) | verdict |', '|---|---|---:|---|---|'];
  for (const t of targets) {
    const v = t.verdict ?? (t.met === true ? 'met' : t.met === false ? 'not met' : 'n/a');
    const shown = v === 'met' ? 'met' : v === 'not met' ? '**not met**' : v === 'edge' ? '*edge*' : v;
    lines.push(
      `| ${cell(t.name)} | ${cell(t.measured)} | ${Number.isFinite(t.ratio) ? `${t.ratio.toFixed(2)}x` : '–'} | ${fmtRange(t)} (${t.higher ? '>=' : '<='} ${t.goal ?? '–'}) | ${shown} |`,
    );
  }
  return lines.join('\n');
}

function metaLine(r) {
  const m = r.machine;
  return `${r.date.slice(0, 16)}Z · tsinit ${r.commit} · ${m.cpus} CPUs (${m.model ?? '?'}) · node ${m.node} · kernel ${m.kernel} · load ${m.loadavg[0].toFixed(1)} at start${
    r.config.removedEnv?.length ? ` · without ${r.config.removedEnv.join(', ')}` : ''
  }${r.quick ? ' · QUICK' : ''}`;
}

function report(out, suffix) {
  const meta = metaLine(out);
  fs.writeFileSync(path.join(BENCH, `chart${suffix}.svg`), renderChart(out.scenarios, meta));
  process.stdout.write(`\n${meta}\n\n${table(out.scenarios)}\n\n${conditionsTable(out.scenarios)}\n\n${targetTable(out.targets)}\n\n`);
  if (out.missing.length) process.stdout.write(`Missing anchors: ${out.missing.join(', ')}\n`);
  if (!out.logd) process.stdout.write('Built-in writer (tsinit logd / --log-dir): not available\n');
}

async function main() {
  // BENCH_SUFFIX: write results<suffix>.json (to run some scenarios beside a full run's results)
  const suffix = `${quick ? '-quick' : ''}${process.env.BENCH_SUFFIX ?? ''}`;
  if (argv.includes('--render')) {
    // Re-print the tables and redraw the chart from the last results, without measuring.
    report(JSON.parse(fs.readFileSync(path.join(BENCH, `results${suffix}.json`), 'utf8')), suffix);
    return;
  }
  checkTsinit();
  const tmp = scratchDir();
  const have = {};
  for (const b of ['tini', 'dumb-init', 'catatonit', 's6-log', 'perl']) have[b] = which(b) !== null;
  const noPm2 = ensurePm2(log);
  have['pm2-runtime'] = noPm2 === null;
  if (noPm2) log(`pm2-runtime: not available (${noPm2})`);
  const pid1 = canUnshare();
  const logd = probeLogd(tmp);
  const missing = Object.entries(have).filter(([, v]) => !v).map(([k]) => k);
  if (!pid1) missing.push('PID namespace (unshare --pid --fork --mount-proc, as root)');
  const ctx = {
    quick,
    have,
    pid1,
    logd: logd.ok,
    tmp,
    reps: REPS,
    hups: quick ? 10 : 20,
    orphans: Number(process.env.BENCH_ORPHANS ?? (quick ? 1000 : 5000)),
    logMB: Number(process.env.BENCH_LOG_MB ?? (quick ? 256 : 1024)),
  };
  const load0 = os.loadavg()[0];
  log(`tsinit bench${quick ? ' (quick)' : ''}: ${os.cpus().length} CPUs, load ${load0.toFixed(2)}, node ${process.version}, kernel ${os.release()}`);
  log(`anchors: ${Object.entries(have).map(([k, v]) => `${k} ${v ? 'ok' : 'MISSING'}`).join(', ')}; PID 1 rows: ${pid1 ? 'yes' : 'MISSING'}`);
  log(`built-in writer (tsinit logd): ${logd.ok ? 'available' : `not available (${logd.why})`}`);
  if (REMOVED_ENV.length) log(`environment: ${REMOVED_ENV.join(', ')} removed for every subject, as in a container (BENCH_KEEP_ENV=1 keeps them)`);
  if (missing.length) log(`missing: ${missing.join(', ')} -- apt-get install -y tini dumb-init catatonit s6 (see docs/bench.md)`);
  if (load0 > os.cpus().length) log(`warning: load average ${load0.toFixed(1)} > ${os.cpus().length} CPUs: other work is running, numbers will be noisy`);

  const t0 = Date.now();
  const results = [];
  for (const sc of SCENARIOS) {
    if (only && !only.includes(sc.id)) continue;
    const ts = Date.now();
    log(`- ${sc.id} ...`);
    const conditions = { loadBefore: os.loadavg()[0], processesBefore: countProcesses() };
    try {
      const r = await sc.run(ctx);
      r.conditions = { ...conditions, loadAfter: os.loadavg()[0], processesAfter: countProcesses(), seconds: (Date.now() - ts) / 1000 };
      results.push(r);
      const c = r.conditions;
      log(`  ${sc.id}: ${r.skipped ? `skipped (${r.skipped})` : 'done'} in ${c.seconds.toFixed(1)} s (load ${c.loadBefore.toFixed(1)}→${c.loadAfter.toFixed(1)}, ${c.processesBefore}→${c.processesAfter} processes on the host)`);
    } catch (e) {
      log(`  ${sc.id}: FAILED: ${e.stack ?? e}`);
      results.push({ id: sc.id, title: sc.id, error: String(e.message ?? e) });
    }
  }
  for (const r of results) if (r.targets) r.targets = r.targets.map(decide);
  const targets = results.flatMap((r) => r.targets ?? []);
  const load1 = os.loadavg()[0];
  const git = (args) => spawnSync('git', args, { cwd: BENCH, encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const out = {
    date: new Date().toISOString(),
    commit,
    uncommittedSrcFiles: git(['status', '--porcelain', '--', '../src']).split('\n').filter(Boolean).length,
    quick,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release(), node: process.version, loadavg: [load0, load1] },
    config: { reps: REPS, orphans: ctx.orphans, logMB: ctx.logMB, hups: ctx.hups, removedEnv: REMOVED_ENV },
    anchors: have,
    pid1,
    logd: logd.ok,
    missing,
    seconds: (Date.now() - t0) / 1000,
    scenarios: results,
    targets,
  };
  fs.writeFileSync(path.join(BENCH, `results${suffix}.json`), `${JSON.stringify(out, null, 1)}\n`);
  report(out, suffix);
  if (!logd.ok) process.stdout.write(`(tsinit logd: ${logd.why})\n`);
  log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s; wrote bench/results${suffix}.json and bench/chart${suffix}.svg`);
}

process.on('SIGINT', () => {
  killRunning();
  process.exit(130);
});
main().catch((e) => {
  log(e.stack ?? String(e));
  process.exit(1);
});
