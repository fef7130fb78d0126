// --daemon / --pidfile: adopting a service that forks and lets its first process exit (Upstart's
// `expect fork` / `expect daemon`, systemd's Type=forking). tsinit is PID 1 or a subreaper, so the
// daemon is reparented to tsinit: it is adopted by observation (which of tsinit's children survived),
// not by counting forks. A pidfile chooses among several survivors, and is trusted only when it names a
// live child of tsinit: pids are small and reused in containers, and a stale pidfile often names an
// unrelated live process (a service that believes it is "already running" and exits, restarted into
// the same belief, forever).
//
// DaemonTracker is pure (times are passed in); observeDaemon and PidfileWatcher read /proc and the file.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ExitStatus, describeStatus } from '../exit-status';
import { formatDuration } from '../values';
import { liveChildren, readStat } from '../sys/proc';

/** A live child of tsinit, as /proc shows it. */
export interface Candidate {
  pid: number;
  state: string;
  comm: string;
  /** clock ticks since boot */
  starttime: number;
}

export type PidfileState =
  | { state: 'absent' }
  /** the same file as before the spawn: stale until the daemon rewrites it */
  | { state: 'unchanged'; content: string }
  | { state: 'written'; content: string }
  | { state: 'error'; reason: string };

export interface DaemonObservation {
  /** monotonic ms */
  now: number;
  /** the first process's status once it has exited (from the reaper), else null */
  firstExit: ExitStatus | null;
  /** live children of tsinit (observeDaemon reads them from /proc) */
  children: Candidate[];
  /** the pidfile, when --pidfile is given */
  pidfile?: PidfileState;
  /** what the pid named by the pidfile is, if it is alive: to explain a refusal */
  pidfileTarget?: { pid: number; ppid: number; comm: string } | null;
}

export type AdoptDecision =
  | { action: 'adopt'; pid: number; via: 'pidfile' | 'only-survivor' }
  | { action: 'wait'; reason: string }
  | { action: 'fail'; reason: string };

export interface DaemonTrackerConfig {
  /** the first process, as spawned */
  firstPid: number;
  /** its starttime in clock ticks (readStat right after the spawn): older children cannot be its descendants */
  firstStartTicks?: number;
  /** monotonic ms of the spawn */
  startedAt: number;
  /** --daemon-timeout */
  timeoutMs: number;
  /** --pidfile, for the lines */
  pidfilePath?: string;
  /** tsinit's own children that are not the service's: the logger, a health probe */
  exclude?: () => ReadonlySet<number>;
  /**
   * how long an answer must hold before it is acted upon (default 250 ms): the only survivor of a
   * double fork may be the intermediate process that is about to exit, and a pidfile may be read
   * half-written
   */
  settleMs?: number;
  /** tsinit's pid (default process.pid), to recognise its children in the lines */
  tsinitPid?: number;
}

/** "1234\n" -> 1234; null for anything that is not one positive pid on the first line. */
export function parsePidfile(content: string): number | null {
  const first = content.split('\n')[0].trim();
  if (!/^\d{1,9}$/.test(first)) return null;
  const n = Number(first);
  return n > 0 ? n : null;
}

/**
 * Decides, one observation at a time, whether to adopt a process, wait, or give up. Call decide()
 * at every poll (every 50-100 ms) from the spawn until it says adopt or fail.
 */
export class DaemonTracker {
  private readonly settleMs: number;
  /** the answer seen last and since when: acted upon once it has held for settleMs */
  private pending: { key: string; since: number } | null = null;

  constructor(private readonly cfg: DaemonTrackerConfig) {
    this.settleMs = cfg.settleMs ?? 250;
  }

