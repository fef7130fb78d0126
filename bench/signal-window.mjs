// How long a signal sent to tsinit during its start can be lost: the time from exec until tsinit
// listens to signals (its SIGHUP handler, which Node itself never installs, shows in
// /proc/PID/status SigCgt), polled from here as fast as possible. Also the whole `tsinit -- true`.
// Usage: node bench/signal-window.mjs [bin/tsinit] [other/bin/tsinit ...] (runs interleaved).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const bins = process.argv.slice(2);
if (bins.length === 0) bins.push(new URL('../bin/tsinit', import.meta.url).pathname);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS; // costs Node ~40 ms at start; containers do not set it

function listens(pid) {
  try {
    const m = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
  } catch {
    return null;
  }
}

async function window(bin) {
  const t0 = process.hrtime.bigint();
  const p = spawn(bin, ['--', 'sleep', '5'], { stdio: 'ignore', env });
  let ms = null;
  for (;;) {
    const l = listens(p.pid);
    if (l === null) break;
    if (l) {
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
      break;
    }
  }
  p.kill('SIGKILL');
  await new Promise((r) => p.on('exit', r));
  return ms;
}

function whole(bin) {
  const t0 = process.hrtime.bigint();
  spawnSync(bin, ['--', 'true'], { stdio: 'ignore', env });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const res = new Map(bins.map((b) => [b, { window: [], whole: [] }]));
for (let i = 0; i < ROUNDS; i++) {
  for (const b of bins) {
    res.get(b).window.push(await window(b));
    res.get(b).whole.push(whole(b));
  }
}
const q = (a, f) => a.filter((x) => x !== null).sort((x, y) => x - y)[Math.floor(f * (a.length - 1))].toFixed(1);
for (const [b, r] of res) {
  console.log(`${b}: until it listens p10 ${q(r.window, 0.1)} median ${q(r.window, 0.5)} p90 ${q(r.window, 0.9)} ms; ` +
    `tsinit -- true p10 ${q(r.whole, 0.1)} median ${q(r.whole, 0.5)} ms (${ROUNDS} rounds, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`);
}
