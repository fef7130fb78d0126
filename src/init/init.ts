// The lifecycle of a tsinit run, and the only module that knows all of it:
//   1. tsinit itself: events, subreaper, reaper, terminal, signal handlers
//   2. the logger and its pipe
//   3. the service, restarted as the policy says, until it ends for good
//   4. the stop sequence (stop.ts) and the exit code
// Signals are routed by forward.ts and carried out here; everything else is delegated.
import { onSignal } from '../early-signals';
import { absolutePaths } from '../cli/absolute-paths';
import type { Options } from '../cli/options';
import { EventLog } from '../events';
import { fdExhaustion } from '../process/spawn';
import { EXIT_INTERNAL, EXIT_TIMEOUT, ExitStatus } from '../exit-status';
import { Sidecar } from '../logging/sidecar';
import { Reaper } from '../process/reaper';
import { SpawnError } from '../process/exec-errors';
import { leaveStartDirectory, startDirectory } from '../process/environment';
import { SIGSTOP, SIGTERM } from '../signals';
import * as libc from '../sys/libc';
import { signalName } from '../values';
import { Pass, route, RoutingOptions, stopSignalFor } from './forward';
import { Service, serviceConfig } from './service';
import { Stop, stopConfig } from './stop';
import { Terminal } from './terminal';
import { Control } from '../control/control';
import createDebug from '../debug';

const debug = createDebug('init');

export class Init {
  readonly events: EventLog;
  readonly reaper: Reaper;
  private readonly output: Sidecar | null = null;
  /** Commands from outside: service.status(), service.restart(), service.forward(), stop.request(). */
  readonly service: Service;
  readonly stop: Stop;
  private readonly terminal: Terminal;
  private readonly routing: RoutingOptions;
  /** status, health and the control socket */
  private readonly control: Control;
  /** signals to pass on that came before the first incarnation was spawned, or null once it was */
  private early: Pass[] | null = [];

  private readonly opts: Options;

  constructor(options: Options) {
    const opts = (this.opts = absolutePaths(options, startDirectory()));
    this.events = new EventLog(opts.verbose, opts.warnReaped);
    // Opened here, before anything runs: a target that cannot be used is a usage error.
    if (opts.events) this.events.openJson(opts.events);
    this.reaper = new Reaper((pid, status) => {
      if (opts.warnReaped || opts.events) this.events.emit({ type: 'orphan-reaped', pid, status });
    });
    const stopSignal = stopSignalFor(SIGTERM, opts.rewrite);
    this.routing = { rewrite: opts.rewrite, stopSignals: opts.stopSignals, pid1: process.pid === 1, pty: opts.pty };
    this.terminal = new Terminal({ current: () => this.service.current(), pty: () => this.service.pty });
    if (opts.logger !== undefined || opts.logDir !== undefined) {
      this.output = new Sidecar(opts, this.reaper, this.events, () => this.stop.request('the logger keeps failing', EXIT_INTERNAL));
    }
    this.service = new Service(serviceConfig(opts, stopSignal), {
      reaper: this.reaper,
      events: this.events,
      output: this.output,
      terminal: this.terminal,
      onFatal: (reason, exitCode) => this.stop.request(reason, exitCode),
      onStarted: () => {
        const early = this.early;
        this.early = null;
        for (const p of early ?? []) this.pass(p);
      },
    });
    this.control = new Control(opts, this.events, () => this.service.status());
    this.stop = new Stop(stopConfig(opts, stopSignal), {
      events: this.events, reaper: this.reaper, service: this.service, output: this.output, terminal: this.terminal,
      outputLoss: () => this.control.outputLoss(),
    });
  }

  /** Runs everything and returns tsinit's exit code. Never throws for the service's failures. */
  async run(): Promise<number> {
    try {
      return await this.runAll();
    } finally {
      this.control.close();
    }
  }

  private async runAll(): Promise<number> {
    const opts = this.opts;
    // 1. tsinit itself, in /; its children start where it was started.
    leaveStartDirectory();
    if (process.pid !== 1 && opts.subreaper) libc.setChildSubreaper();
    if (opts.pdeathsig) libc.setParentDeathSignal(opts.pdeathsig);
    this.reaper.start();
    this.terminal.take();
    onSignal((sig) => this.onSignal(sig), libc.resetHandlerWhenRun);
    // In the background: the service never waits for the control socket.
    this.control.listen({ service: this.service, signals: { receive: (sig) => this.onSignal(sig) }, stop: this.stop });

    // 2. the logger
    if (this.output && !this.output.start()) {
      return this.stop.finish({ kind: 'failed', exitCode: EXIT_INTERNAL, reason: 'the logger could not be started' });
    }

    // 3. the service
    // --timeout 0 is no limit, as timeout(1) reads it.
    if (opts.timeoutMs) this.stop.armTimeout(opts.timeoutMs, EXIT_TIMEOUT);
    let status: ExitStatus;
    try {
      status = await this.service.run();
    } catch (e) {
      if (!(e instanceof SpawnError)) throw e;
      this.events.emit({ type: 'spawn-failed', role: 'service', command: e.command, reason: e.reason, exitCode: e.exitCode });
      return this.stop.finish({ kind: 'failed', exitCode: e.exitCode, reason: 'the service could not be started' });
    }

    // 4. the stop sequence and the exit code
    return this.stop.finish({ kind: 'service', status, remapToZero: opts.remapExit });
  }

  /** Last resort after an unexpected error: stop everything gracefully, exit 125. */
  async abort(err: unknown): Promise<number> {
    this.events.emit({ type: 'error', message: fdExhaustion(err) ?? `internal error: ${err instanceof Error ? err.message : String(err)}` });
    await this.stop.abort();
    try {
      return await this.stop.finish({ kind: 'failed', exitCode: EXIT_INTERNAL, reason: 'internal error' });
    } finally {
      this.control.close();
    }
  }

  /** A signal tsinit received, routed by forward.ts. */
  private onSignal(sig: number): void {
    debug('caught %s', signalName(sig));
    const r = route(sig, this.stop.requested ? 'stopping' : 'running', this.routing);
    switch (r.action) {
      case 'stop':
        return this.stop.request(r.reason, undefined, r.as);
      case 'kill':
        return this.stop.hurryUp(r.reason);
      case 'suspend':
        // SIGSTOP to the whole group, as dumb-init does: a service that catches the signal (or a
        // group the kernel deems orphaned, as under --pty) would otherwise keep running.
        this.pass({ action: 'forward', signal: r.signal, as: SIGSTOP }, true);
        if (r.stopSelf) this.terminal.stopWithService();
        return;
      case 'resize':
        // The kernel then sends SIGWINCH to the pty's foreground group.
        if (!this.service.pty?.resize()) this.pass(r.otherwise);
        return;
      case 'resume':
        this.terminal.resume();
        return this.pass(r.pass);
      default:
        return this.pass(r);
    }
  }

  private pass(p: Pass, wholeGroup?: boolean): void {
    if (p.action === 'drop') {
      this.events.emit({ type: 'signal-dropped', signal: p.signal });
      return;
    }
    // As tini and dumb-init, which start the service first: no signal of the start is lost.
    if (this.early && !wholeGroup) {
      this.early.push(p);
      return;
    }
    this.service.forward(p.signal, p.as, wholeGroup);
  }
}