  decide(obs: DaemonObservation): AdoptDecision {
    const d = this.judge(obs);
    if (d.action === 'wait') return d;
    // The first process's own failure is a fact, not an observation that could be caught mid-change.
    if (obs.firstExit !== null && obs.firstExit.code !== 0) return d;
    // Every final answer must hold for settleMs (the same answer at two polls at least that far apart).
    const key = d.action === 'adopt' ? `adopt:${d.pid}` : `fail:${d.reason}`;
    if (this.pending?.key !== key) this.pending = { key, since: obs.now };
    if (obs.now - this.pending.since >= this.settleMs || this.expired(obs.now)) return d;
    return { action: 'wait', reason: 'checking that it holds' };
  }

  private expired(now: number): boolean {
    return now - this.cfg.startedAt >= this.cfg.timeoutMs;
  }

  private judge(obs: DaemonObservation): AdoptDecision {
    const { firstPid, timeoutMs } = this.cfg;
    const expired = this.expired(obs.now);
    const limit = formatDuration(timeoutMs);
    if (obs.firstExit === null) {
      if (!expired) return { action: 'wait', reason: `waiting for pid ${firstPid} to fork and exit` };
      return {
        action: 'fail',
        reason: `with --daemon the command must fork and exit, but pid ${firstPid} is still running after ${limit} ` +
          '(a service that stays in the foreground needs no --daemon)',
      };
    }
    if (obs.firstExit.code !== 0) {
      return { action: 'fail', reason: `the command (pid ${firstPid}) exited with ${describeStatus(obs.firstExit)} before daemonizing` };
    }
    const excluded = this.cfg.exclude?.() ?? new Set<number>();
    const min = this.cfg.firstStartTicks ?? 0;
    const survivors = obs.children.filter(
      (c) => c.pid !== firstPid && !excluded.has(c.pid) && c.state !== 'Z' && c.state !== 'X' && c.starttime >= min,
    );
    if (survivors.length === 0) {
      return { action: 'fail', reason: `the command (pid ${firstPid}) exited 0, but no process of it survived` };
    }
    if (obs.pidfile) return this.byPidfile(obs, survivors, expired);
    if (survivors.length === 1) return { action: 'adopt', pid: survivors[0].pid, via: 'only-survivor' };
    const list = survivors.map((c) => `${c.pid} (${c.comm})`).join(', ');
    if (!expired) return { action: 'wait', reason: `${survivors.length} processes survived: ${list}` };
    return { action: 'fail', reason: `${survivors.length} processes survived the command after ${limit}: ${list}; name the daemon with --pidfile` };
  }

  private byPidfile(obs: DaemonObservation, survivors: Candidate[], expired: boolean): AdoptDecision {
    const path = this.cfg.pidfilePath ?? 'the pidfile';
    const pf = obs.pidfile!;
    const limit = formatDuration(this.cfg.timeoutMs);
    const waitOrFail = (waiting: string, failing: string): AdoptDecision =>
      expired ? { action: 'fail', reason: `after ${limit}, ${failing}` } : { action: 'wait', reason: waiting };

    if (pf.state === 'absent') return waitOrFail(`waiting for ${path}`, `${path} was not written`);
    if (pf.state === 'error') return waitOrFail(`cannot read ${path}: ${pf.reason}`, `cannot read ${path}: ${pf.reason}`);
    const pid = parsePidfile(pf.content);
    if (pf.state === 'unchanged') {
      // Still the file from before the spawn: never trusted, whatever it names.
      const stale = pid === null ? 'no pid' : `pid ${pid}${this.describeTarget(obs, pid)}`;
      return waitOrFail(
        `waiting for ${path} to be rewritten`,
        `${path} was not rewritten since the start: it still holds ${stale}; refusing a stale pidfile`,
      );
    }
    if (pid === null) {
      // Never the content itself: whatever the file holds is not tsinit's to show on its stderr.
      const shown = `${Buffer.byteLength(pf.content, 'latin1')} bytes`;
      return waitOrFail(`${path} holds ${shown}, not a pid (yet)`, `${path} holds ${shown}, not a pid`);
    }
    if (survivors.some((c) => c.pid === pid)) return { action: 'adopt', pid, via: 'pidfile' };
    // A freshly written pidfile that names anything but a live child of tsinit is refused: once the
    // answer has held for settleMs (the daemon may be rewriting it), not only at the timeout.
    return { action: 'fail', reason: `${path} names pid ${pid}${this.describeTarget(obs, pid)}; refusing it` };
  }

