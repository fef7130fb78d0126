// Small shared tools for the benchmark: statistics, clocks, /proc readers, spawning, anchors.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const BENCH = path.join(ROOT, 'bench');
export const HELPERS = path.join(BENCH, 'helpers');
export const TSINIT = path.join(ROOT, 'bin', 'tsinit');

// ---- environment -------------------------------------------------------------------------------
// Every subject runs in the caller's environment minus NODE_EXTRA_CA_CERTS and NODE_OPTIONS, as in a
// container: with NODE_EXTRA_CA_CERTS set, Node parses the whole CA bundle at startup (about 40 ms
// and 2 MiB on the development machines, whose shells set it). BENCH_KEEP_ENV=1 keeps them.
export const REMOVED_ENV = process.env.BENCH_KEEP_ENV === '1' ? [] : ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].filter((k) => k in process.env);
export const ENV = { ...process.env };
for (const k of REMOVED_ENV) delete ENV[k];

// ---- clock ---------------------------------------------------------------------------------
// process.hrtime is libuv's uv_hrtime, i.e. CLOCK_MONOTONIC: the same clock the perl helpers read
// with Time::HiRes::clock_gettime(CLOCK_MONOTONIC), so timestamps from both sides can be subtracted.
export const nowNs = () => process.hrtime.bigint();
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sab = new Int32Array(new SharedArrayBuffer(4));
export const sleepSync = (ms) => Atomics.wait(sab, 0, 0, ms);

// ---- statistics ----------------------------------------------------------------------------
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  // nearest-rank on the sorted samples (no interpolation: p99 of 30 samples is the maximum)
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
export const median = (v) => {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export function summary(samples) {
  const xs = samples.filter(Number.isFinite);
  const med = median(xs);
  const q1 = quantile(xs, 0.25);
  const q3 = quantile(xs, 0.75);
  return {
    n: samples.length,
    median: med,
    p95: quantile(xs, 0.95),
    p99: quantile(xs, 0.99),
    min: Math.min(...xs),
    max: Math.max(...xs),
    q1,
    q3,
    // spread: the interquartile range relative to the median (0.10 = the middle half of the samples
    // lies within 10% of the median's size)
    spread: med ? (q3 - q1) / Math.abs(med) : NaN,
    bimodal: bimodal(xs),
  };
}

/**
 * Two clusters rather than one? The sorted samples are split at their widest gap; the split counts
 * when each side holds at least a fifth of the samples (and 3), and the gap is wider than 10% of the
 * median and than three times the larger side's own interquartile range. Returns null, or the two
 * clusters' medians and sizes.
 */
export function bimodal(samples) {
  const s = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  const least = Math.max(3, Math.ceil(n / 5));
  if (n < 2 * least) return null;
  let best = null;
  for (let i = least; i <= n - least; i++) {
    const gap = s[i] - s[i - 1];
    if (!best || gap > best.gap) best = { i, gap };
  }
  const lo = s.slice(0, best.i);
  const hi = s.slice(best.i);
  const iqr = (xs) => quantile(xs, 0.75) - quantile(xs, 0.25);
  const med = median(s);
  if (best.gap <= 0.1 * Math.abs(med) || best.gap <= 3 * Math.max(iqr(lo), iqr(hi))) return null;
  return { low: median(lo), nLow: lo.length, high: median(hi), nHigh: hi.length };
}

/**
 * Runs fn(subject, round) for every subject, round-robin (A B C A B C ...), `warmup` rounds whose
 * results are dropped, then at least `min` and at most `max` rounds: after `min`, it stops as soon as
 * every subject's median has settled (the medians after each of the last `window` rounds all lie
 * within `tol` of the current one, relatively, or within `abs` in the scenario's unit). The starting
 * subject rotates each round so that no subject always runs right after the same neighbour.
 * fn returns a sample, or an object from which each of `values` takes one series to settle. Returns
 * Map subject.name -> array of results, with `.rounds` and `.settled` on the map.
 */
export async function interleave(subjects, { warmup = 0, reps, min, max, tol = 0.03, abs = 0, window = 3, values = [(x) => x] }, fn) {
  min ??= reps;
  max ??= reps ?? min;
  const out = new Map(subjects.map((s) => [s.name, []]));
  const history = new Map(subjects.flatMap((s) => values.map((_, j) => [`${s.name}#${j}`, []])));
  let round = -warmup;
  let settled = false;
  for (; round < max; round++) {
    const k = ((round % subjects.length) + subjects.length) % subjects.length;
    const order = [...subjects.slice(k), ...subjects.slice(0, k)];
    for (const s of order) {
      const r = await fn(s, round);
      if (round >= 0 && r !== undefined) out.get(s.name).push(r);
    }
    if (round < 0) continue;
    for (const s of subjects) {
      values.forEach((value, j) => {
        const vs = out.get(s.name).flatMap((x) => value(x)).filter(Number.isFinite);
        history.get(`${s.name}#${j}`).push(median(vs));
      });
    }
    if (round + 1 >= min) {
      settled = [...history.values()].every((h) => {
        const cur = h[h.length - 1];
        if (!Number.isFinite(cur)) return true; // nothing to settle (an init that never answers)
        const last = h.slice(-window - 1);
        return last.length > window && last.every((m) => Math.abs(m - cur) <= Math.max(tol * Math.abs(cur), abs));
      });
      if (settled) {
        round++;
        break;
      }
    }
  }
  out.rounds = Math.max(0, round);
  out.settled = settled;
  return out;
}

/** The note every row carries: rounds, spread, bimodality. */
export function describeStats(st) {
  const parts = [];
  if (Number.isFinite(st.spread)) parts.push(`IQR ${(st.spread * 100).toFixed(0)}%`);
  if (st.bimodal) parts.push(`**bimodal** ${fmtNum(st.bimodal.low)} (${st.bimodal.nLow}) / ${fmtNum(st.bimodal.high)} (${st.bimodal.nHigh})`);
  return parts.join(', ');
}
const fmtNum = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

// ---- anchors -------------------------------------------------------------------------------
export function which(cmd) {
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : null;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Can we make a PID namespace (root, or user namespaces)? Every PID-1 row depends on it. */
export function canUnshare() {
  if (!which('unshare')) return false;
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '/bin/true'], { stdio: 'ignore', timeout: 5000, env: ENV });
  return r.status === 0;
}
export const PID1 = ['unshare', '--pid', '--fork', '--mount-proc'];

