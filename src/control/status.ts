// The status model behind `tsinit status` and `tsinit health`: a fold over the same events that make
// the -v lines and the --events records, so that what status says can never disagree with what the
// log said. Pure: every input carries its time, nothing here reads a clock.
import type { TsinitEvent } from '../events';

export type ServiceState = 'starting' | 'ready' | 'running' | 'unhealthy' | 'restarting' | 'stopping' | 'exited';

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

export interface LastExit {
  code: number | null;
  signal: number | null;
  /** epoch milliseconds */
  at: number;
}

/** What the fold keeps (times are epoch milliseconds). */
export interface StatusState {
  config: StatusConfig;
  tsinitStartedAt: number;
  service: {
    state: ServiceState;
    pid: number | null;
    startedAt: number | null;
    restarts: number;
    lastExit: LastExit | null;
    ready: boolean;
  };
  watchdog: { kills: number; lastKill: string | null; lastKillAt: number | null; notes: number };
  probe: { failures: number; lastFailure: string | null; lastFailureAt: number | null; lastPassAt: number | null };
  logger: { state: 'none' | 'running' | 'restarting' | 'gave-up' | 'exited'; pid: number | null; restarts: number; bytesLost: number; losses: string[] };
  stopping: string | null;
  /** a restart was asked for (control socket): its stop is not the end of tsinit */
  restartPending: boolean;
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
    lastExit: (LastExit & { agoMs: number }) | null;
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
    service: { state: 'starting', pid: null, startedAt: null, restarts: 0, lastExit: null, ready: false },
    watchdog: { kills: 0, lastKill: null, lastKillAt: null, notes: 0 },
    probe: { failures: 0, lastFailure: null, lastFailureAt: null, lastPassAt: null },
    logger: { state: 'none', pid: null, restarts: 0, bytesLost: 0, losses: [] },
    stopping: null,
    restartPending: false,
  };
}

const statusText = (s: { code: number | null; signal: number | null }) =>
  s.signal !== null ? `signal ${s.signal}` : `code ${s.code}`;

/** The state after event `e`, seen at `at` (epoch ms). Mutates and returns `st`. */
export function fold(st: StatusState, e: TsinitEvent, at: number): StatusState {
  const svc = st.service;
  switch (e.type) {
    case 'started':
      if (e.role === 'service') {
        svc.pid = e.pid;
        svc.startedAt = at;
        svc.ready = false;
        svc.state = st.stopping ? 'stopping' : st.config.readiness ? 'starting' : 'running';
        if (st.restartPending) svc.restarts++;
        st.restartPending = false;
        st.probe.failures = 0;
      } else {
        st.logger.state = 'running';
        st.logger.pid = e.pid;
      }
      break;
    case 'daemon-adopted':
      svc.pid = e.pid;
      break;
    case 'exited':
      if (e.role === 'service') {
        svc.lastExit = { code: e.status.code, signal: e.status.signal, at };
        svc.pid = null;
        svc.startedAt = null;
        svc.ready = false;
        svc.state = st.stopping ? 'stopping' : st.restartPending ? 'restarting' : 'exited';
      } else {
        st.logger.state = st.logger.state === 'gave-up' ? 'gave-up' : 'exited';
        st.logger.pid = null;
        if (st.config.logger === 'logd' && (e.status.signal !== null || e.status.code !== 0)) {
          st.logger.losses.push(`the log writer exited with ${statusText(e.status)} (it had not written everything)`);
        }
      }
      break;
    case 'restart':
      svc.restarts++;
      if (!st.stopping) svc.state = 'restarting';
      break;
    case 'restart-gave-up':
      st.restartPending = false;
      svc.state = 'exited';
      break;
    case 'stopping':
      // The stop of tsinit, or of an incarnation for a requested restart (the caller has set
      // restartPending before the stop begins).
      if (st.restartPending) {
        svc.state = 'restarting';
        break;
      }
      svc.state = 'stopping';
      st.stopping = e.reason;
      break;
    case 'timeout':
      st.stopping = 'timeout';
      break;
    case 'exit':
      st.stopping ??= e.reason;
      svc.state = svc.pid !== null ? 'stopping' : 'exited';
      break;
    case 'watchdog':
      foldWatchdog(st, e.event, at);
      break;
    case 'watchdog-kill':
      st.watchdog.kills++;
      st.watchdog.lastKill = e.cause;
      st.watchdog.lastKillAt = at;
      svc.state = 'unhealthy';
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

function foldWatchdog(st: StatusState, e: Extract<TsinitEvent, { type: 'watchdog' }>['event'], at: number): void {
  const svc = st.service;
  switch (e.type) {
    case 'started':
      svc.ready = true;
      if (svc.state === 'starting') svc.state = 'ready';
      break;
    case 'probe-failed':
      st.probe.lastFailure = e.reason;
      st.probe.lastFailureAt = at;
      if (e.counting) {
        st.probe.failures = e.consecutive;
        if (svc.state === 'ready' || svc.state === 'running') svc.state = 'unhealthy';
      }
      break;
    case 'probe-passed':
      st.probe.failures = 0;
      st.probe.lastPassAt = at;
      if (svc.state === 'unhealthy') svc.state = svc.ready ? 'ready' : 'running';
      break;
    default:
      st.watchdog.notes++;
      break;
  }
}

/** The snapshot at `at` (epoch ms). */
export function snapshot(st: StatusState, at: number, self: { pid: number; version: string; controlSocket: string | null }): Status {
  const c = st.config;
  const svc = st.service;
  return {
    tsinit: { pid: self.pid, version: self.version, uptimeMs: at - st.tsinitStartedAt, controlSocket: self.controlSocket },
    service: {
      command: c.command,
      state: svc.state,
      pid: svc.pid,
      uptimeMs: svc.startedAt !== null ? at - svc.startedAt : null,
      restarts: svc.restarts,
      lastExit: svc.lastExit ? { ...svc.lastExit, agoMs: at - svc.lastExit.at } : null,
      ready: c.readiness ? svc.ready : null,
      stopping: st.stopping,
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

function exitText(e: { code: number | null; signal: number | null }): string {
  return e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`;
}

/**
 * Healthy: the service runs and, where something can say so (--notify, --watchdog, a probe), it is
 * ready and its probe passes. Anything else is unhealthy, with the one reason a human needs first.
 */
export function decideHealth(s: Status): Health {
  const svc = s.service;
  const last = svc.lastExit ? ` (last exit: ${exitText(svc.lastExit)}, ${formatAgo(svc.lastExit.agoMs)} ago)` : '';
  if (s.logger.state === 'gave-up') return { healthy: false, reason: 'logging failed: the logger kept dying' };
  switch (svc.state) {
    case 'stopping':
      return { healthy: false, reason: `stopping${svc.stopping ? `: ${svc.stopping}` : ''}` };
    case 'restarting':
      return { healthy: false, reason: `restarting after restart ${svc.restarts}${last}` };
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
