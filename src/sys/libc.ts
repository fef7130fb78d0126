// The only module that talks to libc. Everything Node lacks for an init lives here, typed:
// waitpid, prctl, pipe2, fcntl, ioctl(FIONREAD), kill, posix_spawn, tcsetpgrp, setpriority, sockets.
// Every function returns a value or throws a SysError carrying errno; callers never see koffi.
//
// Nothing is loaded until a function is first called: `tsinit --help`, `--version` and usage errors
// never load koffi or the C library. The C library is the one Node itself runs on (glibc's
// libc.so.6 or musl's ld-musl-<arch>.so.1, see platform.ts); each function is bound at its first
// use, so a function this C library lacks costs nothing until it is needed. Where a newer
// extension is missing (glibc < 2.34/2.35, musl), a fallback keeps the same promise:
//   posix_spawn_file_actions_addclosefrom_np -> one addclose per open fd, listed from /proc/self/fd;
//   posix_spawn_file_actions_addtcsetpgrp_np -> tsinit hands over the terminal right after the spawn;
//   posix_spawn_file_actions_addchdir_np     -> tsinit stays where it was started (environment.ts);
//   gettid                                   -> the raw syscall.
// FORCE_TSINIT_FALLBACKS=1 makes tsinit use every fallback even where the extension exists (the
// black-box suite runs once with it, so each fallback is tested on every CI run). A function
// with no fallback that is missing raises LibcUnsupported; main prints it and exits 125.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type * as KoffiModule from 'koffi';
import createDebug from '../debug';
import { SIGCONT } from '../signals';
import { Layout, layoutFor } from './layout';
import { detectPlatform, libcCandidates, LibcFlavor } from './platform';

const debug = createDebug('libc');

export class SysError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${errnoName(errno)}`);
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

/** This system cannot give tsinit something it needs; the message is the whole explanation. */
export class LibcUnsupported extends Error {}

/** Linux's errno values (Node's own table: no native code needed to name an error). */
export const errno = constants.errno as unknown as Record<string, number>;
const ERRNO_NAMES = Object.fromEntries(Object.entries(errno).map(([name, n]) => [n, name])) as Record<number, string>;
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

// ---- loading --------------------------------------------------------------------------------------

type Koffi = typeof KoffiModule;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CFunc = (...args: any[]) => any;

/** Set (to anything but '' or '0') to take every fallback below even where the C library has the extension. */
export const FORCE_FALLBACKS_VAR = 'FORCE_TSINIT_FALLBACKS';

interface Native {
  koffi: Koffi;
  lib: ReturnType<Koffi['load']>;
  libc: LibcFlavor;
  layout: Layout;
  forceFallbacks: boolean;
}
let native: Native | null = null;

/**
 * koffi's own loader (`require('koffi')`) costs ~5 ms at startup, most of it JavaScript that
 * finds the prebuilt binary; the binary alone loads in ~1 ms. So tsinit loads the binary for this
 * platform itself, and falls back to koffi's loader when anything about that is unexpected.
 */
function loadKoffi(libc: LibcFlavor | 'unknown'): Koffi {
  if (libc !== 'unknown') {
    try {
      const dirs = koffiDirs(__dirname);
      if (!dirs) throw new Error('koffi or its native package is not in a node_modules above tsinit');
      const want = JSON.parse(readFileSync(join(dirs.koffi, 'package.json'), 'utf8')).version;
      const mod = require(join(dirs.native, `${libc === 'musl' ? 'musl' : 'linux'}_${process.arch}`, 'koffi.node')) as Koffi;
      if (mod && mod.version === want && typeof mod.load === 'function') return mod;
      debug('direct load: koffi.node is version %s, koffi is %s', mod?.version, want);
    } catch (e) {
      debug('direct load failed: %s', (e as Error).message);
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('koffi') as Koffi;
}

/**
 * The directory of package `name` as require() finds it from `from` (the node_modules of `from` and
 * of each directory above it), without Node's resolver: its first use (package exports, conditions)
 * costs about 3 ms of tsinit's startup. Anything else (NODE_PATH, a global folder) is left to koffi's
 * own loader.
 */
export function packageDir(name: string, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules' && existsSync(join(dir, 'node_modules', name, 'package.json'))) {
      return join(dir, 'node_modules', name);
    }
    if (dirname(dir) === dir) return null;
  }
}

/**
 * koffi's directory and that of its native package for `arch`, as require() would find them from
 * `from`: the native package from koffi's real directory, as Node resolves a package's own
 * dependencies (pnpm's store and `npm link` make koffi a symbolic link).
 */
export function koffiDirs(from: string, arch: string = process.arch): { koffi: string; native: string } | null {
  const found = packageDir('koffi', from);
  if (!found) return null;
  const koffi = realpathSync.native(found);
  const native = packageDir(`@koromix/koffi-linux-${arch}`, koffi);
  return native ? { koffi, native } : null;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

function load(): Native {
  if (native) return native;
  const platform = detectPlatform();
  let koffi: Koffi;
  try {
    koffi = loadKoffi(platform.libc);
  } catch (e) {
    throw new LibcUnsupported(`cannot load koffi's native module for linux-${process.arch}: ${firstLine(e)}`);
  }
  let lib: ReturnType<Koffi['load']> | null = null;
  let name = '';
  const tried: string[] = [];
  for (name of libcCandidates(platform)) {
    try {
      lib = koffi.load(name);
      break;
    } catch (e) {
      tried.push(`${name}: ${firstLine(e)}`);
    }
  }
  if (!lib) throw new LibcUnsupported(`cannot find this system's C library (${tried.join('; ')})`);
  const libc: LibcFlavor = platform.libc !== 'unknown' ? platform.libc : /musl/.test(name) ? 'musl' : 'glibc';
  const layout = layoutFor(libc, process.arch);
  if (!layout) {
    throw new LibcUnsupported(`no struct layout for ${libc} on ${process.arch} (tsinit knows linux x64 and arm64, glibc and musl)`);
  }
  const force = process.env[FORCE_FALLBACKS_VAR];
  native = { koffi, lib, libc, layout, forceFallbacks: force !== undefined && force !== '' && force !== '0' };
  debug('C library %s (%s, %s)%s', name, libc, process.arch, native.forceFallbacks ? ', every fallback forced' : '');
  return native;
}

