// Why a command cannot be run, in the shell's words and with the shell's exit codes (127: not found,
// 126: found but not executable), for both ways tsinit starts a service: posix_spawn reports an errno
// (explain), and node-pty, whose exec fails only after its fork, is checked beforehand (preflight).
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND } from '../exit-status';
import * as libc from '../sys/libc';

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

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

/** The candidates execvp(3) would try for `cmd`, in order. */
function candidates(cmd: string, path = process.env.PATH ?? DEFAULT_PATH): string[] {
  if (cmd.includes('/')) return [cmd];
  return path.split(delimiter).map((dir) => join(dir || '.', cmd));
}

/** The first regular file among the candidates, or `cmd` itself when it has a slash; null if none. */
export function findInPath(cmd: string): string | null {
  if (cmd.includes('/')) return cmd;
  for (const candidate of candidates(cmd)) {
    try {
      accessSync(candidate, constants.F_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** The first bytes of a file (empty if it cannot be read). */
function head(path: string, size = 512): Buffer {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(size);
      return buf.subarray(0, readSync(fd, buf, 0, size, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * The interpreter a #! line names, or null without one. A carriage return is part of the name, as the
 * kernel reads it: a script saved with DOS line endings names "/bin/sh\r".
 */
export function interpreterOf(path: string): string | null {
  const m = /^#![ \t]*([^ \t\n]+)/.exec(head(path, 256).toString('latin1'));
  return m ? m[1] : null;
}

/**
 * A file the kernel would not run that is not a script either: an ELF file (for another machine, or
 * truncated) or anything with a NUL byte near its start. Only a text file without #! is run with
 * /bin/sh, as execvp(3) and the shells do.
 */
export function isBinary(path: string): boolean {
  const bytes = head(path);
  return bytes.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) || bytes.includes(0);
}

/** The interpreter as the user should read it: a carriage return shown as \r. */
function shown(interp: string): string {
  return interp.replace(/\r/g, '\\r');
}

/** errno -> the words of strerror(3), for the reasons a user meets when a command cannot run. */
const REASONS: Record<string, string> = {
  E2BIG: 'argument list too long',
  ETXTBSY: 'text file busy',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOTDIR: 'not a directory',
  ENOMEM: 'cannot allocate memory',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  EIO: 'input/output error',
  ELIBBAD: 'accessing a corrupted shared library',
  EINVAL: 'invalid argument',
};

function isFile(p: string): boolean {
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

/** Turns an exec errno into the user's answer: which exit code and why. */
export function explain(cmd: string, err: libc.SysError): SpawnError {
  const path = findInPath(cmd);
  if (err.errno === libc.errno.ENOENT) {
    if (path === null || !isFile(path)) return new SpawnError(cmd, 'command not found', EXIT_NOT_FOUND);
    const interp = interpreterOf(path);
    const dos = interp?.endsWith('\r') ? ' (the #! line ends with a carriage return: the file has DOS line endings)' : '';
    return new SpawnError(cmd, `bad interpreter${interp ? ` ${shown(interp)}` : ''}: no such file or directory${dos}`, EXIT_NOT_FOUND);
  }
  if (err.errno === libc.errno.EACCES) {
    const isDir = path !== null && isDirectory(path);
    return new SpawnError(cmd, isDir ? 'is a directory' : 'permission denied', EXIT_NOT_EXECUTABLE);
  }
  if (err.errno === libc.errno.ENOEXEC) return new SpawnError(cmd, 'exec format error', EXIT_NOT_EXECUTABLE);
  return new SpawnError(cmd, REASONS[err.code] ?? err.code, EXIT_NOT_EXECUTABLE);
}

/**
 * Throws the SpawnError posix_spawn would give for a command that execvp, searching `path`, would
 * fail on: none of the candidates is an executable file, or the interpreter of its #! line is missing.
 */
export function preflight(cmd: string, path: string | undefined): void {
  const fail = (e: number): never => {
    throw explain(cmd, new libc.SysError('exec', e));
  };
  let denied = false;
  for (const candidate of candidates(cmd, path ?? DEFAULT_PATH)) {
    let isDir: boolean;
    try {
      isDir = statSync(candidate).isDirectory();
    } catch {
      continue;
    }
    try {
      if (isDir) throw new Error('directory');
      accessSync(candidate, constants.X_OK);
    } catch {
      denied = true;
      continue;
    }
    const interp = interpreterOf(candidate);
    if (interp !== null && interp.startsWith('/')) {
      try {
        statSync(interp);
      } catch {
        fail(libc.errno.ENOENT);
      }
    }
    return;
  }
  fail(denied ? libc.errno.EACCES : libc.errno.ENOENT);
}
