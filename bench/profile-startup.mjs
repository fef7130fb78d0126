#!/usr/bin/env node
// node bench/profile-startup.mjs [--runs N]
//
// Where tsinit's startup time and memory go, and what the candidate levers would buy. Prints a
// markdown report and writes bench/profile.json. Needs dist/tsinit.js (node scripts/build.mjs).
//
// Everything runs in a clean environment: NODE_EXTRA_CA_CERTS and NODE_OPTIONS removed (section 1
// shows why: the CA bundle alone costs Node ~40 ms at startup on this machine).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, BENCH, summary, nowNs, canUnshare, PID1, start, sleep, rssKiB, childrenOf } from './lib/util.mjs';

const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
const RUNS = Number(argv[argv.indexOf('--runs') + 1]) || 25;
const DIST = path.join(ROOT, 'dist', 'tsinit.js'); // the loader (src/loader.ts), as bin/tsinit runs it
const BUNDLE = path.join(ROOT, 'dist', 'tsinit-main.js');
const TRACE = path.join(BENCH, 'profile', 'trace.cjs');
const WALK = path.join(BENCH, 'profile', 'children-walk.cjs');
const HRNOW = path.join(BENCH, 'profile', 'hrtime-now.cjs');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tsinit-profile-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
const log = (s) => process.stderr.write(`${s}\n`);
const out = [];
const say = (s = '') => out.push(s);
const json = {};

const CLEAN_ENV = { ...process.env };
delete CLEAN_ENV.NODE_EXTRA_CA_CERTS;
delete CLEAN_ENV.NODE_OPTIONS;

const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : '–');

/** One run: wall ms around spawnSync; with `trace`, the tracer's JSON too. */
function runOnce(v, i) {
  const traceOut = path.join(TMP, `trace-${i}.json`);
  const env = { ...(v.env ?? CLEAN_ENV), ...(v.extraEnv ?? {}) };
  let args = v.argv;
  if (v.trace) {
    env.TRACE_OUT = traceOut;
    // node [flags] -r trace.cjs script...
    const nodeAt = args.indexOf('node');
    args = [...args.slice(0, nodeAt + 1), '-r', TRACE, ...args.slice(nodeAt + 1)];
  }
  fs.rmSync(traceOut, { force: true });
  const t0 = nowNs();
  const r = spawnSync(args[0], args.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
  const wall = Number(nowNs() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr}`);
  let trace = null;
  if (v.trace) {
    try {
      trace = JSON.parse(fs.readFileSync(traceOut, 'utf8'));
    } catch {
      trace = null;
    }
  }
  return { wall, trace };
}

/** Interleaved runs of every variant; returns name -> [{wall, trace}]. */
function compare(variants, runs = RUNS, warmup = 3) {
  const res = new Map(variants.map((v) => [v.name, []]));
  for (let r = -warmup; r < runs; r++) {
    for (const v of r % 2 ? variants : [...variants].reverse()) {
      const x = runOnce(v, r);
      if (r >= 0) res.get(v.name).push(x);
    }
  }
  return res;
}

const cpuMs = (t) => (t ? (t.resourceUsage.userCPUTime + t.resourceUsage.systemCPUTime) / 1000 : NaN);
const med = (xs) => summary(xs.filter(Number.isFinite)).median;

function variantTable(variants, res, floorName) {
  const floor = med(res.get(floorName).map((x) => x.wall));
  const floorCpu = med(res.get(floorName).map((x) => cpuMs(x.trace)));
  say('| variant | wall median ms | wall p95 ms | vs floor | CPU ms (user+sys, in-process) | CPU vs floor |');
  say('|---|---:|---:|---:|---:|---:|');
  const rows = [];
  for (const v of variants) {
    const w = summary(res.get(v.name).map((x) => x.wall));
    const c = med(res.get(v.name).map((x) => cpuMs(x.trace)));
    rows.push({ name: v.name, wall: w, cpu: c });
    say(`| ${v.name} | ${f1(w.median)} | ${f1(w.p95)} | ${f2(w.median / floor)}x | ${f1(c)} | ${Number.isFinite(c) ? `+${f1(c - floorCpu)}` : '–'} |`);
  }
  return rows;
}

/** Runs `code` in a fresh clean node N times; code prints one number (ms). Median. */
function cold(code, runs = 10, cwd = ROOT) {
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['-e', code], { env: CLEAN_ENV, cwd, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cold(${code}): ${r.stderr}`);
    xs.push(Number(r.stdout.trim()));
  }
  return summary(xs);
}

