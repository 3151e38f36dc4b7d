/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_PSL_H
#define SBXFW_PSL_H

#include <stdbool.h>
#include <stddef.h>

/* The public suffix list (publicsuffix.org), read at run time from
 * Debian's `publicsuffix' package: where registrable names begin, so
 * that a wildcard never spans names of different owners (*.co.uk). */
#define PSL_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

struct psl;

/* NULL with err set ("PATH: reason") when it cannot be read. */
struct psl *psl_load(const char *path, char *err, size_t errlen);
void psl_free(struct psl *l);
/* Whether name (lower case ASCII, no trailing dot) is a public suffix
 * itself: "co.uk", "com", any single label; not "example.co.uk". */
bool psl_is_suffix(const struct psl *l, const char *name);

#endif
