// Exit statuses: what wait(2) says about a process, and the one exit code a whole run ends with.
// Pure: no process is touched here.
import { signalName } from './values';

/** tsinit's own exit codes; the rest of the table is the service's (see finalExitCode). */
export const EXIT_TIMEOUT = 124;
export const EXIT_INTERNAL = 125;
/** The command could not be run: found but not executable, or not found (the shell's codes). */
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

/** A decoded wait status: exactly one of code and signal is set. */
export interface ExitStatus {
  code: number | null;
  signal: number | null;
}

/** Decodes a raw wait(2) status word (exited or killed; stopped/continued are not exits). */
export function decodeWaitStatus(raw: number): ExitStatus | null {
  const low = raw & 0x7f;
  if (low === 0) return { code: (raw >> 8) & 0xff, signal: null };
  if (low !== 0x7f && (raw & 0xffff) !== 0xffff) return { code: null, signal: low };
  return null;
}

/** The shell's convention, which Docker and Kubernetes follow: a code as is, a signal as 128+N. */
export function exitCodeOf(status: ExitStatus, remapToZero: ReadonlySet<number> = new Set()): number {
  const code = status.signal !== null ? 128 + status.signal : (status.code ?? 0);
  return remapToZero.has(code) ? 0 : code;
}

export function describeStatus(status: ExitStatus): string {
  return status.signal !== null ? `signal ${signalName(status.signal)}` : `code ${status.code}`;
}

/** The reason of a run that --strict-logs failed because output was lost. */
export const STRICT_LOGS_REASON = 'output of the service was lost (--strict-logs)';

/** How a run ended, as far as its exit code is concerned. */
export type RunOutcome =
  /** the service ran and ended with this status (by itself, or stopped) */
  | { kind: 'service'; status: ExitStatus; remapToZero: ReadonlySet<number> }
  /** the run failed before or around the service: 125, 126 or 127 and why */
  | { kind: 'failed'; exitCode: number; reason: string };

/**
 * The exit code of a run and why. In order: a logger that failed for good, even after the service
 * ended, means the run's output cannot be trusted, so the run fails with 125 and never with the
 * service's success; a run that failed says so; a stop of tsinit's own (--timeout 124, the logger
 * 125, an internal error 125) gives its code; otherwise the service's status is the run's, as the
 * shell would report it, with --remap-exit applied.
 */
export function finalExitCode(
  outcome: RunOutcome,
  stop: { reason: string; exitCode?: number } | null,
  loggerFailed: boolean,
  strictLoss: string | null = null,
): { code: number; reason: string } {
  if (loggerFailed) return { code: EXIT_INTERNAL, reason: 'the logger kept failing' };
  if (outcome.kind === 'failed') return { code: outcome.exitCode, reason: outcome.reason };
  if (stop?.exitCode !== undefined) return { code: stop.exitCode, reason: stop.reason };
  // --strict-logs: output of the service was lost, so its status cannot vouch for the run.
  if (strictLoss !== null) return { code: EXIT_INTERNAL, reason: STRICT_LOGS_REASON };
  return {
    code: exitCodeOf(outcome.status, outcome.remapToZero),
    reason: stop?.reason ?? `service exited with ${exitCodeOf(outcome.status)}`,
  };
}
