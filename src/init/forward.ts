// What tsinit does with a signal it received: a pure function of the signal, the phase of the run and
// the options, so that the whole routing table can be read (and is tested) in one place.
// dispatch.ts carries out the answer.
//
// The order of the decisions is the contract:
//   1. --rewrite first: the signal becomes its rewrite, or is dropped by `none` (any signal, TERM too).
//   2. A stop signal (SIGTERM and SIGINT unless --stop-signals says otherwise), after the rewrite,
//      starts the stop; during the stop, a second one escalates to SIGKILL. No other signal does
//      either: QUIT (a JVM's thread dump), USR1, HUP ... are forwarded in every phase.
//   3. Job control (TSTP, TTIN, TTOU): the service group is stopped for real with SIGSTOP, since a
//      service that catches the signal would otherwise keep running behind a "stopped" job; on
//      SIGTSTP outside PID 1 tsinit then stops itself, so that the shell has a stopped job.
//   4. CONT resumes (the terminal back to the service), WINCH follows the terminal with --pty.
//   5. Everything else is forwarded as it is.
import type { Options } from '../cli/options';
import { JOB_CONTROL, SIGCONT, SIGTERM, SIGTSTP, SIGWINCH } from '../signals';
import { signalName } from '../values';

/** running: no stop asked for yet (the service may be starting, running or waiting to restart). */
export type Phase = 'running' | 'stopping';

export interface RoutingOptions {
  /** --rewrite: from -> to; to 0 drops the signal */
  rewrite: ReadonlyMap<number, number>;
  /** --stop-signals: the signals that stop the service, after the rewrite */
  stopSignals: ReadonlySet<number>;
  /** tsinit is PID 1: there is no shell to give the terminal back to */
  pid1: boolean;
  /** --pty: the service has a terminal of its own */
  pty: boolean;
}

export function routingOptions(o: Options, pid1: boolean): RoutingOptions {
  return { rewrite: o.rewrite, stopSignals: o.stopSignals, pid1, pty: o.pty };
}

/** Send `as` (the rewritten `signal`) to the service, or drop it when the rewrite says none. */
export type Pass =
  | { action: 'forward'; signal: number; as: number }
  | { action: 'drop'; signal: number };

export type Route =
  | Pass
  /** the first stop signal: stop the service with `as`, SIGKILL after --kill-after */
  | { action: 'stop'; signal: number; as: number; reason: string }
  /** a stop signal during the stop: the user does not want to wait */
  | { action: 'kill'; reason: string }
  /** job control: SIGSTOP to the service group; `stopSelf`: then tsinit stops too */
  | { action: 'suspend'; signal: number; as: number; stopSelf: boolean }
  /** SIGCONT (`fg`): the terminal back to the service, then pass it on */
  | { action: 'resume'; pass: Pass }
  /** SIGWINCH with --pty: the pty follows tsinit's terminal (and passes it on when that has no size) */
  | { action: 'resize'; otherwise: Pass };

/** The rewritten signal, or null when the rewrite drops it. */
export function rewritten(sig: number, rewrite: ReadonlyMap<number, number>): number | null {
  const to = rewrite.get(sig);
  if (to === undefined) return sig;
  return to === 0 ? null : to;
}

/** The signal of a stop tsinit asks for itself (--timeout, a failing logger): SIGTERM, rewritten, never dropped. */
export function stopSignalFor(sig: number, rewrite: ReadonlyMap<number, number>): number {
  return rewritten(sig, rewrite) ?? SIGTERM;
}

export function route(sig: number, phase: Phase, o: RoutingOptions): Route {
  const as = rewritten(sig, o.rewrite);
  if (as === null) return { action: 'drop', signal: sig };
  const received = sig === as ? signalName(sig) : `${signalName(sig)} (as ${signalName(as)})`;
  if (o.stopSignals.has(as)) {
    if (phase === 'stopping') return { action: 'kill', reason: `second ${received} during the stop` };
    return { action: 'stop', signal: sig, as, reason: `received ${signalName(sig)}` };
  }
  const fwd: Pass = { action: 'forward', signal: sig, as };
  if (JOB_CONTROL.has(as)) return { action: 'suspend', signal: sig, as, stopSelf: as === SIGTSTP && !o.pid1 };
  if (as === SIGWINCH && o.pty) return { action: 'resize', otherwise: fwd };
  if (as === SIGCONT) return { action: 'resume', pass: fwd };
  return fwd;
}