// ---- /proc ---------------------------------------------------------------------------------
export function procStatus(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
}
/** VmRSS and VmHWM of pid in KiB, or null when it is gone. */
export function rssKiB(pid) {
  const s = procStatus(pid);
  if (!s) return null;
  const rss = /VmRSS:\s+(\d+)/.exec(s);
  const hwm = /VmHWM:\s+(\d+)/.exec(s);
  return rss ? { rss: Number(rss[1]), hwm: hwm ? Number(hwm[1]) : NaN } : null;
}
/** Direct children of pid (all threads), from /proc/PID/task/TID/children. */
export function childrenOf(pid) {
  const kids = [];
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return kids;
  }
  for (const tid of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
        if (c.trim()) kids.push(Number(c));
      }
    } catch {
      // thread gone
    }
  }
  return kids;
}
export function comm(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}
export function descendants(pid) {
  const all = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    for (const c of childrenOf(p)) {
      all.push(c);
      todo.push(c);
    }
  }
  return all;
}
/** The host pid of the namespace's PID 1 started by `unshare --fork` (its only child). */
export async function pid1Of(unsharePid, timeoutMs = 5000) {
  const end = nowMs() + timeoutMs;
  while (nowMs() < end) {
    const kids = childrenOf(unsharePid);
    if (kids.length) return kids[0];
    await sleep(1);
  }
  throw new Error(`no child of unshare ${unsharePid}`);
}
/** Numeric entries of the namespace's own /proc (mounted by --mount-proc), seen through PID 1's root. */
export function nsPids(initPid) {
  const out = [];
  for (const e of fs.readdirSync(`/proc/${initPid}/root/proc`)) {
    const c = e.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(e);
  }
  return out;
}
/** Zombies among the namespace's processes. */
export function nsZombies(initPid) {
  let z = 0;
  for (const p of nsPids(initPid)) {
    try {
      const st = fs.readFileSync(`/proc/${initPid}/root/proc/${p}/stat`, 'utf8');
      if (st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z') z++;
    } catch {
      // reaped meanwhile
    }
  }
  return z;
}

// ---- processes -----------------------------------------------------------------------------
/** Every subject started and not yet exited: killed with their trees if the bench is interrupted. */
export const running = new Set();

/** Spawns argv; resolves {code, signal, endNs} at exit. Rejects only if it cannot be spawned. */
export function start(argv, opts = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: ENV, ...opts });
  running.add(child);
  child.done = new Promise((resolve, reject) => {
    child.once('error', (e) => (running.delete(child), reject(e)));
    child.once('exit', (code, signal) => (running.delete(child), resolve({ code, signal, endNs: nowNs() })));
  });
  return child;
}