// ---- 1. the environment ------------------------------------------------------------------------
function section1() {
  say('## 1. The environment: NODE_EXTRA_CA_CERTS');
  say();
  if (!process.env.NODE_EXTRA_CA_CERTS) {
    say('NODE_EXTRA_CA_CERTS is not set here; nothing to compare.');
    say();
    return;
  }
  const variants = [
    { name: `node -e 0 (NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS})`, argv: ['node', '-e', '0'], env: process.env, trace: true },
    { name: 'node -e 0 (clean environment)', argv: ['node', '-e', '0'], trace: true },
  ];
  const res = compare(variants, Math.min(RUNS, 15));
  const rows = variantTable(variants, res, variants[1].name);
  json.environment = rows;
  const bt = (n) => med(res.get(n).map((x) => x.trace?.nodeTiming.bootstrapComplete));
  say();
  say(
    `Node reads and parses the whole CA bundle at startup when NODE_EXTRA_CA_CERTS is set: ${f1(rows[0].wall.median - rows[1].wall.median)} ms ` +
      `of wall time (bootstrap complete at ${f1(bt(variants[0].name))} ms vs ${f1(bt(variants[1].name))} ms). This machine sets it for every process; ` +
      "a container usually does not. The benchmark's numbers below and in `npm run bench` are taken without it.",
  );
  say();
}

// ---- 2. startup variants ----------------------------------------------------------------------
function buildSnapshotExperiment() {
  // parseCli + koffi, as a plain bundle and as a V8 startup snapshot (koffi, native, loads after).
  const esbuild = require(path.join(ROOT, 'node_modules', 'esbuild'));
  const cli = path.join(ROOT, 'src', 'cli', 'parse');
  const loadKoffi = `require('node:module').createRequire(${JSON.stringify(DIST)})('koffi');`;
  fs.writeFileSync(
    path.join(TMP, 'plain.ts'),
    `import { parseCli } from ${JSON.stringify(cli)};\nconst r = parseCli(process.argv.slice(2), process.env);\n${loadKoffi}\nprocess.exitCode = r.kind === 'run' ? 0 : 1;\n`,
  );
  fs.writeFileSync(
    path.join(TMP, 'snap.ts'),
    `import { parseCli } from ${JSON.stringify(cli)};\nrequire('node:v8').startupSnapshot.setDeserializeMainFunction(() => {\n` +
      `  const r = parseCli(process.argv.slice(1), process.env);\n  ${loadKoffi}\n  process.exitCode = r.kind === 'run' ? 0 : 1;\n});\n`,
  );
  for (const n of ['plain', 'snap']) {
    esbuild.buildSync({
      entryPoints: [path.join(TMP, `${n}.ts`)], outfile: path.join(TMP, `${n}.js`), bundle: true, platform: 'node',
      target: 'node20', format: 'cjs', external: ['koffi', 'node-pty'], logLevel: 'silent',
    });
  }
  const blob = path.join(TMP, 'snap.blob');
  const r = spawnSync('node', ['--snapshot-blob', blob, '--build-snapshot', path.join(TMP, 'snap.js')], { env: CLEAN_ENV, encoding: 'utf8' });
  if (r.status !== 0) return null;
  return { plain: path.join(TMP, 'plain.js'), blob, blobBytes: fs.statSync(blob).size };
}

