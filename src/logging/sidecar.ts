// The sidecar logger and its pipe.
//
// tsinit makes one kernel pipe (two with --logger-stderr separate). The service writes into it, the
// logger reads from it; tsinit copies no byte. tsinit holds the read end for the whole run without
// ever reading it, so a logger that dies leaves every unread byte in the pipe for the next one, and
// holds the write end only while another incarnation of the service may need it: once it closes it,
// the logger sees EOF when the last service process is gone.
import { now } from '../clock';
import { Child, signalChild, spawnChild } from '../process/spawn';
import { SpawnError } from '../process/exec-errors';
import { EventLog } from '../events';
import { Options } from '../cli/options';
import { escalate } from '../process/escalate';
import { Reaper } from '../process/reaper';
import { ExitStatus } from '../exit-status';
import { SIGKILL, SIGTERM } from '../signals';
import { RateLimiter } from '../values';
import * as libc from '../sys/libc';
import createDebug from '../debug';

const debug = createDebug('sidecar');

/** After SIGTERM at the end of the grace period, the logger has this long before SIGKILL. */
export const LOGGER_KILL_WAIT_MS = 1000;

interface Pipe {
  read: number;
  write: number;
}

/** Delay before the next logger restart: 10ms doubling per restart within the last second, max 1s. */
export function loggerRestartDelay(recentRestarts: number): number {
  if (recentRestarts <= 0) return 0;
  return Math.min(1000, 10 * 2 ** (recentRestarts - 1));
}

/** What the sidecar needs of the options. */
export type SidecarConfig = Pick<
  Options,
  'logger' | 'logDir' | 'logMaxBytes' | 'logKeep' | 'loggerStderr' | 'pipeSize' | 'graceMs' | 'loggerRestartLimit' | 'logStdout'
>;

