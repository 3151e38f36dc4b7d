/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_POLICY_FILES_H
#define SBXFWD_POLICY_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox.h"

/* One sandbox a file (SPEC §9 [policies] dir): DIR/NAME.json holds
 * {"name", "ifaces", "sources", "policy"}; header values name their
 * secret by {"value_file": PATH}, never inline. */
struct pfile {
	char *path;
	char name[SANDBOX_NAME_MAX + 1];
	struct sandbox_match match;
	struct policy *policy;	/* NULL: unchanged (fresh()) and not read */
	uint64_t stamp;		/* the file's and its secrets' inodes */
};

struct pfiles {
	struct pfile *f;
	size_t n;
};

struct pfiles_opts {
	/* whether a file whose stamp is unchanged since it was last read
	 * is what is enforced: it is then not read again */
	bool (*fresh)(const struct pfile *f, void *arg);
	void *arg;
	/* directories no value file may be in (NULL-terminated) */
	const char *const *private_dirs;
};

/* Every *.json of dir (regular files only), sorted, parsed and checked
 * alone. On error, one line "FILE:LINE:COL: what is wrong" (or "DIR:
 * ..."), and out is empty. */
int pfiles_read(const char *dir, struct pfiles *out,
		const struct pfiles_opts *o, char *err, size_t errlen);
void pfiles_clear(struct pfiles *pf);

#endif