function section2() {
  say('## 2. Startup: variants side by side (interleaved, clean environment)');
  say();
  const snap = buildSnapshotExperiment();
  const variants = [
    { name: 'node -e 0 (floor)', argv: ['node', '-e', '0'], trace: true },
    { name: 'tsinit --version (load everything, parse, print)', argv: ['node', DIST, '--version'], trace: true },
    { name: 'tsinit -- /bin/true', argv: ['node', DIST, '--', '/bin/true'], trace: true },
    { name: 'tsinit -- /bin/true, the bundle alone (no code cache)', argv: ['node', BUNDLE, '--', '/bin/true'], trace: true },
    { name: 'tsinit -- /bin/true, descendants by children walk instead of a /proc scan (preload emulation)', argv: ['node', '-r', WALK, DIST, '--', '/bin/true'], trace: true },
    { name: 'tsinit -- /bin/true, performance.now() from process.hrtime (preload emulation)', argv: ['node', '-r', HRNOW, DIST, '--', '/bin/true'], trace: true },
    { name: 'tsinit -- /bin/true, both emulations (children walk + hrtime clock)', argv: ['node', '-r', WALK, '-r', HRNOW, DIST, '--', '/bin/true'], trace: true },
    { name: 'tsinit -- /bin/true, --max-semi-space-size=1', argv: ['node', '--max-semi-space-size=1', DIST, '--', '/bin/true'], trace: true },
    { name: 'tsinit -- /bin/true, --lite-mode', argv: ['node', '--lite-mode', DIST, '--', '/bin/true'], trace: true },
    { name: 'parseCli + require(koffi), plain bundle', argv: ['node', snap?.plain ?? DIST, '--', '/bin/true'], trace: true, skip: !snap },
    { name: `parseCli + require(koffi), startup snapshot (${snap ? (snap.blobBytes / 2 ** 20).toFixed(1) : '?'} MiB blob)`, argv: ['node', '--snapshot-blob', snap?.blob ?? '', '--', '/bin/true'], trace: true, skip: !snap },
  ].filter((v) => !v.skip);
  if (canUnshare()) {
    variants.splice(3, 0, { name: 'tsinit -- /bin/true as PID 1 (unshare, floor not in a namespace)', argv: [...PID1, 'node', DIST, '--', '/bin/true'], trace: true });
  }
  const res = compare(variants);
  json.variants = variantTable(variants, res, variants[0].name);
  say();
  if (!snap) say('(the startup-snapshot experiment could not be built with this node)');
  json.snapshotBlobBytes = snap?.blobBytes;
  return res.get('tsinit -- /bin/true');
}

// ---- 3. where the time goes -------------------------------------------------------------------
function section3(runs) {
  say('## 3. Where tsinit -- /bin/true spends its time (medians of the traced runs above)');
  say();
  const tr = runs.map((x) => x.trace).filter(Boolean);
  const m = (f) => med(tr.map(f));
  // koffi's package, or its native module loaded directly (src/sys/libc.ts), at the top level only
  const koffi = (t) => t.requires.filter((r) => r.depth === 0 && /(^koffi$|koffi\.node$)/.test(r.id)).reduce((a, r) => a + r.ms, 0);
  const phases = {
    'process start -> Node bootstrap complete (Node itself)': m((t) => t.nodeTiming.bootstrapComplete),
    'bootstrap -> bundle starts (preload, main module resolution)': m((t) => t.marks.mainStart - t.nodeTiming.bootstrapComplete),
    "bundle: compile + top level + main() up to its first await (all of it)": m((t) => t.marks.mainTopLevelDone - t.marks.mainStart),
    '  of which require("koffi") (dlopen of koffi.node + its JS)': m(koffi),
    '  of which everything else (bundle compile, commander, parse, libc bindings, spawn)': m((t) => t.marks.mainTopLevelDone - t.marks.mainStart - koffi(t)),
    'first await -> exit (wait for /bin/true, reap, stop tree, exit)': m((t) => t.marks.end - t.marks.mainTopLevelDone),
    'wall time measured outside (includes exec and exit)': med(runs.map((x) => x.wall)),
  };
  say('| phase | ms |');
  say('|---|---:|');
  for (const [k, v] of Object.entries(phases)) say(`| ${k} | ${f1(v)} |`);
  say();
  // fs work
  const keys = new Set(tr.flatMap((t) => Object.keys(t.fsCalls)));
  const fsRows = [...keys]
    .map((k) => ({ k, n: med(tr.map((t) => t.fsCalls[k]?.n ?? 0)), ms: med(tr.map((t) => t.fsCalls[k]?.ms ?? 0)) }))
    .sort((a, b) => b.ms - a.ms);
  say('Synchronous fs calls made by tsinit during the run (median per run):');
  say();
  say('| call | count | ms |');
  say('|---|---:|---:|');
  for (const r of fsRows.slice(0, 12)) say(`| ${r.k} | ${r.n} | ${f2(r.ms)} |`);
  say();
  const reqs = new Map();
  for (const t of tr) for (const r of t.requires) (reqs.get(r.id) ?? reqs.set(r.id, []).get(r.id)).push(r.ms);
  say('Non-builtin requires (inclusive ms, median): ' + [...reqs].map(([id, xs]) => `\`${id}\` ${f2(med(xs))}`).join(', '));
  say();
  json.phases = phases;
  json.fsCalls = fsRows;
}

