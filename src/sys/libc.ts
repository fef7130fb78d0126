// The only module that talks to libc. Everything Node lacks for an init lives here, typed:
// waitpid, prctl, pipe2, fcntl, ioctl(FIONREAD), kill, posix_spawn, tcsetpgrp, setpriority, sockets.
// Every function returns a value or throws a SysError carrying errno; callers never see koffi.
import koffi from 'koffi';

export class SysError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${errnoName(errno)}`);
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

const ERRNO_NAMES = Object.fromEntries(
  Object.entries(koffi.os.errno as Record<string, number>).map(([name, n]) => [n, name]),
) as Record<number, string>;
export const errno = koffi.os.errno as Record<string, number>;
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

const lib = koffi.load('libc.so.6');

const c = {
  waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
  waitid: lib.func('int waitid(int idtype, int id, void *info, int options)'),
  kill: lib.func('int kill(int pid, int sig)'),
  prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
  pipe2: lib.func('int pipe2(_Out_ int *fds, int flags)'),
  fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
  ioctlInt: lib.func('int ioctl(int fd, unsigned long req, _Out_ int *out)'),
  ioctlPtr: lib.func('int ioctl(int fd, unsigned long req, void *arg)'),
  tcgetattr: lib.func('int tcgetattr(int fd, void *termios)'),
  tcsetattr: lib.func('int tcsetattr(int fd, int when, void *termios)'),
  close: lib.func('int close(int fd)'),
  exit: lib.func('void _exit(int status)'),
  dup: lib.func('int dup(int fd)'),
  isatty: lib.func('int isatty(int fd)'),
  tcgetpgrp: lib.func('int tcgetpgrp(int fd)'),
  tcsetpgrp: lib.func('int tcsetpgrp(int fd, int pgrp)'),
  getpgrp: lib.func('int getpgrp()'),
  getpriority: lib.func('int getpriority(int which, unsigned int who)'),
  setpriority: lib.func('int setpriority(int which, unsigned int who, int prio)'),
  gettid: lib.func('int gettid()'),
  syscall: lib.func('long syscall(long nr, ...)'),
  sigemptyset: lib.func('int sigemptyset(void *set)'),
  signal: lib.func('long signal(int sig, long handler)'),
  faInit: lib.func('int posix_spawn_file_actions_init(void *fa)'),
  faDestroy: lib.func('int posix_spawn_file_actions_destroy(void *fa)'),
  faDup2: lib.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
  faOpen: lib.func('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, int mode)'),
  faChdir: lib.func('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'),
  faClosefrom: lib.func('int posix_spawn_file_actions_addclosefrom_np(void *fa, int from)'),
  faTcsetpgrp: lib.func('int posix_spawn_file_actions_addtcsetpgrp_np(void *fa, int fd)'),
  attrInit: lib.func('int posix_spawnattr_init(void *attr)'),
  attrDestroy: lib.func('int posix_spawnattr_destroy(void *attr)'),
  attrSetflags: lib.func('int posix_spawnattr_setflags(void *attr, short flags)'),
  attrSetpgroup: lib.func('int posix_spawnattr_setpgroup(void *attr, int pgrp)'),
  attrSetsigmask: lib.func('int posix_spawnattr_setsigmask(void *attr, void *set)'),
  attrSetsigdefault: lib.func('int posix_spawnattr_setsigdefault(void *attr, void *set)'),
  posixSpawnp: lib.func(
    'int posix_spawnp(_Out_ int *pid, const char *file, void *fa, void *attr, const char **argv, const char **envp)',
  ),
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  bind: lib.func('int bind(int fd, void *addr, unsigned int len)'),
  recv: lib.func('long recv(int fd, _Out_ uint8_t *buf, unsigned long len, int flags)'),
};

function check(call: string, rc: number | bigint): number {
  const n = Number(rc);
  if (n < 0) throw new SysError(call, koffi.errno());
  return n;
}

// ---- waiting ----------------------------------------------------------------------------------

export const WNOHANG = 1;
export const WUNTRACED = 2;

/** waitpid(2). Returns null when nothing is ready (WNOHANG) or there is no such child (ECHILD). */
export function waitpid(pid: number, options = WNOHANG): { pid: number; status: number } | null {
  const status = [0];
  const rc = c.waitpid(pid, status, options) as number;
  if (rc > 0) return { pid: rc, status: status[0] };
  if (rc === 0) return null;
  const e = koffi.errno();
  if (e === errno.ECHILD) return null;
  if (e === errno.EINTR) return waitpid(pid, options);
  throw new SysError('waitpid', e);
}

const P_PID = 1;
const WSTOPPED = 2;

/**
 * The signal that stopped child `pid`, if it is stopped right now and that stop was not reported
 * yet; else null. waitid(WSTOPPED) without WEXITED never consumes an exit status, so this is safe
 * beside the reaper and beside a library that waits for the same pid (node-pty).
 */
export function waitStopped(pid: number): number | null {
  const info = Buffer.alloc(128);
  const rc = c.waitid(P_PID, pid, info, WSTOPPED | WNOHANG) as number;
  if (rc < 0) {
    const e = koffi.errno();
    if (e === errno.ECHILD) return null;
    if (e === errno.EINTR) return waitStopped(pid);
    throw new SysError('waitid', e);
  }
  // siginfo_t: si_signo, si_errno, si_code, then (8-aligned) si_pid, si_uid, si_status.
  if (info.readInt32LE(16) !== pid) return null;
  return info.readInt32LE(24);
}

// ---- signals and processes ----------------------------------------------------------------------

/** kill(2); returns false when the target no longer exists (ESRCH). */
export function kill(pid: number, sig: number): boolean {
  if (c.kill(pid, sig) === 0) return true;
  const e = koffi.errno();
  if (e === errno.ESRCH) return false;
  throw new SysError('kill', e);
}

const PR_SET_PDEATHSIG = 1;
const PR_SET_CHILD_SUBREAPER = 36;
export function setChildSubreaper(): void {
  check('prctl(PR_SET_CHILD_SUBREAPER)', c.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}
export function setParentDeathSignal(sig: number): void {
  check('prctl(PR_SET_PDEATHSIG)', c.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0));
}

/** Set a signal's disposition to SIG_IGN (1) or SIG_DFL (0) for signals Node will not let us ignore. */
export function setSignalIgnored(sig: number, ignored: boolean): void {
  c.signal(sig, ignored ? 1 : 0);
}

/**
 * Ends the process at once. Everything tsinit writes is written synchronously, so nothing is
 * pending; Node's own teardown would cost milliseconds on the exit path (bench/).
 */
export function exitNow(code: number): never {
  c.exit(code);
  process.exit(code);
}

// ---- file descriptors ----------------------------------------------------------------------------

const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
const FIONREAD = 0x541b;
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;

/** A close-on-exec pipe: [readEnd, writeEnd]. Children get an end only through an explicit fd map. */
export function pipe(): [number, number] {
  const fds = [0, 0];
  check('pipe2', c.pipe2(fds, O_CLOEXEC));
  return [fds[0], fds[1]];
}
/** Grows a pipe up to `bytes` (the kernel rounds up and caps at /proc/sys/fs/pipe-max-size for non-root). */
export function setPipeSize(fd: number, bytes: number): number {
  return check('fcntl(F_SETPIPE_SZ)', c.fcntl(fd, F_SETPIPE_SZ, bytes));
}
export function pipeSize(fd: number): number {
  return check('fcntl(F_GETPIPE_SZ)', c.fcntl(fd, F_GETPIPE_SZ, 0));
}
/** Bytes waiting unread in a pipe or socket. */
export function bytesUnread(fd: number): number {
  const out = [0];
  check('ioctl(FIONREAD)', c.ioctlInt(fd, FIONREAD, out));
  return out[0];
}
export function setNonBlocking(fd: number, on: boolean): void {
  const flags = check('fcntl(F_GETFL)', c.fcntl(fd, F_GETFL, 0));
  check('fcntl(F_SETFL)', c.fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK));
}
export function close(fd: number): void {
  c.close(fd);
}
/** Marks an fd close-on-exec (for children started by a library that forks without closing fds). */
export function setCloseOnExec(fd: number): void {
  check('fcntl(F_SETFD)', c.fcntl(fd, F_SETFD, FD_CLOEXEC));
}
export function dupCloexec(fd: number): number {
  const F_DUPFD_CLOEXEC = 1030;
  return check('fcntl(F_DUPFD_CLOEXEC)', c.fcntl(fd, F_DUPFD_CLOEXEC, 3));
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
  const ws = Buffer.alloc(8);
  if (Number(c.ioctlPtr(fd, TIOCGWINSZ, ws)) < 0) return null;
  return { rows: ws.readUInt16LE(0), cols: ws.readUInt16LE(2) };
}
/** TIOCSWINSZ; on a pty master the kernel then sends SIGWINCH to the pty's foreground group. */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  check('ioctl(TIOCSWINSZ)', c.ioctlPtr(fd, TIOCSWINSZ, ws));
}

// struct termios (Linux, glibc): c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[32], speeds.
const TERMIOS_SIZE = 64;
const LFLAG_OFFSET = 12;
const ECHO = 0o10;
const TCSANOW = 0;
const ISIG = 0o1;
const CC_OFFSET = 17;
const VSUSP = 10;
/** The suspend key (Ctrl-Z) of a terminal whose keys make signals; null if it has none. */
export function suspendKey(fd: number): number | null {
  const t = Buffer.alloc(TERMIOS_SIZE);
  check('tcgetattr', c.tcgetattr(fd, t));
  if ((t.readUInt32LE(LFLAG_OFFSET) & ISIG) === 0) return null;
  const key = t[CC_OFFSET + VSUSP];
  return key === 0 ? null : key;
}
/** Turns a terminal's echo on or off (on a pty master: the echo of what is written into it). */
export function setEcho(fd: number, on: boolean): void {
  const t = Buffer.alloc(TERMIOS_SIZE);
  check('tcgetattr', c.tcgetattr(fd, t));
  const lflag = t.readUInt32LE(LFLAG_OFFSET);
  t.writeUInt32LE(on ? lflag | ECHO : lflag & ~ECHO, LFLAG_OFFSET);
  check('tcsetattr', c.tcsetattr(fd, TCSANOW, t));
}

// ---- spawning -----------------------------------------------------------------------------------

export interface SpawnRequest {
  file: string;
  argv: string[];
  env: string[];
  /** fds the child gets, as [childFd, parentFd]; every other fd above 2 is closed in the child. */
  fds: Array<[number, number]>;
  /** 'group': own process group (pgid = pid); 'session': own session; 'inherit': tsinit's group. */
  grouping: 'group' | 'session' | 'inherit';
  /** make the child's group the foreground group of this terminal fd (only with 'group') */
  foregroundTty?: number;
  cwd?: string;
  /** credentials and niceness, applied to the calling thread around the spawn (see spawnAs) */
  user?: { uid: number; gid: number; groups: number[] };
  nice?: number;
}

const POSIX_SPAWN_SETPGROUP = 0x02;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;

// glibc's sigfillset leaves out its two internal signals (32, 33), and posix_spawn then leaves them
// SIG_IGN in the child, which survives exec. Setting every bit by hand gives the child all defaults.
const ALL_SIGNALS = Buffer.alloc(128, 0xff);
const NO_SIGNALS = Buffer.alloc(128);
c.sigemptyset(NO_SIGNALS);

/**
 * posix_spawnp(3): the child starts with an empty signal mask, every disposition at its default,
 * only the fds asked for, in its own group. Returns the pid, or throws SysError with the exec errno
 * (ENOENT, EACCES, ENOEXEC ...). Node's own stdio fds are close-on-exec, so 0-2 are always mapped.
 */
export function spawn(req: SpawnRequest): number {
  const fa = Buffer.alloc(512);
  const attr = Buffer.alloc(1024);
  c.faInit(fa);
  c.attrInit(attr);
  try {
    // Map fds in two steps so that a target number that is also a source is not clobbered.
    // The staging numbers sit just above every fd involved (not at a fixed high number, which a
    // small RLIMIT_NOFILE would refuse in the child).
    const staged = req.fds.map(([, parent]) => parent);
    const high = Math.max(...req.fds.flat()) + 1;
    staged.forEach((parent, i) => check('adddup2', c.faDup2(fa, parent, high + i)));
    req.fds.forEach(([child], i) => check('adddup2', c.faDup2(fa, high + i, child)));
    const wanted = Math.max(2, ...req.fds.map(([child]) => child)) + 1;
    check('addclosefrom', c.faClosefrom(fa, wanted));
    if (req.cwd) check('addchdir', c.faChdir(fa, req.cwd));
    let flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (req.grouping === 'group') {
      flags |= POSIX_SPAWN_SETPGROUP;
      c.attrSetpgroup(attr, 0);
      if (req.foregroundTty !== undefined) check('addtcsetpgrp', c.faTcsetpgrp(fa, req.foregroundTty));
    } else if (req.grouping === 'session') {
      flags |= POSIX_SPAWN_SETSID;
    }
    c.attrSetflags(attr, flags);
    c.attrSetsigmask(attr, NO_SIGNALS);
    c.attrSetsigdefault(attr, ALL_SIGNALS);
    const pid = [0];
    const run = () => c.posixSpawnp(pid, req.file, fa, attr, [...req.argv, null], [...req.env, null]) as number;
    const rc = req.user || req.nice !== undefined ? withThreadCredentials(req.user, req.nice, run) : run();
    if (rc !== 0) throw new SysError('exec', rc);
    return pid[0];
  } finally {
    c.faDestroy(fa);
    c.attrDestroy(attr);
  }
}

// A child inherits the credentials and the niceness of the *thread* that spawns it. Raw syscalls
// change them for the calling thread only (glibc's setuid() would change every thread), so tsinit
// switches its main thread for the length of one posix_spawn and switches back: the service starts
// with the user's ids, groups and niceness, with no window, and tsinit keeps root to reap and signal.
// The saved uid stays 0 so the thread can switch back; exec copies the effective uid into the
// child's saved uid, so the service cannot regain root.
const SYSCALLS: Record<string, { setgroups: number; setresgid: number; setresuid: number }> = {
  x64: { setgroups: 116, setresgid: 119, setresuid: 117 },
  arm64: { setgroups: 159, setresgid: 149, setresuid: 147 },
};
const PRIO_PROCESS = 0;

function rawSyscall(name: string, nr: number, ...args: number[]): void {
  const typed = args.flatMap((a) => ['long', a]);
  check(name, c.syscall(nr, ...typed) as number);
}

/** Runs `run` (a spawn, or node-pty's fork) with the service's credentials and niceness on this thread. */
export function withThreadCredentials<T>(
  user: SpawnRequest['user'],
  nice: number | undefined,
  run: () => T,
): T {
  const tid = c.gettid() as number;
  const oldNice = c.getpriority(PRIO_PROCESS, tid) as number;
  const nr = SYSCALLS[process.arch];
  if (user && !nr) throw new Error(`--user is not supported on ${process.arch}`);
  const groupsBefore = user ? process.getgroups!() : [];
  const gidBefore = process.getgid!();
  try {
    if (nice !== undefined) check('setpriority', c.setpriority(PRIO_PROCESS, tid, nice));
    if (user && nr) {
      const list = Buffer.alloc(4 * Math.max(1, user.groups.length));
      user.groups.forEach((g, i) => list.writeUInt32LE(g, i * 4));
      check('setgroups', c.syscall(nr.setgroups, 'long', user.groups.length, 'void *', list) as number);
      rawSyscall('setresgid', nr.setresgid, user.gid, user.gid, -1);
      rawSyscall('setresuid', nr.setresuid, user.uid, user.uid, -1);
    }
    return run();
  } finally {
    if (user && nr) {
      rawSyscall('setresuid', nr.setresuid, 0, 0, -1);
      rawSyscall('setresgid', nr.setresgid, gidBefore, gidBefore, -1);
      const list = Buffer.alloc(4 * Math.max(1, groupsBefore.length));
      groupsBefore.forEach((g, i) => list.writeUInt32LE(g, i * 4));
      c.syscall(nr.setgroups, 'long', groupsBefore.length, 'void *', list);
    }
    if (nice !== undefined) c.setpriority(PRIO_PROCESS, tid, oldNice);
  }
}

// ---- unix datagram sockets (sd_notify) -------------------------------------------------------

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOCK_NONBLOCK = 0o4000;
const MSG_DONTWAIT = 0x40;

/** A non-blocking unix datagram socket bound to `path` (the NOTIFY_SOCKET systemd services write to). */
export function bindDatagramSocket(path: string): number {
  const fd = check('socket', c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  const p = Buffer.from(path);
  if (p.length > 107) throw new SysError('bind', errno.ENAMETOOLONG);
  p.copy(addr, 2);
  try {
    check('bind', c.bind(fd, addr, 2 + p.length + 1));
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return fd;
}

/** One datagram if one is waiting, else null. */
export function receive(fd: number, max = 4096): Buffer | null {
  const buf = Buffer.alloc(max);
  const n = Number(c.recv(fd, buf, max, MSG_DONTWAIT));
  if (n >= 0) return buf.subarray(0, n);
  const e = koffi.errno();
  if (e === errno.EAGAIN || e === errno.EWOULDBLOCK || e === errno.EINTR) return null;
  throw new SysError('recv', e);
}


