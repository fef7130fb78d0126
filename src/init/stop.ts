// The stop sequence, all of it, in the order it happens:
//   1. the stop signal to the service (rewritten as --rewrite says),
//   2. SIGKILL --kill-after later if it is still running (at once on a second stop signal),
//   3. what is left of the tree (orphans, escapees): SIGTERM, SIGKILL at the same deadline,
//   4. the logger: end of its input, --grace to finish by itself, then SIGTERM, a second, SIGKILL,
//   5. the terminal back, the logger's own leftovers, the last zombies,
//   6. the exit code (exit-status.ts) and the last event.
// Steps 1-2 start when a stop is asked for (a signal, --timeout, a logger that keeps failing, an
// internal error); steps 3-6 run once the service has ended, whether it was stopped or not.
import { Clock, realClock } from '../clock';
import type { Options } from '../cli/options';
import { EventLog } from '../events';
import { EXIT_INTERNAL, finalExitCode, RunOutcome, STRICT_LOGS_REASON } from '../exit-status';
import { LOGGER_KILL_WAIT_MS } from '../logging/sidecar';
import { escalate } from '../process/escalate';
import { Reaper } from '../process/reaper';
import { terminateTree, TerminateOptions } from '../process/tree';
import { hangReport } from '../report';
import createDebug from '../debug';

const debug = createDebug('stop');

export interface StopConfig {
  killAfterMs: number;
  keepOrphans: boolean;
  /** the signal of a stop tsinit asks for itself (--timeout, the logger, an error): SIGTERM, rewritten */
  stopSignal: number;
  /** --strict-logs: lost output fails the run */
  strictLogs?: boolean;
}

export function stopConfig(o: Options, stopSignal: number): StopConfig {
  return { killAfterMs: o.killAfterMs, keepOrphans: o.keepOrphans, stopSignal, strictLogs: o.strictLogs };
}

/** What the stop needs of the service unit. */
export interface StoppableService {
  readonly isRunning: boolean;
  readonly done: Promise<void>;
  current(): { pid: number } | null;
  stop(reason: string, signal: number): void;
  kill(reason: string): void;
}

/** What the stop needs of the logger. */
export interface DrainableOutput {
  pids(): number[];
  /** the service side is finished for good: tsinit's own copies of the pipe's write ends close */
  closeInput(): void;
  drain(): Promise<void>;
  readonly failed: boolean;
}

export interface StopDeps {
  events: EventLog;
  reaper: Reaper;
  service: StoppableService;
  output: DrainableOutput | null;
  terminal: { restore(): void };
  /** any of the service's output lost so far, and how (for --strict-logs) */
  outputLoss?: () => string | null;
  /** tests pass a fake clock and a fake tree */
  clock?: Clock;
  terminateTree?: (o: TerminateOptions) => Promise<void>;
}

export interface StopRequest {
  reason: string;
  /** tsinit's exit code when the stop is not about the service's own status (timeout, failure) */
  exitCode?: number;
  at: number;
}

export class Stop {
  private req: StopRequest | null = null;
  /** aborted by a second stop signal: SIGKILL now */
  private readonly hurry = new AbortController();
  /** aborted when the run is over: no more timeout */
  private readonly over = new AbortController();
  /** steps 1-2 under way, settled once the service is gone */
  private stopping: Promise<unknown> = Promise.resolve();
  /** steps 3-6, once begun */
  private finishing: Promise<number> | null = null;
  private readonly clock: Clock;
  private readonly terminateTree: (o: TerminateOptions) => Promise<void>;

  constructor(
    private readonly cfg: StopConfig,
    private readonly deps: StopDeps,
  ) {
    this.clock = deps.clock ?? realClock;
    this.terminateTree = deps.terminateTree ?? terminateTree;
  }

  get requested(): StopRequest | null {
    return this.req;
  }

