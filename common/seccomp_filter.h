/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_SECCOMP_FILTER_H
#define SBXFW_SECCOMP_FILTER_H

#include <stdbool.h>
#include <stddef.h>

struct syscall_policy {
	const char *prog;		/* names the log line */
	const char *on_stop;		/* appended to it */
	const char *const *calls;
	size_t ncalls;
	const int *families;		/* socket() only for these */
	size_t nfamilies;
	const unsigned long *ioctls;	/* ioctl() only for these */
	size_t nioctls;
	bool thread_names;		/* prctl() only to name a thread */
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Install the allowlist on every thread; the number of rules, or -errno
 * with err set. */
int seccomp_filter_install(const struct syscall_policy *p, char *err,
			   size_t errlen);

#endif