// ---- 4. cold costs, one fresh process each ----------------------------------------------------
function section4() {
  say('## 4. Cold costs measured alone (a fresh node per sample, in-process timing, median of 10)');
  say();
  const T = (body) => `const t0=performance.now();${body};console.log(performance.now()-t0)`;
  const nProc = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).length;
  const rows = [
    ['require("koffi")', T("require('koffi')")],
    ['require("commander") (it requires node:child_process, which pulls node:net)', T("require('commander')")],
    ['require("node:child_process") alone (not in Node\'s startup snapshot)', T("require('node:child_process')")],
    ['require("debug") (tsinit already loads it only when DEBUG names tsinit)', T("require('debug')")],
    ['compile dist/tsinit-main.js (vm.Script, no cache)', T(`new (require('vm').Script)(require('fs').readFileSync(${JSON.stringify(BUNDLE)},'utf8'))`)],
    [
      `full /proc scan as in src/sys/proc.ts listProcesses() (${nProc} processes visible now)`,
      T("const fs=require('fs');for(const e of fs.readdirSync('/proc')){if(e.charCodeAt(0)>=48&&e.charCodeAt(0)<=57){try{fs.readFileSync('/proc/'+e+'/stat','latin1')}catch{}}}"),
    ],
    [
      'descendants from /proc/self/task/*/children (no scan)',
      T("const fs=require('fs');for(const t of fs.readdirSync('/proc/self/task')){fs.readFileSync('/proc/self/task/'+t+'/children','latin1')}"),
    ],
  ];
  say('| what | median ms | p95 ms |');
  say('|---|---:|---:|');
  json.cold = {};
  for (const [name, code] of rows) {
    const s = cold(code);
    json.cold[name] = s;
    say(`| ${name} | ${f2(s.median)} | ${f2(s.p95)} |`);
  }
  say();
}

// ---- 5. bundle composition --------------------------------------------------------------------
function section5() {
  say('## 5. What is in dist/tsinit.js (bytes per input, esbuild metafile)');
  say();
  const esbuild = require(path.join(ROOT, 'node_modules', 'esbuild'));
  const r = esbuild.buildSync({
    entryPoints: [path.join(ROOT, 'src', 'main.ts')], outfile: path.join(TMP, 'meta.js'), bundle: true, platform: 'node',
    target: 'node20', format: 'cjs', external: ['koffi', 'node-pty'], logLevel: 'silent', metafile: true,
  });
  const inputs = Object.values(r.metafile.outputs)[0].inputs;
  const groups = new Map();
  for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
    const g = file.includes('node_modules/') ? file.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1 (package)') : file.replace(/^src\//, 'src/');
    groups.set(g, (groups.get(g) ?? 0) + bytesInOutput);
  }
  const total = [...groups.values()].reduce((a, b) => a + b, 0);
  say(`Total ${(total / 1024).toFixed(0)} KiB.`);
  say();
  say('| input | KiB | share |');
  say('|---|---:|---:|');
  for (const [g, b] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 14)) say(`| ${g} | ${(b / 1024).toFixed(1)} | ${((100 * b) / total).toFixed(0)}% |`);
  say();
  json.bundle = Object.fromEntries(groups);
}

// ---- 6. memory ----------------------------------------------------------------------------------
/**
 * RSS of a long-running process 0.7 s after start, from /proc (status and smaps). With `trace`, the
 * tracer is preloaded to read V8's heap statistics; it costs memory itself, so the RSS numbers come
 * from the runs without it.
 */
