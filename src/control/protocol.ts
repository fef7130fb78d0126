// The control socket's protocol, shared by the server and the clients. Pure.
//
// A request is one line of text: `status`, `restart`, `stop` or `signal SIG`; the answer is one JSON
// line, {"ok":true|false,"message":"...","status":{...}} (status only for `status`), and the server
// closes the connection. Simple enough for `socat - UNIX:/run/tsinit/control.sock` by hand.
import type { Status } from './status';

/** A request longer than this is refused. */
export const MAX_REQUEST = 256;
/** A client has this long to send its request; then it is disconnected. */
export const REQUEST_TIMEOUT_MS = 2000;
/** At most this many clients at once; more are disconnected at once. */
export const MAX_CLIENTS = 16;

export type Request =
  | { cmd: 'status' }
  | { cmd: 'restart' }
  | { cmd: 'stop' }
  | { cmd: 'signal'; signal: string };

export interface Response {
  ok: boolean;
  message: string;
  status?: Status;
}

/** One request line -> a request, or the reason it is not one. */
export function parseRequest(line: string): Request | { error: string } {
  const words = line.trim().split(/\s+/).filter(Boolean);
  const [cmd, ...rest] = words;
  if (cmd === 'status' && rest.length === 0) return { cmd };
  if ((cmd === 'restart' || cmd === 'stop') && rest.length === 0) return { cmd };
  if (cmd === 'signal' && rest.length === 1) return { cmd, signal: rest[0] };
  if (cmd === 'signal') return { error: 'usage: signal SIG' };
  return { error: `unknown request '${line.trim().slice(0, 40)}' (status, restart, stop, signal SIG)` };
}

export function formatRequest(r: Request): string {
  return r.cmd === 'signal' ? `signal ${r.signal}\n` : `${r.cmd}\n`;
}