function L(): Layout {
  return load().layout;
}
function lastErrno(): number {
  return load().koffi.errno() as number;
}

// Each function: its prototype and what tsinit needs it for (the error message if it is missing).
// `fallback: true` marks the ones with a fallback: never required, forced off by FORCE_TSINIT_FALLBACKS.
const FUNCS = {
  waitpid: { proto: 'int waitpid(int pid, _Out_ int *status, int options)', need: 'reaping children' },
  waitid: { proto: 'int waitid(int idtype, int id, void *info, int options)', need: 'noticing a stopped service' },
  kill: { proto: 'int kill(int pid, int sig)', need: 'forwarding signals' },
  prctl: { proto: 'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)', need: 'becoming a subreaper' },
  pipe2: { proto: 'int pipe2(_Out_ int *fds, int flags)', need: 'the log pipes' },
  fcntl: { proto: 'int fcntl(int fd, int cmd, int arg)', need: 'setting up file descriptors' },
  ioctlInt: { proto: 'int ioctl(int fd, unsigned long req, _Out_ int *out)', need: 'measuring pipes' },
  ioctlPtr: { proto: 'int ioctl(int fd, unsigned long req, void *arg)', need: 'terminal window sizes' },
  tcgetattr: { proto: 'int tcgetattr(int fd, void *termios)', need: 'terminal settings' },
  tcsetattr: { proto: 'int tcsetattr(int fd, int when, void *termios)', need: 'terminal settings' },
  close: { proto: 'int close(int fd)', need: 'closing file descriptors' },
  poll: { proto: 'int poll(void *fds, unsigned long nfds, int timeout)', need: 'the end of the log pipe' },
  exit: { proto: 'void _exit(int status)', need: 'exiting' },
  isatty: { proto: 'int isatty(int fd)', need: 'terminal detection' },
  tcgetpgrp: { proto: 'int tcgetpgrp(int fd)', need: 'terminal job control' },
  tcsetpgrp: { proto: 'int tcsetpgrp(int fd, int pgrp)', need: 'terminal job control' },
  getpgrp: { proto: 'int getpgrp()', need: 'process groups' },
  getpriority: { proto: 'int getpriority(int which, unsigned int who)', need: '--nice' },
  setpriority: { proto: 'int setpriority(int which, unsigned int who, int prio)', need: '--nice' },
  gettid: { proto: 'int gettid()', need: '--user and --nice', fallback: true },
  syscall: { proto: 'long syscall(long nr, ...)', need: '--user' },
  signal: { proto: 'long signal(int sig, long handler)', need: 'signal dispositions' },
  faInit: { proto: 'int posix_spawn_file_actions_init(void *fa)', need: 'starting the service' },
  faDestroy: { proto: 'int posix_spawn_file_actions_destroy(void *fa)', need: 'starting the service' },
  faDup2: { proto: 'int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)', need: 'starting the service' },
  faClose: { proto: 'int posix_spawn_file_actions_addclose(void *fa, int fd)', need: 'starting the service' },
  faChdir: { proto: 'int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)', need: 'a working directory', fallback: true },
  faClosefrom: { proto: 'int posix_spawn_file_actions_addclosefrom_np(void *fa, int from)', need: 'closing fds', fallback: true },
  faTcsetpgrp: { proto: 'int posix_spawn_file_actions_addtcsetpgrp_np(void *fa, int fd)', need: 'the terminal', fallback: true },
  attrInit: { proto: 'int posix_spawnattr_init(void *attr)', need: 'starting the service' },
  attrDestroy: { proto: 'int posix_spawnattr_destroy(void *attr)', need: 'starting the service' },
  attrSetflags: { proto: 'int posix_spawnattr_setflags(void *attr, short flags)', need: 'starting the service' },
  attrSetpgroup: { proto: 'int posix_spawnattr_setpgroup(void *attr, int pgrp)', need: 'starting the service' },
  attrSetsigmask: { proto: 'int posix_spawnattr_setsigmask(void *attr, void *set)', need: 'starting the service' },
  attrSetsigdefault: { proto: 'int posix_spawnattr_setsigdefault(void *attr, void *set)', need: 'starting the service' },
  posixSpawnp: {
    proto: 'int posix_spawnp(_Out_ int *pid, const char *file, void *fa, void *attr, const char **argv, const char **envp)',
    need: 'starting the service',
  },
  socket: { proto: 'int socket(int domain, int type, int protocol)', need: 'NOTIFY_SOCKET' },
  bind: { proto: 'int bind(int fd, void *addr, unsigned int len)', need: 'NOTIFY_SOCKET' },
  recv: { proto: 'long recv(int fd, _Out_ uint8_t *buf, unsigned long len, int flags)', need: 'NOTIFY_SOCKET' },
  getsockopt: {
    proto: 'int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint32_t *len)',
    need: 'the control socket',
  },
} satisfies Record<string, { proto: string; need: string; fallback?: true }>;
type Name = keyof typeof FUNCS;

