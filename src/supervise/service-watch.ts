// The watchdog's effects for one tsinit run: the heartbeat sources (fd, sd_notify socket, file),
// the health probe, the tick timer, and the baseline for the hang report. The decisions stay in
// watchdog.ts; this module only feeds it and carries out what it says.
import { now } from '../clock';
import { Options } from '../cli/options';
import { Reaper } from '../process/reaper';
import { FdHeartbeat, FileHeartbeat } from './heartbeat-sources';
import { defaultNotifyPath, execWithWatchdogPid, notifyAccess, notifyEnv, NotifySocket, procInfo, usecToMs } from './notify';
import { resolveUser } from '../process/users';
import { HealthCmdProbe, HealthHttpProbe, HealthProbe } from './probes';
import { recommendedTickMs, Watchdog } from './watchdog';
import { WatchdogEvent } from '../event-catalogue';
import { takeSnapshot, TreeSnapshot } from '../report';


export interface WatchHandlers {
  /** a line worth reporting (stall, unknown, probe failure, ...) */
  onNote(e: WatchdogEvent): void;
  /** the watchdog says: this incarnation is hung; `since` is the CPU baseline for the report */
  onKill(e: Extract<WatchdogEvent, { type: 'kill' }>, since: TreeSnapshot | null): void;
  /** a notify datagram from someone who may not speak for the service (said for the first few) */
  onRefused?(reason: string): void;
  /** why the service may be blocked by tsinit's own logging right now (a full log pipe), or null */
  loggingBlocked?(): string | null;
}

/** Refused notify senders are reported this many times, then only counted. */
const REFUSALS_REPORTED = 5;

/** What the watch needs of the options. */
export type WatchConfig = Pick<
  Options,
  | 'watchdogMs' | 'watchdogFile' | 'watchdogMaxKills' | 'startTimeoutMs' | 'notify' | 'pty' | 'user'
  | 'healthCmd' | 'healthHttp' | 'healthIntervalMs' | 'healthTimeoutMs' | 'healthFailures'
>;

export function wantsWatch(o: WatchConfig): boolean {
  return o.watchdogMs !== undefined || o.watchdogFile !== undefined || o.healthCmd !== undefined ||
    o.healthHttp !== undefined || o.notify;
}

export class ServiceWatch {
  readonly watchdog: Watchdog;
  private notify: NotifySocket | null = null;
  private fd: FdHeartbeat | null = null;
  private file: FileHeartbeat | null = null;
  private probe: HealthProbe | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private servicePid = 0;
  private baseline: TreeSnapshot | null = null;
  private baselineAt = 0;
  private readonly tickMs: number;
  private loggingWasBlocked = false;

  constructor(
    private readonly opts: WatchConfig,
    reaper: Reaper,
    private readonly handlers: WatchHandlers,
  ) {
    const periodMs = opts.watchdogMs;
    this.tickMs = recommendedTickMs(periodMs ?? opts.healthIntervalMs);
    const probeTarget = opts.healthCmd ?? opts.healthHttp;
    this.watchdog = new Watchdog({
      periodMs,
      // The start timeout only applies when something can end the start phase.
      startTimeoutMs: periodMs !== undefined || opts.notify ? opts.startTimeoutMs : undefined,
      tickMs: this.tickMs,
      maxKills: opts.watchdogMaxKills,
      probe: probeTarget === undefined ? undefined : {
        source: opts.healthCmd !== undefined ? 'health-cmd' : 'health-http',
        intervalMs: opts.healthIntervalMs,
        timeoutMs: opts.healthTimeoutMs,
        failureThreshold: opts.healthFailures,
      },
    });
    if (opts.healthCmd !== undefined) {
      this.probe = new HealthCmdProbe(opts.healthCmd, { timeoutMs: opts.healthTimeoutMs, reaper });
    } else if (opts.healthHttp !== undefined) {
      this.probe = new HealthHttpProbe(opts.healthHttp, { timeoutMs: opts.healthTimeoutMs });
    }
    if (periodMs !== undefined || opts.notify) {
      // Under --user the socket belongs to the service's uid (mode 0600), and every datagram's sender
      // is checked by its kernel-given credentials: the service's tree, as the service's uid or root.
      const user = opts.user !== undefined ? resolveUser(opts.user) : undefined;
      const serviceUid = user?.uid ?? process.geteuid?.() ?? 0;
      let refusals = 0;
      this.notify = NotifySocket.open(defaultNotifyPath(), {
        onRefused: (reason) => {
          if (++refusals <= REFUSALS_REPORTED) handlers.onRefused?.(reason);
        },
        onMessage: (msg, t) => {
          if (msg.ready) this.watchdog.ready(t);
          if (msg.watchdog === 'ping') this.beat(t, 'notify');
          if (msg.watchdog === 'trigger') this.watchdog.trigger(t);
          if (msg.extendTimeoutUsec !== undefined) this.watchdog.extend(t, usecToMs(msg.extendTimeoutUsec));
          if (msg.watchdogUsec !== undefined) this.watchdog.setPeriod(t, usecToMs(msg.watchdogUsec));
          if (msg.stopping) this.watchdog.stopping(t);
        },
        onUnknown: (reason, t) => this.watchdog.unknown(t, 'notify', reason),
        onOk: (t) => this.watchdog.sourceOk(t, 'notify'),
      }, {
        owner: user ? { uid: user.uid, gid: user.gid } : undefined,
        accept: (sender) => notifyAccess(sender, { pid: this.servicePid, uid: serviceUid }, procInfo),
      });
    }
  }

