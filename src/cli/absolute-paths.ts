// tsinit moves itself to / before anything runs, where the C library can start its children elsewhere
// (process/environment.ts says why), so the paths it opens itself are made absolute first, against the
// directory it was started in. The logger's and the probes' commands are not: they run there anyway.
import { isAbsolute, resolve } from 'node:path';
import type { Options } from './options';

/** Pure: `opts` with its own files (--events, --pidfile, --watchdog-file, --log-dir) absolute against `dir`. */
export function absolutePaths(opts: Options, dir: string | null): Options {
  if (dir === null) return opts;
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(dir, p));
  return {
    ...opts,
    // fd:N is a file descriptor, not a path.
    events: opts.events !== undefined && !opts.events.startsWith('fd:') ? abs(opts.events) : opts.events,
    pidfile: abs(opts.pidfile),
    watchdogFile: abs(opts.watchdogFile),
    logDir: abs(opts.logDir),
  };
}
