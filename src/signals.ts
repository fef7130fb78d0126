// Signal names and numbers, which signals tsinit forwards, and how a wait status becomes an exit code.
// Pure: no process is touched here.
import { constants } from 'node:os';

const BY_NAME = constants.signals as Record<string, number>;
const BY_NUMBER = new Map<number, string>();
for (const [name, n] of Object.entries(BY_NAME)) {
  // Aliases (SIGIOT = SIGABRT, SIGPOLL = SIGIO) must not shadow the usual name.
  if (!BY_NUMBER.has(n) || name === 'SIGABRT' || name === 'SIGIO') BY_NUMBER.set(n, name);
}

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGKILL = 9;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGWINCH = 28;

/**
 * Signals tsinit catches and forwards. Left out, and why:
 * - SIGKILL, SIGSTOP: cannot be caught.
 * - SIGCHLD: tsinit's own business (reaping), never the service's.
 * - SIGSEGV, SIGBUS, SIGFPE, SIGILL: Node reserves them; a JS handler for a real fault is unsafe.
 * - SIGPIPE: Node ignores it so that a write to a closed pipe is an error, not a death; catching it
 *   would forward tsinit's own broken-pipe events to the service.
 * - SIGTTIN, SIGTTOU: tsinit ignores them, so that it can hand the terminal to the service.
 * - SIGTSTP: handled apart (stops the service group, then tsinit itself, outside PID 1).
 * - Real-time signals (SIGRTMIN..SIGRTMAX): Node cannot install handlers for them.
 */
export const FORWARDED: readonly string[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTRAP', 'SIGABRT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM',
  'SIGSTKFLT', 'SIGCONT', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO',
  'SIGPWR', 'SIGSYS',
].filter((name) => name in BY_NAME);

/** The signals that start a stop of the whole tree, as `docker stop` and Ctrl-C expect. */
export const STOP_SIGNALS: ReadonlySet<number> = new Set([SIGTERM, SIGINT, SIGQUIT]);

export function signalName(n: number): string {
  return BY_NUMBER.get(n) ?? `signal ${n}`;
}

/** "TERM", "SIGTERM", "term", "15" -> 15; null for anything else. */
export function signalNumber(text: string): number | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= 64 ? n : null;
  }
  const upper = t.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return BY_NAME[name] ?? null;
}

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