/** The C name in a prototype: 'int waitpid(int pid, ...)' -> 'waitpid'. */
export function cName(proto: string): string {
  return /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(proto)![1];
}

const bound = new Map<Name, CFunc | null>();

/** The function, or null if this C library lacks it (or its fallback is forced). */
function optional(name: Name): CFunc | null {
  const known = bound.get(name);
  if (known !== undefined) return known;
  const n = load();
  const spec: { proto: string; fallback?: true } = FUNCS[name];
  let f: CFunc | null = null;
  if (!(spec.fallback && n.forceFallbacks)) {
    try {
      f = n.lib.func(spec.proto) as CFunc;
    } catch (e) {
      // koffi says "Cannot find function 'NAME' in shared library"; anything else is a bug here.
      if (!/cannot find/i.test(firstLine(e))) throw e;
    }
  }
  if (!f) debug('%s: %s', cName(spec.proto), spec.fallback ? 'absent, using the fallback' : 'absent');
  bound.set(name, f);
  return f;
}

function required(name: Name): CFunc {
  const f = optional(name);
  if (f) return f;
  throw new LibcUnsupported(`this system's C library lacks ${cName(FUNCS[name].proto)}, needed for ${FUNCS[name].need}`);
}

/** `c.NAME(...)` binds NAME at its first call and throws LibcUnsupported if the C library lacks it. */
const c = {} as Record<Name, CFunc>;
for (const name of Object.keys(FUNCS) as Name[]) Object.defineProperty(c, name, { get: () => required(name) });

/**
 * Loads the C library and binds what every run needs (spawning, reaping, signalling), so that a
 * system that cannot run tsinit is told so before anything starts. Throws LibcUnsupported.
 */
export function ensureUsable(): void {
  for (const name of Object.keys(FUNCS) as Name[]) {
    const need: string = FUNCS[name].need;
    if (need === 'starting the service' || need === 'reaping children' || need === 'forwarding signals') required(name);
  }
}

/** Which C library and which fallbacks are in use (for debugging and the portability tests). */
export function describe(): { libc: LibcFlavor; arch: string; fallbacks: string[] } {
  const n = load();
  const fallbacks = (Object.keys(FUNCS) as Name[])
    .filter((name) => (FUNCS[name] as { fallback?: true }).fallback && !optional(name))
    .map((name) => cName(FUNCS[name].proto));
  return { libc: n.libc, arch: process.arch, fallbacks };
}

function check(call: string, rc: number | bigint): number {
  const n = Number(rc);
  if (n < 0) throw new SysError(call, lastErrno());
  return n;
}

/** posix_spawn and its attribute and file-action functions return an errno (> 0), not -1. */
function checkRc(call: string, rc: number): void {
  if (rc !== 0) throw new SysError(call, rc);
}

// ---- waiting ----------------------------------------------------------------------------------

export const WNOHANG = 1;

/** waitpid(2). Returns null when nothing is ready (WNOHANG) or there is no such child (ECHILD). */
export function waitpid(pid: number, options = WNOHANG): { pid: number; status: number } | null {
  const status = [0];
  const rc = c.waitpid(pid, status, options) as number;
  if (rc > 0) return { pid: rc, status: status[0] };
  if (rc === 0) return null;
  const e = lastErrno();
  if (e === errno.ECHILD) return null;
  if (e === errno.EINTR) return waitpid(pid, options);
  throw new SysError('waitpid', e);
}

/**
 * The signal that stopped child `pid`, if it is stopped right now and that stop was not reported
 * yet; else null. waitid(WSTOPPED) without WEXITED never consumes an exit status, so this is safe
 * beside the reaper and beside a library that waits for the same pid (node-pty).
 */
export function waitStopped(pid: number): number | null {
  const l = L();
  const info = Buffer.alloc(l.siginfoSize);
  const rc = c.waitid(l.P_PID, pid, info, l.WSTOPPED | l.WNOHANG) as number;
  if (rc < 0) {
    const e = lastErrno();
    if (e === errno.ECHILD) return null;
    if (e === errno.EINTR) return waitStopped(pid);
    throw new SysError('waitid', e);
  }
  if (info.readInt32LE(l.siginfoPid) !== pid) return null;
  return info.readInt32LE(l.siginfoStatus);
}

// ---- signals and processes ----------------------------------------------------------------------

/** kill(2); returns false when the target no longer exists (ESRCH). */
export function kill(pid: number, sig: number): boolean {
  if (c.kill(pid, sig) === 0) return true;
  const e = lastErrno();
  if (e === errno.ESRCH) return false;
  throw new SysError('kill', e);
}

