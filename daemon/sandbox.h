/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_SANDBOX_H
#define SBXFWD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft.h"
#include "policy.h"
#include "store.h"

#define SANDBOX_NAME_MAX 63

/* The daemon's sandboxes, by id (the id in their marks). */
struct sandbox {
	uint32_t id;
	char name[SANDBOX_NAME_MAX + 1];
	struct sandbox_match match;
	struct policy *policy;
	uint64_t allowed, denied;	/* verdicts since the start */
	char *file;		/* the policy file it was made from, or NULL */
	uint64_t changes;	/* policy changes by command since the start */
	uint64_t file_stamp;	/* the file as last applied (apply.c), */
	uint64_t file_changes;	/* and `changes' then */
};

void sandbox_init(uint32_t max_id);
void sandbox_fini(void);
struct sandbox *sandbox_get(uint32_t id);
struct sandbox *sandbox_find(const char *name);
/* Iterate: pass NULL first. */
struct sandbox *sandbox_next(const struct sandbox *prev);
size_t sandbox_count(void);
/* Takes ownership of sb (match and policy included). */
void sandbox_insert(struct sandbox *sb);
void sandbox_remove(uint32_t id);
void sandbox_free(struct sandbox *sb);

/* Checks a name, and a match against those of every other sandbox. */
int sandbox_name_check(const char *name, char *err, size_t errlen);
int sandbox_match_check(const struct sandbox_match *m, char *err,
			size_t errlen);
/* The parts: a match alone; two matches that must not overlap. */
int sandbox_match_valid(const struct sandbox_match *m, char *err,
			size_t errlen);
int sandbox_match_overlap(const struct sandbox_match *m,
			  const struct sandbox_match *o, const char *oname,
			  char *err, size_t errlen);
/* Whether a packet coming in by interface iif (may be NULL) from addr
 * belongs to the sandbox, as the table's classification says. */
bool sandbox_matches(const struct sandbox *sb, const char *iif, int family,
		     const uint8_t *addr);
/* The sandbox the table classifies such a packet to: an interface
 * sandbox first, then a source range's; NULL for none. */
struct sandbox *sandbox_classify(const char *iif, int family,
				 const uint8_t *addr);
void sandbox_to_nft(const struct sandbox *sb, struct nft_sandbox *out);

#endif
