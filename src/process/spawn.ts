// Spawning one process: posix_spawn with a clean signal state and only the fds asked for, a status
// promise from the reaper, and signalling of the process or its group.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as libc from '../sys/libc';
import { Reaper } from './reaper';
import { ExitStatus } from '../exit-status';

export interface ChildSpec {
  argv: string[];
  /** extra variables on top of tsinit's environment */
  env?: Record<string, string>;
  /** [childFd, tsinitFd]; 0, 1 and 2 default to tsinit's own */
  fds?: Array<[number, number]>;
  grouping: libc.SpawnRequest['grouping'];
  foregroundTty?: number;
  user?: libc.SpawnRequest['user'];
  nice?: number;
}

export interface Child {
  pid: number;
  /** the process group tsinit signals: the child's own, unless it shares tsinit's */
  pgid: number;
  exited: Promise<ExitStatus>;
}

/** The command could not be started: 127 not found, 126 not executable (shell and Docker convention). */
export class SpawnError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
    readonly exitCode: number,
  ) {
    super(`cannot run ${command}: ${reason}`);
  }
}

function findInPath(cmd: string): string | null {
  if (cmd.includes('/')) return cmd;
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir || '.', cmd);
    try {
      accessSync(candidate, constants.F_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function interpreterOf(path: string): string {
  try {
    const head = readFileSync(path, 'latin1').slice(0, 256);
    const m = /^#!\s*(\S+)/.exec(head);
    return m ? m[1] : '';
  } catch {
    return '';
  }
}

/** Turns an exec errno into the user's answer: which exit code and why. */
export function explain(cmd: string, err: libc.SysError): SpawnError {
  const path = findInPath(cmd);
  if (err.errno === libc.errno.ENOENT) {
    if (path === null || !existsFile(path)) return new SpawnError(cmd, 'command not found', 127);
    const interp = interpreterOf(path);
    return new SpawnError(cmd, `bad interpreter${interp ? ` ${interp}` : ''}: no such file or directory`, 127);
  }
  if (err.errno === libc.errno.EACCES) {
    const isDir = path !== null && isDirectory(path);
    return new SpawnError(cmd, isDir ? 'is a directory' : 'permission denied', 126);
  }
  if (err.errno === libc.errno.ENOEXEC) return new SpawnError(cmd, 'exec format error', 126);
  return new SpawnError(cmd, err.code, 126);
}

function existsFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function environment(extra: Record<string, string> = {}): string[] {
  const env = { ...process.env, ...extra };
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

export function spawnChild(spec: ChildSpec, reaper: Reaper): Child {
  const fds = new Map<number, number>([[0, 0], [1, 1], [2, 2]]);
  for (const [childFd, parentFd] of spec.fds ?? []) fds.set(childFd, parentFd);
  const request: libc.SpawnRequest = {
    file: spec.argv[0],
    argv: spec.argv,
    env: environment(spec.env),
    fds: [...fds.entries()].filter(([, parent]) => parent >= 0),
    grouping: spec.grouping,
    foregroundTty: spec.foregroundTty,
    user: spec.user,
    nice: spec.nice,
  };
  let pid: number;
  try {
    pid = libc.spawn(request);
  } catch (e) {
    if (!(e instanceof libc.SysError)) throw e;
    // execvp(3) runs a file without a #! line with /bin/sh; posix_spawnp does not. Users of tini
    // and of shells expect the former.
    if (e.errno === libc.errno.ENOEXEC && !request.argv[0].startsWith('/bin/sh')) {
      const path = findInPath(spec.argv[0]) ?? spec.argv[0];
      return spawnChild({ ...spec, argv: ['/bin/sh', path, ...spec.argv.slice(1)] }, reaper);
    }
    throw explain(spec.argv[0], e);
  }
  return { pid, pgid: spec.grouping === 'inherit' ? libc.getProcessGroup() : pid, exited: reaper.watch(pid) };
}

/** Sends `sig` to the child's group (or the child alone); false if nothing was there to receive it. */
let ownGroup = 0;

export function signalChild(child: Pick<Child, 'pid' | 'pgid'>, sig: number, group: boolean): boolean {
  ownGroup ||= libc.getProcessGroup();
  try {
    // Never signal tsinit's own group: that would be tsinit itself (and, outside PID 1, its shell).
    if (group && child.pgid !== ownGroup) {
      if (libc.kill(-child.pgid, sig)) return true;
    }
    return libc.kill(child.pid, sig);
  } catch {
    return false;
  }
}
