// Where the control socket lives. Pure: the caller passes uid, PID-1-ness and the environment.
//
// By default only a tsinit that is PID 1 (a container's init) opens one: a tsinit nested below it (a
// CI job wrapped in tsinit inside a container whose init is tsinit, a test run) must not take over
// the socket that `tsinit status` and HEALTHCHECKs expect to reach the container's init. Anywhere
// else, --control-socket PATH (or TSINIT_CONTROL_SOCKET) asks for one.
//
//   root:      /run/tsinit/control.sock
//   other uid: $XDG_RUNTIME_DIR/tsinit/control.sock, else /tmp/tsinit-UID/control.sock
//
// The directory is tsinit's own (0700, checked before use), so nobody else can plant or watch the
// socket. Clients look in the same places for their own uid.
import { join } from 'node:path';

export const ROOT_DIR = '/run/tsinit';
export const SOCKET_NAME = 'control.sock';

export interface Where {
  uid: number;
  pid1: boolean;
  env: NodeJS.ProcessEnv;
}

/** The directory tsinit makes its own for a uid (the default socket's parent). */
export function defaultDir(uid: number, env: NodeJS.ProcessEnv): string {
  if (uid === 0) return ROOT_DIR;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'tsinit');
  return `/tmp/tsinit-${uid}`;
}

/**
 * The socket tsinit opens: the option's path, none when turned off, else the default (PID 1 only).
 * `isDefault` says whether tsinit may create and check the directory as its own.
 */
export function serverSocket(option: string | false | undefined, w: Where): { path: string; isDefault: boolean } | null {
  if (option === false) return null;
  if (option !== undefined) return { path: option, isDefault: false };
  if (!w.pid1) return null;
  return { path: join(defaultDir(w.uid, w.env), SOCKET_NAME), isDefault: true };
}

/** Where a client looks, in order: the option, TSINIT_CONTROL_SOCKET, the defaults for its uid. */
export function clientSockets(option: string | undefined, w: Where): string[] {
  if (option !== undefined) return [option];
  const fromEnv = w.env.TSINIT_CONTROL_SOCKET;
  if (fromEnv !== undefined && fromEnv.trim() !== '' && !['off', 'none', '0', 'no', 'false'].includes(fromEnv.trim().toLowerCase())) {
    return [fromEnv.trim()];
  }
  const paths = [join(defaultDir(w.uid, w.env), SOCKET_NAME)];
  if (w.uid !== 0) paths.push(`/tmp/tsinit-${w.uid}/${SOCKET_NAME}`);
  return [...new Set(paths)];
}