  /** What the next incarnation gets: extra fds, environment, and the argv to run. */
  prepare(argv: string[]): { fds: Array<[number, number]>; env: Record<string, string>; argv: string[] } {
    const fds: Array<[number, number]> = [];
    let env: Record<string, string> = {};
    // A pty passes the service fds 0-2 only: under --pty the heartbeat comes by sd_notify or file.
    if (this.opts.watchdogMs !== undefined && !this.opts.pty) {
      this.fd = FdHeartbeat.open({
        onBeat: (t) => this.beat(t, 'fd'),
        onUnknown: (reason, t) => this.watchdog.unknown(t, 'fd', reason),
        onOk: (t) => this.watchdog.sourceOk(t, 'fd'),
      });
      fds.push(...this.fd.fds());
      env = { ...env, ...this.fd.env() };
    }
    if (this.notify) {
      env = { ...env, ...notifyEnv({ socketPath: this.notify.path, watchdogMs: this.opts.watchdogMs }) };
      // systemd sets WATCHDOG_PID to the service's pid; only the service itself can know it here.
      if (this.opts.watchdogMs !== undefined) argv = execWithWatchdogPid(argv);
    }
    return { fds, env, argv };
  }

  /** The incarnation runs as `pid`. */
  started(pid: number): void {
    this.servicePid = pid;
    this.fd?.spawned();
    const t = now();
    this.watchdog.start(t);
    this.refreshBaseline(t, true);
    if (this.opts.watchdogFile !== undefined && !this.file) {
      this.file = new FileHeartbeat(this.opts.watchdogFile, {
        onBeat: (tt) => this.beat(tt, 'file'),
        onUnknown: (reason, tt) => this.watchdog.unknown(tt, 'file', reason),
        onOk: (tt) => this.watchdog.sourceOk(tt, 'file'),
      });
      this.file.start();
    }
    if (!this.ticker) this.ticker = setInterval(() => this.tick(), this.tickMs);
  }

  /** The daemon that was adopted replaces the first process as the one watched. */
  adopted(pid: number): void {
    this.servicePid = pid;
  }

  private beat(t: number, source: string): void {
    this.watchdog.beat(t, source);
    this.refreshBaseline(t, false);
  }

  /** CPU "since the last heartbeat" needs a snapshot near each heartbeat; a few per period is enough. */
  private refreshBaseline(t: number, force: boolean): void {
    const every = (this.opts.watchdogMs ?? this.opts.healthIntervalMs) / 4;
    if (!force && t - this.baselineAt < every) return;
    this.baselineAt = t;
    try {
      this.baseline = takeSnapshot(this.servicePid, { light: true });
    } catch {
      this.baseline = null;
    }
  }

  private tick(): void {
    const t = now();
    // A service blocked writing into a full log pipe misses heartbeats because of tsinit's logging:
    // that is a checker failure ('logging'), reported, and never a reason to kill.
    const blocked = this.handlers.loggingBlocked?.() ?? null;
    if (blocked !== null) this.watchdog.unknown(t, 'logging', blocked);
    else if (this.loggingWasBlocked) this.watchdog.sourceOk(t, 'logging');
    this.loggingWasBlocked = blocked !== null;
    if (this.probe && this.watchdog.probeDue(t)) {
      this.watchdog.probeStarted(t);
      this.probe.run().then((o) => {
        this.watchdog.probeFinished(now(), o);
        if (o.result === 'success') this.refreshBaseline(now(), false);
      });
    }
    for (const e of this.watchdog.tick(t)) {
      if (e.type === 'kill') this.handlers.onKill(e, this.baseline);
      else this.handlers.onNote(e);
    }
  }

  /** tsinit is stopping the service: its stop has its own deadline. */
  stopping(): void {
    this.watchdog.stopping(now());
  }

  /** The incarnation has exited. */
  exited(): void {
    this.watchdog.stop();
    this.fd?.close();
    this.fd = null;
  }

  close(): void {
    this.exited();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.file?.close();
    this.notify?.close();
  }
}
