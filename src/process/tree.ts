// Stopping what is left of tsinit's process tree: every descendant (found from /proc, so those that
// escaped with setsid or a double fork are found too), SIGTERM first, SIGKILL at the deadline, until
// none is left. Used when the service ends and whenever tsinit exits.
import { sleep } from '../clock';
import { escalate } from './escalate';
import * as libc from '../sys/libc';
import { existsSync } from 'node:fs';
import { childrenOf, descendantsOf, listProcesses, ProcStat, readStat } from '../sys/proc';
import { SIGCONT, SIGKILL, SIGTERM } from '../signals';
import { Reaper } from './reaper';

/**
 * Descendants of tsinit that are still running, leaving out the subtrees rooted at `spare`.
 * Walks down from tsinit through /proc/PID/task/TID/children, which costs a few reads per
 * descendant instead of a read of every process on the host (a subreaper on a busy host); where
 * the kernel lacks that file, one scan of /proc does it.
 */
export function liveDescendants(spare: ReadonlySet<number>): ProcStat[] {
  const out: ProcStat[] = [];
  if (!hasChildrenFiles()) {
    const all = descendantsOf(process.pid, listProcesses());
    const spared = new Set<number>();
    for (const p of all) if (spare.has(p.pid) || spared.has(p.ppid)) spared.add(p.pid);
    return all.filter((p) => !spared.has(p.pid) && p.state !== 'Z' && p.state !== 'X');
  }
  const queue = childrenOf(process.pid);
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (spare.has(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    if (st.state !== 'Z' && st.state !== 'X') out.push(st);
    queue.push(...childrenOf(pid));
  }
  return out;
}

let childrenFiles: boolean | null = null;
function hasChildrenFiles(): boolean {
  childrenFiles ??= existsSync(`/proc/${process.pid}/task/${process.pid}/children`);
  return childrenFiles;
}

const POLL_MS = 10;

export interface TerminateOptions {
  /**
   * Roots of subtrees to leave alone (the logger), asked again at every sweep: a logger restarted
   * while the tree is being stopped is spared as well.
   */
  spare: () => Iterable<number>;
  /** when to switch from SIGTERM to SIGKILL (a now() time) */
  killAt: number;
  reaper: Reaper;
  /** the processes about to be killed; `hurried` as in Stoppable.kill */
  onKill?: (pids: number[], hurried: unknown) => void;
  /** aborted: SIGKILL what is left now */
  hurry?: AbortSignal;
}

/**
 * TERM every live descendant (and each newcomer once), KILL them all at `killAt`, and return when
 * none is left and every zombie among tsinit's children has been reaped. Descendants are found by
 * polling /proc: nothing tells tsinit when a grandchild forks or exits.
 */
export async function terminateTree(o: TerminateOptions): Promise<void> {
  const termed = new Set<number>();
  let killing = false;
  const sweep = (): number => {
    o.reaper.reap();
    const live = liveDescendants(new Set(o.spare()));
    for (const p of live) {
      if (killing) libc.kill(p.pid, SIGKILL);
      else if (!termed.has(p.pid)) {
        termed.add(p.pid);
        libc.kill(p.pid, SIGTERM);
        // A stopped process cannot act on SIGTERM until it is continued.
        if (p.state === 'T') libc.kill(p.pid, SIGCONT);
      }
    }
    return live.length;
  };
  const gone = (async () => {
    while (sweep() > 0) await sleep(POLL_MS);
  })();
  await escalate(
    {
      // the sweeps above send SIGTERM, to newcomers too
      ask: () => undefined,
      kill: (hurried) => {
        killing = true;
        const live = liveDescendants(new Set(o.spare()));
        if (live.length === 0) return;
        o.onKill?.(live.map((p) => p.pid), hurried);
        for (const p of live) libc.kill(p.pid, SIGKILL);
      },
      gone,
    },
    { killAt: o.killAt, hurry: o.hurry },
  );
}
