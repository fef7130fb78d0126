// The hang report: what a process tree is doing, read from /proc, for the watchdog (before it kills
// a silent service) and for --timeout (before it stops a CI job). It answers "hung where?": the
// state of each process (a SIGSTOPped one shows T stopped, one stuck on a dead disk D, one spinning R
// with CPU), where in the kernel it waits (wchan), how much CPU it used overall and since a previous
// snapshot (the last heartbeat), its memory and its command line, as an indented tree like `ps f`.
//
// takeSnapshot reads /proc (and tolerates processes vanishing meanwhile); formatReport is pure and
// turns snapshot data into lines.
import { now } from './clock';
import { formatElapsed, formatKb, formatSeconds } from './values';
import { descendantsOf, kernelUnits, listProcesses, readCmdline, readStat, readUptimeSeconds, readWchan } from './sys/proc';
import { readdirSync } from 'node:fs';

export interface ProcSample {
  pid: number;
  ppid: number;
  /** one letter from /proc/PID/stat: R S D T t Z X I ... */
  state: string;
  comm: string;
  /** '' for zombies and kernel threads */
  cmdline: string;
  /** kernel function it waits in, '-' if none or hidden */
  wchan: string;
  /** clock ticks since boot */
  startTicks: number;
  utimeTicks: number;
  stimeTicks: number;
  rssKb: number;
  /** threads and how many of them run (R) or wait on a disk (D): a process is more than its main thread */
  threads: { total: number; running: number; diskWait: number };
}

export interface TreeSnapshot {
  root: number;
  /** now() when it was taken: the "since" of a later report */
  takenAt: number;
  /** kernel uptime (seconds) when it was taken: elapsed = uptime - start */
  uptimeSec: number;
  ticksPerSecond: number;
  /** the root first, then descendants, parents before children */
  procs: ProcSample[];
}

const STATE_WORDS: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'disk wait',
  T: 'stopped',
  t: 'traced',
  Z: 'zombie',
  X: 'dead',
  I: 'idle',
  P: 'parked',
  W: 'paging',
  K: 'wakekill',
};

/** "S" -> "sleeping"; "D" -> "disk wait" (uninterruptible: a hung NFS or disk, not even SIGKILL helps). */
export function stateWord(state: string): string {
  return STATE_WORDS[state] ?? 'unknown';
}

// ---- taking a snapshot (reads /proc) -------------------------------------------------------------

function threadStates(pid: number): ProcSample['threads'] {
  const t = { total: 0, running: 0, diskWait: 0 };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { total: 1, running: 0, diskWait: 0 };
  }
  for (const tid of tids) {
    const st = readStat(Number(tid)); // /proc/TID/stat works for any thread id
    if (!st) continue;
    t.total++;
    if (st.state === 'R') t.running++;
    if (st.state === 'D') t.diskWait++;
  }
  return t;
}

export interface SnapshotOptions {
  /** subtrees to leave out (the logger, when the root is tsinit itself) */
  spare?: ReadonlySet<number>;
  /** now() by default */
  now?: number;
  /**
   * only what a later report's "since" needs (pids, start times, CPU): no command lines, wchan or
   * threads. Cheap enough to take at every heartbeat, as the baseline of the next report.
   */
  light?: boolean;
}

/** The tree under `root` (root included) as it is now. Processes that vanish meanwhile are left out. */
export function takeSnapshot(root: number, opts: SnapshotOptions = {}): TreeSnapshot {
  const { ticksPerSecond, pageSize } = kernelUnits();
  const all = listProcesses();
  const rootStat = all.find((p) => p.pid === root);
  const spared = new Set<number>();
  const stats = [...(rootStat ? [rootStat] : []), ...descendantsOf(root, all)].filter((p) => {
    if (opts.spare?.has(p.pid) || spared.has(p.ppid)) {
      spared.add(p.pid);
      return false;
    }
    return true;
  });
  const light = opts.light === true;
  const procs: ProcSample[] = stats.map((p) => ({
    pid: p.pid,
    ppid: p.ppid,
    state: p.state,
    comm: p.comm,
    cmdline: light ? '' : readCmdline(p.pid),
    wchan: light ? '-' : readWchan(p.pid),
    startTicks: p.starttime,
    utimeTicks: p.utime,
    stimeTicks: p.stime,
    rssKb: Math.round((p.rss * pageSize) / 1024),
    threads: light ? { total: 1, running: 0, diskWait: 0 } : threadStates(p.pid),
  }));
  return {
    root,
    takenAt: opts.now ?? now(),
    uptimeSec: readUptimeSeconds() ?? 0,
    ticksPerSecond,
    procs,
  };
}

// ---- formatting (pure) ---------------------------------------------------------------------------

export interface ReportOptions {
  /** the first line; default "process tree of pid N (K processes)" */
  title?: string;
  /** an earlier snapshot: adds CPU used since then, per process and overall */
  since?: TreeSnapshot;
  /** what `since` was, for the header: default "the last heartbeat" */
  sinceLabel?: string;
  /** processes listed (default 50); the rest is counted in one line and in the CPU sums */
  maxProcesses?: number;
  /** indentation and command line are cut at this length (default 160) */
  maxCommandChars?: number;
}

function cpu(ticks: number, hz: number): string {
  const sec = ticks / hz;
  return sec < 100 ? `${sec.toFixed(2)}s` : formatElapsed(sec);
}