async function rssOf(argv, trace) {
  const traceOut = path.join(TMP, `rss-${Math.random()}.json`);
  const nodeAt = argv.indexOf('node');
  const args = trace ? [...argv.slice(0, nodeAt + 1), '-r', TRACE, ...argv.slice(nodeAt + 1)] : argv;
  const child = start(args, { env: { ...CLEAN_ENV, TRACE_OUT: traceOut, TRACE_AFTER_MS: '300' }, stdio: 'ignore' });
  await sleep(700);
  const pid = child.pid;
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1]) / 1024;
  // RSS by mapping, from smaps
  const maps = new Map();
  let cur = null;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = head[1] || '[anon]';
      cur = cur.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1 (native)');
      continue;
    }
    const m = /^Rss:\s+(\d+)/.exec(line);
    if (m && cur) maps.set(cur, (maps.get(cur) ?? 0) + Number(m[1]) / 1024);
  }
  for (const k of childrenOf(pid)) process.kill(k, 'SIGKILL');
  process.kill(pid, 'SIGKILL');
  await child.done;
  let traced = null;
  try {
    traced = JSON.parse(fs.readFileSync(traceOut, 'utf8'));
  } catch {
    // none
  }
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), maps, trace: traced };
}

async function section6() {
  say('## 6. Memory: idle node vs tsinit -- sleep (clean environment, 0.7 s after start; V8 heap columns from separate traced runs)');
  say();
  const variants = [
    ['idle node', ['node', '-e', 'setInterval(() => {}, 1 << 30)']],
    ['tsinit -- sleep', ['node', DIST, '--', 'sleep', '100']],
    ['tsinit -- sleep, --max-semi-space-size=1', ['node', '--max-semi-space-size=1', DIST, '--', 'sleep', '100']],
    ['tsinit -- sleep, --lite-mode', ['node', '--lite-mode', DIST, '--', 'sleep', '100']],
    ['tsinit -- sleep, --jitless', ['node', '--jitless', DIST, '--', 'sleep', '100']],
    ['tsinit -- sleep, --v8-pool-size=1', ['node', '--v8-pool-size=1', DIST, '--', 'sleep', '100']],
    ['tsinit -- sleep, --max-semi-space-size=1 --lite-mode', ['node', '--max-semi-space-size=1', '--lite-mode', DIST, '--', 'sleep', '100']],
  ];
  const res = new Map(variants.map(([n]) => [n, []]));
  const heap = new Map(variants.map(([n]) => [n, []]));
  for (let r = 0; r < 3; r++) {
    for (const [n, a] of variants) {
      res.get(n).push(await rssOf(a, false));
      heap.get(n).push((await rssOf(a, true)).trace);
    }
  }
  say('| variant | VmRSS MiB | anon MiB | file-backed MiB | V8 heap used MiB | V8 heap committed MiB | external+arraybuffers MiB | vs idle node |');
  say('|---|---:|---:|---:|---:|---:|---:|---:|');
  const base = med(res.get('idle node').map((x) => x.rss));
  json.memory = {};
  for (const [n] of variants) {
    const xs = res.get(n);
    const row = {
      rss: med(xs.map((x) => x.rss)),
      anon: med(xs.map((x) => x.anon)),
      file: med(xs.map((x) => x.file)),
      heapUsed: med(heap.get(n).map((t) => t?.memory.heapUsed / 2 ** 20)),
      heapTotal: med(heap.get(n).map((t) => t?.memory.heapTotal / 2 ** 20)),
      external: med(heap.get(n).map((t) => (t ? (t.memory.external + t.memory.arrayBuffers) / 2 ** 20 : NaN))),
    };
    json.memory[n] = row;
    say(`| ${n} | ${f1(row.rss)} | ${f1(row.anon)} | ${f1(row.file)} | ${f1(row.heapUsed)} | ${f1(row.heapTotal)} | ${f1(row.external)} | ${f2(row.rss / base)}x |`);
  }
  say();
  // mapping-level difference between tsinit and idle node
  const avgMaps = (xs) => {
    const m = new Map();
    for (const x of xs) for (const [k, v] of x.maps) m.set(k, (m.get(k) ?? 0) + v / xs.length);
    return m;
  };
  const a = avgMaps(res.get('idle node'));
  const b = avgMaps(res.get('tsinit -- sleep'));
  const keys = new Set([...a.keys(), ...b.keys()]);
  const diff = [...keys].map((k) => [k, (b.get(k) ?? 0) - (a.get(k) ?? 0), b.get(k) ?? 0]).sort((x, y) => y[1] - x[1]);
  say('Where tsinit\'s extra RSS sits (smaps Rss by mapping, tsinit minus idle node, MiB):');
  say();
  say('| mapping | tsinit MiB | extra MiB |');
  say('|---|---:|---:|');
  for (const [k, d, v] of diff.slice(0, 8)) say(`| ${k} | ${f1(v)} | ${d >= 0 ? '+' : ''}${f1(d)} |`);
  say();
  json.memoryMaps = diff.slice(0, 12);
}

