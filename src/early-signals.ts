// Imported first by the entry file, so that tsinit has a handler for every signal it forwards
// before anything else loads: as PID 1 the kernel drops a signal that has no handler, SIGTERM and
// SIGINT do nothing to a Node PID 1 without one, and an unhandled SIGUSR1 opens Node's inspector.
// Signals that arrive before the init is ready are queued, not lost.
import { constants } from 'node:os';
import { FORWARDED } from './signals';

type Handler = (sig: number) => void;
const queued: number[] = [];
let handler: Handler | null = null;

for (const name of [...FORWARDED, 'SIGTSTP']) {
  const n = (constants.signals as Record<string, number>)[name];
  process.on(name as NodeJS.Signals, () => (handler ? handler(n) : queued.push(n)));
}

/** Routes every caught signal to `h`, first the ones that arrived before. */
export function onSignal(h: Handler): void {
  handler = h;
  for (const sig of queued.splice(0)) h(sig);
}
