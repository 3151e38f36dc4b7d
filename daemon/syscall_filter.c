/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The system calls sbxfwd makes once its root work is done, and no
 * others (chrony's sys_linux.c is the model). The list was taken from
 * strace over every end-to-end test, then read through. */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

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
	/* sockets (socket() itself is limited to four families below) */
	"bind", "connect", "listen", "accept4", "sendto", "recvfrom",
	"sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "getsockopt",
	"setsockopt", "getsockname", "getpeername", "shutdown",
#if defined(__SANITIZE_ADDRESS__)
	/* the sanitizers' runtime: LeakSanitizer stops the world with a
	 * ptrace()ing clone at exit; reports start a symbolizer */
	"ptrace", "prctl", "open", "getdents", "getdents64", "wait4",
	"waitid", "getrlimit", "setrlimit", "sched_getparam", "getppid",
	"pipe2", "execve", "vfork", "fork", "kill", "dup2", "dup3", "uname",
	"mincore",
#endif
};

static const int families[] = { AF_UNIX, AF_NETLINK, AF_INET, AF_INET6 };
static const unsigned long ioctls[] = { TCGETS, SIOCGIFNAME, SIOCGIFINDEX };

/* Names of every call, for the log line of the one that was refused
 * (resolved before: nothing may allocate in the handler). */
#define NR_MAX 512
static char names[NR_MAX][24];

static void write_str(const char *s)
{
	ssize_t n = write(STDERR_FILENO, s, strlen(s));

	(void)n;
}

static void refused(int sig, siginfo_t *si, void *ctx)
{
	char num[16], *p = num + sizeof(num);
	int nr = si->si_syscall;
	unsigned u = nr < 0 ? 0 : (unsigned)nr;

	(void)sig;
	(void)ctx;
	*--p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) && p > num);
	write_str("sbxfwd: seccomp: system call ");
	write_str(nr >= 0 && nr < NR_MAX && names[nr][0] ? names[nr] : "?");
	write_str(" (");
	write_str(p);
	write_str(") is not in the allowlist: stopping (the table stays, "
		  "failing closed)\n");
	_exit(128 + SIGSYS);
}

static void names_init(void)
{
	for (int nr = 0; nr < NR_MAX; nr++) {
		char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (n)
			snprintf(names[nr], sizeof(names[nr]), "%s", n);
		free(n);
	}
}

static int add_rules(scmp_filter_ctx ctx)
{
	int n = 0, rc, nr;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		/* a name this architecture does not have is no error */
		if ((nr = seccomp_syscall_resolve_name(allowed[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			return rc;
		n++;
	}
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
					   SCMP_SYS(socket), 1,
					   SCMP_A0(SCMP_CMP_EQ,
						   (scmp_datum_t)families[i])))
		    < 0)
			return rc;
	/* stdio asks whether stderr is a terminal, if_indextoname() and
	 * if_nametoindex() ask for interfaces; nothing else */
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
					   1, SCMP_A1(SCMP_CMP_EQ,
						      ioctls[i]))) < 0)
			return rc;
	return n + 2;
}

int syscall_filter_install(char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = refused,
				.sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int n, rc;

	names_init();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, errlen, "seccomp: SIGSYS: %s", strerror(errno));
		return -errno;
	}
	if (!(ctx = seccomp_init(SCMP_ACT_TRAP))) {
		snprintf(err, errlen, "seccomp: cannot make a filter");
		return -ENOMEM;
	}
	if ((n = rc = add_rules(ctx)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = seccomp_load(ctx)) < 0)
		snprintf(err, errlen, "seccomp: %s", strerror(-rc));
	seccomp_release(ctx);
	return rc < 0 ? rc : n;
}
