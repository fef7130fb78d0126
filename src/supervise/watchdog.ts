// The watchdog's decisions: heartbeat deadlines, probe bookkeeping (one in flight, timeout, failure
// threshold, as Kubernetes), and the guards that keep tsinit from blaming the service for its own
// trouble (a stalled event loop, a probe that cannot run). Pure and driven by the caller: every
// input carries `now` (monotonic milliseconds) and nothing here reads a clock or sets a timer.
//
// The caller
//   - calls start(now) when an incarnation of the service is spawned, stop() when it has exited;
//   - feeds evidence: beat / ready / extend / trigger / setPeriod / stopping (sd_notify, the fd, the
//     file), unknown / sourceOk (the checking machinery failed / works again), probeStarted /
//     probeFinished (health probes, started when probeDue(now) says so);
//   - calls tick(now) every `tickMs` (setInterval) and acts on the events it returns: one 'kill'
//     means send the watchdog signal to the service group; everything else is a line to report.
//
// Never blame yourself:
//   - Stalls. The caller's timer fires every tickMs, so two consecutive observations (ticks or any
//     input) can only be further apart than that if tsinit itself did not run: an event-loop stall,
//     tsinit SIGSTOPped, the VM paused. The excess moves the deadline, the service gets at least
//     resumeGraceMs after the stall (its heartbeats may still sit unread in a pipe or socket: after a
//     stall Node runs timers before it polls for I/O), and a probe timeout that overlaps a stall counts
//     as unknown, not as a failure.
//   - Unknown. A failure of the checker (EMFILE, a spawn error, a socket error) never counts as dead:
//     it is reported once per cause, and a deadline that expires while a checker has failed since the
//     last heartbeat is reported as "cannot tell", not acted upon.
//   - A kill-rate limit: past it, tsinit stops killing and says so at every further miss.
import type { KillCause, WatchdogEvent } from '../event-catalogue';
import { RateLimit, RateLimiter } from '../values';

export interface ProbeConfig {
  /** names the source in reports: 'health-cmd', 'health-http' */
  source: string;
  /** from the start of one probe to the start of the next (Kubernetes periodSeconds) */
  intervalMs: number;
  /** the probe runner enforces it; here it tells a stalled timeout from a real one */
  timeoutMs: number;
  /** consecutive failures, once the service has started, that mean dead (Kubernetes failureThreshold) */
  failureThreshold: number;
  /** first probe this long after the start (Kubernetes initialDelaySeconds; default 0) */
  initialDelayMs?: number;
}

export interface WatchdogConfig {
  /** longest silence once started (--watchdog); undefined or 0: no heartbeat deadline (probes only) */
  periodMs?: number;
  /** time to the first heartbeat or READY=1; undefined or 0: unlimited */
  startTimeoutMs?: number;
  /** how often the caller calls tick(); the basis of stall detection */
  tickMs: number;
  /** lateness of an observation that is still ordinary timer jitter (default 50 ms) */
  jitterMs?: number;
  /** stalls at least this long are reported (default 1 s); shorter ones move the deadline silently */
  stallReportMs?: number;
  /** least time the service gets after a stall (default max(2 ticks, 1 s)) */
  resumeGraceMs?: number;
  /** --watchdog-max-kills */
  maxKills: RateLimit;
  probe?: ProbeConfig;
}

/**
 * The checker name for tsinit's own logging: while a log pipe is full (the logger does not drain it),
 * the service may be blocked writing, and no miss is blamed on it.
 */
export const LOGGING = 'logging';

export type ProbeOutcome =
  | { result: 'success'; detail?: string }
  /** the service answered, and the answer is "unhealthy" (exit 1, HTTP 503, connection refused) */
  | { result: 'failure'; detail: string }
  /** no answer within the timeout: a failure, unless tsinit itself stalled meanwhile */
  | { result: 'timeout'; detail: string }
  /** the probe could not be run or judged (spawn error, EMFILE, command not found) */
  | { result: 'unknown'; detail: string };

export type WatchdogPhase = 'idle' | 'starting' | 'running' | 'stopping' | 'killed';