// ---- 7. exit path -------------------------------------------------------------------------------
async function section7() {
  say('## 7. Exit path with a logger: where the milliseconds go (subreaper, 15 runs)');
  say();
  const svc = (st) => ['perl', path.join(BENCH, 'helpers', 'exitsvc.pl'), st, '50'];
  const logger = (st) => `exec perl ${path.join(BENCH, 'helpers', 'eoflogger.pl')} ${st}`;
  const variants = [
    ['tsinit as built', (st) => ['node', DIST, '--logger', logger(st), '--', ...svc(st)]],
    ['tsinit, children walk instead of /proc scan (preload emulation)', (st) => ['node', '-r', WALK, DIST, '--logger', logger(st), '--', ...svc(st)]],
    ['tsinit, children walk + hrtime clock (preload emulations)', (st) => ['node', '-r', WALK, '-r', HRNOW, DIST, '--logger', logger(st), '--', ...svc(st)]],
    [
      "floor: a bare node calling process.exit() (stamps 'eof' just before)",
      (st) => ['node', '-e', `const t=process.hrtime.bigint();require('fs').writeFileSync(${JSON.stringify(st)},'exit '+t+'\\neof '+process.hrtime.bigint()+'\\n');process.exit(0)`],
    ],
    [
      "floor: a bare node calling libc _exit() through koffi (no Node teardown)",
      (st) => [
        'node', '-e',
        `const k=require('node:module').createRequire(${JSON.stringify(DIST)})('koffi');const ex=k.load('libc.so.6').func('void _exit(int)');` +
          `const t=process.hrtime.bigint();require('fs').writeFileSync(${JSON.stringify(st)},'exit '+t+'\\neof '+process.hrtime.bigint()+'\\n');ex(0)`,
      ],
    ],
  ];
  const res = new Map(variants.map(([n]) => [n, []]));
  for (let r = -2; r < 15; r++) {
    for (const [n, mk] of variants) {
      const st = path.join(TMP, 'exit-stamps');
      fs.rmSync(st, { force: true });
      const child = start(mk(st), { env: CLEAN_ENV, stdio: 'ignore' });
      const done = await child.done;
      const txt = fs.readFileSync(st, 'utf8');
      const exit = BigInt(/exit (\d+)/.exec(txt)[1]);
      const eof = BigInt(/eof (\d+)/.exec(txt)[1]);
      if (r >= 0) res.get(n).push({ eof: Number(eof - exit) / 1e6, out: Number(done.endNs - eof) / 1e6 });
    }
  }
  say('| variant | service exit -> logger EOF ms | logger exit -> tsinit exit ms (median / p95) |');
  say('|---|---:|---:|');
  json.exitPath = {};
  for (const [n] of variants) {
    const xs = res.get(n);
    const a = summary(xs.map((x) => x.eof));
    const b = summary(xs.map((x) => x.out));
    json.exitPath[n] = { eof: a, out: b };
    say(`| ${n} | ${f2(a.median)} | ${f2(b.median)} / ${f2(b.p95)} |`);
  }
  say();
}

