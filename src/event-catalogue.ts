// Every event tsinit reports, in one place: its fields (the --events JSON record), its level and its
// human line (`tsinit: ...` on stderr), so that the two can never disagree. Pure, and below every
// subsystem: the subsystems produce these events, events.ts writes them.
import { describeStatus, ExitStatus } from './exit-status';
import { formatDuration, formatSeconds, signalName } from './values';

export type KillCause = 'no-heartbeat' | 'start-timeout' | 'trigger' | 'probe-failures';

/** What the watchdog decided at a tick (supervise/watchdog.ts); each is also an event line. */
export type WatchdogEvent =
  /** READY=1 or the first heartbeat: the start phase is over */
  | { type: 'started'; via: string; afterMs: number }
  /** tsinit did not run for stalledMs; deadlines moved by as much */
  | { type: 'stall'; stalledMs: number }
  /** a checker failed; reported once per source and cause */
  | { type: 'unknown'; source: string; reason: string }
  /** a checker that had failed works again */
  | { type: 'recovered'; source: string; failures: number; afterMs: number }
  /** one failed probe (a real answer from the service) */
  /** a probe passed after counted failures */
  | { type: 'probe-passed'; source: string; failures: number }
  | { type: 'probe-failed'; source: string; reason: string; consecutive: number; threshold: number; counting: boolean }
  /** a deadline expired, but a checker failed since the last heartbeat: tsinit cannot tell, and does not kill */
  | { type: 'cannot-tell'; cause: KillCause; silentMs: number; source: string; reason: string }
  /** send the watchdog signal now */
  | { type: 'kill'; cause: KillCause; silentMs: number; lastBeatAt: number | null; source: string; detail: string }
  /** it would be a kill, but --watchdog-max-kills is reached: report loudly, do not kill */
  | { type: 'kill-limited'; cause: KillCause; silentMs: number; source: string; detail: string; kills: number; windowMs: number };

export type TsinitEvent =
  | { type: 'started'; role: 'service' | 'logger'; pid: number; command: string }
  | { type: 'spawn-failed'; role: 'service' | 'logger'; command: string; reason: string; exitCode: number }
  | { type: 'exited'; role: 'service' | 'logger'; pid: number; status: ExitStatus }
  | { type: 'signal-forwarded'; signal: number; as: number; pid: number; group: boolean }
  | { type: 'signal-dropped'; signal: number }
  | { type: 'stopping'; reason: string; signal: number; pid: number }
  | { type: 'killing'; reason: string; pids: number[] }
  | { type: 'orphan-reaped'; pid: number; status: ExitStatus }
  | { type: 'orphans-reaped'; count: number }
  | { type: 'logger-restart'; pid: number; status: ExitStatus; attempt: number; delayMs: number }
  | { type: 'logger-gave-up'; restarts: number; windowMs: number }
  | { type: 'logger-bytes-lost'; bytes: number }
  | { type: 'logger-grace-expired'; pid: number; graceMs: number }
  | { type: 'restart'; pid: number; status: ExitStatus; attempt: number; limit: number; delayMs: number }
  | { type: 'restart-gave-up'; pid: number; status: ExitStatus; restarts: number; windowMs: number }
  | { type: 'restart-asked'; pid: number; signal: number }
  | { type: 'watchdog-kill'; pid: number; silentMs: number; source: string; signal: number; cause: string }
  | { type: 'watchdog'; pid: number; event: WatchdogEvent }
  | { type: 'daemon-adopted'; pid: number; via: string }
  | { type: 'daemon-failed'; reason: string }
  | { type: 'timeout'; afterMs: number; pid: number }
  | { type: 'report'; text: string }
  | { type: 'pty-unavailable'; reason: string }
  | { type: 'pty-output-lost'; pid: number; bytes: number; reason: string }
  | { type: 'exit'; code: number; reason: string }
  | { type: 'control-listening'; path: string }
  | { type: 'control-unavailable'; path: string; reason: string; explicit: boolean }
  | { type: 'control'; command: string; uid: number; pid: number; ok: boolean; result: string }
  | { type: 'control-refused'; uid: number; pid: number; reason: string }
  | { type: 'strict-logs'; loss: string }
  | { type: 'notify-refused'; reason: string }
  | { type: 'error'; message: string };