  /** Steps 1 and 2: stop the service with `signal`, SIGKILL after --kill-after. Only the first counts. */
  request(reason: string, exitCode?: number, signal = this.cfg.stopSignal): void {
    if (this.req) return;
    const service = this.deps.service;
    const running = service.isRunning;
    // The signal first, before any bookkeeping (even the deadline's AbortSignal costs the service
    // time): if nothing runs yet or between two incarnations, this says no restart, and the stop
    // signal at the next start.
    service.stop(reason, signal);
    this.req = { reason, exitCode, at: this.clock.now() };
    if (!running) return;
    this.stopping = escalate(
      {
        ask: () => undefined, // asked above
        kill: (hurried) => service.kill(typeof hurried === 'string' ? hurried : `still running ${this.cfg.killAfterMs}ms after the stop signal`),
        gone: service.done,
      },
      { killAt: this.req.at + this.cfg.killAfterMs, hurry: this.hurry.signal, clock: this.clock },
    );
  }

  /** A second stop signal: whatever is being stopped is killed now. */
  hurryUp(reason: string): void {
    this.hurry.abort(reason);
  }

  /** --timeout: after `ms`, a hang report of the whole job and a stop that exits 124. */
  armTimeout(ms: number, exitCode: number): void {
    this.clock.sleep(ms, this.over.signal).then(() => {
      if (this.over.signal.aborted) return;
      const { events, output } = this.deps;
      events.emit({ type: 'timeout', afterMs: ms, pid: this.deps.service.current()?.pid ?? process.pid });
      try {
        const spare = new Set(output?.pids() ?? []);
        const lines = hangReport(process.pid, { spare, title: 'hang report (the job at the timeout)' });
        events.emit({ type: 'report', text: lines.join('\n') });
      } catch (err) {
        debug('hang report: %s', (err as Error).message);
      }
      this.request('timeout', exitCode);
    });
  }

  /** After an unexpected error: stop as gracefully as a signal would, for at most --kill-after. */
  async abort(): Promise<void> {
    this.request('internal error', EXIT_INTERNAL);
    await Promise.race([this.stopping, this.clock.sleep(this.cfg.killAfterMs + 100)]);
  }

  /**
   * Steps 3 to 6, once the service has ended: returns tsinit's exit code. Only the first call runs
   * them (an internal error's stop and the run's own end can both get here); later ones share it.
   */
  finish(outcome: RunOutcome): Promise<number> {
    this.finishing ??= this.runFinish(outcome);
    return this.finishing;
  }

  private async runFinish(outcome: RunOutcome): Promise<number> {
    const { events, reaper, output, terminal } = this.deps;
    this.over.abort();
    // The service is gone for good: tsinit lets go of the log pipe now, so the logger sees EOF the
    // moment the last other holder (a leftover of step 3) is gone, not after step 3 as a whole.
    output?.closeInput();
    // 3. What is left of the tree, by the same deadline as the service's own stop.
    const t = this.clock.now();
    const killAt = Math.min((this.req?.at ?? t) + this.cfg.killAfterMs, t + this.cfg.killAfterMs);
    if (!this.cfg.keepOrphans) {
      await this.terminateTree({
        spare: () => output?.pids() ?? [],
        killAt,
        reaper,
        hurry: this.hurry.signal,
        onKill: (pids, hurried) =>
          events.emit({ type: 'killing', reason: typeof hurried === 'string' ? hurried : 'processes left after the service ended', pids }),
      });
    }
    // 4. The logger: EOF, the grace period, then TERM and KILL (logging/sidecar.ts).
    if (output) await output.drain();
    // 5. The terminal as tsinit found it; whatever the logger left behind; the last zombies.
    terminal.restore();
    if (!this.cfg.keepOrphans) {
      await this.terminateTree({ spare: () => [], killAt: this.clock.now() + LOGGER_KILL_WAIT_MS, reaper });
    }
    reaper.reap();
    if (reaper.reapedOrphans > 0) events.emit({ type: 'orphans-reaped', count: reaper.reapedOrphans });
    // 6. The exit code: a logger that failed for good overrides the service's.
    const loss = this.cfg.strictLogs ? (this.deps.outputLoss?.() ?? null) : null;
    const { code, reason } = finalExitCode(outcome, this.req, output?.failed ?? false, loss);
    if (loss !== null && reason === STRICT_LOGS_REASON) events.emit({ type: 'strict-logs', loss });
    events.emit({ type: 'exit', code, reason });
    events.close();
    return code;
  }
}
