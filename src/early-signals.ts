// Imported first by the entry file, so that tsinit has a handler for every signal it can catch before
// anything else loads: as PID 1 the kernel drops a signal that has no handler, SIGTERM and SIGINT do
// nothing to a Node PID 1 without one, an unhandled SIGUSR1 opens Node's inspector, and outside PID 1
// a signal left at its default action (SIGSEGV sent with kill, a real-time signal, SIGTTIN without a
// terminal) would end or stop tsinit and leave its service behind.
//
// bin/tsinit installs the same listeners before the bundle is even compiled and hands its queue over
// through a global; run without it (`node dist/tsinit.js`), this module installs them itself.
// Signals that arrive before the init is ready are queued, not lost.
import { FAULT_SIGNALS, namedCatchable, SIGRTMAX, SIGRTMIN } from './signals';

type Handler = (sig: number) => void;
interface Early {
  queued: number[];
  handler: Handler | null;
}

const KEY = Symbol.for('tsinit.early-signals');

function listen(): Early {
  const early: Early = { queued: [], handler: null };
  for (const [n, name] of namedCatchable()) {
    process.on(name as NodeJS.Signals, () => (early.handler ? early.handler(n) : early.queued.push(n)));
  }
  return early;
}

const early: Early = ((globalThis as Record<symbol, unknown>)[KEY] as Early | undefined) ?? listen();

/**
 * Real-time signals have no name in Node, and process.on() refuses them; Node's own signal binding
 * (what process.on uses inside) takes a number. Its one cost is a deprecation warning, which would
 * touch process.stderr (and make a shared output pipe non-blocking): it is switched off around it.
 */
function listenRealtime(): void {
  const proc = process as unknown as { binding(name: string): unknown; noDeprecation?: boolean };
  const quiet = proc.noDeprecation;
  proc.noDeprecation = true;
  try {
    const { Signal } = proc.binding('signal_wrap') as {
      Signal: new () => { onsignal: (n: number) => void; start(n: number): number; unref(): void };
    };
    for (let n = SIGRTMIN; n <= SIGRTMAX; n++) {
      const handle = new Signal();
      handle.unref();
      handle.onsignal = () => (early.handler ? early.handler(n) : early.queued.push(n));
      handle.start(n);
    }
  } catch {
    // A Node without the binding: real-time signals keep their default action (documented).
  } finally {
    proc.noDeprecation = quiet;
  }
}

// The real-time signals are forwarded like every other.
listenRealtime();

/**
 * Routes every caught signal to `h`, first the ones that arrived before.
 *
 * `oneShot` (libc's, passed in so that this module loads nothing before the handlers are in) makes
 * the handlers of SEGV, BUS, ILL and FPE reset themselves when they run. Sent with kill, these are
 * signals like any other, forwarded, and the handler is put back at once. A real fault is raised
 * again by the faulting instruction as soon as the handler returns; a handler that is still there
 * would run for ever (Node's handler only notes the signal for later): reset, the second fault ends
 * tsinit as it would end any program.
 */
export function onSignal(h: Handler, oneShot?: (sig: number) => void): void {
  const faults = new Set(oneShot ? FAULT_SIGNALS : []);
  for (const sig of faults) oneShot!(sig);
  early.handler = faults.size === 0 ? h : (sig) => {
    if (faults.has(sig)) oneShot!(sig);
    h(sig);
  };
  for (const sig of early.queued.splice(0)) early.handler(sig);
}
