// DEBUG=tsinit:* output through the `debug` package, one namespace per module.
// Two traps are avoided here: debug's defaults touch process.stderr (which makes a pipe shared with
// the service non-blocking, so the service's writes fail with EAGAIN), and loading it costs startup
// time. So it is loaded only when DEBUG names tsinit, with colours off and our own writer.
import type { Debugger } from 'debug';
import { format } from 'node:util';
import { writeAll } from './write-all';

type Log = (fmt: string, ...args: unknown[]) => void;
const off: Log = () => undefined;

export default function createDebug(namespace: string): Log {
  if (!/tsinit|\*/.test(process.env.DEBUG ?? '')) return off;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const debug = require('debug') as typeof import('debug') & { inspectOpts: Record<string, unknown> };
  debug.inspectOpts.colors = false;
  debug.log = (...args: unknown[]) => writeAll(2, format(...args) + '\n');
  const d: Debugger = debug(`tsinit:${namespace}`);
  return (fmt, ...args) => d(fmt, ...args);
}
