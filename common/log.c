/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Messages go to stderr as "prog: message", the form both the CLI's
 * one-line errors and a foreground daemon under systemd want. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *log_prog = "sbxfw";
static enum log_level log_level = LOG_LVL_INFO;

void log_init(const char *progname, enum log_level level)
{
	log_prog = progname;
	log_level = level;
}

bool log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void log_vemit(enum log_level lvl, int err, const char *fmt,
		      va_list ap)
{
	if (lvl > log_level)
		return;
	fprintf(stderr, "%s: ", log_prog);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
}

#define LOG_FN(name, lvl, with_errno)                                  \
	void name(const char *fmt, ...)                                \
	{                                                              \
		int err = with_errno ? errno : 0;                      \
		va_list ap;                                            \
		va_start(ap, fmt);                                     \
		log_vemit(lvl, err, fmt, ap);                          \
		va_end(ap);                                            \
	}

LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, err, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