export type Level = 'error' | 'warn' | 'info';

/** The level and the human line of an event. */
export function describe(e: TsinitEvent): [Level, string] {
  switch (e.type) {
    case 'started':
      return ['info', `${e.role} started (pid ${e.pid}): ${e.command}`];
    case 'spawn-failed':
      return ['error', `cannot run ${e.command}: ${e.reason}`];
    case 'exited':
      return ['info', `${e.role} (pid ${e.pid}) exited with ${describeStatus(e.status)}`];
    case 'signal-forwarded':
      return [
        'info',
        `forwarded ${signalName(e.signal)}${e.as !== e.signal ? ` as ${signalName(e.as)}` : ''} to ` +
          `${e.group ? 'process group' : 'pid'} ${e.pid}`,
      ];
    case 'signal-dropped':
      return ['info', `dropped ${signalName(e.signal)} (rewritten to none)`];
    case 'stopping':
      return ['info', `stopping service (pid ${e.pid}): ${e.reason}; sending ${signalName(e.signal)}`];
    case 'killing':
      return ['warn', `${e.reason}; sending SIGKILL to ${e.pids.length} process(es): ${e.pids.join(' ')}`];
    case 'orphan-reaped':
      return ['warn', `reaped orphan pid ${e.pid} (${describeStatus(e.status)})`];
    case 'orphans-reaped':
      return ['info', `reaped ${e.count} orphan(s)`];
    case 'logger-restart':
      return [
        'warn',
        `logger (pid ${e.pid}) exited with ${describeStatus(e.status)}; restart ${e.attempt} in ` +
          `${formatDuration(e.delayMs)} (unread output waits in the pipe)`,
      ];
    case 'logger-gave-up':
      return [
        'error',
        `logger died ${e.restarts} times within ${formatDuration(e.windowMs)}; logging failed, ` +
          'stopping the service (exit 125)',
      ];
    case 'logger-bytes-lost':
      return ['error', `logger exited with ${e.bytes} bytes unread: they are lost`];
    case 'logger-grace-expired':
      return ['warn', `logger (pid ${e.pid}) still running ${formatDuration(e.graceMs)} after the service ended; sending SIGTERM`];
    case 'restart':
      return [
        'warn',
        `service (pid ${e.pid}) exited with ${shortStatus(e.status)}; restart ${e.attempt}/${e.limit} in ` +
          formatDuration(e.delayMs),
      ];
    case 'restart-asked':
      return ['info', `restarting service (pid ${e.pid}) as asked; sending ${signalName(e.signal)}`];
    case 'restart-gave-up':
      return [
        'error',
        `service (pid ${e.pid}) exited with ${shortStatus(e.status)}; ${e.restarts} restarts within ` +
          `${formatDuration(e.windowMs)}, giving up`,
      ];
    case 'watchdog-kill':
      return [
        'error',
        e.cause === 'probe-failures'
          ? `watchdog: service (pid ${e.pid}) failed its ${e.source} probes; killing it with ${signalName(e.signal)}`
          : e.cause === 'trigger'
            ? `watchdog: service (pid ${e.pid}) asked to be treated as hung (WATCHDOG=trigger); killing it with ${signalName(e.signal)}`
            : `watchdog: no heartbeat from service (pid ${e.pid}) for ${formatSeconds(e.silentMs)}` +
              `${e.cause === 'start-timeout' ? ' since it started' : ''}; killing it with ${signalName(e.signal)}`,
      ];
    case 'watchdog':
      return describeWatchdog(e.pid, e.event);
    case 'daemon-adopted':
      return ['info', `daemon adopted as the service: pid ${e.pid} (${e.via === 'pidfile' ? 'named by the pidfile' : 'the only survivor'})`];
    case 'daemon-failed':
      return ['error', `daemon: ${e.reason}`];
    case 'timeout':
      return ['error', `timeout: the job (pid ${e.pid}) ran longer than ${formatDuration(e.afterMs)}; stopping it`];
    case 'report':
      return ['error', e.text];
    case 'pty-unavailable':
      return ['error', `--pty needs the optional package node-pty: ${e.reason}`];
    case 'pty-output-lost':
      return ['error', `--pty: ${e.bytes} bytes of output of the service (pid ${e.pid}) could not be written (${e.reason}): they are lost`];
    case 'exit':
      return ['info', `exiting with ${e.code} (${e.reason})`];
    case 'control-listening':
      return ['info', `control socket listening at ${e.path}`];
    case 'control-unavailable':
      // An explicit path is the user's wish: not getting it is worth a warning. The default one can
      // be taken by another tsinit only where several share /run (nested runs, tests): -v only.
      return [e.explicit ? 'warn' : 'info', `no control socket at ${e.path}: ${e.reason}`];
    case 'control':
      return [e.ok ? 'info' : 'warn', `control: ${e.command} from pid ${e.pid} (uid ${e.uid}): ${e.result}`];
    case 'control-refused':
      return ['warn', `control: refused a client (pid ${e.pid}, uid ${e.uid}): ${e.reason}`];
    case 'strict-logs':
      return ['error', `--strict-logs: output of the service was lost (${e.loss}); exiting 125`];
    case 'notify-refused':
      return ['warn', `notify socket: refused a message: ${e.reason} (only the service's processes may send)`];
    case 'error':
      return ['error', e.message];
  }
}

