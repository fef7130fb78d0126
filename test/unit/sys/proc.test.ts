// Reading /proc: the pure parsers on texts as the kernel writes them (a comm with spaces and
// parentheses included), the tree walk, and tsinit's own entries read for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { descendantsOf, kernelUnits, parseAuxv, parseStat, parseStatus, ProcStat, readStat } from '../../../src/sys/proc';

/** A /proc/PID/stat line: fields 3 (state) to 24 (rss), the rest zero. */
function statLine(pid: number, comm: string, o: { state?: string; ppid?: number; pgrp?: number; utime?: number; starttime?: number; rss?: number } = {}) {
  const f = Array<string | number>(50).fill(0);
  f[0] = o.state ?? 'S';
  f[1] = o.ppid ?? 1;
  f[2] = o.pgrp ?? pid;
  f[3] = pid;
  f[11] = o.utime ?? 7;
  f[12] = 3;
  f[19] = o.starttime ?? 12345;
  f[21] = o.rss ?? 99;
  return `${pid} (${comm}) ${f.join(' ')}\n`;
}

test('parseStat: the fields after comm, by position', () => {
  assert.deepEqual(parseStat(statLine(42, 'sleep', { state: 'T', ppid: 7, pgrp: 40, utime: 11, starttime: 555, rss: 1234 })), {
    pid: 42, comm: 'sleep', state: 'T', ppid: 7, pgrp: 40, session: 42, utime: 11, stime: 3, starttime: 555, rss: 1234,
  });
});

test('parseStat: a comm with spaces and parentheses (a process can name itself anything) is split at the last )', () => {
  const p = parseStat(statLine(9, 'a) (b c) Z 1', { state: 'R', ppid: 3 }))!;
  assert.equal(p.comm, 'a) (b c) Z 1');
  assert.equal(p.state, 'R');
  assert.equal(p.ppid, 3);
});

test('parseStat: text that is not a stat line gives null', () => {
  assert.equal(parseStat(''), null);
  assert.equal(parseStat('42 sleep S 1'), null);
  assert.equal(parseStat('42 )sleep( S'), null);
});

test('descendantsOf: every descendant, parents before children, never the root itself nor strangers', () => {
  const p = (pid: number, ppid: number) => parseStat(statLine(pid, `p${pid}`, { ppid }))!;
  const procs: ProcStat[] = [p(1, 0), p(10, 1), p(12, 11), p(11, 10), p(20, 1), p(13, 10), p(30, 99)];
  assert.deepEqual(descendantsOf(10, procs).map((x) => x.pid), [11, 13, 12]);
  assert.deepEqual(descendantsOf(1, procs).map((x) => x.pid), [10, 20, 11, 13, 12]);
  assert.deepEqual(descendantsOf(12, procs), []);
  // A process listed as its own parent's parent (a pid reused while /proc was read) ends the walk.
  assert.deepEqual(descendantsOf(5, [p(6, 5), p(5, 6)]).map((x) => x.pid), [6]);
});

test('parseStatus: fields by name, values trimmed', () => {
  const st = parseStatus('Name:\tsleep\nState:\tS (sleeping)\nVmRSS:\t    1234 kB\nThreads:\t1\n');
  assert.equal(st.Name, 'sleep');
  assert.equal(st.State, 'S (sleeping)');
  assert.equal(st.VmRSS, '1234 kB');
  assert.equal(st.Threads, '1');
});

test('parseAuxv: (type, value) pairs up to AT_NULL; kernelUnits from tsinit\'s own auxv', () => {
  const aux = Buffer.alloc(16 * 3);
  aux.writeBigUInt64LE(17n, 0);
  aux.writeBigUInt64LE(100n, 8);
  aux.writeBigUInt64LE(6n, 16);
  aux.writeBigUInt64LE(4096n, 24);
  assert.deepEqual([...parseAuxv(aux)], [[17, 100], [6, 4096]]);
  const units = kernelUnits();
  assert.ok(units.ticksPerSecond > 0 && units.pageSize >= 4096);
});

test('readStat: this process, read for real; a pid that does not exist gives null', () => {
  const me = readStat(process.pid)!;
  assert.equal(me.pid, process.pid);
  assert.equal(me.ppid, process.ppid);
  assert.equal(me.state, 'R');
  assert.equal(readStat(2 ** 22 + 1), null);
});