// ---- 8. SIGTERM -> service handler ---------------------------------------------------------------
async function section8() {
  say('## 8. SIGTERM to tsinit -> the service\'s handler runs (subreaper, 20 runs, one SIGTERM each after 50 ms idle)');
  say();
  const svc = ['perl', path.join(BENCH, 'helpers', 'sigservice.pl')];
  const variants = [
    ['tsinit as built', ['node', DIST, '--', ...svc]],
    ['performance.now() from process.hrtime (preload emulation)', ['node', '-r', HRNOW, DIST, '--', ...svc]],
    ['performance touched at startup (cost moved to startup)', ['node', '-e', 'performance.now(); require(process.argv[1])', DIST, '--', ...svc]],
  ];
  const res = new Map(variants.map(([n]) => [n, []]));
  for (let r = -2; r < 20; r++) {
    for (const [n, a] of variants) {
      const c = start(a, { env: CLEAN_ENV, stdio: ['ignore', 'pipe', 'ignore'] });
      let buf = '';
      const lines = [];
      let wake = null;
      c.stdout.on('data', (d) => {
        buf += d;
        let k;
        while ((k = buf.indexOf('\n')) >= 0) {
          lines.push(buf.slice(0, k));
          buf = buf.slice(k + 1);
          wake?.();
        }
      });
      const next = async () => {
        while (!lines.length) await new Promise((res2) => (wake = res2));
        return lines.shift();
      };
      await next();
      await sleep(50);
      const t0 = nowNs();
      process.kill(c.pid, 'SIGTERM');
      const l = await next();
      if (r >= 0) res.get(n).push(Number(BigInt(l.slice(2)) - t0) / 1e6);
      await c.done;
    }
  }
  say('| variant | median ms | p95 ms | max ms |');
  say('|---|---:|---:|---:|');
  json.sigterm = {};
  for (const [n] of variants) {
    const s2 = summary(res.get(n));
    json.sigterm[n] = s2;
    say(`| ${n} | ${f2(s2.median)} | ${f2(s2.p95)} | ${f2(s2.max)} |`);
  }
  say();
}

// ---- 9. host processes ------------------------------------------------------------------------
async function section9() {
  const extra = 1000;
  say(`## 9. Startup with ${extra} more processes on the host (a subreaper scans them all at exit)`);
  say();
  const count = () => fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).length;
  const variants = [
    { name: 'node -e 0', argv: ['node', '-e', '0'] },
    { name: 'tsinit -- /bin/true (subreaper)', argv: ['node', DIST, '--', '/bin/true'] },
  ];
  if (canUnshare()) variants.push({ name: 'tsinit -- /bin/true (PID 1)', argv: [...PID1, 'node', DIST, '--', '/bin/true'] });
  const measure = () => {
    const res = compare(variants, 12, 2);
    return Object.fromEntries(variants.map((v) => [v.name, med(res.get(v.name).map((x) => x.wall))]));
  };
  const before = { n: count(), ms: measure() };
  // sleepers in their own process group, killed as a group whatever happens
  const { spawn } = await import('node:child_process');
  const g = spawn('sh', ['-c', `i=0; while [ $i -lt ${extra} ]; do sleep 300 & i=$((i+1)); done; wait`], { detached: true, stdio: 'ignore' });
  let after;
  try {
    const end = Date.now() + 60000;
    while (count() < before.n + extra && Date.now() < end) await sleep(100);
    after = { n: count(), ms: measure() };
  } finally {
    process.kill(-g.pid, 'SIGKILL');
  }
  say(`| variant | wall median ms, ${before.n} processes | wall median ms, ${after.n} processes |`);
  say('|---|---:|---:|');
  for (const v of variants) say(`| ${v.name} | ${f1(before.ms[v.name])} | ${f1(after.ms[v.name])} |`);
  say();
  json.hostProcesses = { before, after };
}

async function main() {
  if (!fs.existsSync(DIST)) {
    log('dist/tsinit.js missing: run node scripts/build.mjs first');
    process.exit(1);
  }
  say(`# tsinit startup profile (${new Date().toISOString().slice(0, 16)}Z, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}, ${RUNS} runs per variant)`);
  say();
  log('1/9 environment');
  section1();
  log('2/9 startup variants');
  const runs = section2();
  log('3/9 phases');
  section3(runs);
  log('4/9 cold costs');
  section4();
  log('5/9 bundle');
  section5();
  log('6/9 memory');
  await section6();
  log('7/9 exit path');
  await section7();
  log('8/9 SIGTERM');
  await section8();
  log('9/9 host processes');
  await section9();
  process.stdout.write(`${out.join('\n')}\n`);
  fs.writeFileSync(path.join(BENCH, 'profile.json'), `${JSON.stringify(json, null, 1)}\n`);
  log('wrote bench/profile.json');
}

main().catch((e) => {
  log(e.stack ?? String(e));
  process.exit(1);
});
