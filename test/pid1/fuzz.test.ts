// A bounded fuzz of the command line and the environment twins, with a fixed seed: a few hundred runs
// of the real bin/tsinit (not PID 1: a plain child) with random options and values. Every run must
// end by itself (a hang fails the test by its timeout), with a documented exit status, and say what is
// wrong in lines that start with "tsinit:", never with a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cleanEnv, tempDir, TSINIT } from '../helpers/harness';
import { envName, OPTION_SPECS } from '../../src/cli/options';

const CASES = 300;
const PARALLEL = 4;

/** mulberry32: a small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// Options whose valid values legitimately make a run long or interactive are left out: the fuzz is
// about parsing and refusing, and every run it makes must end by itself.
const SKIP = new Set(['restart', 'restartLimit', 'daemon', 'pty', 'logger', 'pdeathsig', 'keepOrphans']);
const VALUES = [
  '', ' ', '0', '1', '-1', '10ms', '1s', '2h', '1e9', '0x10', '2000000g', '4k', '1M', '99999999999999999999',
  'x', '-', '--', '-x', '--help', 'fd:x', 'fd:', 'fd:999', 'fd:2', 'TERM', 'KILL', 'SIGUSR1', 'TERM:QUIT', 'USR1:none',
  ':', '5/10s', '0/0s', '3/', 'nobody', 'nobody:nogroup', '0:0', 'root', 'a:b:c', 'no', 'always', 'merged', 'separate',
  'http://127.0.0.1:1/', 'https://[::1]:0/x', 'ftp://x', 'a', 'log', 'events.jsonl', '/nonexistent/dir/x', '/proc/tsinit-fuzz/x',
  'é', '\u0000'.slice(1), 'x'.repeat(5000), '%s%n', '$(touch pwned)', 'off', 'true', 'on',
];

interface Case {
  args: string[];
  env: Record<string, string>;
}

function makeCase(rnd: () => number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const specs = OPTION_SPECS.filter((s) => !SKIP.has(s.key));
  const args: string[] = [];
  for (let i = Math.floor(rnd() * 4); i >= 0; i--) {
    const spec = pick(specs);
    const long = /--[a-z0-9-]+/.exec(spec.flags)![0];
    if (spec.kind === 'flag' && !/[<[]/.test(spec.flags)) args.push(long);
    else if (rnd() < 0.5) args.push(long, pick(VALUES));
    else args.push(`${long}=${pick(VALUES)}`);
  }
  if (rnd() < 0.1) args.push(pick(['--unknown-option', '-Z', '--verbose=1', '--no-such']));
  const env: Record<string, string> = {};
  for (let i = Math.floor(rnd() * 3); i > 0; i--) env[envName(pick(specs))] = pick(VALUES);
  if (rnd() < 0.05) env.TSINIT_NOT_AN_OPTION = '1';
  const command = rnd() < 0.1 ? [] : ['--', 'true'];
  return { args: [...args, ...command], env };
}

function runCase(c: Case, cwd: string): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(TSINIT, c.args, { cwd, env: cleanEnv(c.env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test(`fuzz: ${CASES} random command lines and environment twins (seed 1313): no stack trace, no hang, documented exit codes`, async () => {
  const rnd = random(1313);
  const cases = Array.from({ length: CASES }, () => makeCase(rnd));
  const cwd = tempDir();
  const codes = new Map<number, number>();
  let next = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i];
      const r = await runCase(c, join(cwd));
      codes.set(r.code ?? -1, (codes.get(r.code ?? -1) ?? 0) + 1);
      const what = `case ${i}: tsinit ${JSON.stringify(c.args)} env ${JSON.stringify(c.env)} -> ${r.code ?? r.signal}\n${r.stderr.slice(0, 2000)}`;
      if (/\n\s+at |node:internal|^\S*Error: |Node\.js v\d/m.test(r.stderr)) failures.push(`stack trace: ${what}`);
      else if (r.code === null || ![0, 1, 124, 125, 126, 127].includes(r.code)) failures.push(`exit status: ${what}`);
      else if (r.stderr.split('\n').some((l) => l !== '' && !l.startsWith('tsinit: ') && !l.startsWith('tsinit:'))) {
        failures.push(`a line not from tsinit: ${what}`);
      } else if (r.code === 125 && r.stderr.trim() === '') failures.push(`125 without a line: ${what}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  process.stdout.write(`# fuzz: ${CASES} cases, exit codes ${JSON.stringify(Object.fromEntries(codes))}, ${failures.length} failures\n`);
  assert.deepEqual(failures, []);
});
