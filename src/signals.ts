// The signals tsinit knows by number, and which of them it catches and forwards. Pure. (Their names,
// parsed and printed, are in values.ts.)
import { constants } from 'node:os';

const BY_NAME = constants.signals as Record<string, number>;

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
