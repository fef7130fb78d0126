// The signals tsinit knows by number: which it can catch (and so forward), which are signals at all on
// this system, and which stop the service by default. (Their names, parsed and printed, are in
// values.ts.) Pure but for one look at Node's ELF header, to tell musl from glibc.
import { constants } from 'node:os';
import { detectPlatform } from './sys/platform';

const BY_NAME = constants.signals as Record<string, number>;

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGKILL = 9;
export const SIGPIPE = 13;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGWINCH = 28;
export const SIGRTMAX = 64;

/** Faults the kernel raises in the faulting thread; sent with kill(2) they are ordinary signals. */
export const FAULT_SIGNALS: readonly number[] = ['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE'].map((s) => BY_NAME[s]);

/**
 * The first real-time signal: the C library keeps the lowest ones for itself (glibc 32 and 33, so its
 * SIGRTMIN is 34; musl 32 to 34, SIGRTMIN 35).
 */
export const SIGRTMIN: number = detectPlatform().libc === 'glibc' ? 34 : 35;

/**
 * The named signals tsinit listens to, by number (early-signals.ts), and why the others are left:
 * - SIGKILL, SIGSTOP: they cannot be caught.
 * - SIGCHLD: the reaper's own, never the service's.
 * - SIGPIPE: Node ignores it, so that tsinit's own writes to a closed pipe are errors; listening
 *   would turn them into signals for the service.
 * Every real-time signal from SIGRTMIN to SIGRTMAX is listened to as well.
 */
export function namedCatchable(): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, n] of Object.entries(BY_NAME)) {
    if (n === SIGKILL || n === SIGSTOP || n === SIGCHLD || n === SIGPIPE || out.has(n)) continue;
    out.set(n, name);
  }
  return out;
}

const CATCHABLE = new Set([...namedCatchable().keys()]);

/** tsinit can receive `n` and pass it on. */
export function isCatchable(n: number): boolean {
  return CATCHABLE.has(n) || (n >= SIGRTMIN && n <= SIGRTMAX);
}

/** `n` is a signal a process here can be sent (KILL and STOP included; the C library's own are not). */
export function isSignal(n: number): boolean {
  return (n >= 1 && n <= 31) || (n >= SIGRTMIN && n <= SIGRTMAX);
}

/**
 * The signals that start a stop by default: SIGTERM (`docker stop`, Kubernetes) and SIGINT (Ctrl-C),
 * as with tini and dumb-init, whose stop is the service's exit. Every other catchable signal is only
 * forwarded (a JVM's thread-dump SIGQUIT must not stop it); --stop-signals names others.
 */
export const DEFAULT_STOP_SIGNALS: ReadonlySet<number> = new Set([SIGTERM, SIGINT]);

/** Job control: tsinit stops the service group for real (SIGSTOP) when it gets one of these. */
export const JOB_CONTROL: ReadonlySet<number> = new Set([SIGTSTP, SIGTTIN, SIGTTOU]);
