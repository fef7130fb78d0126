// Stopping what is left of tsinit's process tree: every descendant (found from /proc, so those that
// escaped with setsid or a double fork are found too), SIGTERM first, SIGKILL at the deadline, until
// none is left. Used when the service ends and whenever tsinit exits.
import * as libc from './sys/libc';
import { descendantsOf, listProcesses, ProcStat } from './sys/proc';
import { SIGKILL, SIGTERM } from './signals';
import { Reaper } from './reaper';

/** Descendants of tsinit that are still running, leaving out the subtrees rooted at `spare`. */
export function liveDescendants(spare: ReadonlySet<number>): ProcStat[] {
  const all = descendantsOf(process.pid, listProcesses());
  const spared = new Set<number>();
  for (const p of all) if (spare.has(p.pid) || spared.has(p.ppid)) spared.add(p.pid);
  return all.filter((p) => !spared.has(p.pid) && p.state !== 'Z' && p.state !== 'X');
}

const POLL_MS = 10;

export interface TerminateOptions {
  /** roots of subtrees to leave alone (the logger) */
  spare: ReadonlySet<number>;
  /** when to switch from SIGTERM to SIGKILL (a performance.now() time) */
  killAt: number;
  reaper: Reaper;
  onKill?: (pids: number[]) => void;
  /** skip SIGTERM: kill at once */
  immediate?: boolean;
}

/**
 * TERM every live descendant (and each newcomer once), KILL them all at `killAt`, and return when
 * none is left and every zombie among tsinit's children has been reaped.
 */
export async function terminateTree(o: TerminateOptions): Promise<void> {
  const termed = new Set<number>();
  let killed = false;
  for (;;) {
    o.reaper.reap();
    const live = liveDescendants(o.spare);
    if (live.length === 0) return;
    if (!killed && (o.immediate || performance.now() >= o.killAt)) {
      killed = true;
      o.onKill?.(live.map((p) => p.pid));
    }
    for (const p of live) {
      if (killed) libc.kill(p.pid, SIGKILL);
      else if (!termed.has(p.pid)) {
        termed.add(p.pid);
        libc.kill(p.pid, SIGTERM);
        // A stopped process cannot act on SIGTERM until it is continued.
        if (p.state === 'T') libc.kill(p.pid, 18);
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
