// --user without ever lowering tsinit's own credentials. Root tsinit posix_spawns, as root, a small
// step that runs in the child: Node itself (process.execPath, present wherever tsinit runs) with
// tsinit's bundle and the hidden command below. In the child it sets the niceness, the groups, the
// gid and the uid (real, effective and saved, for the whole process), clears close-on-exec on the
// fds the service was promised, puts every signal disposition back to its default with an empty
// mask, and execs the service: same pid, same process group, same fds.
//
// Why not switch tsinit's own spawning thread to the user's ids around posix_spawn: for that long,
// any process of that uid may signal tsinit (kill checks the target's real and saved uid), and a
// SIGKILL at the thread's id (tgkill) ends the whole process. With this step tsinit's credentials
// never change, so no other uid can signal or trace it at any time.
//
// The service's environment reaches the step with every entry behind a prefix, so that nothing in it
// (NODE_OPTIONS, NODE_PATH, ...) applies to the Node that runs the step; the step reads the entries
// back from /proc/self/environ.
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as libc from '../sys/libc';

export const DROP_COMMAND = '__drop-privileges';
/** entry i of the service's environment travels as _TSINIT_ENV_<i>=NAME=value */
const ENV_PREFIX = '_TSINIT_ENV_';
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** SIGCHLD, SIGCONT, SIGURG, SIGWINCH: ignored by default */
const DEFAULT_IGNORED = new Set([17, 18, 23, 28]);

export interface DropSpec {
  user: { uid: number; gid: number; groups: number[] };
  nice?: number;
  /** fds 0 .. keepFds-1 are the service's (the rest were closed by the spawn) */
  keepFds: number;
}

/** The argv and environment that run `file argv` through the step, for posix_spawn as root. */
export function throughDropStep(spec: DropSpec, file: string, argv: string[], env: string[]): { file: string; argv: string[]; env: string[] } {
  const flags: string[] = [];
  // Node 22.14+: no inspector on SIGUSR1 even before the step's first line has run.
  if (process.allowedNodeEnvironmentFlags?.has('--disable-sigusr1')) flags.push('--disable-sigusr1');
  const ids = `${spec.user.uid}:${spec.user.gid}:${spec.user.groups.join(',')}:${spec.nice ?? ''}:${spec.keepFds}`;
  return {
    file: process.execPath,
    argv: [process.execPath, ...flags, process.argv[1], DROP_COMMAND, ids, file, ...argv],
    env: env.map((e, i) => `${ENV_PREFIX}${i}=${e}`),
  };
}

/** The same for node-pty, which takes the environment as an object. */
export function throughDropStepForPty(spec: DropSpec, file: string, args: string[], env: Record<string, string>): { file: string; args: string[]; env: Record<string, string> } {
  const via = throughDropStep(spec, file, [file, ...args], Object.entries(env).map(([k, v]) => `${k}=${v}`));
  const wrapped: Record<string, string> = {};
  for (const e of via.env) {
    const eq = e.indexOf('=');
    wrapped[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return { file: via.file, args: via.argv.slice(1), env: wrapped };
}

function parseIds(text: string): DropSpec {
  const [uid, gid, groups, nice, keep] = text.split(':');
  return {
    user: { uid: Number(uid), gid: Number(gid), groups: groups ? groups.split(',').map(Number) : [] },
    nice: nice === '' ? undefined : Number(nice),
    keepFds: Number(keep),
  };
}

/** The environment the service was meant to get: the prefixed entries of this process's own. */
function originalEnvironment(): string[] {
  const raw = readFileSync('/proc/self/environ');
  const out: Array<[number, string]> = [];
  for (const entry of raw.toString('utf8').split('\0')) {
    const m = /^_TSINIT_ENV_(\d+)=/.exec(entry);
    if (m) out.push([Number(m[1]), entry.slice(m[0].length)]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, e]) => e);
}

/** execvp(3): PATH search, and a file without #! run by /bin/sh. Returns the errno if nothing ran. */
function execFrom(file: string, argv: string[], env: string[]): number {
  const run = (path: string): number => {
    const e = libc.execve(path, argv, env);
    if (e === libc.errno.ENOEXEC) return libc.execve('/bin/sh', ['/bin/sh', path, ...argv.slice(1)], env);
    return e;
  };
  if (file.includes('/')) return run(file);
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  let sawEacces = false;
  let last = libc.errno.ENOENT;
  for (const dir of pathVar.split(delimiter)) {
    last = run(join(dir || '.', file));
    if (last === libc.errno.EACCES) sawEacces = true;
    else if (last !== libc.errno.ENOENT && last !== libc.errno.ENOTDIR) return last;
  }
  return sawEacces ? libc.errno.EACCES : last;
}

/** The step itself, in the child (main.ts runs it before anything else). Never returns. */
export function runDropStep(
  args: string[],
  fail: (line: string, code: number) => never,
  explain: (cmd: string, errno: number) => { reason: string; exitCode: number },
  /** signals caught since this Node started (tsinit's handlers are installed in its first lines) */
  caught: () => number[],
): never {
  // ids, the file to run, then its whole argv (argv[0] included)
  const [ids, file, ...argv] = args;
  const spec = parseIds(ids ?? '');
  const env = originalEnvironment();
  try {
    if (spec.nice !== undefined) libc.setOwnNiceness(spec.nice);
    libc.becomeUser(spec.user);
    for (let fd = 0; fd < spec.keepFds; fd++) {
      try {
        libc.keepAcrossExec(fd);
      } catch {
        // not one of the service's: closed by the spawn
      }
    }
    libc.resetSignals();
    // A signal sent to the service while the step ran acts on it as it would have on a process that
    // had not set up its handlers yet: by default (ignored by default: nothing to do).
    for (const sig of caught()) if (!DEFAULT_IGNORED.has(sig)) libc.tryKill(process.pid, sig);
  } catch (e) {
    fail(`cannot run ${file} as uid ${spec.user.uid}: ${(e as Error).message}`, 125);
  }
  const errno = execFrom(file, argv, env);
  const why = explain(file, errno);
  fail(`cannot run ${file}: ${why.reason}`, why.exitCode);
}
