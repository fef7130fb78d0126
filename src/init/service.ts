// One service unit: the command tsinit supervises, with every piece of state that belongs to it. It
// runs incarnations one after the other (restarted as the policy says), each through a pipe or a
// pty, adopts the daemon of a command that daemonizes, and carries out the watchdog's kill. The stop
// of the whole run is not decided here (stop.ts decides, this unit obeys), nor the routing of
// signals (forward.ts). Several services in one container are several units.
import { now, sleep } from '../clock';
import type { Options } from '../cli/options';
import { EventLog } from '../events';
import { EXIT_INTERNAL, ExitStatus, exitCodeOf } from '../exit-status';
import { escalate } from '../process/escalate';
import { loadNodePty, PtyUnavailable } from '../process/pty/node-pty';
import { PtyHost } from '../process/pty/host';
import { Reaper } from '../process/reaper';
import { commandBytes, userVariables } from '../process/environment';
import { Child, signalChild, spawnChild } from '../process/spawn';
import { terminateTree } from '../process/tree';
import { resolveUser } from '../process/users';
import { hangReport, TreeSnapshot } from '../report';
import { SIGCONT, SIGKILL } from '../signals';
import { DaemonTracker, observeDaemon, PidfileWatcher } from '../supervise/daemon';
import { RestartPolicy, RestartPolicyConfig } from '../supervise/restart-policy';
import { ServiceWatch, WatchConfig, wantsWatch } from '../supervise/service-watch';
import type { WatchdogEvent } from '../event-catalogue';
import { readStat } from '../sys/proc';
import createDebug from '../debug';

const debug = createDebug('service');

export interface ServiceConfig {
  command: string[];
  user?: string;
  nice?: number;
  /** --signal-main-only: signals go to the main process, not its group */
  signalMainOnly: boolean;
  killAfterMs: number;
  /** what a stop sends to an incarnation that starts after the stop was asked for */
  stopSignal: number;
  restart: RestartPolicyConfig;
  /** --daemon: adopt the process the command leaves behind */
  daemon: { timeoutMs: number; pidfile?: string } | null;
  watch: WatchConfig;
  watchdogSignal: number;
  /** --pty, and how long its output may stall at the end of an incarnation */
  pty: boolean;
  graceMs: number;
}

/** Where the service's output goes: the logger's pipe. */
export interface ServiceOutput {
  /** [serviceFd, tsinitFd] pairs: stdout and stderr into the pipe */
  serviceFds(): Array<[number, number]>;
  /** the logger's processes: never the service's to stop */
  pids(): number[];
  /** why the service may be blocked writing its output right now (a full log pipe), or null */
  blockedReason?(): string | null;
}

export interface ServiceDeps {
  reaper: Reaper;
  events: EventLog;
  output: ServiceOutput | null;
  /** the terminal tsinit is in the foreground of, if any */
  terminal: { fd: number | null; gaveTo(pgid: number): void; stopWithService(): void };
  /** the unit cannot run at all (node-pty missing): the run must stop with this exit code */
  onFatal(reason: string, exitCode: number): void;
  /** an incarnation was just spawned (signals that came before it can now be passed on) */
  onStarted?(): void;
}

export function serviceConfig(o: Options, stopSignal: number): ServiceConfig {
  return {
    command: o.command,
    user: o.user,
    nice: o.nice,
    signalMainOnly: o.signalMainOnly,
    killAfterMs: o.killAfterMs,
    stopSignal,
    restart: {
      policy: o.restart,
      successExit: o.successExit,
      limit: o.restartLimit,
      delayMs: o.restartDelayMs,
      delayMaxMs: o.restartDelayMaxMs,
    },
    daemon: o.daemon ? { timeoutMs: o.daemonTimeoutMs, pidfile: o.pidfile } : null,
    watch: o,
    watchdogSignal: o.watchdogSignal,
    pty: o.pty,
    graceMs: o.graceMs,
  };
}

export type ServiceState = 'idle' | 'running' | 'adopting' | 'restarting' | 'stopping' | 'exited';

/** A read-only snapshot of the unit, for a status command. */
export interface ServiceStatus {
  state: ServiceState;
  /** the running incarnation (the adopted daemon with --daemon), or null */
  pid: number | null;
  /** how long the running incarnation has been up, or null */
  uptimeMs: number | null;
  restarts: number;
  lastExit: ExitStatus | null;
  /** a stop was asked for, and why */
  stopping: string | null;
}

