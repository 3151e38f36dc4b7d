/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "psl.h"
#include "xalloc.h"

struct psl {
	char **rule;		/* sorted: "co.uk", "*.ck", "!www.ck" */
	size_t n, cap;
};

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A rule as the names it is compared with are: lower case ASCII (the
 * list has its IDN rules in UTF-8). NULL for a rule we cannot encode. */
static char *rule_ascii(const char *r)
{
	const char *prefix = "";
	char *ascii = NULL, *out;

	if (*r == '!' || (r[0] == '*' && r[1] == '.')) {
		prefix = *r == '!' ? "!" : "*.";
		r += strlen(prefix);
	}
	if (idn2_to_ascii_8z(r, &ascii, IDN2_NONTRANSITIONAL) != IDN2_OK)
		return NULL;
	out = xmalloc(strlen(prefix) + strlen(ascii) + 1);
	strcpy(out, prefix);
	strcat(out, ascii);
	idn2_free(ascii);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

static void add(struct psl *l, char *rule)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->rule = xreallocarray(l->rule, l->cap, sizeof(*l->rule));
	}
	l->rule[l->n++] = rule;
}

struct psl *psl_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct psl *l;
	char line[1024];

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	while (fgets(line, sizeof(line), f)) {
		/* a rule is the line's first word; "//" starts a comment */
		char *r = line + strspn(line, " \t"), *a;

		r[strcspn(r, " \t\r\n")] = 0;
		if (*r && strncmp(r, "//", 2) && (a = rule_ascii(r)))
			add(l, a);
	}
	fclose(f);
	if (!l->n) {
		snprintf(err, errlen, "%s: no rules in it", path);
		psl_free(l);
		return NULL;
	}
	qsort(l->rule, l->n, sizeof(*l->rule), cmp);
	return l;
}

void psl_free(struct psl *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->rule[i]);
	free(l->rule);
	free(l);
}

static bool has(const struct psl *l, const char *prefix, const char *name)
{
	char key[512], *k = key;

	if (snprintf(key, sizeof(key), "%s%s", prefix, name) >=
	    (int)sizeof(key))
		return false;
	return bsearch(&k, l->rule, l->n, sizeof(*l->rule), cmp) != NULL;
}

/* The rule that prevails for name is name itself: an exception says
 * not, then the name's own rule, a wildcard over its parent, or (one
 * label) the list's implicit "*". */
bool psl_is_suffix(const struct psl *l, const char *name)
{
	const char *parent = strchr(name, '.');

	if (has(l, "!", name))
		return false;
	if (has(l, "", name))
		return true;
	if (!parent)
		return true;
	return has(l, "*.", parent + 1);
}
