// tsinit's side of status, health and control: the status model (fed by every event), the control
// socket (if any), and the answer to "was any output lost?" for --strict-logs.
import { version } from '../../package.json';
import { EventLog } from '../events';
import { humanLine, TsinitEvent } from '../event-catalogue';
import type { Options } from '../cli/options';
import { serverSocket } from './paths';
import { ControlError, ControlServer } from './server';
import { fold, initialState, outputLoss, snapshot, Status, StatusConfig, StatusState, UnitStatus } from './status';

/** What the commands act on; each call returns once the command has been carried out (or begun). */
export interface Commanded {
  /** the service unit: restart() is false when no incarnation is running to restart */
  service: { restart(): boolean };
  /** a signal, as if tsinit had received it */
  signals: { receive(sig: number): void };
  stop: { request(reason: string): void };
}

export function statusConfig(o: Options): StatusConfig {
  const probe = o.healthCmd !== undefined ? 'health-cmd' : o.healthHttp !== undefined ? 'health-http' : null;
  return {
    command: o.command.join(' '),
    readiness: o.notify || o.watchdogMs !== undefined || o.watchdogFile !== undefined || probe !== null,
    probe,
    probeThreshold: o.healthFailures,
    watchdogMs: o.watchdogMs ?? null,
    logger: o.logDir !== undefined ? 'logd' : o.logger !== undefined ? 'command' : 'none',
  };
}

export class Control {
  private readonly state: StatusState;
  private server: ControlServer | null = null;
  private socketPath: string | null = null;
  /** events emitted while a command runs: its one-line result */
  private capture: TsinitEvent[] | null = null;

  constructor(
    private readonly opts: Options,
    private readonly events: EventLog,
    /** the service unit's own snapshot */
    private readonly unit: () => UnitStatus,
  ) {
    this.state = initialState(statusConfig(opts), Date.now());
    events.subscribe((e) => {
      fold(this.state, e, Date.now());
      this.capture?.push(e);
    });
  }

  /** Opens the control socket in the background (tsinit never waits for it). */
  listen({ service, signals, stop }: Commanded): void {
    const where = serverSocket(this.opts.controlSocket, { uid: process.getuid!(), pid1: process.pid === 1, env: process.env });
    if (!where) return;
    const server = new ControlServer({
      path: where.path,
      ownDir: where.isDefault,
      emit: (e) => this.events.emit(e),
      target: {
        status: () => this.status(),
        restart: () =>
          this.run('restart', () => {
            if (!service.restart()) throw new ControlError('the service is not running');
          }),
        signal: (sig) => this.run('signal', () => signals.receive(sig)),
        stop: () => this.run('stop', () => stop.request('stop asked through the control socket')),
      },
    });
    this.server = server;
    void server.start().then((ok) => {
      if (ok) this.socketPath = where.path;
    });
  }

  /** Runs a command; its result is what it made tsinit say. */
  private run(what: string, fn: () => void): string {
    const unit = this.unit();
    if (unit.stopping !== null && what !== 'signal') throw new ControlError(`tsinit is stopping (${unit.stopping})`);
    const seen: TsinitEvent[] = [];
    this.capture = seen;
    try {
      fn();
    } finally {
      this.capture = null;
    }
    const said = seen.filter((e) => e.type !== 'control').map(humanLine);
    return said.length > 0 ? said.join('; ') : `${what}: nothing to do (the service is ${this.status().service.state})`;
  }

  status(): Status {
    return snapshot(this.state, this.unit(), Date.now(), { pid: process.pid, version, controlSocket: this.socketPath });
  }

  /** Any of the service's output lost so far, and how; null when nothing was. */
  outputLoss(): string | null {
    return outputLoss(this.state);
  }

  close(): void {
    this.server?.close();
  }
}
