/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The system calls sbxfwd makes once its root work is done, and no
 * others. The list was taken from strace over every end-to-end test,
 * then read through. */
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "seccomp_filter.h"
#include "syscall_filter.h"

static const char *const allowed[] = {
	/* memory, threads, time */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex",
	"set_robust_list", "rseq", "clone", "clone3", "exit", "exit_group",
	"sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep",
	"clock_gettime", "gettimeofday", "getrandom", "getpid", "gettid",
	"getuid", "geteuid", "getgid", "getegid", "prlimit64",
	/* glibc's qsort() asks how much memory there is */
	"sysinfo",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "restart_syscall",
	"sigaltstack", "tgkill",
	/* the broker (the same user) when it stops answering */
	"kill",
	/* descriptors, the event loop */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"fcntl", "dup", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "eventfd2", "timerfd_create", "timerfd_settime",
	"poll", "ppoll",
	/* files: SQLite (locks, journal, WAL), the open flows' names, /proc */
	"openat", "lseek", "fstat", "newfstatat", "statx", "fsync",
	"fdatasync", "ftruncate", "fallocate", "unlink", "unlinkat", "rename",
	"renameat", "renameat2", "umask", "chmod", "fchmod", "access",
	"faccessat", "faccessat2", "getcwd", "readlink",
	/* the policy files' directory */
	"getdents64",
	/* libsystemd's journal sender, for an entry its socket refuses
	 * as too big: the entry in a sealed memfd */
	"memfd_create",
	/* sockets (socket() itself is limited to four families below) */
	"bind", "connect", "listen", "accept4", "sendto", "recvfrom",
	"sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "getsockopt",
	"setsockopt", "getsockname", "getpeername", "shutdown",
#if defined(__SANITIZE_ADDRESS__)
	/* the sanitizers' runtime: LeakSanitizer stops the world with a
	 * ptrace()ing clone at exit; reports start a symbolizer */
	"ptrace", "prctl", "open", "getdents", "getdents64", "wait4",
	"waitid", "getrlimit", "setrlimit", "sched_getparam", "getppid",
	"pipe2", "execve", "vfork", "fork", "dup2", "dup3", "uname",
	"mincore",
#endif
};

static const int families[] = { AF_UNIX, AF_NETLINK, AF_INET, AF_INET6 };
/* stdio asks whether stderr is a terminal, if_indextoname() and
 * if_nametoindex() ask for interfaces; nothing else */
static const unsigned long ioctls[] = { TCGETS, SIOCGIFNAME, SIOCGIFINDEX };

int syscall_filter_install(char *err, size_t errlen)
{
	static const struct syscall_policy p = {
		.prog = "sbxfwd",
		.on_stop = " (the table stays, failing closed)",
		.calls = allowed, .ncalls = NELEM(allowed),
		.families = families, .nfamilies = NELEM(families),
		.ioctls = ioctls, .nioctls = NELEM(ioctls),
#if !defined(__SANITIZE_ADDRESS__)
		/* libmicrohttpd names its thread (the sanitizers' runtime
		 * has every prctl() above) */
		.thread_names = true,
#endif
	};

	return seccomp_filter_install(&p, err, errlen);
}
