// What tsinit does with a signal it received: a pure function of the signal, the phase of the run and
// the options, so that the whole routing table can be read (and is tested) in one place. init.ts
// carries out the answer.
import { SIGCONT, SIGTERM, SIGTSTP, SIGWINCH, STOP_SIGNALS } from '../signals';
import { signalName } from '../values';

/** running: no stop asked for yet (the service may be starting, running or waiting to restart). */
export type Phase = 'running' | 'stopping';

export interface RoutingOptions {
  /** --rewrite: from -> to; to 0 drops the signal */
  rewrite: ReadonlyMap<number, number>;
  /** tsinit is PID 1: there is no shell to give the terminal back to */
  pid1: boolean;
  /** --pty: the service has a terminal of its own */
  pty: boolean;
}

/** Send `as` (the rewritten `signal`) to the service, or drop it when the rewrite says none. */
export type Pass =
  | { action: 'forward'; signal: number; as: number }
  | { action: 'drop'; signal: number };

export type Route =
  | Pass
  /** the first stop signal: stop the service with `signal`, SIGKILL after --kill-after */
  | { action: 'stop'; signal: number; reason: string }
  /** a stop signal during the stop: the user does not want to wait */
  | { action: 'kill'; reason: string }
  /** SIGTSTP: pass it on; outside PID 1 stop tsinit too (with --pty, SIGSTOP the service first) */
  | { action: 'suspend'; pass: Pass; stopService: boolean; stopSelf: boolean }
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

/** The signal that stops the service for `sig` (SIGTERM for a stop of tsinit's own): rewritten, never dropped. */
export function stopSignalFor(sig: number, rewrite: ReadonlyMap<number, number>): number {
  return rewritten(sig, rewrite) ?? SIGTERM;
}

function pass(sig: number, rewrite: ReadonlyMap<number, number>): Pass {
  const as = rewritten(sig, rewrite);
  return as === null ? { action: 'drop', signal: sig } : { action: 'forward', signal: sig, as };
}

export function route(sig: number, phase: Phase, o: RoutingOptions): Route {
  if (STOP_SIGNALS.has(sig)) {
    if (phase === 'stopping') return { action: 'kill', reason: `second ${signalName(sig)} during the stop` };
    return { action: 'stop', signal: stopSignalFor(sig, o.rewrite), reason: `received ${signalName(sig)}` };
  }
  if (sig === SIGTSTP) {
    // --pty: the service's group is orphaned (its parent, tsinit, is in another session), and the
    // kernel discards SIGTSTP for such a group.
    return { action: 'suspend', pass: pass(sig, o.rewrite), stopService: !o.pid1 && o.pty, stopSelf: !o.pid1 };
  }
  if (sig === SIGWINCH && o.pty) return { action: 'resize', otherwise: pass(sig, o.rewrite) };
  if (sig === SIGCONT) return { action: 'resume', pass: pass(sig, o.rewrite) };
  return pass(sig, o.rewrite);
}
