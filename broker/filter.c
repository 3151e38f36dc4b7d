/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The system calls the broker makes once it serves: threads, sockets to
 * the real servers, epoll, splice, and openat for wolfSSL's seed, which
 * Landlock confines to /dev/urandom. No process is ever started. */
#include <sys/socket.h>

#include "broker.h"
#include "seccomp_filter.h"

static const char *const allowed[] = {
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex",
	"set_robust_list", "rseq", "clone", "clone3", "exit", "exit_group",
	"sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep",
	"clock_gettime",
	"gettimeofday", "getrandom", "getpid", "gettid",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "restart_syscall",
	"sigaltstack", "tgkill",
	"openat", "read", "write", "readv", "writev", "close", "fcntl", "poll",
	"ppoll", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"pipe2", "splice",
	"connect", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg",
	"getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown",
#if defined(__SANITIZE_ADDRESS__)
	/* the sanitizers' runtime (see daemon/syscall_filter.c) */
	"ptrace", "prctl", "open", "getdents", "getdents64",
	"wait4", "waitid", "getrlimit", "setrlimit", "sched_getparam",
	"getppid", "execve", "vfork", "fork", "kill", "dup2", "dup3",
	"uname", "mincore", "fstat", "newfstatat", "readlink", "lseek",
	"prlimit64", "ioctl",
#endif
};

static const int families[] = { AF_INET, AF_INET6 };

int broker_filter_install(char *err, size_t errlen)
{
	static const struct syscall_policy p = {
		.prog = "sbxfw-broker",
		.on_stop = " (sbxfwd starts a new broker)",
		.calls = allowed, .ncalls = NELEM(allowed),
		.families = families, .nfamilies = NELEM(families),
	};

	return seccomp_filter_install(&p, err, errlen);
}
