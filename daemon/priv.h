/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_PRIV_H
#define SBXFWD_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Who the daemon runs as once its root work is done (SPEC §10). */
struct priv {
	bool root;		/* started as root: it switches ids itself */
	uid_t uid;
	gid_t gid;
	char user[64], group[64];
};

/* The ini's user and group, created as system ones when missing (as the
 * packages do) if started as root. Started as another user (a unit with
 * User= and AmbientCapabilities=), it stays that user. */
int priv_prepare(const char *user, const char *group, struct priv *p,
		 char *err, size_t errlen);
/* The database's directory: made (0750, the user's) when missing, else it
 * must be writable by the user. */
int priv_state_dir(const struct priv *p, const char *database, char *err,
		   size_t errlen);
/* [tls] ca_dir: made (0700, the user's) when missing, else it must be
 * writable by the user. */
int priv_ca_dir(const struct priv *p, const char *dir, char *err,
		size_t errlen);
/* The control socket's directory: made (0755, the user's, so that it can
 * remove the socket at its stop) when missing. */
int priv_socket_dir(const struct priv *p, const char *socket, char *err,
		    size_t errlen);
/* The database's files: the user's, group `group', 0640 (the secrets and
 * the open flows' names 0600). Symbolic and hard links are refused. */
int priv_state_files(const struct priv *p, const char *database, char *err,
		     size_t errlen);
/* Become the user, keeping CAP_NET_ADMIN only, with no-new-privs, no
 * core dumps, and the system call allowlist. Call before any thread
 * starts: credentials are per thread. */
int priv_drop(const struct priv *p, char *err, size_t errlen);

#endif
