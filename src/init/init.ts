// The orchestrator: the only module that knows the whole lifecycle.
//   start logger -> start service -> forward signals, reap orphans -> service exits (or is stopped)
//   -> stop what is left of the tree -> drain the logger -> exit with the service's status.
import { now } from '../clock';
import { onSignal } from '../early-signals';
import { Child, signalChild, SpawnError, spawnChild } from '../process/spawn';
import { EventLog } from '../events';
import { Options } from '../cli/options';
import { Reaper } from '../process/reaper';
import { Sidecar } from '../logging/sidecar';
import { loadNodePty, PtyHost, PtyUnavailable } from '../process/pty/host';
import { resolveUser } from '../process/users';
import { EXIT_INTERNAL, EXIT_TIMEOUT, ExitStatus, exitCodeOf } from '../exit-status';
import { SIGCONT, SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH, STOP_SIGNALS } from '../signals';
import { signalName } from '../values';
import { terminateTree } from '../process/tree';
import { RestartPolicy } from '../supervise/restart-policy';
import { ServiceWatch, wantsWatch } from '../supervise/service-watch';
import { DaemonTracker, observeDaemon, PidfileWatcher } from '../supervise/daemon';
import type { WatchdogEvent } from '../supervise/watchdog';
import { hangReport, TreeSnapshot } from '../report';
import { readStat } from '../sys/proc';
import * as libc from '../sys/libc';
import createDebug from '../debug';

const debug = createDebug('init');


interface StopRequest {
  reason: string;
  /** tsinit's exit code when the stop is not about the service's own status (timeout, failure) */
  exitCode?: number;
  at: number;
}

export class Init {
  readonly events: EventLog;
  readonly reaper: Reaper;
  private sidecar: Sidecar | null = null;
  private service: Child | null = null;
  private stopRequest: StopRequest | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private terminalFd: number | null = null;
  /** the process group tsinit made the terminal's foreground group, to take it back at the end */
  private terminalGivenTo: number | null = null;
  /** tsinit stopped itself with the service and has not seen the SIGCONT that resumed it yet */
  private suspended = false;
  /** --pty: node-pty, stdin and the current incarnation's pty */
  private ptyHost: PtyHost | null = null;
  private ownGroup = 0;
  private serviceRunning = false;
  private watch: ServiceWatch | null = null;
  private watchdogKilled = false;
  private daemonFailed = false;
  private onStopRequested: (() => void) | null = null;

  constructor(private readonly opts: Options) {
    this.events = new EventLog(opts.verbose, opts.warnReaped);
    this.reaper = new Reaper((pid, status) => {
      if (opts.warnReaped || opts.events) this.events.emit({ type: 'orphan-reaped', pid, status });
    });
  }

  /** Runs everything and returns tsinit's exit code. Never throws for the service's failures. */
  async run(): Promise<number> {
    const opts = this.opts;
    if (opts.events) this.events.openJson(opts.events);
    if (process.pid !== 1 && opts.subreaper) libc.setChildSubreaper();
    if (opts.pdeathsig) libc.setParentDeathSignal(opts.pdeathsig);
    this.reaper.start();
    this.takeTerminal();
    onSignal((sig) => this.onSignal(sig));

    if (opts.logger !== undefined || opts.logDir !== undefined) {
      this.sidecar = new Sidecar(opts, this.reaper, this.events, () =>
        this.requestStop({ reason: 'the logger keeps failing', exitCode: EXIT_INTERNAL, at: now() }),
      );
      const started = this.sidecar.start();
      if (!started) return this.finish(EXIT_INTERNAL, 'the logger could not be started');
    }

    let status: ExitStatus;
    try {
      status = await this.runService();
    } catch (e) {
      if (e instanceof SpawnError) {
        this.events.emit({ type: 'spawn-failed', role: 'service', command: e.command, reason: e.reason, exitCode: e.exitCode });
        return this.finish(e.exitCode, 'the service could not be started');
      }
      throw e;
    }
    const code = this.stopRequest?.exitCode ?? exitCodeOf(status, opts.remapExit);
    return this.finish(code, this.stopRequest?.reason ?? `service exited with ${exitCodeOf(status)}`);
  }

