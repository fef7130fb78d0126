// The one way tsinit stops anything, a service, the logger or what is left of the tree: ask first,
// SIGKILL at a deadline, and wait until it is gone. A stopped process acts on no signal but SIGKILL
// until it is continued, so asking includes SIGCONT where that matters (the caller's ask()).
import { Clock, realClock } from '../clock';

export interface Stoppable {
  /** the polite signal: the stop signal, the watchdog's, SIGTERM */
  ask(): void;
  /**
   * SIGKILL. `hurried` is the reason given to the hurry signal when that came before the deadline
   * (a second Ctrl-C), undefined at the deadline.
   */
  kill(hurried: unknown): void;
  /** settles when nothing is left to stop */
  gone: Promise<unknown>;
}

export interface EscalateOptions {
  /** when to SIGKILL, a Clock.now() time (in the past: at once) */
  killAt: number;
  /** aborted: SIGKILL now, without waiting for the deadline */
  hurry?: AbortSignal;
  clock?: Clock;
}

/** Asks, kills at the deadline unless gone first, and resolves once gone: 'gone' or 'killed'. */
export async function escalate(target: Stoppable, o: EscalateOptions): Promise<'gone' | 'killed'> {
  const clock = o.clock ?? realClock;
  target.ask(); // first: the signal should not wait for the bookkeeping below
  const wait = new AbortController();
  const stopWaiting = () => wait.abort();
  let gone = false;
  const ended = target.gone.then(() => {
    gone = true;
    stopWaiting();
  });
  // A hurry that came before this escalation began (a second Ctrl-C before the leftovers' turn) counts.
  if (o.hurry?.aborted) stopWaiting();
  else o.hurry?.addEventListener('abort', stopWaiting, { once: true });
  try {
    await clock.sleep(Math.max(0, o.killAt - clock.now()), wait.signal);
    // An end that came in the same turn as the hurry is seen first: no reason to kill.
    await Promise.resolve();
    if (gone) return 'gone';
    target.kill(o.hurry?.aborted ? o.hurry.reason : undefined);
    await ended;
    return 'killed';
  } finally {
    o.hurry?.removeEventListener('abort', stopWaiting);
  }
}
