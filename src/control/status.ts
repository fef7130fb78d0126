// The status model behind `tsinit status` and `tsinit health`. The service unit is the authority on
// its process (state, pid, uptime, restarts, last exit: its read-only snapshot); what decides health
// beyond that (readiness, probe results, watchdog kills, the logger, lost output) is a fold over the
// same events that make the -v lines and the --events records, so that status can never disagree
// with what the log said. Pure: every input carries its time, nothing here reads a clock.
import type { TsinitEvent } from '../event-catalogue';

export type ServiceState = 'starting' | 'ready' | 'running' | 'unhealthy' | 'restarting' | 'stopping' | 'exited';

/** The service unit's own snapshot (what init/service.ts reports). */
export interface UnitStatus {
  state: 'idle' | 'running' | 'adopting' | 'restarting' | 'stopping' | 'exited';
  pid: number | null;
  uptimeMs: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: number | null } | null;
  stopping: string | null;
}

export interface StatusConfig {
  command: string;
  /** something can say "ready": --notify, --watchdog, --watchdog-file or a probe */
  readiness: boolean;
  /** 'health-cmd' | 'health-http' when a probe is configured */
  probe: string | null;
  probeThreshold: number;
  watchdogMs: number | null;
  /** 'logd': --log-dir (its exit status has a meaning), 'command': --logger, 'none' */
  logger: 'logd' | 'command' | 'none';
}

/** What the fold keeps (times are epoch milliseconds). */
export interface StatusState {
  config: StatusConfig;
  tsinitStartedAt: number;
  /** the current incarnation said it is ready (READY=1, a first heartbeat, a passing probe) */
  ready: boolean;
  /** the watchdog has condemned the current incarnation */
  condemned: boolean;
  lastExitAt: number | null;
  watchdog: { kills: number; lastKill: string | null };
  probe: { failures: number; lastFailure: string | null };
  logger: { state: 'none' | 'running' | 'restarting' | 'gave-up' | 'exited'; pid: number | null; restarts: number; bytesLost: number; losses: string[] };
}

/** The snapshot a client gets (JSON). */
export interface Status {
  tsinit: { pid: number; version: string; uptimeMs: number; controlSocket: string | null };
  service: {
    command: string;
    state: ServiceState;
    pid: number | null;
    uptimeMs: number | null;
    restarts: number;
    lastExit: { code: number | null; signal: number | null; agoMs: number | null } | null;
    /** null when nothing is configured that could say so */
    ready: boolean | null;
    stopping: string | null;
  };
  watchdog: { configured: boolean; periodMs: number | null; kills: number; lastKill: string | null };
  probe: { configured: string | null; failures: number; threshold: number; lastFailure: string | null; passing: boolean | null };
  logger: { kind: StatusConfig['logger']; state: StatusState['logger']['state']; pid: number | null; restarts: number; bytesLost: number; losses: string[] };
}

export function initialState(config: StatusConfig, at: number): StatusState {
  return {
    config,
    tsinitStartedAt: at,
    ready: false,
    condemned: false,
    lastExitAt: null,
    watchdog: { kills: 0, lastKill: null },
    probe: { failures: 0, lastFailure: null },
    logger: { state: 'none', pid: null, restarts: 0, bytesLost: 0, losses: [] },
  };
}

const statusText = (s: { code: number | null; signal: number | null }) =>
  s.signal !== null ? `signal ${s.signal}` : `code ${s.code}`;

/** The state after event `e`, seen at `at` (epoch ms). Mutates and returns `st`. */
export function fold(st: StatusState, e: TsinitEvent, at: number): StatusState {
  switch (e.type) {
    case 'started':
      if (e.role === 'service') {
        st.ready = false;
        st.condemned = false;
        st.probe.failures = 0;
      } else {
        st.logger.state = 'running';
        st.logger.pid = e.pid;
      }
      break;
    case 'exited':
      if (e.role === 'service') {
        st.lastExitAt = at;
        st.ready = false;
      } else {
        st.logger.state = st.logger.state === 'gave-up' ? 'gave-up' : 'exited';
        st.logger.pid = null;
        if (st.config.logger === 'logd' && (e.status.signal !== null || e.status.code !== 0)) {
          st.logger.losses.push(`the log writer exited with ${statusText(e.status)} (it had not written everything)`);
        }
      }
      break;
    case 'watchdog':
      foldWatchdog(st, e.event);
      break;
    case 'watchdog-kill':
      st.watchdog.kills++;
      st.watchdog.lastKill = e.cause;
      st.condemned = true;
      break;
    case 'logger-restart':
      st.logger.restarts++;
      st.logger.state = 'restarting';
      st.logger.pid = null;
      if (st.config.logger === 'logd') {
        st.logger.losses.push(`the log writer exited with ${statusText(e.status)} during the run (what it had read but not written is lost)`);
      }
      break;
    case 'logger-gave-up':
      st.logger.state = 'gave-up';
      st.logger.losses.push(`the logger died ${e.restarts} times and tsinit gave up`);
      break;
    case 'logger-bytes-lost':
      st.logger.bytesLost += e.bytes;
      st.logger.losses.push(`${e.bytes} bytes were still unread when the logger was stopped`);
      break;
    case 'pty-output-lost':
      st.logger.bytesLost += e.bytes;
      st.logger.losses.push(`${e.bytes} bytes of the pty's output could not be written (${e.reason})`);
      break;
    default:
      break;
  }
  return st;
}