  /** Runs the service, restarting it as the policy says, and resolves with its final status. */
  private async runService(): Promise<ExitStatus> {
    const opts = this.opts;
    const policy = new RestartPolicy({
      policy: opts.restart,
      successExit: opts.successExit,
      limit: opts.restartLimit,
      delayMs: opts.restartDelayMs,
      delayMaxMs: opts.restartDelayMaxMs,
    });
    if (wantsWatch(opts)) {
      this.watch = new ServiceWatch(opts, this.reaper, {
        onNote: (event) => this.events.emit({ type: 'watchdog', pid: this.service?.pid ?? 0, event }),
        onKill: (event, since) => this.onWatchdogKill(event, since),
      });
    }
    if (opts.timeoutMs !== undefined) {
      this.timeoutTimer = setTimeout(() => this.onTimeout(), opts.timeoutMs);
    }
    try {
      for (;;) {
        const startedAt = now();
        this.watchdogKilled = false;
        const status = await this.runIncarnation();
        const exitedAt = now();
        if (this.stopRequest || this.sidecar?.failed) return status;
        const decision = policy.decide({
          exitCode: exitCodeOf(status),
          startedAt,
          exitedAt,
          failure: this.watchdogKilled || this.daemonFailed,
        });
        const pid = this.service!.pid;
        if (!decision.restart) {
          if (decision.reason === 'limit') {
            this.events.emit({ type: 'restart-gave-up', pid, status, restarts: decision.restarts, windowMs: decision.windowMs });
          }
          return status;
        }
        this.events.emit({ type: 'restart', pid, status, attempt: decision.attempt, limit: decision.limit, delayMs: decision.delayMs });
        // The next incarnation starts only when nothing of this one is left (story 3's "already running").
        await this.stopLeftovers(now() + opts.killAfterMs);
        if (await this.stopRequestedWithin(decision.delayMs)) return status;
      }
    } finally {
      this.watch?.close();
    }
  }

  /** One incarnation: spawn, adopt the daemon if asked, wait for the end. */
  private async runIncarnation(): Promise<ExitStatus> {
    const opts = this.opts;
    const user = opts.user !== undefined ? resolveUser(opts.user) : undefined;
    const prepared = this.watch?.prepare(opts.command) ?? { fds: [], env: {}, argv: opts.command };
    const pidfile = opts.pidfile !== undefined ? new PidfileWatcher(opts.pidfile) : undefined;
    pidfile?.baseline();
    let child: Child;
    if (opts.pty) {
      try {
        this.ptyHost ??= new PtyHost(loadNodePty(), {
          interactive: this.terminalFd !== null,
          events: this.events,
          stallMs: opts.graceMs,
          onSuspendKey: () => this.stopWithService(),
        });
      } catch (e) {
        if (!(e instanceof PtyUnavailable)) throw e;
        this.events.emit({ type: 'pty-unavailable', reason: e.reason });
        this.requestStop({ reason: 'node-pty is not available', exitCode: EXIT_INTERNAL, at: now() });
        return { code: EXIT_INTERNAL, signal: null };
      }
      const output = this.sidecar?.serviceFds()[0][1] ?? 1;
      child = this.ptyHost.spawn({ argv: prepared.argv, env: prepared.env, fds: prepared.fds, output, user, nice: opts.nice }, this.reaper);
    } else {
      child = spawnChild(
        {
          argv: prepared.argv,
          env: prepared.env,
          fds: [...(this.sidecar?.serviceFds() ?? []), ...prepared.fds],
          grouping: 'group',
          foregroundTty: this.terminalFd ?? undefined,
          user,
          nice: opts.nice,
        },
        this.reaper,
      );
      if (this.terminalFd !== null) this.terminalGivenTo = child.pgid;
    }
    this.service = child;
    this.serviceRunning = true;
    this.events.emit({ type: 'started', role: 'service', pid: child.pid, command: opts.command.join(' ') });
    this.watch?.started(child.pid);
    if (process.env.TSINIT_FAILPOINT === 'service-started') {
      // Fault injection for the never-crash test: an exception nobody catches, as a bug would throw.
      setTimeout(() => {
        throw new Error('failpoint service-started');
      }, 100);
    }
    // A stop that was asked for before the service existed (a signal during start-up) applies now.
    if (this.stopRequest) this.signalService(this.stopSignal(), 'stop');
    let status = await (opts.daemon ? this.adoptDaemon(child, pidfile) : child.exited);
    this.serviceRunning = false;
    this.watch?.exited();
    if (this.killTimer && !this.stopRequest) clearTimeout(this.killTimer);
    this.events.emit({ type: 'exited', role: 'service', pid: this.service.pid, status });
    return status;
  }

