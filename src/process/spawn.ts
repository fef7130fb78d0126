// Spawning one process: posix_spawn with a clean signal state and only the fds asked for, a status
// promise from the reaper, and signalling of the process or its group.
import * as libc from '../sys/libc';
import { cStrings, environmentFor, startDirectory } from './environment';
import { explain, findInPath, isBinary } from './exec-errors';
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
    // Every child gets a process group of its own, so that a signal reaches what it forked.
    grouping: 'group',
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
