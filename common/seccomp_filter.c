/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A system call allowlist (libseccomp) on every thread of a process: a
 * call outside it stops the process with a log line naming the call
 * (chrony's sys_linux.c is the model). */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "seccomp_filter.h"

static const struct syscall_policy *policy;

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
	write_str(policy->prog);
	write_str(": seccomp: system call ");
	write_str(nr >= 0 && nr < NR_MAX && names[nr][0] ? names[nr] : "?");
	write_str(" (");
	write_str(p);
	write_str(") is not in the allowlist: stopping");
	write_str(policy->on_stop);
	write_str("\n");
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

static int add_rules(scmp_filter_ctx ctx, const struct syscall_policy *p)
{
	int n = 0, rc, nr;

	for (size_t i = 0; i < p->ncalls; i++) {
		/* a name this architecture does not have is no error */
		if ((nr = seccomp_syscall_resolve_name(p->calls[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			return rc;
		n++;
	}
	for (size_t i = 0; i < p->nfamilies; i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
					   SCMP_SYS(socket), 1,
					   SCMP_A0(SCMP_CMP_EQ,
						   (scmp_datum_t)p->families[i])))
		    < 0)
			return rc;
	for (size_t i = 0; i < p->nioctls; i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
					   1, SCMP_A1(SCMP_CMP_EQ,
						      p->ioctls[i]))) < 0)
			return rc;
	if (p->thread_names &&
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				   SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME))) < 0)
		return rc;
	return n + (p->nfamilies > 0) + (p->nioctls > 0) + p->thread_names;
}

int seccomp_filter_install(const struct syscall_policy *p, char *err,
			   size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = refused,
				.sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int n, rc;

	policy = p;
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
	if ((n = rc = add_rules(ctx, p)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = seccomp_load(ctx)) < 0)
		snprintf(err, errlen, "seccomp: %s", strerror(-rc));
	seccomp_release(ctx);
	return rc < 0 ? rc : n;
}
