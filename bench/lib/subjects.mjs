// The inits under test and how each one is asked to run a command, as PID 1 and as a plain child.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TSINIT, PID1, BENCH, ENV } from './util.mjs';

// pm2-runtime, the Node world's container entrypoint, from the npm package pm2. It is not one of
// tsinit's dependencies: the bench installs it on first use into its own cache directory
// (bench/.cache, ignored by git; BENCH_CACHE moves it, BENCH_NO_PM2=1 leaves pm2 out).
export const PM2_VERSION = '7.0.4';
const CACHE = process.env.BENCH_CACHE || path.join(BENCH, '.cache');
export const PM2_DIR = path.join(CACHE, `pm2-${PM2_VERSION}`);
export const PM2_RUNTIME = path.join(PM2_DIR, 'node_modules', '.bin', 'pm2-runtime');
/** pm2 keeps its state in PM2_HOME (~/.pm2 by default); the bench gives it a directory of its own. */
export const PM2_HOME = path.join(CACHE, 'pm2-home');

/** Installs pm2 into the bench's cache when it is not there yet; returns why not, or null. */
export function ensurePm2(log) {
  if (process.env.BENCH_NO_PM2 === '1') return 'BENCH_NO_PM2=1';
  if (fs.existsSync(PM2_RUNTIME)) return null;
  fs.mkdirSync(PM2_DIR, { recursive: true });
  log(`installing pm2@${PM2_VERSION} into ${PM2_DIR} (first use; not a dependency of tsinit)`);
  const r = spawnSync('npm', ['install', '--prefix', PM2_DIR, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `pm2@${PM2_VERSION}`], {
    stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: ENV, timeout: 300_000,
  });
  if (r.status !== 0 || !fs.existsSync(PM2_RUNTIME)) return `npm install pm2 failed: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  return null;
}

/**
 * name -> argv prefix builder. `pid1` is true when the init runs as PID 1 of a fresh namespace
 * (the caller adds `unshare --pid --fork --mount-proc`). Outside PID 1 each init is asked to be a
 * child subreaper when it can be, as tsinit is by default. pm2-runtime takes the command as a script
 * run without an interpreter (`--interpreter none`), its arguments after `--`, and never restarts it
 * here (`--no-autorestart`); it does not exit when the command does (it retries for about 6 s), so
 * the scenarios that wait for the init's exit measure it differently or leave it out.
 */
export const INITS = {
  tsinit: { bin: TSINIT, argv: () => [TSINIT, '--'] },
  tini: { bin: 'tini', argv: (pid1) => (pid1 ? ['tini', '--'] : ['tini', '-s', '--']) },
  'dumb-init': { bin: 'dumb-init', argv: () => ['dumb-init', '--'] },
  catatonit: { bin: 'catatonit', argv: () => ['catatonit', '--'] },
  'pm2-runtime': {
    bin: PM2_RUNTIME,
    node: true,
    wrap: (cmd) => [PM2_RUNTIME, 'start', cmd[0], '--interpreter', 'none', '--no-autorestart', ...(cmd.length > 1 ? ['--', ...cmd.slice(1)] : [])],
  },
};

/** The environment a subject runs in: pm2 gets its own PM2_HOME. */
export const envFor = (name) => (name === 'pm2-runtime' ? { ...ENV, PM2_HOME } : ENV);

/**
 * The subjects (inits) available in ctx, tsinit first; missing anchors are left out, and so is
 * pm2-runtime unless `pm2` is true. Each has `cmd(argv)`: the full argv that runs `argv` under it.
 */
export function inits(ctx, pid1, { pm2 = false } = {}) {
  const out = [];
  for (const [name, def] of Object.entries(INITS)) {
    if (name !== 'tsinit' && !ctx.have[name]) continue;
    if (name === 'pm2-runtime' && !pm2) continue;
    const pre = pid1 ? PID1 : [];
    const cmd = def.wrap ? (argv) => [...pre, ...def.wrap(argv)] : (argv) => [...pre, ...def.argv(pid1), ...argv];
    out.push({ name, init: name, pid1, cmd, env: envFor(name), prefix: def.wrap ? null : [...pre, ...def.argv(pid1)] });
  }
  return out;
}