/** Kills whatever the bench still runs (an interrupted run must not leave a pm2-runtime behind). */
export function killRunning() {
  for (const child of running) {
    for (const p of [...descendants(child.pid).reverse(), child.pid]) killQuietly(p, 'SIGKILL');
  }
}

/** Wall time of one run of argv in ms (fork + exec + wait, measured around spawnSync). */
export function timeOnce(argv, opts = {}) {
  const t0 = nowNs();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 30000, env: ENV, ...opts });
  const ms = Number(nowNs() - t0) / 1e6;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited with ${r.status ?? r.signal}`);
  return ms;
}

export function killQuietly(pid, sig = 'SIGKILL') {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function mkfifo(p) {
  try {
    fs.unlinkSync(p);
  } catch {
    // absent
  }
  execFileSync('mkfifo', [p]);
}

/** Reads a file written by a helper ("name value" lines) into an object of numbers/strings. */
export function readStamps(file) {
  const out = {};
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k) out[k] = /^\d+$/.test(v) ? BigInt(v) : v;
  }
  return out;
}

/** A scratch directory: tmpfs when available (the log scenarios write GiBs), removed at exit. */
export function scratchDir() {
  const base = process.env.BENCH_TMP || (fs.existsSync('/dev/shm') ? '/dev/shm' : '/tmp');
  const dir = fs.mkdtempSync(path.join(base, 'tsinit-bench-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const fmt = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

/**
 * Ends a started run for good: as PID 1, SIGKILL to the namespace's init (the kernel then kills the
 * whole namespace) before its unshare parent; otherwise SIGKILL to the process and its descendants.
 */
export async function stopTree(child, pid1) {
  const victims = pid1 ? childrenOf(child.pid) : [...descendants(child.pid).reverse()];
  for (const p of victims) killQuietly(p, 'SIGKILL');
  killQuietly(child.pid, 'SIGKILL');
  return child.done;
}

// ---- verdicts ------------------------------------------------------------------------------
/**
 * A target's verdict that another run on the same machine would repeat: the median (or the ratio of
 * two medians, with `ref`) is resampled (bootstrap, 1,000 draws, a fixed seed so that the same samples
 * give the same answer) and the verdict is 'met' or 'not met' only when the whole 90% interval lies on
 * one side of the goal; otherwise 'edge'. Returns { value, lo, hi, verdict }.
 */
export function judge({ samples, ref, goal, higher = false, stat = median }) {
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const xs = samples.filter(Number.isFinite);
  const ys = ref ? ref.filter(Number.isFinite) : null;
  const draw = (v) => v.map(() => v[Math.floor(rand() * v.length)]);
  const value = ys ? stat(xs) / stat(ys) : stat(xs);
  if (!xs.length || (ys && !ys.length)) return { value: NaN, lo: NaN, hi: NaN, verdict: 'n/a' };
  const boots = [];
  for (let i = 0; i < 1000; i++) boots.push(ys ? stat(draw(xs)) / stat(draw(ys)) : stat(draw(xs)));
  const lo = quantile(boots, 0.05);
  const hi = quantile(boots, 0.95);
  const good = (v) => (higher ? v >= goal : v <= goal);
  const verdict = good(lo) && good(hi) ? 'met' : !good(lo) && !good(hi) ? 'not met' : 'edge';
  return { value, lo, hi, verdict };
}