export function setChildSubreaper(): void {
  check('prctl(PR_SET_CHILD_SUBREAPER)', c.prctl(L().PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}
export function setParentDeathSignal(sig: number): void {
  check('prctl(PR_SET_PDEATHSIG)', c.prctl(L().PR_SET_PDEATHSIG, sig, 0, 0, 0));
}

/** Set a signal's disposition to SIG_IGN or SIG_DFL for signals Node will not let us ignore. */
export function setSignalIgnored(sig: number, ignored: boolean): void {
  c.signal(sig, ignored ? L().SIG_IGN : L().SIG_DFL);
}

/**
 * Ends the process at once. Everything tsinit writes is written synchronously, so nothing is
 * pending; Node's own teardown would cost milliseconds on the exit path (bench/). Where the C
 * library was never loaded (--help, --version, usage errors), loading it would cost more than
 * Node's teardown saves: process.exit.
 */
export function exitNow(code: number): never {
  if (native) optional('exit')?.(code);
  process.exit(code);
}

// ---- file descriptors ----------------------------------------------------------------------------

/** A close-on-exec pipe: [readEnd, writeEnd]. Children get an end only through an explicit fd map. */
export function pipe(): [number, number] {
  const fds = [0, 0];
  check('pipe2', c.pipe2(fds, L().O_CLOEXEC));
  return [fds[0], fds[1]];
}
/** Grows a pipe up to `bytes` (the kernel rounds up and caps at /proc/sys/fs/pipe-max-size for non-root). */
export function setPipeSize(fd: number, bytes: number): number {
  return check('fcntl(F_SETPIPE_SZ)', c.fcntl(fd, L().F_SETPIPE_SZ, bytes));
}
export function pipeSize(fd: number): number {
  return check('fcntl(F_GETPIPE_SZ)', c.fcntl(fd, L().F_GETPIPE_SZ, 0));
}
/** Bytes waiting unread in a pipe or socket. */
export function bytesUnread(fd: number): number {
  const out = [0];
  check('ioctl(FIONREAD)', c.ioctlInt(fd, L().FIONREAD, out));
  return out[0];
}
/**
 * Whether a pipe still has a write end open anywhere, seen from its read end: without writers, poll(2)
 * reports POLLHUP there (the same bit on every Linux architecture tsinit runs on). Unknown counts as yes.
 */
export function pipeHasWriters(readFd: number): boolean {
  const POLLIN = 0x1;
  const POLLHUP = 0x10;
  const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
  pfd.writeInt32LE(readFd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const rc = c.poll(pfd, 1, 0) as number;
  return rc < 0 || (pfd.readInt16LE(6) & POLLHUP) === 0;
}
export function close(fd: number): void {
  c.close(fd);
}
/** Marks an fd close-on-exec (for children started by a library that forks without closing fds). */
export function setCloseOnExec(fd: number): void {
  check('fcntl(F_SETFD)', c.fcntl(fd, L().F_SETFD, L().FD_CLOEXEC));
}
export function dupCloexec(fd: number): number {
  return check('fcntl(F_DUPFD_CLOEXEC)', c.fcntl(fd, L().F_DUPFD_CLOEXEC, 3));
}

// ---- terminals ----------------------------------------------------------------------------------

export function isatty(fd: number): boolean {
  return c.isatty(fd) === 1;
}
export function getForegroundGroup(fd: number): number {
  return check('tcgetpgrp', c.tcgetpgrp(fd));
}
export function setForegroundGroup(fd: number, pgrp: number): void {
  check('tcsetpgrp', c.tcsetpgrp(fd, pgrp));
}
export function getProcessGroup(): number {
  return c.getpgrp() as number;
}
export function windowSize(fd: number): { rows: number; cols: number } | null {
  const ws = Buffer.alloc(8); // struct winsize: four unsigned shorts, the same everywhere
  if (Number(c.ioctlPtr(fd, L().TIOCGWINSZ, ws)) < 0) return null;
  return { rows: ws.readUInt16LE(0), cols: ws.readUInt16LE(2) };
}
/** TIOCSWINSZ; on a pty master the kernel then sends SIGWINCH to the pty's foreground group. */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  check('ioctl(TIOCSWINSZ)', c.ioctlPtr(fd, L().TIOCSWINSZ, ws));
}

/** The suspend key (Ctrl-Z) of a terminal whose keys make signals; null if it has none. */
export function suspendKey(fd: number): number | null {
  const l = L();
  const t = Buffer.alloc(l.termiosSize);
  check('tcgetattr', c.tcgetattr(fd, t));
  if ((t.readUInt32LE(l.termiosLflag) & l.ISIG) === 0) return null;
  const key = t[l.termiosCc + l.VSUSP];
  return key === 0 ? null : key;
}
/** Turns a terminal's echo on or off (on a pty master: the echo of what is written into it). */
export function setEcho(fd: number, on: boolean): void {
  const l = L();
  const t = Buffer.alloc(l.termiosSize);
  check('tcgetattr', c.tcgetattr(fd, t));
  const lflag = t.readUInt32LE(l.termiosLflag);
  t.writeUInt32LE(on ? lflag | l.ECHO : lflag & ~l.ECHO, l.termiosLflag);
  check('tcsetattr', c.tcsetattr(fd, l.TCSANOW, t));
}

// ---- spawning -----------------------------------------------------------------------------------

export interface SpawnRequest {
  /** file, argv and env as text, or as bytes (a Buffer ends with its NUL): what the child gets */
  file: string | Buffer;
  argv: Array<string | Buffer>;
  env: Array<string | Buffer>;
  /** fds the child gets, as [childFd, parentFd]; every other fd above 2 is closed in the child. */
  fds: Array<[number, number]>;
  /** make the child's group (its own: pgid = pid) the foreground group of this terminal fd */
  foregroundTty?: number;
  cwd?: string;
  /** credentials and niceness, applied to the calling thread around the spawn (see spawnAs) */
  user?: { uid: number; gid: number; groups: number[] };
  nice?: number;
}

/** The fds open in this process right now, from /proc/self/fd (null if /proc is not mounted). */
export function openFds(): number[] | null {
  try {
    return readdirSync('/proc/self/fd').map(Number).filter((fd) => Number.isInteger(fd));
  } catch {
    return null;
  }
}

/**
 * Without addclosefrom_np, the fds open here from `wanted` up that tsinit marks close-on-exec
 * before a spawn. (The staging fds the file actions dup2 through are open in the child only, and
 * are closed there by file actions.)
 */
export function fdsToMarkCloseOnExec(open: number[], wanted: number): number[] {
  return open.filter((fd) => fd >= wanted).sort((a, b) => a - b);
}

/**
 * Marks fds close-on-exec in tsinit itself, which never execs: this changes only what children
 * inherit. An fd closed meanwhile (the listing's own) is skipped.
 */
function markCloseOnExec(fds: number[]): void {
  const F_GETFD = 1;
  const l = L();
  for (const fd of fds) {
    const flags = c.fcntl(fd, F_GETFD, 0) as number;
    if (flags >= 0 && !(flags & l.FD_CLOEXEC)) check("fcntl(F_SETFD)", c.fcntl(fd, l.F_SETFD, flags | l.FD_CLOEXEC) as number);
  }
}

/**
 * posix_spawnp(3): the child starts with an empty signal mask, every disposition at its default,
 * only the fds asked for, in its own group. Returns the pid, or throws SysError with the exec errno
 * (ENOENT, EACCES, ENOEXEC ...). Node's own stdio fds are close-on-exec, so 0-2 are always mapped.
 */
export function spawn(req: SpawnRequest): number {
  const l = L();
  const fa = Buffer.alloc(l.fileActionsSize);
  const attr = Buffer.alloc(l.spawnattrSize);
  checkRc('posix_spawn_file_actions_init', c.faInit(fa));
  try {
    checkRc('posix_spawnattr_init', c.attrInit(attr));
  } catch (e) {
    c.faDestroy(fa);
    throw e;
  }
  try {
    // Map fds in two steps so that a target number that is also a source is not clobbered.
    // The staging numbers sit just above every fd involved (not at a fixed high number, which a
    // small RLIMIT_NOFILE would refuse in the child).
    const high = Math.max(...req.fds.flat()) + 1;
    const staging = req.fds.map((_, i) => high + i);
    req.fds.forEach(([, parent], i) => checkRc('posix_spawn_file_actions_adddup2', c.faDup2(fa, parent, staging[i])));
    req.fds.forEach(([child], i) => checkRc('posix_spawn_file_actions_adddup2', c.faDup2(fa, staging[i], child)));
    const wanted = Math.max(2, ...req.fds.map(([child]) => child)) + 1;
    const closefrom = optional('faClosefrom');
    if (closefrom) {
      checkRc('posix_spawn_file_actions_addclosefrom_np', closefrom(fa, wanted));
    } else {
      // Listed here, synchronously before the spawn: no JavaScript runs in between. An fd that
      // another thread opens meanwhile is libuv's, and libuv opens every fd close-on-exec.
      // They are marked close-on-exec here rather than closed by file actions: glibc refuses an
      // addclose at or above the current ulimit -n, and an init can inherit fds from before its
      // limit was lowered.
      const open = openFds();
      if (!open) {
        throw new LibcUnsupported(
          "this system's C library lacks posix_spawn_file_actions_addclosefrom_np, and without it tsinit needs /proc mounted to close the service's inherited fds",
        );
      }
      markCloseOnExec(fdsToMarkCloseOnExec(open, wanted));
      for (const fd of staging) checkRc('posix_spawn_file_actions_addclose', c.faClose(fa, fd));
    }
    if (req.cwd) {
      const addchdir = optional('faChdir');
      // Without it tsinit stays in the directory its children start in (environment.ts).
      if (addchdir) checkRc('posix_spawn_file_actions_addchdir_np', addchdir(fa, req.cwd));
      else if (req.cwd !== process.cwd()) throw new LibcUnsupported("this system's C library lacks posix_spawn_file_actions_addchdir_np, needed for starting a child in another directory");
    }
    // Every child gets a process group of its own, so that a signal reaches what it forked.
    const flags = l.POSIX_SPAWN_SETSIGDEF | l.POSIX_SPAWN_SETSIGMASK | l.POSIX_SPAWN_SETPGROUP;
    checkRc('posix_spawnattr_setpgroup', c.attrSetpgroup(attr, 0));
    let handOverTerminal = false;
    if (req.foregroundTty !== undefined) {
      const addtcsetpgrp = optional('faTcsetpgrp');
      if (addtcsetpgrp) checkRc('posix_spawn_file_actions_addtcsetpgrp_np', addtcsetpgrp(fa, req.foregroundTty));
      else handOverTerminal = true;
    }
    checkRc('posix_spawnattr_setflags', c.attrSetflags(attr, flags));
    // A zero-filled sigset_t is the empty set on Linux (a bit mask), in both C libraries.
    checkRc('posix_spawnattr_setsigmask', c.attrSetsigmask(attr, Buffer.alloc(l.sigsetSize)));
    // glibc's sigfillset leaves out its two internal signals (32, 33), and posix_spawn then leaves
    // them SIG_IGN in the child, which survives exec. Setting every bit by hand gives the child all
    // defaults.
    checkRc('posix_spawnattr_setsigdefault', c.attrSetsigdefault(attr, Buffer.alloc(l.sigsetSize, 0xff)));
    const pid = [0];
    const spawnp = c.posixSpawnp;
    const run = () => spawnp(pid, req.file, fa, attr, [...req.argv, null], [...req.env, null]) as number;
    const spawnHere = req.user || req.nice !== undefined ? () => withThreadCredentials(req.user, req.nice, run) : run;
    const rc = spawnHere();
    if (rc !== 0) throw new SysError('exec', rc);
    if (handOverTerminal) giveTerminal(req.foregroundTty!, pid[0]);
    return pid[0];
  } finally {
    c.faDestroy(fa);
    c.attrDestroy(attr);
  }
}

/** Whether a child can be started in another directory than tsinit's (addchdir_np). */
export function canSpawnInDirectory(): boolean {
  return optional('faChdir') !== null;
}

/**
 * Without addtcsetpgrp_np: the child's group gets the terminal right after the spawn instead of
 * before its exec. A child that read the terminal in between got SIGTTIN (it was still in the
 * background), so it is continued, as job-control shells do. The SIGCONT is sent whether or not
 * the stop was seen: a stop can be underway but not yet visible, and a SIGCONT sent after the
 * terminal changed hands cancels a pending stop as well as an accomplished one, after which the
 * interrupted read restarts in the foreground. (tsinit ignores SIGTTOU while it holds a terminal,
 * so its own tcsetpgrp from the background is allowed.)
 */
function giveTerminal(tty: number, pgid: number): void {
  try {
    setForegroundGroup(tty, pgid);
  } catch (e) {
    debug('handing the terminal to %d: %s', pgid, (e as Error).message);
    return;
  }
  kill(-pgid, SIGCONT);
}

// A child inherits the credentials and the niceness of the *thread* that spawns it. Raw syscalls
// change them for the calling thread only (glibc's setuid() would change every thread), so tsinit
// switches its main thread for the length of one posix_spawn and switches back: the service starts
// with the user's ids, groups and niceness, with no window, and tsinit keeps root to reap and signal.
// The saved uid stays 0 so the thread can switch back; exec copies the effective uid into the
// child's saved uid, so the service cannot regain root.

function rawSyscall(name: string, nr: number, ...args: number[]): void {
  const typed = args.flatMap((a) => ['long', a]);
  check(name, c.syscall(nr, ...typed) as number);
}

/** This thread's id: gettid(), or the raw syscall where the C library has no wrapper (glibc < 2.30). */
function gettid(): number {
  const f = optional('gettid');
  if (f) return f() as number;
  return check('syscall(SYS_gettid)', c.syscall(L().SYS_gettid) as number);
}

/** Runs `run` (a spawn, or node-pty's fork) with the service's credentials and niceness on this thread. */
export function withThreadCredentials<T>(
  user: SpawnRequest['user'],
  nice: number | undefined,
  run: () => T,
): T {
  const l = L();
  const tid = gettid();
  const oldNice = c.getpriority(l.PRIO_PROCESS, tid) as number;
  const groupsBefore = user ? process.getgroups!() : [];
  const gidBefore = process.getgid!();
  try {
    if (nice !== undefined) check('setpriority', c.setpriority(l.PRIO_PROCESS, tid, nice));
    if (user) {
      const list = Buffer.alloc(4 * Math.max(1, user.groups.length));
      user.groups.forEach((g, i) => list.writeUInt32LE(g, i * 4));
      check('setgroups', c.syscall(l.SYS_setgroups, 'long', user.groups.length, 'void *', list) as number);
      rawSyscall('setresgid', l.SYS_setresgid, user.gid, user.gid, -1);
      rawSyscall('setresuid', l.SYS_setresuid, user.uid, user.uid, -1);
    }
    return run();
  } finally {
    if (user) {
      rawSyscall('setresuid', l.SYS_setresuid, 0, 0, -1);
      rawSyscall('setresgid', l.SYS_setresgid, gidBefore, gidBefore, -1);
      const list = Buffer.alloc(4 * Math.max(1, groupsBefore.length));
      groupsBefore.forEach((g, i) => list.writeUInt32LE(g, i * 4));
      c.syscall(l.SYS_setgroups, 'long', groupsBefore.length, 'void *', list);
    }
    if (nice !== undefined) c.setpriority(l.PRIO_PROCESS, tid, oldNice);
  }
}

// ---- unix datagram sockets (sd_notify) -------------------------------------------------------

/** A non-blocking unix datagram socket bound to `path` (the NOTIFY_SOCKET systemd services write to). */
export function bindDatagramSocket(path: string): number {
  const l = L();
  const fd = check('socket', c.socket(l.AF_UNIX, l.SOCK_DGRAM | l.SOCK_CLOEXEC | l.SOCK_NONBLOCK, 0));
  const addr = Buffer.alloc(l.sockaddrUnSize);
  addr.writeUInt16LE(l.AF_UNIX, 0);
  const p = Buffer.from(path);
  if (p.length > l.sockaddrUnSize - l.sockaddrUnPath - 1) {
    c.close(fd);
    throw new SysError('bind', errno.ENAMETOOLONG);
  }
  p.copy(addr, l.sockaddrUnPath);
  try {
    check('bind', c.bind(fd, addr, l.sockaddrUnPath + p.length + 1));
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return fd;
}

/** One datagram if one is waiting, else null. */
export function receive(fd: number, max = 4096): Buffer | null {
  const buf = Buffer.alloc(max);
  const n = Number(c.recv(fd, buf, max, L().MSG_DONTWAIT));
  if (n >= 0) return buf.subarray(0, n);
  const e = lastErrno();
  if (e === errno.EAGAIN || e === errno.EWOULDBLOCK || e === errno.EINTR) return null;
  throw new SysError('recv', e);
}

// ---- control socket: the peer's credentials ----------------------------------------------------

/** SO_PEERCRED of a connected unix socket: who connected (as the kernel saw it at connect time). */
export function peerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  const l = L();
  const cred = Buffer.alloc(l.ucredSize); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const len = [l.ucredSize];
  check('getsockopt', c.getsockopt(fd, l.SOL_SOCKET, l.SO_PEERCRED, cred, len) as number);
  return { pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(8) };
}

// ---- one-shot signal handlers (added for early-signals.ts) ----------------------------------------

const SA_RESETHAND = 0x80000000;
// struct sigaction on 64-bit Linux, glibc and musl alike: handler (8 bytes), sa_mask (128), sa_flags.
const SA_FLAGS_OFFSET = 136;
const oneShotActions = new Map<number, Buffer>();
let sigactionFn: CFunc | null = null;

/**
 * Makes the handler now installed for `sig` (Node's) reset itself to the default when it runs
 * (SA_RESETHAND); call again after each delivery to put it back. Nothing happens without a handler.
 */
export function resetHandlerWhenRun(sig: number): void {
  sigactionFn ??= load().lib.func('int sigaction(int sig, void *act, void *old)') as CFunc;
  let act = oneShotActions.get(sig);
  if (!act) {
    act = Buffer.alloc(256);
    check('sigaction', sigactionFn(sig, null, act) as number);
    if (act.readBigUInt64LE(0) <= 1n) return; // SIG_DFL or SIG_IGN: nothing to make one-shot
    act.writeUInt32LE((act.readUInt32LE(SA_FLAGS_OFFSET) | SA_RESETHAND) >>> 0, SA_FLAGS_OFFSET);
    oneShotActions.set(sig, act);
  }
  check('sigaction', sigactionFn(sig, act, null) as number);
}

// ---- notify socket: each datagram's sender; non-blocking sends ---------------------------------
// Bound at first use like everything here. struct msghdr and struct cmsghdr read the same in glibc
// and musl on 64-bit little-endian Linux (musl's int + padding fields hold the same values).

const SO_PASSCRED = 16;
const SCM_CREDENTIALS = 2;

interface SocketFns {
  setsockopt: CFunc;
  recvmsg: CFunc;
  send: CFunc;
  sendto: CFunc;
}
let socketFns: SocketFns | null = null;

function sockets(): SocketFns {
  if (socketFns) return socketFns;
  const { koffi, lib } = load();
  koffi.struct('tsinit_iovec', { base: 'void *', len: 'size_t' });
  koffi.struct('tsinit_msghdr', {
    name: 'void *', namelen: 'uint32_t', iov: 'tsinit_iovec *', iovlen: 'size_t',
    control: 'void *', controllen: 'size_t', flags: 'int',
  });
  socketFns = {
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)') as CFunc,
    recvmsg: lib.func('long recvmsg(int fd, _Inout_ tsinit_msghdr *msg, int flags)') as CFunc,
    send: lib.func('long send(int fd, const void *buf, unsigned long len, int flags)') as CFunc,
    sendto: lib.func('long sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, unsigned int alen)') as CFunc,
  };
  return socketFns;
}

/** Asks the kernel to attach the sender's pid, uid and gid to every datagram received on `fd`. */
export function passCredentials(fd: number): void {
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  check('setsockopt(SO_PASSCRED)', sockets().setsockopt(fd, L().SOL_SOCKET, SO_PASSCRED, one, 4) as number);
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** One datagram and its sender's credentials (SO_PASSCRED must be on), or null when none is waiting. */
export function receiveWithCredentials(fd: number, max = 4096): { data: Buffer; cred: PeerCredentials | null } | null {
  const data = Buffer.alloc(max);
  const control = Buffer.alloc(64);
  const msg = { name: null, namelen: 0, iov: [{ base: data, len: max }], iovlen: 1, control, controllen: control.length, flags: 0 };
  const n = Number(sockets().recvmsg(fd, msg, L().MSG_DONTWAIT));
  if (n < 0) {
    const e = lastErrno();
    if (e === errno.EAGAIN || e === errno.EWOULDBLOCK || e === errno.EINTR) return null;
    throw new SysError('recvmsg', e);
  }
  // struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then struct ucred {pid, uid, gid}.
  let cred: PeerCredentials | null = null;
  if (Number(control.readBigUInt64LE(0)) >= 28 && control.readInt32LE(8) === L().SOL_SOCKET && control.readInt32LE(12) === SCM_CREDENTIALS) {
    cred = { pid: control.readInt32LE(16), uid: control.readUInt32LE(20), gid: control.readUInt32LE(24) };
  }
  return { data: data.subarray(0, n), cred };
}

/** send(MSG_DONTWAIT): bytes sent, or 0 when the socket's buffer is full. Throws SysError otherwise. */
export function sendNonBlocking(fd: number, buf: Buffer): number {
  const n = Number(sockets().send(fd, buf, buf.length, L().MSG_DONTWAIT));
  if (n >= 0) return n;
  const e = lastErrno();
  if (e === errno.EAGAIN || e === errno.EWOULDBLOCK || e === errno.EINTR) return 0;
  throw new SysError('send', e);
}

/** One datagram to the unix socket at `path` (what sd_notify does); for tools and tests. */
export function sendDatagram(path: string, data: Buffer): void {
  const l = L();
  const fd = check('socket', c.socket(l.AF_UNIX, l.SOCK_DGRAM | l.SOCK_CLOEXEC, 0));
  try {
    const addr = Buffer.alloc(l.sockaddrUnSize);
    addr.writeUInt16LE(l.AF_UNIX, 0);
    Buffer.from(path).copy(addr, l.sockaddrUnPath);
    check('sendto', sockets().sendto(fd, data, data.length, 0, addr, l.sockaddrUnPath + Buffer.byteLength(path) + 1) as number);
  } finally {
    c.close(fd);
  }
}

// ---- dropping privileges in a child of root tsinit, then exec ----------------------------------
// Used by the privilege-dropping step (process/drop-privileges.ts) that runs in the child between
// posix_spawn and the service's exec: the whole process changes credentials there (glibc's and
// musl's setresuid change every thread), root tsinit never does.

interface ExecFns {
  setgroups: CFunc;
  setresgid: CFunc;
  setresuid: CFunc;
  execve: CFunc;
  sigprocmask: CFunc;
  setpriority: CFunc;
}
let execFns: ExecFns | null = null;

function execs(): ExecFns {
  if (execFns) return execFns;
  const { lib } = load();
  execFns = {
    setgroups: lib.func('int setgroups(unsigned long n, const uint32_t *groups)') as CFunc,
    setresgid: lib.func('int setresgid(uint32_t r, uint32_t e, uint32_t s)') as CFunc,
    setresuid: lib.func('int setresuid(uint32_t r, uint32_t e, uint32_t s)') as CFunc,
    execve: lib.func('int execve(const char *path, const char **argv, const char **envp)') as CFunc,
    sigprocmask: lib.func('int sigprocmask(int how, const void *set, void *old)') as CFunc,
    setpriority: lib.func('int setpriority(int which, unsigned int who, int prio)') as CFunc,
  };
  return execFns;
}

/** This whole process's niceness (before dropping privileges: lowering it needs root). */
export function setOwnNiceness(nice: number): void {
  check('setpriority', execs().setpriority(L().PRIO_PROCESS, 0, nice) as number);
}

/** setgroups, setresgid, setresuid for the whole process: real, effective and saved ids alike. */
export function becomeUser(user: { uid: number; gid: number; groups: number[] }): void {
  const f = execs();
  const list = new Uint32Array(Math.max(1, user.groups.length));
  user.groups.forEach((g, i) => (list[i] = g));
  check('setgroups', f.setgroups(user.groups.length, list) as number);
  check('setresgid', f.setresgid(user.gid, user.gid, user.gid) as number);
  check('setresuid', f.setresuid(user.uid, user.uid, user.uid) as number);
}

/** Every disposition back to SIG_DFL (an ignored signal stays ignored across exec) and an empty mask. */
export function resetSignals(): void {
  for (let sig = 1; sig < 65; sig++) {
    if (sig === 9 || sig === 19) continue;
    c.signal(sig, 0);
  }
  const SIG_SETMASK = 2;
  check('sigprocmask', execs().sigprocmask(SIG_SETMASK, Buffer.alloc(L().sigsetSize), null) as number);
}

/** Clears FD_CLOEXEC: the fd survives exec (Node marks its stdio close-on-exec). */
export function keepAcrossExec(fd: number): void {
  const F_SETFD = 2;
  check('fcntl(F_SETFD)', c.fcntl(fd, F_SETFD, 0) as number);
}

/** execve(2); returns only on failure, with the errno. */
export function execve(path: string, argv: string[], env: string[]): number {
  execs().execve(path, [...argv, null], [...env, null]);
  return lastErrno();
}

/** tgkill(2): one thread of a process; true if delivered, false on EPERM/ESRCH (for attack tests). */
export function tgkill(tgid: number, tid: number, sig: number): boolean {
  const nr = process.arch === 'arm64' ? 131 : 234;
  return Number(c.syscall(nr, 'long', tgid, 'long', tid, 'long', sig)) === 0;
}

/** kill(2) without throwing: true if delivered (for attack tests). */
export function tryKill(pid: number, sig: number): boolean {
  return Number(c.kill(pid, sig)) === 0;
}

/**
 * _exit(2), loading the C library if nothing did yet: for a process with a thread blocked in a
 * system call (logd's copy to a stdout nobody reads), which process.exit() would wait for forever.
 */
export function exitHard(code: number): never {
  optional('exit')?.(code);
  process.exit(code);
}
