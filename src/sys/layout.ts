// What tsinit assumes about the C library's structs, constants and the kernel's syscall numbers,
// one table per (C library, architecture). koffi passes these structs as opaque buffers, so their
// sizes and field offsets must be right for the library actually loaded. Every entry is checked
// against a C program compiled with that library (test/portability/layout.c, compared by
// test/portability/check-layout.mjs); the names are the ones that program prints.
import type { LibcFlavor } from './platform';

export interface Layout {
  // struct sizes and field offsets, in bytes
  sigsetSize: number;
  spawnattrSize: number;
  fileActionsSize: number;
  termiosSize: number;
  termiosLflag: number;
  termiosCc: number;
  siginfoSize: number;
  siginfoPid: number;
  siginfoStatus: number;
  sockaddrUnSize: number;
  sockaddrUnPath: number;
  ucredSize: number;
  // constants
  VSUSP: number;
  ECHO: number;
  ISIG: number;
  TCSANOW: number;
  O_CLOEXEC: number;
  O_NONBLOCK: number;
  F_SETFD: number;
  FD_CLOEXEC: number;
  F_GETFL: number;
  F_SETFL: number;
  F_DUPFD_CLOEXEC: number;
  F_SETPIPE_SZ: number;
  F_GETPIPE_SZ: number;
  FIONREAD: number;
  TIOCGWINSZ: number;
  TIOCSWINSZ: number;
  WNOHANG: number;
  WUNTRACED: number;
  WSTOPPED: number;
  P_PID: number;
  PR_SET_PDEATHSIG: number;
  PR_SET_CHILD_SUBREAPER: number;
  POSIX_SPAWN_SETPGROUP: number;
  POSIX_SPAWN_SETSIGDEF: number;
  POSIX_SPAWN_SETSIGMASK: number;
  POSIX_SPAWN_SETSID: number;
  AF_UNIX: number;
  SOCK_DGRAM: number;
  SOCK_CLOEXEC: number;
  SOCK_NONBLOCK: number;
  MSG_DONTWAIT: number;
  SOL_SOCKET: number;
  SO_PEERCRED: number;
  PRIO_PROCESS: number;
  SIG_DFL: number;
  SIG_IGN: number;
  // syscall numbers (differ per architecture, not per C library)
  SYS_gettid: number;
  SYS_setgroups: number;
  SYS_setresuid: number;
  SYS_setresgid: number;
}

export type Arch = 'x64' | 'arm64';

// On x86-64 and arm64 both C libraries lay these out the same way (64-bit pointers, a 1024-bit
// sigset_t, a 32-entry c_cc, the kernel's generic siginfo), and both architectures use the
// kernel's generic values for these flags and ioctls. The syscall numbers differ per architecture.
const LP64_LINUX: Omit<Layout, 'SYS_gettid' | 'SYS_setgroups' | 'SYS_setresuid' | 'SYS_setresgid'> = {
  sigsetSize: 128,
  spawnattrSize: 336,
  fileActionsSize: 80,
  termiosSize: 60,
  termiosLflag: 12,
  termiosCc: 17,
  siginfoSize: 128,
  siginfoPid: 16,
  siginfoStatus: 24,
  sockaddrUnSize: 110,
  sockaddrUnPath: 2,
  ucredSize: 12,
  VSUSP: 10,
  ECHO: 0o10,
  ISIG: 0o1,
  TCSANOW: 0,
  O_CLOEXEC: 0o2000000,
  O_NONBLOCK: 0o4000,
  F_SETFD: 2,
  FD_CLOEXEC: 1,
  F_GETFL: 3,
  F_SETFL: 4,
  F_DUPFD_CLOEXEC: 1030,
  F_SETPIPE_SZ: 1031,
  F_GETPIPE_SZ: 1032,
  FIONREAD: 0x541b,
  TIOCGWINSZ: 0x5413,
  TIOCSWINSZ: 0x5414,
  WNOHANG: 1,
  WUNTRACED: 2,
  WSTOPPED: 2,
  P_PID: 1,
  PR_SET_PDEATHSIG: 1,
  PR_SET_CHILD_SUBREAPER: 36,
  POSIX_SPAWN_SETPGROUP: 0x02,
  POSIX_SPAWN_SETSIGDEF: 0x04,
  POSIX_SPAWN_SETSIGMASK: 0x08,
  POSIX_SPAWN_SETSID: 0x80,
  AF_UNIX: 1,
  SOCK_DGRAM: 2,
  SOCK_CLOEXEC: 0o2000000,
  SOCK_NONBLOCK: 0o4000,
  MSG_DONTWAIT: 0x40,
  SOL_SOCKET: 1,
  SO_PEERCRED: 17,
  PRIO_PROCESS: 0,
  SIG_DFL: 0,
  SIG_IGN: 1,
};

const SYSCALLS: Record<Arch, Pick<Layout, 'SYS_gettid' | 'SYS_setgroups' | 'SYS_setresuid' | 'SYS_setresgid'>> = {
  x64: { SYS_gettid: 186, SYS_setgroups: 116, SYS_setresuid: 117, SYS_setresgid: 119 },
  arm64: { SYS_gettid: 178, SYS_setgroups: 159, SYS_setresuid: 147, SYS_setresgid: 149 },
};

export const LAYOUTS: Record<`${LibcFlavor}-${Arch}`, Layout> = {
  'glibc-x64': { ...LP64_LINUX, ...SYSCALLS.x64 },
  'glibc-arm64': { ...LP64_LINUX, ...SYSCALLS.arm64 },
  'musl-x64': { ...LP64_LINUX, ...SYSCALLS.x64 },
  'musl-arm64': { ...LP64_LINUX, ...SYSCALLS.arm64 },
};

/** The table for this C library and architecture, or null where tsinit has none. */
export function layoutFor(libc: string, arch: string): Layout | null {
  return (LAYOUTS as Record<string, Layout>)[`${libc}-${arch}`] ?? null;
}