  private describeTarget(obs: DaemonObservation, pid: number): string {
    if (pid === this.cfg.firstPid) return ", the command's first process, which has exited";
    const child = obs.children.find((c) => c.pid === pid);
    if (child) return ` (${child.comm})`;
    const t = obs.pidfileTarget;
    if (!t || t.pid !== pid) return ', which is not running';
    if (t.ppid === (this.cfg.tsinitPid ?? process.pid)) return ` (${t.comm}), a child of tsinit that the command did not start`;
    return ` (${t.comm}, parent ${t.ppid}), which is not a child of tsinit: an unrelated process, or a descendant tsinit cannot wait for`;
  }
}

// ---- effects: /proc and the pidfile --------------------------------------------------------------

/**
 * Watches a pidfile by stat polling (never inotify). baseline() before the spawn records what the file
 * was, so that an unchanged file from an earlier run is recognised as stale whatever pid it names.
 */
export class PidfileWatcher {
  private before: { id: string; content: string } | null = null;

  constructor(readonly path: string) {}

  /** Call right before spawning the command. */
  baseline(): void {
    const s = this.snapshot();
    this.before = s && 'content' in s ? s : null;
  }

  read(): PidfileState {
    const s = this.snapshot();
    if (s === null) return { state: 'absent' };
    if ('error' in s) return { state: 'error', reason: s.error };
    if (this.before && this.before.id === s.id && this.before.content === s.content) {
      return { state: 'unchanged', content: s.content };
    }
    return { state: 'written', content: s.content };
  }

  private snapshot(): { id: string; content: string } | { error: string } | null {
    return readPidfile(this.path);
  }
}

/** A pidfile is one pid and a newline; anything beyond this is not read. */
export const PIDFILE_MAX_BYTES = 64;

const PIDFILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * One bounded read of a pidfile that the daemon (another uid, maybe) can replace at will: a symbolic
 * link is not followed (root tsinit would read whatever it names), a FIFO neither blocks the open
 * (O_NONBLOCK) nor is read, anything but a regular file with a single link is refused, and at most
 * PIDFILE_MAX_BYTES are read. A refused file's reason never includes any of its content.
 */
export function readPidfile(path: string): { id: string; content: string } | { error: string } | null {
  let fd: number;
  try {
    fd = openSync(path, PIDFILE_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') return { error: 'it is a symbolic link (never followed)' };
    return { error: code };
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) return { error: `it is not a regular file (${kindOf(st)})` };
    if (st.nlink > 1n) return { error: 'it has other hard links (refused)' };
    const buf = Buffer.alloc(PIDFILE_MAX_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return { id: `${st.ino}:${st.mtimeNs}:${st.size}`, content: buf.subarray(0, n).toString('latin1') };
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? String(e) };
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: { isFIFO(): boolean; isSocket(): boolean; isDirectory(): boolean; isCharacterDevice(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a device';
  return 'a special file';
}

/** Reads what DaemonTracker.decide needs from /proc and the pidfile. */
export function observeDaemon(now: number, firstExit: ExitStatus | null, pidfile?: PidfileWatcher): DaemonObservation {
  const children = liveChildren(process.pid).map((p) => ({ pid: p.pid, state: p.state, comm: p.comm, starttime: p.starttime }));
  const obs: DaemonObservation = { now, firstExit, children };
  if (pidfile) {
    obs.pidfile = pidfile.read();
    const pid = obs.pidfile.state === 'written' || obs.pidfile.state === 'unchanged' ? parsePidfile(obs.pidfile.content) : null;
    if (pid !== null) {
      const st = readStat(pid);
      obs.pidfileTarget = st && st.state !== 'Z' ? { pid, ppid: st.ppid, comm: st.comm } : null;
    }
  }
  return obs;
}
