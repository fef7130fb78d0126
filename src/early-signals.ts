// Imported first by the entry file, so that tsinit has a handler for every signal it can catch before
// anything else loads: as PID 1 the kernel drops a signal that has no handler, SIGTERM and SIGINT do
// nothing to a Node PID 1 without one, an unhandled SIGUSR1 opens Node's inspector, and outside PID 1
// a signal left at its default action (SIGSEGV sent with kill, a real-time signal, SIGTTIN without a
// terminal) would end or stop tsinit and leave its service behind.
//
// bin/tsinit installs the same listeners before the bundle is even compiled and hands its queue over
// through a global; run without it (`node dist/tsinit.js`), this module installs them itself.
// Signals that arrive before the init is ready are queued, not lost.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

type Handler = (sig: number) => void;
interface Early {
  queued: number[];
  handler: Handler | null;
}

const KEY = Symbol.for('tsinit.early-signals');
const SIGKILL = 9;
const SIGPIPE = 13;
const SIGCHLD = 17;
const SIGSTOP = 19;

/**
 * The signals with a name that tsinit listens to, by number. Left out: KILL and STOP (they cannot be
 * caught), CHLD (the reaper's own), PIPE (Node ignores it, so that tsinit's own writes to a closed
 * pipe are errors; listening would turn them into signals for the service).
 */
export function namedSignals(): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, n] of Object.entries(constants.signals as Record<string, number>)) {
    if (n === SIGKILL || n === SIGSTOP || n === SIGCHLD || n === SIGPIPE || out.has(n)) continue;
    out.set(n, name);
  }
  return out;
}

function listen(): Early {
  const early: Early = { queued: [], handler: null };
  for (const [n, name] of namedSignals()) {
    process.on(name as NodeJS.Signals, () => (early.handler ? early.handler(n) : early.queued.push(n)));
  }
  return early;
}

const early: Early = ((globalThis as Record<symbol, unknown>)[KEY] as Early | undefined) ?? listen();

const RT_LAST = 64;

/** The first real-time signal free for tsinit: glibc keeps 32 and 33 for itself, musl 32 to 34. */
function firstRealtime(): number {
  try {
    return /ld-musl/.test(readFileSync('/proc/self/maps', 'latin1')) ? 35 : 34;
  } catch {
    return 35;
  }
}

/**
 * Real-time signals have no name in Node, and process.on() refuses them; Node's own signal binding
 * (what process.on uses inside) takes a number. Its one cost is a deprecation warning, which would
 * touch process.stderr (and make a shared output pipe non-blocking): it is switched off around it.
 */
function listenRealtime(): number[] {
  const caught: number[] = [];
  const proc = process as unknown as { binding(name: string): unknown; noDeprecation?: boolean };
  const quiet = proc.noDeprecation;
  proc.noDeprecation = true;
  try {
    const { Signal } = proc.binding('signal_wrap') as {
      Signal: new () => { onsignal: (n: number) => void; start(n: number): number; unref(): void };
    };
    for (let n = firstRealtime(); n <= RT_LAST; n++) {
      const handle = new Signal();
      handle.unref();
      handle.onsignal = () => (early.handler ? early.handler(n) : early.queued.push(n));
      if (handle.start(n) === 0) caught.push(n);
    }
  } catch {
    // A Node without the binding: real-time signals keep their default action (documented).
  } finally {
    proc.noDeprecation = quiet;
  }
  return caught;
}

/** The real-time signals tsinit listens to (forwarded like every other). */
export const REALTIME_CAUGHT: readonly number[] = listenRealtime();

/** Routes every caught signal to `h`, first the ones that arrived before. */
export function onSignal(h: Handler): void {
  early.handler = h;
  for (const sig of early.queued.splice(0)) h(sig);
}
