/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CA_H
#define SBXFWD_CA_H

#include <stddef.h>

/* Each sandbox's CA for credentials brokering, in [tls] ca_dir: NAME.crt
 * (0644) and NAME.key (0600), the daemon's user's, in a 0700 directory.
 * Made on `create', deleted on `destroy'. */
int ca_ensure(const char *dir, const char *sandbox, char *err,
	      size_t errlen);
/* The certificate, and the key when key is not NULL (secret_free it). */
int ca_read(const char *dir, const char *sandbox, char **cert, char **key,
	    char *err, size_t errlen);
void ca_remove(const char *dir, const char *sandbox);

#endif
