// The orchestrator: the only module that knows the whole lifecycle.
//   start logger -> start service -> forward signals, reap orphans -> service exits (or is stopped)
//   -> stop what is left of the tree -> drain the logger -> exit with the service's status.
import { onSignal } from './early-signals';
import { Child, signalChild, SpawnError, spawnChild } from './child';
import { EventLog } from './events';
import { Options } from './options';
import { Reaper } from './reaper';
import { Sidecar } from './logging/sidecar';
import { resolveUser } from './users';
import {
  ExitStatus, exitCodeOf, SIGCONT, SIGKILL, SIGTSTP, SIGTTIN, SIGTTOU, STOP_SIGNALS, signalName,
} from './signals';
import { terminateTree } from './tree';
import * as libc from './sys/libc';
import createDebug from './debug';

const debug = createDebug('init');

/** Exit codes of tsinit's own (DESIGN.md section 2). */
export const EXIT_TIMEOUT = 124;
export const EXIT_INTERNAL = 125;

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
  private ownGroup = 0;
  private lastStatus: ExitStatus | null = null;

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
        this.requestStop({ reason: 'the logger keeps failing', exitCode: EXIT_INTERNAL, at: performance.now() }),
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

  /** Starts the service and resolves with its final status. */
  private async runService(): Promise<ExitStatus> {
    const opts = this.opts;
    const user = opts.user !== undefined ? resolveUser(opts.user) : undefined;
    const child = spawnChild(
      {
        argv: opts.command,
        fds: this.sidecar?.serviceFds() ?? [],
        grouping: 'group',
        foregroundTty: this.terminalFd ?? undefined,
        user,
        nice: opts.nice,
      },
      this.reaper,
    );
    this.service = child;
    this.events.emit({ type: 'started', role: 'service', pid: child.pid, command: opts.command.join(' ') });
    if (opts.timeoutMs !== undefined) {
      this.timeoutTimer = setTimeout(() => this.onTimeout(), opts.timeoutMs);
    }
    // A stop that was asked for before the service existed (a signal during start-up) applies now.
    if (this.stopRequest) this.signalService(this.stopSignal(), 'stop');
    const status = await child.exited;
    this.lastStatus = status;
    this.events.emit({ type: 'exited', role: 'service', pid: child.pid, status });
    return status;
  }

  private onTimeout(): void {
    this.events.emit({ type: 'timeout', afterMs: this.opts.timeoutMs!, pid: this.service!.pid });
    this.requestStop({ reason: 'timeout', exitCode: EXIT_TIMEOUT, at: performance.now() });
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
      this.requestStop({ reason: `received ${signalName(sig)}`, at: performance.now() }, sig);
      return;
    }
    if (sig === SIGTSTP) {
      this.suspend();
      return;
    }
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
    if (!this.service || this.lastStatus) return;
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

  /** With a terminal on stdin where tsinit is in the foreground, the service gets the foreground. */
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
  }

  private giveTerminalToService(): void {
    if (this.terminalFd === null || !this.service) return;
    try {
      libc.setForegroundGroup(this.terminalFd, this.service.pgid);
    } catch (e) {
      debug('tcsetpgrp: %s', (e as Error).message);
    }
  }

  private restoreTerminal(): void {
    if (this.terminalFd === null) return;
    try {
      libc.setForegroundGroup(this.terminalFd, this.ownGroup);
    } catch (e) {
      debug('restore tcsetpgrp: %s', (e as Error).message);
    }
  }

  /** SIGTSTP: stop the service group; outside PID 1 stop tsinit too, so the shell gets the terminal. */
  private suspend(): void {
    this.forward(SIGTSTP);
    if (process.pid === 1) return;
    this.restoreTerminal();
    libc.kill(process.pid, 19);
  }

  // ---- the end -------------------------------------------------------------------------------

  /** Stops what is left of the tree, drains the logger, and gives the exit code. */
  async finish(code: number, reason: string): Promise<number> {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    const stopStart = this.stopRequest?.at ?? performance.now();
    const killAt = Math.min(stopStart + this.opts.killAfterMs, performance.now() + this.opts.killAfterMs);
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
      await terminateTree({ spare: new Set(), killAt: performance.now() + 1000, reaper: this.reaper });
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
    if (!this.stopRequest) this.requestStop({ reason: 'internal error', exitCode: EXIT_INTERNAL, at: performance.now() });
    if (this.service && !this.lastStatus) {
      await Promise.race([this.service.exited, new Promise((r) => setTimeout(r, this.opts.killAfterMs + 100))]);
    }
    return this.finish(EXIT_INTERNAL, 'internal error');
  }
}
