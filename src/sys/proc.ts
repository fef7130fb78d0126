// Reading processes from /proc: who is whose child, in which group, in which state.
// parseStat and descendantsOf are pure; the rest reads files and tolerates processes vanishing.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** clock ticks */
  utime: number;
  stime: number;
  /** clock ticks since boot */
  starttime: number;
  /** pages */
  rss: number;
}

/** Parses /proc/PID/stat. comm may hold spaces and parentheses, so split at the last ')'. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3]
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 1, close),
    state: f[0],
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    starttime: Number(f[19]),
    rss: Number(f[21]),
  };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

export function readStat(pid: number): ProcStat | null {
  const text = readText(`/proc/${pid}/stat`);
  return text === null ? null : parseStat(text);
}

export function readCmdline(pid: number): string {
  const text = readText(`/proc/${pid}/cmdline`);
  if (!text) return '';
  return text.replace(/\0+$/, '').split('\0').join(' ');
}

export function readWchan(pid: number): string {
  const text = readText(`/proc/${pid}/wchan`);
  return text && text !== '0' ? text : '-';
}

/** Every process visible in /proc. */
export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const st = readStat(Number(name));
    if (st) out.push(st);
  }
  return out;
}

/** pids whose parent is `pid`: /proc/PID/task/TID/children where the kernel has it, else a scan. */
export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const tid of tasks) {
    const text = readText(`/proc/${pid}/task/${tid}/children`);
    if (text === null) return listProcesses().filter((p) => p.ppid === pid).map((p) => p.pid);
    for (const s of text.split(' ')) if (s) pids.push(Number(s));
  }
  return pids;
}

/** All descendants of `root` (not root itself), parents before children. */
export function descendantsOf(root: number, procs: ProcStat[]): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const p of procs) {
    const list = byParent.get(p.ppid);
    if (list) list.push(p);
    else byParent.set(p.ppid, [p]);
  }
  const out: ProcStat[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      if (child.pid === root) continue;
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

// ---- more of /proc, for hang reports and daemon adoption ----------------------------------------

/** Parses /proc/PID/status ("Name:\tsh", "VmRSS:\t  1234 kB" ...) into its fields, values trimmed. */
export function parseStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

export function readStatus(pid: number): Record<string, string> | null {
  const text = readText(`/proc/${pid}/status`);
  return text === null ? null : parseStatus(text);
}

/** Seconds since boot, from /proc/uptime: the clock /proc/PID/stat's starttime counts on. */
export function readUptimeSeconds(): number | null {
  const text = readText('/proc/uptime');
  const n = text === null ? NaN : Number(text.split(' ')[0]);
  return Number.isFinite(n) ? n : null;
}

export interface KernelUnits {
  /** USER_HZ: the unit of utime, stime and starttime in /proc/PID/stat */
  ticksPerSecond: number;
  /** the unit of rss in /proc/PID/stat */
  pageSize: number;
}

const AT_PAGESZ = 6;
const AT_CLKTCK = 17;

/** Reads a 64-bit little-endian auxiliary vector (/proc/self/auxv) into its (type, value) pairs. Pure. */
export function parseAuxv(buf: Buffer): Map<number, number> {
  const out = new Map<number, number>();
  for (let off = 0; off + 16 <= buf.length; off += 16) {
    const type = Number(buf.readBigUInt64LE(off));
    if (type === 0) break;
    out.set(type, Number(buf.readBigUInt64LE(off + 8)));
  }
  return out;
}

let units: KernelUnits | null = null;

/**
 * sysconf(_SC_CLK_TCK) and the page size, without libc: the kernel hands both to every process in
 * its auxiliary vector. Falls back to 100 and 4096 (USER_HZ is 100 on every architecture Node runs on).
 */
export function kernelUnits(): KernelUnits {
  if (units) return units;
  let aux = new Map<number, number>();
  try {
    if (process.arch === 'x64' || process.arch === 'arm64') aux = parseAuxv(readFileSync('/proc/self/auxv'));
  } catch {
    // unreadable: defaults
  }
  units = { ticksPerSecond: aux.get(AT_CLKTCK) || 100, pageSize: aux.get(AT_PAGESZ) || 4096 };
  return units;
}

/** The children of `pid` that are still alive (not zombies), with their stat. */
export function liveChildren(pid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const child of childrenOf(pid)) {
    const st = readStat(child);
    if (st && st.ppid === pid && st.state !== 'Z' && st.state !== 'X') out.push(st);
  }
  return out;
}
