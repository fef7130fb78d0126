// Spawning one process: posix_spawn with a clean signal state and only the fds asked for, a status
// promise from the reaper, and signalling of the process or its group.
import * as libc from '../sys/libc';
import { readdirSync, readFileSync } from 'node:fs';
import { cStrings, environmentFor, startDirectory } from './environment';
import { explain, findInPath, isBinary, SpawnError } from './exec-errors';
import { EXIT_INTERNAL } from '../exit-status';
import { throughDropStep } from './drop-privileges';
import { Reaper } from './reaper';
import { ExitStatus } from '../exit-status';

export interface ChildSpec {
  argv: string[];
  /** the bytes of argv, where they differ from its text (the service's command: see environment.ts) */
  rawArgv?: Buffer[];
  /** variables set on top of tsinit's environment (without its TSINIT_*); null removes one */
  env?: Record<string, string | null>;
  /** [childFd, tsinitFd]; 0, 1 and 2 default to tsinit's own */
  fds?: Array<[number, number]>;
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

export function spawnChild(spec: ChildSpec, reaper: Reaper): Child {
  const fds = new Map<number, number>([[0, 0], [1, 1], [2, 2]]);
  for (const [childFd, parentFd] of spec.fds ?? []) fds.set(childFd, parentFd);
  const argv = cStrings(spec.rawArgv ?? spec.argv);
  const request: libc.SpawnRequest = {
    file: argv[0],
    argv,
    env: cStrings(environmentFor(spec.env)),
    // tsinit itself sits in / (init.ts); its children start where it was started.
    cwd: startDirectory() ?? undefined,
    fds: [...fds.entries()].filter(([, parent]) => parent >= 0),
    foregroundTty: spec.foregroundTty,
    user: spec.user,
    nice: spec.nice,
  };
  if (spec.user) {
    // Never by switching tsinit's own credentials: see drop-privileges.ts. A command that does not
    // exist is said now, as for any spawn; an exec that fails later is said by the step itself.
    if (findInPath(spec.argv[0]) === null) throw explain(spec.argv[0], new libc.SysError('exec', libc.errno.ENOENT));
    const keepFds = Math.max(...request.fds.map(([child]) => child)) + 1;
    // The step's own argv and environment are read as text: under --user, bytes that are not UTF-8
    // do not pass unchanged (README, Limitations).
    const text = (list: Array<string | Buffer>) => list.map((b) => (typeof b === 'string' ? b : b.toString('utf8').replace(/\0$/, '')));
    const [file] = text([request.file]);
    Object.assign(request, throughDropStep({ user: spec.user, nice: spec.nice, keepFds }, file, text(request.argv), text(request.env)));
    request.user = undefined;
    request.nice = undefined;
  }
  let pid: number;
  try {
    pid = libc.spawn(request);
  } catch (e) {
    if (!(e instanceof libc.SysError)) throw e;
    // execvp(3) runs a file without a #! line with /bin/sh; posix_spawnp does not. Users of tini
    // and of shells expect the former, for a script: a binary the kernel refused (another machine's,
    // a truncated one) is an exec format error, not sh's "Syntax error" (explain).
    const path = findInPath(spec.argv[0]) ?? spec.argv[0];
    if (e.errno === libc.errno.ENOEXEC && spec.argv[0] !== '/bin/sh' && !isBinary(path)) {
      const raw = spec.rawArgv;
      return spawnChild(
        { ...spec, argv: ['/bin/sh', path, ...spec.argv.slice(1)], rawArgv: raw && [Buffer.from('/bin/sh'), Buffer.from(path), ...raw.slice(1)] },
        reaper,
      );
    }
    if (e.errno === libc.errno.EBADF || e.errno === libc.errno.EMFILE || e.errno === libc.errno.ENFILE) {
      // Too few descriptors to set up the child's (a low ulimit -n): the child never starts without them.
      const need = Math.max(...request.fds.flat()) + request.fds.length + 1;
      throw new SpawnError(spec.argv[0], `too few file descriptors (${FD_LIMIT}): starting it needs a limit of at least ${need}; raise ulimit -n`, EXIT_INTERNAL);
    }
    throw explain(spec.argv[0], e);
  }
  return { pid, pgid: pid, exited: reaper.watch(pid) };
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

/** RLIMIT_NOFILE's soft limit, from /proc/self/limits (null: unknown or unlimited). */
function fdLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null; // no /proc
  }
}
// Read at the start, while a descriptor is still free to read it with.
const LIMIT = fdLimit();
const FD_LIMIT = LIMIT === null ? 'ulimit -n' : `the limit is ${LIMIT}, ulimit -n`;

/**
 * Whether tsinit has the descriptors a run needs, checked before anything runs: the ones open now,
 * the log pipes, the heartbeat pipe, the notify and control sockets, --events, and the staging
 * numbers a spawn uses in the child, with some slack for Node's own. One line when it has not.
 */
export function fdShortage(o: { logger?: string; logDir?: string; loggerStderr?: string; watchdogMs?: number; notify?: boolean; events?: string }): string | null {
  if (LIMIT === null) return null;
  let open: number;
  try {
    open = readdirSync('/proc/self/fd').length - 1; // the listing's own fd
  } catch {
    return null;
  }
  const logging = o.logger !== undefined || o.logDir !== undefined;
  const need = open + (logging ? 2 : 0) + (logging && o.loggerStderr === 'separate' ? 2 : 0) +
    (o.watchdogMs !== undefined ? 3 : 0) + (o.notify ? 1 : 0) + (o.events !== undefined ? 1 : 0) + 1 + 4;
  if (LIMIT >= need) return null;
  return `too few file descriptors (${FD_LIMIT}): tsinit needs at least ${need} for this run; raise ulimit -n`;
}

/** One line for an error that means "too few file descriptors" (EMFILE, ENFILE), else null. */
export function fdExhaustion(e: unknown): string | null {
  const code = e instanceof libc.SysError ? e.code : (e as NodeJS.ErrnoException | null)?.code;
  if (code !== 'EMFILE' && code !== 'ENFILE') return null;
  const what = e instanceof Error ? e.message : String(e);
  return `too few file descriptors (${FD_LIMIT}) for tsinit itself (${what}); raise ulimit -n`;
}