function depthsOf(snap: TreeSnapshot): Map<number, number> {
  const depth = new Map<number, number>();
  for (const p of snap.procs) depth.set(p.pid, p.pid === snap.root ? 0 : (depth.get(p.ppid) ?? 0) + 1);
  return depth;
}

/** Orders the processes as a tree, depth first, children by pid. */
function treeOrder(snap: TreeSnapshot): ProcSample[] {
  const byParent = new Map<number, ProcSample[]>();
  const pids = new Set(snap.procs.map((p) => p.pid));
  const roots: ProcSample[] = [];
  for (const p of snap.procs) {
    if (p.pid === snap.root || !pids.has(p.ppid)) roots.push(p);
    else byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  }
  const out: ProcSample[] = [];
  const visit = (p: ProcSample) => {
    out.push(p);
    for (const c of (byParent.get(p.pid) ?? []).sort((a, b) => a.pid - b.pid)) visit(c);
  };
  for (const r of roots) visit(r);
  return out;
}

function threadsText(t: ProcSample['threads']): string {
  const busy = [t.running > 0 ? `${t.running}R` : '', t.diskWait > 0 ? `${t.diskWait}D` : ''].filter(Boolean);
  return busy.length > 0 && t.total > 1 ? `${t.total}(${busy.join(',')})` : String(t.total);
}

/** The report as lines (no prefix, no newline). Pure: the same snapshots always give the same lines. */
export function formatReport(snap: TreeSnapshot, opts: ReportOptions = {}): string[] {
  const hz = snap.ticksPerSecond;
  const maxProcs = opts.maxProcesses ?? 50;
  const maxCmd = opts.maxCommandChars ?? 160;
  const since = opts.since;
  // A process in the earlier snapshot is the same one only if its start time matches too: pids are reused.
  const before = new Map((since?.procs ?? []).map((p) => [`${p.pid}:${p.startTicks}`, p]));

  const title = opts.title ?? `process tree of pid ${snap.root} (${snap.procs.length} process${snap.procs.length === 1 ? '' : 'es'})`;
  if (snap.procs.length === 0) return [`${title}: no such process any more`];
  const lines: string[] = [];
  let header = title;
  let sumU = 0;
  let sumS = 0;

  const rows: string[][] = [];
  const depth = depthsOf(snap);
  const ordered = treeOrder(snap);
  for (const p of ordered.slice(0, maxProcs)) {
    const prev = before.get(`${p.pid}:${p.startTicks}`);
    const du = delta(p.utimeTicks, prev?.utimeTicks);
    const ds = delta(p.stimeTicks, prev?.stimeTicks);
    sumU += du;
    sumS += ds;
    const d = depth.get(p.pid) ?? 0;
    const command = printable(p.cmdline || `[${p.comm}]`);
    const tree = d === 0 ? '' : `${'   '.repeat(d - 1)}\\_ `;
    const row = [
      String(p.pid),
      String(p.ppid),
      `${p.state} ${stateWord(p.state)}`,
      threadsText(p.threads),
      p.wchan,
      formatElapsed(snap.uptimeSec - p.startTicks / hz),
      cpu(p.utimeTicks, hz),
      cpu(p.stimeTicks, hz),
    ];
    if (since) row.push(prev ? cpu(du, hz) : 'new', prev ? cpu(ds, hz) : 'new');
    row.push(formatKb(p.rssKb), truncate(tree + command, maxCmd));
    rows.push(row);
  }
  for (const p of ordered.slice(maxProcs)) {
    const prev = before.get(`${p.pid}:${p.startTicks}`);
    sumU += delta(p.utimeTicks, prev?.utimeTicks);
    sumS += delta(p.stimeTicks, prev?.stimeTicks);
  }
  if (since) {
    header += `; CPU since ${opts.sinceLabel ?? 'the last heartbeat'} (${formatSeconds(snap.takenAt - since.takenAt)} ago): ` +
      `user ${cpu(sumU, hz)}, system ${cpu(sumS, hz)}`;
  }
  lines.push(header);
  const head = ['PID', 'PPID', 'STATE', 'THR', 'WCHAN', 'ELAPSED', 'USER', 'SYS'];
  if (since) head.push('+USER', '+SYS');
  head.push('RSS', 'COMMAND');
  lines.push(...table([head, ...rows]));
  if (ordered.length > maxProcs) lines.push(`  ... and ${ordered.length - maxProcs} more`);
  return lines;
}

/** CPU ticks used since an earlier sample of the same process (all of them for a new one); never negative. */
function delta(now: number, before: number | undefined): number {
  return Math.max(0, now - (before ?? 0));
}

/** One report line per process, whatever a command line holds: control characters are escaped. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : '?'));
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 3)}...`;
}

/** Aligned columns: numbers right-aligned, STATE and WCHAN left-aligned, the command as is. */
function table(rows: string[][]): string[] {
  const cols = rows[0].length;
  const width = Array.from({ length: cols }, (_, i) => Math.max(...rows.map((r) => r[i].length)));
  const leftAligned = new Set([2, 4]);
  return rows.map((r) =>
    '  ' +
    r
      .map((cell, i) => (i === cols - 1 ? cell : leftAligned.has(i) ? cell.padEnd(width[i]) : cell.padStart(width[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** Snapshot and format in one go: what the watchdog and --timeout print. */
export function hangReport(root: number, opts: ReportOptions & SnapshotOptions = {}): string[] {
  return formatReport(takeSnapshot(root, opts), opts);
}
