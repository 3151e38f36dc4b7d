/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CA_H
#define SBXFWD_CA_H

#include <stddef.h>

/* Each sandbox's CA for credentials brokering, in [tls] ca_dir: NAME.crt
 * (0644) and NAME.key (0600), the daemon's user's, in a 0700 directory.
 * Made when first needed (its first injection rule, `sbxfw ca NAME'):
 * 500 sandboxes made at once by an apply spent 0.6 s making CAs most
 * never use. Deleted on `destroy'. */
int ca_ensure(const char *dir, const char *sandbox, char *err,
	      size_t errlen);
/* The certificate, and the key when key is not NULL (secret_free it);
 * made first if need be. */
int ca_read(const char *dir, const char *sandbox, char **cert, char **key,
	    char *err, size_t errlen);
void ca_remove(const char *dir, const char *sandbox);

#endif
