/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A policy's rules in the store: each list's domains and address ranges
 * in chunks of up to STORE_CHUNK_RULES, a JSON array of strings a row of
 * policy_chunks. 500 policy files of 1,000 rules are 4,000 rows, not
 * 500,000 (a row each cost 3.2 s of SQLite, over the 2 s an apply of
 * them may take), and a rule added or removed rewrites one chunk. The
 * view policy_rules shows them one a row, as the table of that name did
 * up to schema 6. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xalloc.h"

void chunk_reset(struct store_chunk *c)
{
	c->len = 0;
	c->n = 0;
}

void chunk_free(struct store_chunk *c)
{
	free(c->text);
	*c = (struct store_chunk){ 0 };
}

/* Validated rule text (domains, address ranges) never needs JSON's
 * escapes; one that would is refused rather than stored wrong. */
int chunk_add(struct store_chunk *c, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e ||
		    v[i] == '"' || v[i] == '\\') {
			snprintf(err, errlen, "store: rule text unfit to store");
			return -EINVAL;
		}
	if (c->len + n + 5 > c->cap) {
		c->cap = (c->len + n + 5) * 2;
		c->text = xreallocarray(c->text, c->cap, 1);
	}
	c->text[c->len++] = c->n++ ? ',' : '[';
	c->text[c->len++] = '"';
	memcpy(c->text + c->len, v, n);
	c->len += n;
	c->text[c->len++] = '"';
	return 0;
}

const char *chunk_end(struct store_chunk *c)
{
	c->text[c->len] = ']';
	c->text[c->len + 1] = '\0';
	return c->text;
}

/* Row INDEX of the sandbox's list L and KIND: the chunk C, ended. */
int chunk_write(struct store *st, int64_t sb, enum rule_list l,
		const char *kind, int64_t index, struct store_chunk *c,
		char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "INSERT INTO policy_chunks (sandbox_id,"
				     " list, kind, chunk, rules) VALUES "
				     "(?,?,?,?,?)", err, errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, sb);
	sqlite3_bind_text(s, 2, l == LIST_ALLOW ? "allow" : "deny", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, index);
	sqlite3_bind_text(s, 5, chunk_end(c), (int)c->len + 1, SQLITE_STATIC);
	return store_run(st, s, err, errlen);
}
