/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"
#include "sandbox.h"
#include "xalloc.h"

static struct sandbox **by_id;	/* index: id */
static uint32_t max_id;
static size_t count;

void sandbox_init(uint32_t max)
{
	max_id = max;
	by_id = xcalloc((size_t)max + 1, sizeof(*by_id));
}

void sandbox_free(struct sandbox *sb)
{
	if (!sb)
		return;
	sandbox_match_clear(&sb->match);
	policy_free(sb->policy);
	free(sb->file);
	free(sb);
}

void sandbox_fini(void)
{
	for (uint32_t i = 0; by_id && i <= max_id; i++)
		sandbox_free(by_id[i]);
	free(by_id);
	by_id = NULL;
	count = 0;
}

struct sandbox *sandbox_get(uint32_t id)
{
	return id <= max_id ? by_id[id] : NULL;
}

struct sandbox *sandbox_next(const struct sandbox *prev)
{
	for (uint32_t i = prev ? prev->id + 1 : 1; i <= max_id; i++)
		if (by_id[i])
			return by_id[i];
	return NULL;
}

struct sandbox *sandbox_find(const char *name)
{
	for (struct sandbox *sb = sandbox_next(NULL); sb;
	     sb = sandbox_next(sb))
		if (!strcmp(sb->name, name))
			return sb;
	return NULL;
}

size_t sandbox_count(void)
{
	return count;
}

void sandbox_insert(struct sandbox *sb)
{
	peers_forget();
	sandbox_free(by_id[sb->id]);
	if (!by_id[sb->id])
		count++;
	by_id[sb->id] = sb;
}

void sandbox_remove(uint32_t id)
{
	peers_forget();
	if (id > max_id || !by_id[id])
		return;
	sandbox_free(by_id[id]);
	by_id[id] = NULL;
	count--;
}

int sandbox_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n == 0 || n > SANDBOX_NAME_MAX || !isalnum((unsigned char)name[0]))
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "invalid sandbox name `%s' (1 to %d letters, "
		 "digits, `-', `_' or `.', starting with a letter or digit)",
		 name, SANDBOX_NAME_MAX);
	return -EINVAL;
}

static int iface_check(const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);
	const char *star = strchr(s, '*');

	if (n == 0 || n > IFNAMSIZ - 1 || (star && star != s + n - 1) ||
	    !strcmp(s, "*") || strchr(s, '/') || strchr(s, ' ')) {
		snprintf(err, errlen, "invalid interface `%s' (a name of up "
			 "to %d characters, `*' only at the end)", s,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	return 0;
}

/* Whether two interface patterns can match the same name. */
static bool iface_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	bool pa = a[la - 1] == '*', pb = b[lb - 1] == '*';

	if (pa)
		la--;
	if (pb)
		lb--;
	if (pa && pb)
		return !strncmp(a, b, la < lb ? la : lb);
	if (pa)
		return lb >= la && !strncmp(a, b, la);
	if (pb)
		return la >= lb && !strncmp(a, b, lb);
	return !strcmp(a, b);
}

static bool cidr_overlap(const struct cidr *a, const struct cidr *b)
{
	unsigned plen = a->plen < b->plen ? a->plen : b->plen;

	if (a->family != b->family)
		return false;
	for (unsigned bit = 0; bit < plen; bit++) {
		uint8_t m = (uint8_t)(0x80 >> (bit % 8));

		if ((a->addr[bit / 8] & m) != (b->addr[bit / 8] & m))
			return false;
	}
	return true;
}

int sandbox_match_overlap(const struct sandbox_match *m,
			  const struct sandbox_match *o, const char *oname,
			  char *err, size_t errlen)
{
	char text[CIDR_TEXT_MAX];

	for (size_t i = 0; i < m->nifaces; i++)
		for (size_t j = 0; j < o->nifaces; j++)
			if (iface_overlap(m->ifaces[i], o->ifaces[j])) {
				snprintf(err, errlen, "interface `%s' overlaps "
					 "`%s' of sandbox %s", m->ifaces[i],
					 o->ifaces[j], oname);
				return -EEXIST;
			}
	for (size_t i = 0; i < m->nsources; i++)
		for (size_t j = 0; j < o->nsources; j++)
			if (cidr_overlap(&m->sources[i], &o->sources[j])) {
				cidr_format(&m->sources[i], text);
				snprintf(err, errlen, "source `%s' overlaps a "
					 "source of sandbox %s", text, oname);
				return -EEXIST;
			}
	return 0;
}

int sandbox_match_valid(const struct sandbox_match *m, char *err,
			size_t errlen)
{
	int rc;

	if (m->nifaces + m->nsources == 0) {
		snprintf(err, errlen, "a sandbox needs --iface or --source");
		return -EINVAL;
	}
	for (size_t i = 0; i < m->nifaces; i++) {
		if ((rc = iface_check(m->ifaces[i], err, errlen)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (iface_overlap(m->ifaces[i], m->ifaces[j])) {
				snprintf(err, errlen, "interface `%s' given "
					 "twice", m->ifaces[i]);
				return -EINVAL;
			}
	}
	return 0;
}

int sandbox_match_check(const struct sandbox_match *m, char *err,
			size_t errlen)
{
	int rc = sandbox_match_valid(m, err, errlen);

	for (struct sandbox *sb = sandbox_next(NULL); sb && !rc;
	     sb = sandbox_next(sb))
		rc = sandbox_match_overlap(m, &sb->match, sb->name, err,
					   errlen);
	return rc;
}

static bool iface_match(const char *pattern, const char *name)
{
	size_t n = strlen(pattern);

	if (n && pattern[n - 1] == '*')
		return !strncmp(pattern, name, n - 1);
	return !strcmp(pattern, name);
}

static bool by_iface(const struct sandbox *sb, const char *iif)
{
	for (size_t i = 0; iif && i < sb->match.nifaces; i++)
		if (iface_match(sb->match.ifaces[i], iif))
			return true;
	return false;
}

static bool by_source(const struct sandbox *sb, int family,
		      const uint8_t *addr)
{
	for (size_t i = 0; i < sb->match.nsources; i++)
		if (cidr_contains(&sb->match.sources[i], family, addr))
			return true;
	return false;
}

bool sandbox_matches(const struct sandbox *sb, const char *iif, int family,
		     const uint8_t *addr)
{
	return by_iface(sb, iif) || by_source(sb, family, addr);
}

struct sandbox *sandbox_classify(const char *iif, int family,
				 const uint8_t *addr)
{
	struct sandbox *sb;

	for (sb = sandbox_next(NULL); sb; sb = sandbox_next(sb))
		if (by_iface(sb, iif))
			return sb;
	for (sb = sandbox_next(NULL); sb; sb = sandbox_next(sb))
		if (by_source(sb, family, addr))
			return sb;
	return NULL;
}

void sandbox_to_nft(const struct sandbox *sb, struct nft_sandbox *out)
{
	out->id = sb->id;
	out->ifaces = sb->match.ifaces;
	out->nifaces = sb->match.nifaces;
	out->sources = sb->match.sources;
	out->nsources = sb->match.nsources;
	out->policy = sb->policy;
}