  /**
   * --daemon: the first process forks and exits 0; the daemon, reparented to tsinit, is found by
   * observation (and the pidfile, if trusted) and becomes the service: signals, watchdog, stop and
   * the exit status then apply to it. Resolves with the daemon's status, or the failure's.
   */
  private async adoptDaemon(first: Child, pidfile: PidfileWatcher | undefined): Promise<ExitStatus> {
    this.daemonFailed = false;
    let firstExit: ExitStatus | null = null;
    first.exited.then((s) => (firstExit = s));
    const tracker = new DaemonTracker({
      firstPid: first.pid,
      firstStartTicks: readStat(first.pid)?.starttime,
      startedAt: now(),
      timeoutMs: this.opts.daemonTimeoutMs,
      pidfilePath: this.opts.pidfile,
      exclude: () => new Set(this.sidecar?.pids() ?? []),
    });
    for (;;) {
      if (this.stopRequest && firstExit) return firstExit;
      const d = tracker.decide(observeDaemon(now(), firstExit, pidfile));
      if (d.action === 'adopt') {
        const st = readStat(d.pid);
        this.service = { pid: d.pid, pgid: st?.pgrp ?? d.pid, exited: this.reaper.watch(d.pid) };
        this.events.emit({ type: 'daemon-adopted', pid: d.pid, via: d.via });
        this.watch?.adopted(d.pid);
        if (this.stopRequest) this.signalService(this.stopSignal(), 'stop');
        return this.service.exited;
      }
      if (d.action === 'fail') {
        this.daemonFailed = true;
        this.events.emit({ type: 'daemon-failed', reason: d.reason });
        const done = firstExit as ExitStatus | null;
        return done && done.code !== 0 ? done : { code: EXIT_INTERNAL, signal: null };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves true if a stop is requested within `ms` (SIGTERM during a restart backoff). */
  private stopRequestedWithin(ms: number): Promise<boolean> {
    if (this.stopRequest) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onStopRequested = null;
        resolve(false);
      }, ms);
      this.onStopRequested = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** What is left of an ended incarnation (its group, orphans), so that no two ever overlap. */
  private stopLeftovers(killAt: number): Promise<void> {
    return terminateTree({
      spare: new Set(this.sidecar?.pids() ?? []),
      killAt,
      reaper: this.reaper,
      onKill: (pids) => this.events.emit({ type: 'killing', reason: 'processes left by the previous incarnation', pids }),
    });
  }

  private onWatchdogKill(e: Extract<WatchdogEvent, { type: 'kill' }>, since: TreeSnapshot | null): void {
    const child = this.service;
    if (!child || !this.serviceRunning) return;
    const sig = this.opts.watchdogSignal;
    this.events.emit({ type: 'watchdog-kill', pid: child.pid, silentMs: e.silentMs, source: e.source, signal: sig, cause: e.cause });
    try {
      const lines = hangReport(child.pid, { since: since ?? undefined, sinceLabel: 'the last heartbeat', title: 'hang report' });
      this.events.emit({ type: 'report', text: lines.join('\n') });
    } catch (err) {
      debug('hang report: %s', (err as Error).message);
    }
    this.watchdogKilled = true;
    signalChild(child, sig, true);
    // A stopped process acts on no signal but SIGKILL until it is continued.
    signalChild(child, SIGCONT, true);
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => {
      if (this.service === child && this.serviceRunning) this.killService(`still running ${this.opts.killAfterMs}ms after the watchdog signal`);
    }, this.opts.killAfterMs);
  }

  private onTimeout(): void {
    const pid = this.service?.pid ?? process.pid;
    this.events.emit({ type: 'timeout', afterMs: this.opts.timeoutMs!, pid });
    try {
      const spare = new Set(this.sidecar?.pids() ?? []);
      const lines = hangReport(process.pid, { spare, title: 'hang report (the job at the timeout)' });
      this.events.emit({ type: 'report', text: lines.join('\n') });
    } catch (err) {
      debug('hang report: %s', (err as Error).message);
    }
    this.requestStop({ reason: 'timeout', exitCode: EXIT_TIMEOUT, at: now() });
  }

  // ---- signals -------------------------------------------------------------------------------

  private onSignal(sig: number): void {
    debug('caught %s', signalName(sig));
    if (STOP_SIGNALS.has(sig)) {
      if (this.stopRequest) {
        // A second Ctrl-C or docker stop: the user does not want to wait.
        this.killService(`second ${signalName(sig)} during the stop`);
        return;
      }
      this.requestStop({ reason: `received ${signalName(sig)}`, at: now() }, sig);
      return;
    }
    if (sig === SIGTSTP) {
      this.suspend();
      return;
    }
    // --pty: the pty follows tsinit's terminal; the kernel then signals the pty's foreground group.
    if (sig === SIGWINCH && this.ptyHost?.resize()) return;
    if (sig === SIGCONT) this.giveTerminalToService();
    this.forward(sig);
  }

  /** The rewritten signal, or null when the rewrite drops it. */
  private rewritten(sig: number): number | null {
    const to = this.opts.rewrite.get(sig);
    if (to === undefined) return sig;
    return to === 0 ? null : to;
  }

  private forward(sig: number): void {
    const as = this.rewritten(sig);
    if (as === null) {
      this.events.emit({ type: 'signal-dropped', signal: sig });
      return;
    }
    this.signalService(as, 'forward', sig);
  }

  private signalService(as: number, why: 'forward' | 'stop', original = as): void {
    const child = this.service;
    if (!child) return;
    const group = !this.opts.signalMainOnly;
    signalChild(child, as, group);
    if (why === 'forward') {
      this.events.emit({ type: 'signal-forwarded', signal: original, as, pid: group ? child.pgid : child.pid, group });
    }
  }

  private stopSignal(sig = 15): number {
    return this.rewritten(sig) ?? 15;
  }

  /** Stop the service: its (rewritten) stop signal now, SIGKILL after --kill-after. */
  requestStop(req: StopRequest, sig = 15): void {
    if (this.stopRequest) return;
    this.stopRequest = req;
    this.onStopRequested?.();
    this.watch?.stopping();
    if (!this.service || !this.serviceRunning) return;
    const as = this.stopSignal(sig);
    this.events.emit({ type: 'stopping', reason: req.reason, signal: as, pid: this.service.pid });
    this.signalService(as, 'stop');
    this.killTimer = setTimeout(() => this.killService(`still running ${this.opts.killAfterMs}ms after the stop signal`), this.opts.killAfterMs);
  }

  private killService(reason: string): void {
    const child = this.service;
    if (!child) return;
    this.events.emit({ type: 'killing', reason, pids: [child.pid] });
    signalChild(child, SIGKILL, true);
    signalChild(child, SIGKILL, false);
  }

  // ---- terminals -----------------------------------------------------------------------------

  /**
   * With a terminal on stdin where tsinit is in the foreground, the service gets the foreground (with
   * --pty, tsinit keeps it and puts it in raw mode: see pty.ts).
   */
  private takeTerminal(): void {
    if (!libc.isatty(0)) return;
    try {
      this.ownGroup = libc.getProcessGroup();
      if (libc.getForegroundGroup(0) !== this.ownGroup) return;
    } catch {
      return;
    }
    // tcsetpgrp from a background group raises SIGTTOU unless it is ignored.
    libc.setSignalIgnored(SIGTTOU, true);
    libc.setSignalIgnored(SIGTTIN, true);
    this.terminalFd = 0;
    // Ctrl-Z stops the service (the terminal's foreground group, or the pty's), not tsinit: tsinit
    // learns of it from SIGCHLD. Deferred, so that a SIGCONT that came in the same batch is seen first.
    process.on('SIGCHLD', () => setImmediate(() => this.followServiceStop()));
  }

  /** SIGCONT (`fg`): the terminal goes back to the service, unless the shell kept it (`bg`). */
  private giveTerminalToService(): void {
    this.suspended = false;
    if (this.terminalFd === null || !this.service) return;
    try {
      if (libc.getForegroundGroup(this.terminalFd) !== this.ownGroup) return;
      if (this.ptyHost) {
        this.ptyHost.enterRaw();
        return;
      }
      libc.setForegroundGroup(this.terminalFd, this.service.pgid);
      this.terminalGivenTo = this.service.pgid;
    } catch (e) {
      debug('tcsetpgrp: %s', (e as Error).message);
    }
  }

  /** The terminal back to tsinit's group, if tsinit gave it away (before tsinit stops, and at the end). */
  private restoreTerminal(): void {
    if (this.terminalFd === null) return;
    if (this.ptyHost) {
      this.ptyHost.leaveRaw();
      return;
    }
    try {
      // After `bg` the shell holds the terminal: that is not tsinit's to take.
      if (libc.getForegroundGroup(this.terminalFd) !== this.terminalGivenTo) return;
      libc.setForegroundGroup(this.terminalFd, this.ownGroup);
    } catch (e) {
      debug('restore tcsetpgrp: %s', (e as Error).message);
    }
  }

  /** SIGTSTP: stop the service group; outside PID 1 stop tsinit too, so the shell gets the terminal. */
  private suspend(): void {
    this.forward(SIGTSTP);
    if (process.pid === 1) return;
    // --pty: the service's group is orphaned (its parent, tsinit, is in another session), and the
    // kernel discards SIGTSTP for such a group.
    if (this.ptyHost && this.service) signalChild(this.service, SIGSTOP, true);
    this.stopWithService();
  }

  /**
   * The service stopped (Ctrl-Z, or SIGTTIN after `bg`): outside PID 1 tsinit stops too, so that the
   * shell gets the terminal back and `fg` resumes both (SIGCONT, above). As PID 1 there is no shell
   * to return to: the service stays stopped until it gets SIGCONT.
   */
  private followServiceStop(): void {
    const child = this.service;
    // Resumed, but the SIGCONT is still on its way (signals reach Node's threads in any order): the
    // service's stop is the one tsinit stopped for, and that SIGCONT will continue it.
    if (!child || !this.serviceRunning || this.terminalFd === null || this.suspended) return;
    let sig: number | null;
    try {
      sig = libc.waitStopped(child.pid);
    } catch (e) {
      debug('waitid: %s', (e as Error).message);
      return;
    }
    if (sig === null) return;
    debug('service stopped by %s', signalName(sig));
    this.stopWithService();
  }

  /** Outside PID 1: the terminal back to the shell, and tsinit stopped until SIGCONT (`fg`). */
  private stopWithService(): void {
    if (process.pid === 1) return;
    this.restoreTerminal();
    this.suspended = true;
    libc.kill(process.pid, SIGSTOP);
  }

  // ---- the end -------------------------------------------------------------------------------

  /** Stops what is left of the tree, drains the logger, and gives the exit code. */
  async finish(code: number, reason: string): Promise<number> {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    const stopStart = this.stopRequest?.at ?? now();
    const killAt = Math.min(stopStart + this.opts.killAfterMs, now() + this.opts.killAfterMs);
    if (!this.opts.keepOrphans) {
      await terminateTree({
        spare: new Set(this.sidecar?.pids() ?? []),
        killAt,
        reaper: this.reaper,
        onKill: (pids) => this.events.emit({ type: 'killing', reason: 'processes left after the service ended', pids }),
      });
    }
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.sidecar) {
      await this.sidecar.drain();
      // A logger that failed for good, even after the service ended, means the run's output
      // cannot be trusted: say so with tsinit's own failure code, never the service's success.
      if (this.sidecar.failed) {
        code = EXIT_INTERNAL;
        reason = 'the logger kept failing';
      }
    }
    this.restoreTerminal();
    if (!this.opts.keepOrphans) {
      // The logger may have left processes of its own behind.
      await terminateTree({ spare: new Set(), killAt: now() + 1000, reaper: this.reaper });
    }
    this.reaper.reap();
    if (this.reaper.reapedOrphans > 0) this.events.emit({ type: 'orphans-reaped', count: this.reaper.reapedOrphans });
    this.events.emit({ type: 'exit', code, reason });
    this.events.close();
    return code;
  }

  /** Last resort after an unexpected error: stop everything gracefully, exit 125. */
  async abort(err: unknown): Promise<number> {
    this.events.emit({ type: 'error', message: `internal error: ${err instanceof Error ? err.message : String(err)}` });
    if (!this.stopRequest) this.requestStop({ reason: 'internal error', exitCode: EXIT_INTERNAL, at: now() });
    if (this.service && this.serviceRunning) {
      await Promise.race([this.service.exited, new Promise((r) => setTimeout(r, this.opts.killAfterMs + 100))]);
    }
    return this.finish(EXIT_INTERNAL, 'internal error');
  }
}