export class Sidecar {
  private out: Pipe;
  private err: Pipe | null = null;
  private logger: Child | null = null;
  /** the logger's restarts, within --logger-restart-limit's window */
  private readonly restarts: RateLimiter;
  private draining = false;
  /** the grace period is over: the logger is being stopped, not restarted */
  private terminating = false;
  private gaveUp = false;
  private exitWaiters: Array<() => void> = [];
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: SidecarConfig,
    private readonly reaper: Reaper,
    private readonly events: EventLog,
    private readonly onGiveUp: () => void,
  ) {
    this.restarts = new RateLimiter(opts.loggerRestartLimit);
    this.out = this.makePipe();
    if (opts.loggerStderr === 'separate') this.err = this.makePipe();
  }

  private makePipe(): Pipe {
    const [read, write] = libc.pipe();
    try {
      libc.setPipeSize(write, this.opts.pipeSize);
    } catch {
      // Above /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE: keep what the kernel gives.
      debug('pipe size %d refused; keeping %d', this.opts.pipeSize, libc.pipeSize(write));
    }
    return { read, write };
  }

  private argv(): string[] {
    const o = this.opts;
    // '--': a command that starts with '-' is the command, not an option of sh (dash and bash accept it).
    if (o.logDir === undefined) return ['/bin/sh', '-c', '--', o.logger!];
    // tsinit's own Node options (bin/tsinit's) again; NODE_OPTIONS is the service's (start()).
    const argv = [process.execPath, ...process.execArgv, process.argv[1], 'logd', o.logDir, '--max-bytes', String(o.logMaxBytes), '--keep', String(o.logKeep)];
    if (this.err) argv.push('--stderr-fd', '3');
    if (o.logStdout) argv.push('--stdout', o.logStdout);
    return argv;
  }

  /** fds the service gets: its stdout and stderr into the pipe(s). */
  serviceFds(): Array<[number, number]> {
    return [[1, this.out.write], [2, (this.err ?? this.out).write]];
  }

  /** pids of the running logger, to be spared when the service's tree is stopped. */
  pids(): number[] {
    return this.logger ? [this.logger.pid] : [];
  }

  /** Starts the logger; false (with the reason reported) if it cannot run at all. */
  start(): boolean {
    const fds: Array<[number, number]> = [[0, this.out.read]];
    if (this.err) fds.push([3, this.err.read]);
    try {
      const env: Record<string, string | null> = this.opts.logDir === undefined ? {} : { NODE_OPTIONS: null };
      this.logger = spawnChild({ argv: this.argv(), fds, env }, this.reaper);
    } catch (e) {
      if (!(e instanceof SpawnError)) throw e;
      this.events.emit({ type: 'spawn-failed', role: 'logger', command: e.command, reason: e.reason, exitCode: e.exitCode });
      return false;
    }
    const logger = this.logger;
    this.events.emit({ type: 'started', role: 'logger', pid: logger.pid, command: this.argv().join(' ') });
    logger.exited.then((status) => this.onLoggerExit(logger, status));
    return true;
  }

  /** Anyone (a leftover of the service, or tsinit before closeInput) can still write to a log pipe. */
  private writersLeft(): boolean {
    return [this.out, this.err].some((p) => p !== null && libc.pipeHasWriters(p.read));
  }

  private unread(): number {
    let n = 0;
    for (const p of [this.out, this.err]) {
      if (p) n += libc.bytesUnread(p.read);
    }
    return n;
  }

  /**
   * Why the service may be blocked by logging right now, or null: a log pipe is (nearly) full, so
   * the service's next write waits for the logger (stopped reading on a full disk, or stuck). The
   * watchdog must not blame the service for a miss that tsinit's own logging causes.
   */
  blockedReason(): string | null {
    for (const [name, p] of [['stdout', this.out], ['stderr', this.err]] as const) {
      if (!p) continue;
      try {
        const unread = libc.bytesUnread(p.read);
        const capacity = libc.pipeSize(p.read);
        // A write may block once less than a page is free (pipe buffers are pages).
        if (unread >= capacity - 4096) {
          const who = this.logger ? `the logger (pid ${this.logger.pid}) is not reading it` : 'no logger is reading it';
          return `the log pipe${this.err ? ` (${name})` : ''} is full (${capacity} bytes unread): ${who}`;
        }
      } catch {
        // closed during the drain: nothing to block on
      }
    }
    return null;
  }

  private onLoggerExit(logger: Child, status: ExitStatus): void {
    // Its own children may still hold the pipe; they must not read beside the next logger.
    signalChild(logger, SIGKILL, true);
    this.logger = null;
    // Once tsinit has let go of the pipe (closeInput), a logger that leaves nothing unread when no one
    // can write any more has seen its EOF. One that ends while bytes are left, or while a leftover of
    // the service still holds the pipe (it crashed, or stopped reading early), is restarted at once.
    if (this.terminating || this.gaveUp || (this.draining && this.unread() === 0 && !this.writersLeft())) {
      this.events.emit({ type: 'exited', role: 'logger', pid: logger.pid, status });
      return this.notifyExit();
    }
    this.restart(logger.pid, status);
  }

  /** The next logger, after the backoff (none while draining), unless --logger-restart-limit is used up. */
  private restart(pid: number, status: ExitStatus): void {
    const t = now();
    if (!this.restarts.tryTake(t)) {
      this.gaveUp = true;
      this.events.emit({ type: 'exited', role: 'logger', pid, status });
      this.events.emit({
        type: 'logger-gave-up',
        restarts: this.restarts.count(t),
        windowMs: this.opts.loggerRestartLimit.windowMs,
      });
      this.onGiveUp();
      return this.notifyExit();
    }
    const delayMs = this.draining ? 0 : loggerRestartDelay(this.restarts.within(t, 1000) - 1);
    this.events.emit({ type: 'logger-restart', pid, status, attempt: this.restarts.count(t), delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.start()) {
        this.gaveUp = true;
        this.onGiveUp();
      }
      this.notifyExit();
    }, delayMs);
    this.notifyExit();
  }

  private notifyExit(): void {
    for (const w of this.exitWaiters.splice(0)) w();
  }

  private running(): boolean {
    return this.logger !== null || this.restartTimer !== null;
  }

  /** Resolves true once no logger runs or is about to be restarted, false at the deadline. */
  private async gone(deadline: number): Promise<boolean> {
    while (this.running()) {
      const left = deadline - now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.exitWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /**
   * The service side is finished for good: tsinit closes its copies of the write ends, so the logger
   * sees EOF once no one else holds them, and an exit on that EOF is the expected end, not a failure.
   */
  closeInput(): void {
    this.draining = true;
    this.closeWriteEnds();
  }

  private closeWriteEnds(): void {
    for (const p of [this.out, this.err]) {
      if (p && p.write >= 0) {
        libc.close(p.write);
        p.write = -1;
      }
    }
  }

  /**
   * EOF -> up to --grace for the logger to finish by itself (restarted while bytes are left) ->
   * SIGTERM -> SIGKILL. Then unread bytes are counted and reported, never dropped silently.
   */
  async drain(): Promise<void> {
    this.closeInput();
    if (!(await this.gone(now() + this.opts.graceMs)) && this.logger) {
      const logger = this.logger;
      this.terminating = true;
      this.events.emit({ type: 'logger-grace-expired', pid: logger.pid, graceMs: this.opts.graceMs });
      await escalate(
        {
          ask: () => signalChild(logger, SIGTERM, true),
          kill: () => {
            this.events.emit({ type: 'killing', reason: 'the logger ignored SIGTERM', pids: [logger.pid] });
            signalChild(logger, SIGKILL, true);
          },
          gone: logger.exited,
        },
        { killAt: now() + LOGGER_KILL_WAIT_MS },
      );
    }
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const lost = this.unread();
    if (lost > 0) this.events.emit({ type: 'logger-bytes-lost', bytes: lost });
    for (const p of [this.out, this.err]) if (p) libc.close(p.read);
  }

  get failed(): boolean {
    return this.gaveUp;
  }
}
