// Whether and when to restart the service after it exits: the restart policy, the start limit
// (N restarts within a window, as systemd's StartLimitBurst/StartLimitIntervalSec and Upstart's
// `respawn limit`) and a capped exponential backoff that resets once the service has stayed up.
//
// Pure: every time is a number the caller passes (monotonic milliseconds, performance.now()). Whether
// a run "succeeded" is judged from the run's own start and exit timestamps, never from when a timer
// happened to fire (supervisord#1285 counted a process that died after 5 ms as running, because its
// check ran late).
import { RateLimit, RateLimiter } from '../values';

export type RestartMode = 'no' | 'on-failure' | 'always';

export interface RestartPolicyConfig {
  policy: RestartMode;
  /** exit codes that count as success under on-failure (128+N for a death by signal N) */
  successExit: ReadonlySet<number>;
  /** at most `count` restarts within `windowMs`; one more failure and tsinit gives up */
  limit: RateLimit;
  /** delay before the first restart of a crash loop */
  delayMs: number;
  /** the delay doubles per consecutive restart up to this cap */
  delayMaxMs: number;
  /** a run at least this long resets the backoff to delayMs (default: defaultResetAfterMs(delayMaxMs)) */
  resetAfterMs?: number;
}

export interface RunResult {
  /** exitCodeOf(status): the code, or 128+N for a death by signal N */
  exitCode: number;
  /** when this run was spawned (monotonic ms) */
  startedAt: number;
  /** when its exit was observed (monotonic ms) */
  exitedAt: number;
  /** the run failed whatever its code: a watchdog kill, a daemon that could not be adopted */
  failure?: boolean;
}

export type RestartDecision =
  | {
      restart: true;
      delayMs: number;
      /** this restart's number within the current window (1-based), for "restart 2/5" */
      attempt: number;
      /** the limit's count, for "restart 2/5" */
      limit: number;
    }
  | {
      restart: false;
      /** policy: the policy says no (or the run succeeded under on-failure); limit: start limit hit */
      reason: 'policy' | 'limit';
      /** restarts within the window (for the give-up line) */
      restarts: number;
      windowMs: number;
    };

/**
 * The backoff reset, when the caller does not choose one: twice the delay cap, at least 10 s.
 * Kubernetes' CrashLoopBackOff doubles from 10 s to a 5 min cap and resets after 10 min of running
 * fine: twice its cap. The same ratio on tsinit's 30 s default cap gives 60 s. The rule is "twice the
 * cap" so that a service which crashes once per cap-length delay is never mistaken for a healthy
 * one; the 10 s floor keeps a tiny cap (--restart-delay-max 1s) from resetting after every
 * couple of seconds of uptime. systemd has no uptime-based reset (its restart counter only resets on
 * a manual start or reset-failed), which suits a host with an operator, not an unattended container.
 */
export function defaultResetAfterMs(delayMaxMs: number): number {
  return Math.max(10_000, 2 * delayMaxMs);
}

export class RestartPolicy {
  private readonly resetAfterMs: number;
  /** the exits that were restarted, within the limit's window */
  private restarts: RateLimiter;
  /** the delay the next restart of this series gets; doubles per restart, up to the cap */
  private nextDelayMs: number;
  /** every restart ever decided, for the record */
  totalRestarts = 0;

  constructor(private readonly cfg: RestartPolicyConfig) {
    this.resetAfterMs = cfg.resetAfterMs ?? defaultResetAfterMs(cfg.delayMaxMs);
    this.restarts = new RateLimiter(cfg.limit);
    this.nextDelayMs = Math.min(cfg.delayMs, cfg.delayMaxMs);
  }

  /** A run that counts as failed: a watchdog kill, or an exit code outside successExit. */
  isFailure(run: Pick<RunResult, 'exitCode' | 'failure'>): boolean {
    return run.failure === true || !this.cfg.successExit.has(run.exitCode);
  }

  /** Decides about one exit and records it. Call once per exit of the service. */
  decide(run: RunResult): RestartDecision {
    const { policy, limit } = this.cfg;
    // The window is anchored at this exit: restarts decided more than windowMs before it no longer count.
    const wants = policy === 'always' || (policy === 'on-failure' && this.isFailure(run));
    if (!wants) {
      return { restart: false, reason: 'policy', restarts: this.restarts.count(run.exitedAt), windowMs: limit.windowMs };
    }
    if (!this.restarts.tryTake(run.exitedAt)) {
      return { restart: false, reason: 'limit', restarts: this.restarts.count(run.exitedAt), windowMs: limit.windowMs };
    }
    // A run that stayed up long enough was healthy: its crash starts a new series at the first delay.
    const uptime = run.exitedAt - run.startedAt;
    if (uptime >= this.resetAfterMs) this.nextDelayMs = Math.min(this.cfg.delayMs, this.cfg.delayMaxMs);
    const delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.cfg.delayMaxMs, delayMs * 2);
    this.totalRestarts++;
    return { restart: true, delayMs, attempt: this.restarts.count(run.exitedAt), limit: limit.count };
  }

  /** Forgets the crash history (for a deliberate restart from outside, if one is ever added). */
  reset(): void {
    this.restarts = new RateLimiter(this.cfg.limit);
    this.nextDelayMs = Math.min(this.cfg.delayMs, this.cfg.delayMaxMs);
  }
}