function describeWatchdog(pid: number, e: WatchdogEvent): [Level, string] {
  const s = formatSeconds;
  switch (e.type) {
    case 'started':
      return ['info', `watchdog: service (pid ${pid}) started (${e.via}) after ${s(e.afterMs)}; watching`];
    case 'stall':
      return ['warn', `watchdog: tsinit itself did not run for ${s(e.stalledMs)}; deadlines moved, nothing is blamed on the service`];
    case 'unknown':
      if (e.source === 'logging') return ['warn', `watchdog: the service may be blocked by logging: ${e.reason}; a missed heartbeat is not blamed on it`];
      return ['warn', `watchdog: cannot check ${e.source}: ${e.reason} (counts as unknown, never as dead)`];
    case 'recovered':
      if (e.source === 'logging') return ['info', `watchdog: logging flows again after ${s(e.afterMs)}`];
      return ['info', `watchdog: ${e.source} works again after ${e.failures} failure(s)`];
    case 'probe-passed':
      return ['info', `watchdog: ${e.source} probe passes again after ${e.failures} failure(s)`];
    case 'probe-failed':
      return ['warn', `watchdog: ${e.source} probe failed (${e.consecutive}/${e.threshold}): ${e.reason}`];
    case 'cannot-tell':
      if (e.source === 'logging') return ['warn', `watchdog: no heartbeat from service (pid ${pid}) for ${s(e.silentMs)}, but it is blocked by logging (${e.reason}): not killing`];
      return ['warn', `watchdog: no heartbeat from service (pid ${pid}) for ${s(e.silentMs)}, but ${e.source} failed meanwhile (${e.reason}): not killing`];
    case 'kill':
      return ['error', `watchdog: ${e.detail}`];
    case 'kill-limited':
      return ['error', `watchdog: service (pid ${pid}) looks hung (${e.detail}), but it was killed ${e.kills} times within ${formatDuration(e.windowMs)} already: NOT killing it again; look at it`];
  }
}

function shortStatus(s: ExitStatus): string {
  return s.signal !== null ? signalName(s.signal) : String(s.code);
}

/** The human line for an event, without the prefix (for the status summary and the tests). */
export function humanLine(e: TsinitEvent): string {
  return describe(e)[1];
}
