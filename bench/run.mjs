#!/usr/bin/env node
// npm run bench [-- --quick] [-- --only startup,rss,reap,signals,logpipe,exitpath]
//
// Runs every scenario for tsinit and each anchor installed (tini, dumb-init, catatonit, s6-log),
// interleaved, and prints a markdown table; writes bench/results.json and bench/chart.svg
// (bench/results-quick.json and bench/chart-quick.svg with --quick). See docs/bench.md.
//
// Environment: BENCH_LOG_MB (log scenario size, default 1024; 256 with --quick), BENCH_ORPHANS
// (default 5000; 1000 with --quick), BENCH_TMP (scratch directory, default /dev/shm).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BENCH, TSINIT, ENV, REMOVED_ENV, which, canUnshare, scratchDir, fmt } from './lib/util.mjs';
import { renderChart } from './lib/chart.mjs';
import * as startup from './scenarios/startup.mjs';
import * as rss from './scenarios/rss.mjs';
import * as reap from './scenarios/reap.mjs';
import * as signals from './scenarios/signals.mjs';
import * as logpipe from './scenarios/logpipe.mjs';
import * as exitpath from './scenarios/exitpath.mjs';

const SCENARIOS = [startup, rss, reap, signals, logpipe, exitpath];

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyArg = argv.find((a) => a.startsWith('--only'));
const only = onlyArg ? (onlyArg.includes('=') ? onlyArg.split('=')[1] : argv[argv.indexOf(onlyArg) + 1]).split(',') : null;
const log = (s) => process.stderr.write(`${s}\n`);

const REPS = quick
  ? {
      startup: { warmup: 1, reps: 8 },
      rss: { warmup: 0, reps: 2 },
      reap: { warmup: 0, reps: 2 },
      signals: { warmup: 1, reps: 5 },
      logpipe: { warmup: 0, reps: 2 },
      exitpath: { warmup: 1, reps: 6 },
    }
  : {
      startup: { warmup: 3, reps: 30 },
      rss: { warmup: 1, reps: 5 },
      reap: { warmup: 1, reps: 3 },
      signals: { warmup: 2, reps: 20 },
      logpipe: { warmup: 1, reps: 3 },
      exitpath: { warmup: 2, reps: 15 },
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
    '| scenario | subject | median | p95 | p99 | ratio | reference | notes |',
    '|---|---|---:|---:|---:|---:|---|---|',
  ];
  for (const s of results) {
    if (s.skipped || s.error) {
      lines.push(`| ${s.title} | – | – | – | – | – | – | ${s.skipped ? `skipped: ${s.skipped}` : `failed: ${s.error.split('\n')[0]}`} |`);
      continue;
    }
    for (const r of s.rows) {
      const subj = r.init === 'tsinit' ? `**${cell(r.subject)}**` : cell(r.subject);
      lines.push(
        `| ${s.title.replace(/^(\d+)\..*/, '$1')} ${s.id} (${s.unit}) | ${subj} | ${fmtStat(r.stats.median, s.unit)} | ${fmtStat(r.stats.p95, s.unit)} | ${fmtStat(r.stats.p99, s.unit)} | ${
          Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : '–'
        } | ${r.ref ? '(this is the reference)' : cell(r.refSubject ?? '')} | ${cell(notes(r))} |`,
      );
    }
  }
  return lines.join('\n');
}

function targetTable(targets) {
  const lines = ['| target | measured | ratio | met |', '|---|---|---:|---|'];
  for (const t of targets) {
    const met = t.met === null || t.met === undefined ? 'n/a' : t.met ? 'met' : '**not met**';
    lines.push(`| ${cell(t.name)} | ${cell(t.measured)} | ${Number.isFinite(t.ratio) ? `${t.ratio.toFixed(2)}x` : '–'} | ${met} |`);
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
  process.stdout.write(`\n${meta}\n\n${table(out.scenarios)}\n\n${targetTable(out.targets)}\n\n`);
  if (out.missing.length) process.stdout.write(`Missing anchors: ${out.missing.join(', ')}\n`);
  if (!out.logd) process.stdout.write('Built-in writer (tsinit logd / --log-dir): not available\n');
}

async function main() {
  const suffix = quick ? '-quick' : '';
  if (argv.includes('--render')) {
    // Re-print the tables and redraw the chart from the last results, without measuring.
    report(JSON.parse(fs.readFileSync(path.join(BENCH, `results${suffix}.json`), 'utf8')), suffix);
    return;
  }
  checkTsinit();
  const tmp = scratchDir();
  const have = {};
  for (const b of ['tini', 'dumb-init', 'catatonit', 's6-log', 'perl']) have[b] = which(b) !== null;
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

process.on('SIGINT', () => process.exit(130));
main().catch((e) => {
  log(e.stack ?? String(e));
  process.exit(1);
});