/** A tick interval that detects a miss quickly without costing much: a tenth of the period, 50 ms..1 s. */
export function recommendedTickMs(periodMs: number): number {
  return Math.min(1000, Math.max(50, Math.round(periodMs / 10)));
}

interface UnknownState {
  reason: string;
  since: number;
  lastAt: number;
  failures: number;
}

export class Watchdog {
  phase: WatchdogPhase = 'idle';
  private periodMs: number;
  private readonly jitterMs: number;
  private readonly stallReportMs: number;
  private readonly resumeGraceMs: number;
  private readonly kills: RateLimiter;

  private startedAt = 0;
  lastBeatAt: number | null = null;
  lastBeatSource = '';
  /** when the current phase's deadline expires; null: none */
  deadline: number | null = null;
  private lastObservedAt: number | null = null;
  private lastStallAt: number | null = null;
  private triggered = false;
  private unknowns = new Map<string, UnknownState>();
  private events: WatchdogEvent[] = [];

  // probes
  private probeInFlight: { startedAt: number; overdueReported: boolean } | null = null;
  private nextProbeAt = 0;
  private consecutiveFailures = 0;
  private lastProbeFailure = '';

  constructor(private readonly cfg: WatchdogConfig) {
    this.periodMs = cfg.periodMs ?? 0;
    this.jitterMs = cfg.jitterMs ?? 50;
    this.stallReportMs = cfg.stallReportMs ?? 1000;
    this.resumeGraceMs = cfg.resumeGraceMs ?? Math.max(2 * cfg.tickMs, 1000);
    this.kills = new RateLimiter(cfg.maxKills);
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** A new incarnation of the service was spawned at `now`. */
  start(now: number): void {
    this.phase = 'starting';
    this.startedAt = now;
    // A WATCHDOG_USEC= override belongs to the incarnation that sent it, as in systemd.
    this.periodMs = this.cfg.periodMs ?? 0;
    this.lastBeatAt = null;
    this.lastBeatSource = '';
    this.triggered = false;
    this.unknowns.clear();
    this.consecutiveFailures = 0;
    this.lastObservedAt = now;
    const start = this.cfg.startTimeoutMs ?? 0;
    this.deadline = start > 0 ? now + start : null;
    // A probe of the previous incarnation may still be in flight: it stays counted, so that there is
    // never more than one.
    this.nextProbeAt = now + (this.cfg.probe?.initialDelayMs ?? 0);
  }

  /** The service exited (or tsinit is about to stop it): no deadline until the next start(). */
  stop(): void {
    this.phase = 'idle';
    this.deadline = null;
    this.triggered = false;
  }

  /** STOPPING=1, or tsinit began to stop the service: the watchdog stands down (the stop has its own timeout). */
  stopping(now: number): void {
    this.observe(now);
    if (this.phase === 'starting' || this.phase === 'running') this.phase = 'stopping';
    this.deadline = null;
    this.triggered = false;
  }

  private get armed(): boolean {
    return this.phase === 'starting' || this.phase === 'running';
  }

  // ---- evidence ---------------------------------------------------------------------------------

  /** A heartbeat from `source` ('fd', 'notify', 'file', or a probe's success). */
  beat(now: number, source: string): void {
    this.observe(now);
    this.recover(now, source);
    if (!this.armed) return;
    this.lastBeatAt = now;
    this.lastBeatSource = source;
    if (this.phase === 'starting') this.markStarted(now, source);
    this.deadline = this.periodMs > 0 ? now + this.periodMs : null;
  }

  /** READY=1: the service says it has started. */
  ready(now: number): void {
    this.observe(now);
    if (!this.armed) return;
    // Also evidence of life, like any heartbeat (and after RELOADING=1 it says the reload is done).
    this.beat(now, 'notify');
  }

  /**
   * EXTEND_TIMEOUT_USEC: the service asks for `ms` more before its next message. systemd applies it
   * to the start, runtime or stop timeout of the current state; here it moves the current deadline
   * (start timeout or heartbeat deadline) out to at least now + ms. The next message re-arms as usual.
   */
  extend(now: number, ms: number): void {
    this.observe(now);
    if (!this.armed || this.deadline === null) return;
    this.deadline = Math.max(this.deadline, now + ms);
  }

  /** WATCHDOG=trigger: the service asks to be treated as hung (systemd's watchdog action). */
  trigger(now: number): void {
    this.observe(now);
    if (this.armed) this.triggered = true;
  }

  /** WATCHDOG_USEC=: the service changes its own watchdog period; 0 turns the deadline off. */
  setPeriod(now: number, ms: number): void {
    this.observe(now);
    this.periodMs = ms;
    if (this.phase === 'running') this.deadline = ms > 0 ? now + ms : null;
  }

  /** The checking machinery of `source` failed: never counts as dead. */
  unknown(now: number, source: string, reason: string): void {
    this.observe(now);
    const u = this.unknowns.get(source);
    if (u) {
      u.failures++;
      u.lastAt = now;
      if (u.reason === reason) return;
      u.reason = reason;
    } else {
      this.unknowns.set(source, { reason, since: now, lastAt: now, failures: 1 });
    }
    this.events.push({ type: 'unknown', source, reason });
  }

  /** The checker of `source` works again (a successful read or stat, even without a heartbeat). */
  sourceOk(now: number, source: string): void {
    this.observe(now);
    this.recover(now, source);
  }

  private recover(now: number, source: string): void {
    const u = this.unknowns.get(source);
    if (!u) return;
    this.unknowns.delete(source);
    this.events.push({ type: 'recovered', source, failures: u.failures, afterMs: now - u.since });
  }

  private markStarted(now: number, via: string): void {
    this.phase = 'running';
    this.events.push({ type: 'started', via, afterMs: now - this.startedAt });
  }

  // ---- probes -----------------------------------------------------------------------------------

  /** Whether to start a probe now: configured, service armed, none in flight, interval elapsed. */
  probeDue(now: number): boolean {
    return this.cfg.probe !== undefined && this.armed && this.probeInFlight === null && now >= this.nextProbeAt;
  }

  probeStarted(now: number): void {
    this.observe(now);
    this.probeInFlight = { startedAt: now, overdueReported: false };
    this.nextProbeAt = now + this.cfg.probe!.intervalMs;
  }

  probeFinished(now: number, outcome: ProbeOutcome): void {
    this.observe(now);
    const probe = this.cfg.probe!;
    const startedAt = this.probeInFlight?.startedAt ?? now;
    this.probeInFlight = null;
    let o = outcome;
    if (o.result === 'timeout' && this.lastStallAt !== null && this.lastStallAt > startedAt) {
      o = { result: 'unknown', detail: `${o.detail} (tsinit itself was stalled meanwhile)` };
    }
    if (o.result === 'unknown') {
      this.unknown(now, probe.source, o.detail);
      return;
    }
    if (o.result === 'success') {
      if (this.consecutiveFailures > 0) this.events.push({ type: 'probe-passed', source: probe.source, failures: this.consecutiveFailures });
      this.consecutiveFailures = 0;
      this.beat(now, probe.source);
      return;
    }
    // A real answer, and it says unhealthy. Before the service has started, failures are expected
    // (it is not listening yet) and only the start timeout applies, as with a Kubernetes startupProbe.
    this.recover(now, probe.source);
    if (!this.armed) return;
    const counting = this.phase === 'running';
    if (counting) this.consecutiveFailures++;
    this.lastProbeFailure = o.detail;
    this.events.push({
      type: 'probe-failed',
      source: probe.source,
      reason: o.detail,
      consecutive: this.consecutiveFailures,
      threshold: probe.failureThreshold,
      counting,
    });
  }

  // ---- the clock ---------------------------------------------------------------------------------

  /**
   * Stall detection on every observation: the caller's timer guarantees one at least every tickMs
   * while tsinit runs, so a longer gap is time tsinit was not running.
   */
  private observe(now: number): void {
    const last = this.lastObservedAt;
    if (last !== null && now <= last) return;
    this.lastObservedAt = now;
    // Between incarnations the caller may well not tick: a gap there is no stall, and nothing is watched.
    if (last === null || !this.armed) return;
    const late = now - last - this.cfg.tickMs;
    if (late <= this.jitterMs) return;
    this.lastStallAt = now;
    if (this.deadline !== null) this.deadline = Math.max(this.deadline + late, now + this.resumeGraceMs);
    this.nextProbeAt = Math.max(this.nextProbeAt, now);
    if (late >= this.stallReportMs) this.events.push({ type: 'stall', stalledMs: late });
  }

  /** Checks the deadlines; returns what happened since the last tick, in order. */
  tick(now: number): WatchdogEvent[] {
    this.observe(now);
    this.checkOverdueProbe(now);
    if (this.armed) this.checkDeadlines(now);
    const out = this.events;
    this.events = [];
    return out;
  }

  private checkOverdueProbe(now: number): void {
    const p = this.probeInFlight;
    const probe = this.cfg.probe;
    if (!p || !probe || p.overdueReported) return;
    // The runner enforces the timeout; a probe that outlives it by this much means the runner is stuck
    // (a probe in D state that SIGKILL cannot end): tsinit's problem, so unknown.
    if (now - p.startedAt > 2 * probe.timeoutMs + 1000) {
      p.overdueReported = true;
      this.unknown(now, probe.source, `probe still running ${Math.round((now - p.startedAt) / 1000)}s after it started`);
    }
  }

  private checkDeadlines(now: number): void {
    const silentMs = now - (this.lastBeatAt ?? this.startedAt);
    if (this.triggered) {
      this.triggered = false;
      this.killOrReport(now, 'trigger', silentMs, 'notify', 'the service sent WATCHDOG=trigger');
      return;
    }
    const probe = this.cfg.probe;
    if (probe && this.phase === 'running' && this.consecutiveFailures >= probe.failureThreshold) {
      // A service blocked by tsinit's own logging cannot answer probes either: not its fault.
      const logging = this.unknowns.get(LOGGING);
      if (logging) {
        this.events.push({ type: 'cannot-tell', cause: 'probe-failures', silentMs, source: LOGGING, reason: logging.reason });
        this.rearm(now);
        return;
      }
      const detail = `${this.consecutiveFailures} consecutive failed probes (last: ${this.lastProbeFailure})`;
      this.killOrReport(now, 'probe-failures', silentMs, probe.source, detail);
      return;
    }
    if (this.deadline === null || now < this.deadline) return;
    const cause: KillCause = this.phase === 'starting' ? 'start-timeout' : 'no-heartbeat';
    const broken = this.failedCheckerSince(this.lastBeatAt ?? this.startedAt);
    if (broken) {
      this.events.push({ type: 'cannot-tell', cause, silentMs, source: broken[0], reason: broken[1].reason });
      this.rearm(now);
      return;
    }
    const detail = cause === 'start-timeout'
      ? 'no READY=1 or heartbeat since the start'
      : `no heartbeat since the last one (${this.lastBeatSource})`;
    this.killOrReport(now, cause, silentMs, this.lastBeatSource, detail);
  }

  /** A checker that failed at or after `t` and has not recovered. */
  private failedCheckerSince(t: number): [string, UnknownState] | null {
    for (const entry of this.unknowns) if (entry[1].lastAt >= t) return entry;
    return null;
  }

  private killOrReport(now: number, cause: KillCause, silentMs: number, source: string, detail: string): void {
    if (this.kills.tryTake(now)) {
      this.events.push({ type: 'kill', cause, silentMs, lastBeatAt: this.lastBeatAt, source, detail });
      this.phase = 'killed';
      this.deadline = null;
      return;
    }
    const { count, windowMs } = this.kills.limit;
    this.events.push({ type: 'kill-limited', cause, silentMs, source, detail, kills: count, windowMs });
    this.rearm(now);
  }

  /** A fresh full deadline for the current phase, after a miss that was not acted upon. */
  private rearm(now: number): void {
    this.consecutiveFailures = 0;
    const span = this.phase === 'starting' ? (this.cfg.startTimeoutMs ?? 0) : this.periodMs;
    this.deadline = span > 0 ? now + span : null;
  }
}
