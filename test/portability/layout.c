/* Prints every struct size, field offset, constant and syscall number that tsinit's layout table
 * (src/sys/layout.ts) assumes, one "name value" line each, as the C library it is compiled
 * against defines them. test/portability/check-layout.mjs compares the output with the table. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#define V(name, expr) printf("%s %ld\n", name, (long)(expr))

int main(void) {
  V("sigsetSize", sizeof(sigset_t));
  V("spawnattrSize", sizeof(posix_spawnattr_t));
  V("fileActionsSize", sizeof(posix_spawn_file_actions_t));
  V("termiosSize", sizeof(struct termios));
  V("termiosLflag", offsetof(struct termios, c_lflag));
  V("termiosCc", offsetof(struct termios, c_cc));
  V("siginfoSize", sizeof(siginfo_t));
  V("siginfoPid", offsetof(siginfo_t, si_pid));
  V("siginfoStatus", offsetof(siginfo_t, si_status));
  V("sockaddrUnSize", sizeof(struct sockaddr_un));
  V("sockaddrUnPath", offsetof(struct sockaddr_un, sun_path));
  V("ucredSize", sizeof(struct ucred));
  V("VSUSP", VSUSP);
  V("ECHO", ECHO);
  V("ISIG", ISIG);
  V("TCSANOW", TCSANOW);
  V("O_CLOEXEC", O_CLOEXEC);
  V("O_NONBLOCK", O_NONBLOCK);
  V("F_SETFD", F_SETFD);
  V("FD_CLOEXEC", FD_CLOEXEC);
  V("F_GETFL", F_GETFL);
  V("F_SETFL", F_SETFL);
  V("F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC);
  V("F_SETPIPE_SZ", F_SETPIPE_SZ);
  V("F_GETPIPE_SZ", F_GETPIPE_SZ);
  V("FIONREAD", FIONREAD);
  V("TIOCGWINSZ", TIOCGWINSZ);
  V("TIOCSWINSZ", TIOCSWINSZ);
  V("WNOHANG", WNOHANG);
  V("WUNTRACED", WUNTRACED);
  V("WSTOPPED", WSTOPPED);
  V("P_PID", P_PID);
  V("PR_SET_PDEATHSIG", PR_SET_PDEATHSIG);
  V("PR_SET_CHILD_SUBREAPER", PR_SET_CHILD_SUBREAPER);
  V("POSIX_SPAWN_SETPGROUP", POSIX_SPAWN_SETPGROUP);
  V("POSIX_SPAWN_SETSIGDEF", POSIX_SPAWN_SETSIGDEF);
  V("POSIX_SPAWN_SETSIGMASK", POSIX_SPAWN_SETSIGMASK);
  V("POSIX_SPAWN_SETSID", POSIX_SPAWN_SETSID);
  V("AF_UNIX", AF_UNIX);
  V("SOCK_DGRAM", SOCK_DGRAM);
  V("SOCK_CLOEXEC", SOCK_CLOEXEC);
  V("SOCK_NONBLOCK", SOCK_NONBLOCK);
  V("MSG_DONTWAIT", MSG_DONTWAIT);
  V("SOL_SOCKET", SOL_SOCKET);
  V("SO_PEERCRED", SO_PEERCRED);
  V("PRIO_PROCESS", PRIO_PROCESS);
  V("SIG_DFL", SIG_DFL);
  V("SIG_IGN", SIG_IGN);
  V("SYS_gettid", SYS_gettid);
  V("SYS_setgroups", SYS_setgroups);
  V("SYS_setresuid", SYS_setresuid);
  V("SYS_setresgid", SYS_setresgid);
  return 0;
}
