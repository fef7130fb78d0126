// The lifecycle of a tsinit run, and the only module that knows all of it:
//   1. tsinit itself: events, subreaper, reaper, terminal, signal handlers, the control socket
//   2. the logger and its pipe
//   3. the service, restarted as the policy says, until it ends for good
//   4. the stop sequence (stop.ts) and the exit code
// Everything else is delegated: a received signal to dispatch.ts (which forward.ts routes), the
// control socket's commands to control.ts, each service's state to its unit (service.ts).
import { onSignal } from '../early-signals';
import { absolutePaths } from '../cli/absolute-paths';
import type { Options } from '../cli/options';
import { Control } from '../control/control';
import { EventLog } from '../events';
import { EXIT_INTERNAL, EXIT_TIMEOUT, ExitStatus } from '../exit-status';
import { Sidecar } from '../logging/sidecar';
import { leaveStartDirectory, startDirectory } from '../process/environment';
import { SpawnError } from '../process/exec-errors';
import { Reaper } from '../process/reaper';
import { fdExhaustion } from '../process/spawn';
import { SIGTERM } from '../signals';
import * as libc from '../sys/libc';
import { SignalDispatch } from './dispatch';
import { routingOptions, stopSignalFor } from './forward';
import { Service, serviceConfig } from './service';
import { Stop, stopConfig } from './stop';
import { Terminal } from './terminal';

export class Init {
  private readonly opts: Options;
  private readonly events: EventLog;
  private readonly reaper: Reaper;
  private readonly terminal: Terminal;
  /** the logger and its pipe, if there is one */
  private readonly output: Sidecar | null = null;
  private readonly service: Service;
  private readonly stop: Stop;
  private readonly signals: SignalDispatch;
  /** status, health and the control socket */
  private readonly control: Control;

  constructor(options: Options) {
    // 1. tsinit itself
    const opts = (this.opts = absolutePaths(options, startDirectory()));
    this.events = new EventLog(opts.verbose, opts.warnReaped);
    // Opened here, before anything runs: a target that cannot be used is a usage error.
    if (opts.events) this.events.openJson(opts.events);
    this.reaper = new Reaper((pid, status) => {
      if (opts.warnReaped || opts.events) this.events.emit({ type: 'orphan-reaped', pid, status });
    });
    this.terminal = new Terminal({ current: () => this.service.current(), pty: () => this.service.pty });
    // 2. the logger
    if (opts.logger !== undefined || opts.logDir !== undefined) {
      this.output = new Sidecar(opts, this.reaper, this.events, () => this.stop.request('the logger keeps failing', EXIT_INTERNAL));
    }
    // 3. the service unit; 4. the stop; and what steers them: signals and the control socket
    const { events, reaper, output, terminal } = this;
    const stopSignal = stopSignalFor(SIGTERM, opts.rewrite);
    this.service = new Service(serviceConfig(opts, stopSignal), {
      reaper, events, output, terminal,
      onFatal: (reason, exitCode) => this.stop.request(reason, exitCode),
      onStarted: () => this.signals.started(),
    });
    this.stop = new Stop(stopConfig(opts, stopSignal), {
      events, reaper, service: this.service, output, terminal, outputLoss: () => this.control.outputLoss(),
    });
    this.signals = new SignalDispatch(routingOptions(opts, process.pid === 1), { events, stop: this.stop, service: this.service, terminal });
    this.control = new Control(opts, events, () => this.service.status());
  }

  /** Runs everything and returns tsinit's exit code. Never throws for the service's failures. */
  async run(): Promise<number> {
    try {
      return await this.lifecycle();
    } finally {
      this.control.close();
    }
  }

  private async lifecycle(): Promise<number> {
    const { opts, stop } = this;
    // 1. tsinit itself, in /; its children start where it was started.
    leaveStartDirectory();
    if (process.pid !== 1 && opts.subreaper) libc.setChildSubreaper();
    if (opts.pdeathsig) libc.setParentDeathSignal(opts.pdeathsig);
    this.reaper.start();
    this.terminal.take();
    onSignal((sig) => this.signals.receive(sig), libc.resetHandlerWhenRun);
    // In the background: the service never waits for the control socket.
    this.control.listen({ service: this.service, signals: this.signals, stop });

    // 2. the logger
    if (this.output && !this.output.start()) {
      return stop.finish({ kind: 'failed', exitCode: EXIT_INTERNAL, reason: 'the logger could not be started' });
    }

    // 3. the service
    // --timeout 0 is no limit, as timeout(1) reads it.
    if (opts.timeoutMs) stop.armTimeout(opts.timeoutMs, EXIT_TIMEOUT);
    let status: ExitStatus;
    try {
      status = await this.service.run();
    } catch (e) {
      if (!(e instanceof SpawnError)) throw e;
      this.events.emit({ type: 'spawn-failed', role: 'service', command: e.command, reason: e.reason, exitCode: e.exitCode });
      return stop.finish({ kind: 'failed', exitCode: e.exitCode, reason: 'the service could not be started' });
    }

    // 4. the stop sequence and the exit code
    return stop.finish({ kind: 'service', status, remapToZero: opts.remapExit });
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
}
