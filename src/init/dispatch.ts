// Carries out what forward.ts decides for a signal tsinit received: start or hurry the stop, stop
// or resume the service's job, resize its pty, or pass the signal on to it. forward.ts stays the pure
// table; this is its one effectful reader.
//
// Signals to pass on that come before the first incarnation exists are held back and passed on, in
// order, as soon as it is spawned (as tini and dumb-init, which start the service first, lose none).
import type { EventLog } from '../events';
import { SIGSTOP } from '../signals';
import { signalName } from '../values';
import { Pass, route, RoutingOptions } from './forward';
import createDebug from '../debug';

// The namespace the received signals always had: DEBUG=tsinit:init shows them.
const debug = createDebug('init');

export interface DispatchDeps {
  events: Pick<EventLog, 'emit'>;
  stop: {
    readonly requested: unknown;
    request(reason: string, exitCode: number | undefined, signal: number): void;
    hurryUp(reason: string): void;
  };
  service: {
    readonly pty: { resize(): boolean } | null;
    forward(signal: number, as: number, wholeGroup?: boolean): void;
  };
  terminal: { stopWithService(): void; resume(): void };
}

export class SignalDispatch {
  /** signals to pass on that came before the first incarnation was spawned, or null once it was */
  private early: Pass[] | null = [];

  constructor(
    private readonly routing: RoutingOptions,
    private readonly deps: DispatchDeps,
  ) {}

  /** A signal tsinit received (from the kernel, or through the control socket). */
  receive(sig: number): void {
    debug('caught %s', signalName(sig));
    const { stop, service, terminal } = this.deps;
    const r = route(sig, stop.requested ? 'stopping' : 'running', this.routing);
    switch (r.action) {
      case 'stop':
        return stop.request(r.reason, undefined, r.as);
      case 'kill':
        return stop.hurryUp(r.reason);
      case 'suspend':
        // SIGSTOP to the whole group, as dumb-init does: a service that catches the signal (or a
        // group the kernel deems orphaned, as under --pty) would otherwise keep running.
        this.pass({ action: 'forward', signal: r.signal, as: SIGSTOP }, true);
        if (r.stopSelf) terminal.stopWithService();
        return;
      case 'resize':
        // The kernel then sends SIGWINCH to the pty's foreground group.
        if (!service.pty?.resize()) this.pass(r.otherwise);
        return;
      case 'resume':
        terminal.resume();
        return this.pass(r.pass);
      default:
        return this.pass(r);
    }
  }

  /** An incarnation was just spawned: the signals held back until the first one are passed on now. */
  started(): void {
    const early = this.early;
    this.early = null;
    for (const p of early ?? []) this.pass(p);
  }

  private pass(p: Pass, wholeGroup?: boolean): void {
    if (p.action === 'drop') {
      this.deps.events.emit({ type: 'signal-dropped', signal: p.signal });
      return;
    }
    // Job control is not held back: a service that does not exist yet is not to be stopped at its start.
    if (this.early && !wholeGroup) {
      this.early.push(p);
      return;
    }
    this.deps.service.forward(p.signal, p.as, wholeGroup);
  }
}