function foldWatchdog(st: StatusState, e: Extract<TsinitEvent, { type: 'watchdog' }>['event']): void {
  switch (e.type) {
    case 'started':
      st.ready = true;
      break;
    case 'probe-failed':
      st.probe.lastFailure = e.reason;
      if (e.counting) st.probe.failures = e.consecutive;
      break;
    case 'probe-passed':
      st.probe.failures = 0;
      break;
    default:
      break;
  }
}

/** The user's word for the unit's state, refined by readiness and health. */
function serviceState(unit: UnitStatus, st: StatusState): ServiceState {
  switch (unit.state) {
    case 'idle':
    case 'adopting':
      return 'starting';
    case 'running':
      if (st.condemned || st.probe.failures > 0) return 'unhealthy';
      if (!st.config.readiness) return 'running';
      return st.ready ? 'ready' : 'starting';
    default:
      return unit.state;
  }
}

/** The snapshot at `at` (epoch ms). */
export function snapshot(st: StatusState, unit: UnitStatus, at: number, self: { pid: number; version: string; controlSocket: string | null }): Status {
  const c = st.config;
  return {
    tsinit: { pid: self.pid, version: self.version, uptimeMs: at - st.tsinitStartedAt, controlSocket: self.controlSocket },
    service: {
      command: c.command,
      state: serviceState(unit, st),
      pid: unit.pid,
      uptimeMs: unit.uptimeMs === null ? null : Math.round(unit.uptimeMs),
      restarts: unit.restarts,
      lastExit: unit.lastExit ? { ...unit.lastExit, agoMs: st.lastExitAt === null ? null : at - st.lastExitAt } : null,
      ready: c.readiness ? st.ready && unit.state === 'running' : null,
      stopping: unit.stopping,
    },
    watchdog: { configured: c.watchdogMs !== null, periodMs: c.watchdogMs, kills: st.watchdog.kills, lastKill: st.watchdog.lastKill },
    probe: {
      configured: c.probe,
      failures: st.probe.failures,
      threshold: c.probeThreshold,
      lastFailure: st.probe.lastFailure,
      passing: c.probe === null ? null : st.probe.failures === 0,
    },
    logger: { kind: c.logger, ...st.logger, losses: [...st.logger.losses] },
  };
}

/** Whether any of the service's output was lost, and how (for --strict-logs). */
export function outputLoss(st: StatusState): string | null {
  const l = st.logger.losses;
  return l.length === 0 ? null : l.join('; ');
}

// ---- health --------------------------------------------------------------------------------------

export interface Health {
  healthy: boolean;
  reason: string;
}

export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** A last exit as the status lines say it: `code N` or `signal N`. */
export function exitText(e: { code: number | null; signal: number | null }): string {
  return e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`;
}

/**
 * Healthy: the service runs and, where something can say so (--notify, --watchdog, a probe), it is
 * ready and its probe passes. Anything else is unhealthy, with the one reason a human needs first.
 */
export function decideHealth(s: Status): Health {
  const svc = s.service;
  const last = svc.lastExit ? ` (last exit: ${exitText(svc.lastExit)}${svc.lastExit.agoMs !== null ? `, ${formatAgo(svc.lastExit.agoMs)} ago` : ''})` : '';
  if (s.logger.state === 'gave-up') return { healthy: false, reason: 'logging failed: the logger kept dying' };
  switch (svc.state) {
    case 'stopping':
      return { healthy: false, reason: `stopping${svc.stopping ? `: ${svc.stopping}` : ''}` };
    case 'restarting':
      return { healthy: false, reason: `restarting${last}` };
    case 'exited':
      return { healthy: false, reason: `the service is not running${last}` };
    case 'starting':
      return {
        healthy: false,
        reason: svc.pid === null
          ? 'starting: the service is not running yet'
          : `starting: pid ${svc.pid} is not ready yet (up ${formatAgo(svc.uptimeMs ?? 0)}; waiting for READY=1, a heartbeat or a passing probe)`,
      };
    case 'unhealthy': {
      const p = s.probe;
      if (p.configured && p.failures > 0) {
        return { healthy: false, reason: `${p.configured} probe failing (${p.failures}/${p.threshold}): ${p.lastFailure}` };
      }
      return { healthy: false, reason: `the watchdog found pid ${svc.pid} hung (${s.watchdog.lastKill})` };
    }
    case 'ready':
    case 'running': {
      const up = svc.uptimeMs !== null ? `, up ${formatAgo(svc.uptimeMs)}` : '';
      const ready = svc.ready ? ', ready' : '';
      const probe = s.probe.configured ? `, ${s.probe.configured} passing` : '';
      return { healthy: true, reason: `running (pid ${svc.pid}${up}${ready}${probe})` };
    }
  }
}