export class Service {
  /** the current incarnation, or the last one once it has exited */
  private child: Child | null = null;
  private running = false;
  private adopting = false;
  private backoff = false;
  private finished = false;
  private startedAt: number | null = null;
  private restarts = 0;
  private lastExit: ExitStatus | null = null;
  private stopRequest: { reason: string; signal: number } | null = null;
  /** restart() was called for the running incarnation: the next one starts at once, whatever the policy */
  private restartAsked = false;
  /** aborted when a stop is asked for: ends a restart's wait at once */
  private readonly stopAsked = new AbortController();
  private watch: ServiceWatch | null = null;
  private watchdogKilled = false;
  private daemonFailed = false;
  /** --pty: node-pty, stdin and the current incarnation's pty */
  pty: PtyHost | null = null;
  private resolveDone!: () => void;
  /** settles when run() is over: the service has ended for good */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly cfg: ServiceConfig,
    private readonly deps: ServiceDeps,
  ) {}

  /** Runs the service, restarting it as the policy says, and resolves with its final status. */
  async run(): Promise<ExitStatus> {
    const policy = new RestartPolicy(this.cfg.restart);
    this.watch = this.startWatch();
    try {
      for (;;) {
        const startedAt = now();
        this.watchdogKilled = false;
        const status = await this.incarnation();
        const exitedAt = now();
        this.lastExit = status;
        if (this.stopRequest) return status;
        const next = this.nextIncarnation(policy, status, startedAt, exitedAt);
        if (!next) return status;
        this.backoff = true;
        // The next incarnation starts only when nothing of this one is left: two never overlap.
        await this.stopLeftovers(now() + this.cfg.killAfterMs);
        if (next.delayMs !== null) await sleep(next.delayMs, this.stopAsked.signal);
        this.backoff = false;
        if (this.stopRequest) return status;
        this.restarts++;
      }
    } finally {
      this.watch?.close();
      this.finished = true;
      this.resolveDone();
    }
  }

  /** The watchdog, readiness and health probes, if any option asks for them. */
  private startWatch(): ServiceWatch | null {
    if (!wantsWatch(this.cfg.watch)) return null;
    const { events, output } = this.deps;
    return new ServiceWatch(this.cfg.watch, this.deps.reaper, {
      onNote: (event) => events.emit({ type: 'watchdog', pid: this.child?.pid ?? 0, event }),
      onKill: (event, since) => this.onWatchdogKill(event, since),
      onRefused: (reason) => events.emit({ type: 'notify-refused', reason }),
      loggingBlocked: () => output?.blockedReason?.() ?? null,
    });
  }

  /**
   * Whether another incarnation starts (null: none), and after which delay: as the policy says for an
   * incarnation that ended by itself; at once, without the policy's delay or count and without waiting
   * at all (delayMs null), when restart() asked for it.
   */
  private nextIncarnation(
    policy: RestartPolicy, status: ExitStatus, startedAt: number, exitedAt: number,
  ): { delayMs: number | null } | null {
    if (this.restartAsked) {
      this.restartAsked = false;
      return { delayMs: null };
    }
    const decision = policy.decide({
      exitCode: exitCodeOf(status),
      startedAt,
      exitedAt,
      failure: this.watchdogKilled || this.daemonFailed,
    });
    const pid = this.child!.pid;
    if (!decision.restart) {
      if (decision.reason === 'limit') {
        this.deps.events.emit({ type: 'restart-gave-up', pid, status, restarts: decision.restarts, windowMs: decision.windowMs });
      }
      return null;
    }
    this.deps.events.emit({ type: 'restart', pid, status, attempt: decision.attempt, limit: decision.limit, delayMs: decision.delayMs });
    return { delayMs: decision.delayMs };
  }

  /** One incarnation: spawn, adopt the daemon if asked, wait for the end. */
  private async incarnation(): Promise<ExitStatus> {
    const { cfg } = this;
    const { events } = this.deps;
    const pidfile = cfg.daemon?.pidfile !== undefined ? new PidfileWatcher(cfg.daemon.pidfile) : undefined;
    pidfile?.baseline();
    const child = this.spawn();
    if (!child) return { code: EXIT_INTERNAL, signal: null };
    this.child = child;
    this.running = true;
    this.startedAt = now();
    events.emit({ type: 'started', role: 'service', pid: child.pid, command: cfg.command.join(' ') });
    // Signal 0 (no signal, only the permission check) runs the forwarding path once, koffi's
    // calls included, so that the first real signal does not pay for its first use.
    this.send(0);
    this.watch?.started(child.pid);
    if (process.env.TSINIT_FAILPOINT === 'service-started') {
      // Fault injection for the never-crash test: an exception nobody catches, as a bug would throw.
      setTimeout(() => {
        throw new Error('failpoint service-started');
      }, 100);
    }
    // A stop that was asked for before the service existed (a signal during start-up) applies now,
    // and so do the signals that came before it.
    if (this.stopRequest) this.send(this.stopRequest.signal);
    this.deps.onStarted?.();
    const status = await (cfg.daemon ? this.adoptDaemon(child, pidfile) : child.exited);
    this.running = false;
    this.startedAt = null;
    this.watch?.exited();
    events.emit({ type: 'exited', role: 'service', pid: this.child.pid, status });
    return status;
  }

  /**
   * Starts the command through a pipe (posix_spawn, in its own group, with the terminal's foreground
   * if tsinit has one) or in a new pty. Throws SpawnError; null when node-pty cannot be loaded (the
   * run is then stopped with 125).
   */
  private spawn(): Child | null {
    const { cfg } = this;
    const { events, reaper, output, terminal } = this.deps;
    const user = cfg.user !== undefined ? resolveUser(cfg.user) : undefined;
    const prepared = this.watch?.prepare(cfg.command) ?? { fds: [], env: {}, argv: cfg.command };
    const { argv, fds } = prepared;
    const env = { ...prepared.env, ...userVariables(user) };
    // The command's bytes as tsinit received them (a wrapper the watchdog puts in front is text).
    const k = argv.length - cfg.command.length;
    const rawArgv = k >= 0 && cfg.command.every((a, i) => argv[k + i] === a)
      ? [...argv.slice(0, k).map((a) => Buffer.from(a)), ...commandBytes(cfg.command)]
      : undefined;
    if (!cfg.pty) {
      const foregroundTty = terminal.fd ?? undefined;
      const serviceFds = [...(output?.serviceFds() ?? []), ...fds];
      const child = spawnChild({ argv, rawArgv, env, fds: serviceFds, foregroundTty, user, nice: cfg.nice }, reaper);
      if (terminal.fd !== null) terminal.gaveTo(child.pgid);
      return child;
    }
    try {
      this.pty ??= new PtyHost(loadNodePty(), {
        interactive: terminal.fd !== null,
        events,
        stallMs: cfg.graceMs,
        onSuspendKey: () => terminal.stopWithService(),
      });
    } catch (e) {
      if (!(e instanceof PtyUnavailable)) throw e;
      events.emit({ type: 'pty-unavailable', reason: e.reason });
      this.deps.onFatal('node-pty is not available', EXIT_INTERNAL);
      return null;
    }
    const out = output?.serviceFds()[0][1] ?? 1;
    return this.pty.spawn({ argv, env, fds, output: out, user, nice: cfg.nice }, reaper);
  }

  /**
   * --daemon: the first process forks and exits 0; the daemon, reparented to tsinit, is found by
   * observation (and the pidfile, if trusted) and becomes the service: signals, watchdog, stop and
   * the exit status then apply to it. Resolves with the daemon's status, or the failure's.
   */
  private async adoptDaemon(first: Child, pidfile: PidfileWatcher | undefined): Promise<ExitStatus> {
    const { events, reaper, output } = this.deps;
    this.daemonFailed = false;
    this.adopting = true;
    let firstExit: ExitStatus | null = null;
    first.exited.then((s) => (firstExit = s));
    const tracker = new DaemonTracker({
      firstPid: first.pid,
      firstStartTicks: readStat(first.pid)?.starttime,
      startedAt: now(),
      timeoutMs: this.cfg.daemon!.timeoutMs,
      pidfilePath: this.cfg.daemon!.pidfile,
      exclude: () => new Set(output?.pids() ?? []),
    });
    try {
      for (;;) {
        if (this.stopRequest && firstExit) return firstExit;
        const d = tracker.decide(observeDaemon(now(), firstExit, pidfile));
        if (d.action === 'adopt') {
          const st = readStat(d.pid);
          this.child = { pid: d.pid, pgid: st?.pgrp ?? d.pid, exited: reaper.watch(d.pid) };
          this.adopting = false;
          events.emit({ type: 'daemon-adopted', pid: d.pid, via: d.via });
          this.watch?.adopted(d.pid);
          if (this.stopRequest) this.send(this.stopRequest.signal);
          return this.child.exited;
        }
        if (d.action === 'fail') {
          this.daemonFailed = true;
          events.emit({ type: 'daemon-failed', reason: d.reason });
          const done = firstExit as ExitStatus | null;
          return done && done.code !== 0 ? done : { code: EXIT_INTERNAL, signal: null };
        }
        await sleep(50);
      }
    } finally {
      this.adopting = false;
    }
  }

  /** What is left of an ended incarnation (its group, orphans), so that no two ever overlap. */
  private stopLeftovers(killAt: number): Promise<void> {
    return terminateTree({
      spare: () => this.deps.output?.pids() ?? [],
      killAt,
      reaper: this.deps.reaper,
      onKill: (pids) => this.deps.events.emit({ type: 'killing', reason: 'processes left by the previous incarnation', pids }),
    });
  }

  private onWatchdogKill(e: Extract<WatchdogEvent, { type: 'kill' }>, since: TreeSnapshot | null): void {
    const child = this.child;
    if (!child || !this.running) return;
    const { events } = this.deps;
    const sig = this.cfg.watchdogSignal;
    events.emit({ type: 'watchdog-kill', pid: child.pid, silentMs: e.silentMs, source: e.source, signal: sig, cause: e.cause });
    try {
      const lines = hangReport(child.pid, { since: since ?? undefined, sinceLabel: 'the last heartbeat', title: 'hang report' });
      events.emit({ type: 'report', text: lines.join('\n') });
    } catch (err) {
      debug('hang report: %s', (err as Error).message);
    }
    this.watchdogKilled = true;
    this.endIncarnation(child, 'the watchdog signal', () => {
      signalChild(child, sig, true);
      // A stopped process acts on no signal but SIGKILL until it is continued.
      signalChild(child, SIGCONT, true);
    });
  }

  /** Ends one incarnation: `ask` now, SIGKILL --kill-after later if that same incarnation still runs. */
  private endIncarnation(child: Child, what: string, ask: () => void): void {
    void escalate(
      {
        ask,
        kill: () => {
          if (this.child === child && this.running) this.kill(`still running ${this.cfg.killAfterMs}ms after ${what}`);
        },
        gone: child.exited,
      },
      { killAt: now() + this.cfg.killAfterMs },
    );
  }

  // ---- what the rest of tsinit may ask of the unit -----------------------------------------------

  /** The current incarnation (or the last one), for the terminal. */
  current(): { pid: number; pgid: number; running: boolean } | null {
    return this.child ? { pid: this.child.pid, pgid: this.child.pgid, running: this.running } : null;
  }

  /** An incarnation is running (a stop has something to signal). */
  get isRunning(): boolean {
    return this.child !== null && this.running;
  }

  /**
   * A received `signal` passed on to the service as `as` (forward.ts decides), and said so; to the
   * whole group whatever --signal-main-only says with `wholeGroup` (job control).
   */
  forward(signal: number, as: number, wholeGroup?: boolean): void {
    const to = this.send(as, wholeGroup);
    if (to) this.deps.events.emit({ type: 'signal-forwarded', signal, as, pid: to.pid, group: to.group });
  }

  /**
   * Sends `sig` to the service: its process group, or its main process with --signal-main-only.
   * Returns what was signalled, or null when there has been no incarnation yet.
   */
  private send(sig: number, group = !this.cfg.signalMainOnly): { pid: number; group: boolean } | null {
    const child = this.child;
    if (!child) return null;
    signalChild(child, sig, group);
    return { pid: group ? child.pgid : child.pid, group };
  }

  /**
   * The service is to stop for good: no more restarts, and `signal` to the running incarnation (or to
   * the next one, as soon as it starts). The deadline is the caller's (stop.ts).
   */
  stop(reason: string, signal: number): void {
    if (this.stopRequest) return;
    this.stopRequest = { reason, signal };
    // The signal first: the rest is bookkeeping the service need not wait for.
    const child = this.child && this.running ? this.child : null;
    if (child) this.send(signal);
    this.stopAsked.abort();
    this.watch?.stopping();
    if (child) this.deps.events.emit({ type: 'stopping', reason, signal, pid: child.pid });
  }

  /** SIGKILL the incarnation, its group and its main process whatever --signal-main-only says. */
  kill(reason: string): void {
    const child = this.child;
    if (!child) return;
    this.deps.events.emit({ type: 'killing', reason, pids: [child.pid] });
    signalChild(child, SIGKILL, true);
    signalChild(child, SIGKILL, false);
  }

  /**
   * Restarts the running incarnation now: the stop signal, SIGKILL after --kill-after, and the next
   * incarnation as soon as nothing of this one is left, without the policy's delay or count. False
   * when nothing runs or a stop is under way.
   */
  restart(): boolean {
    const child = this.child;
    if (!child || !this.running || this.adopting || this.stopRequest || this.restartAsked) return false;
    this.restartAsked = true;
    this.deps.events.emit({ type: 'restart-asked', pid: child.pid, signal: this.cfg.stopSignal });
    this.endIncarnation(child, 'the restart signal', () => this.send(this.cfg.stopSignal));
    return true;
  }

  status(): ServiceStatus {
    let state: ServiceState = 'idle';
    if (this.finished) state = 'exited';
    else if (this.stopRequest) state = 'stopping';
    else if (this.restartAsked) state = 'restarting';
    else if (this.adopting) state = 'adopting';
    else if (this.running) state = 'running';
    else if (this.backoff) state = 'restarting';
    return {
      state,
      pid: this.running && !this.adopting ? this.child!.pid : null,
      uptimeMs: this.startedAt !== null ? now() - this.startedAt : null,
      restarts: this.restarts,
      lastExit: this.lastExit,
      stopping: this.stopRequest?.reason ?? null,
    };
  }
}
