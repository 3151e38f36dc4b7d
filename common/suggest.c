/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "domain.h"
#include "suggest.h"
#include "xalloc.h"

#define NOTE_PORTS 4

/* ---- names ---- */

struct ent {
	char *key;		/* "a.b.c" or "*.b.c" */
	uint16_t port;
	long names, flows;
	bool by_addr, dead;
};

struct ents {
	struct ent *e;
	size_t n, cap;
};

static void ent_add(struct ents *es, const char *key, uint16_t port,
		    long names, long flows, bool by_addr)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 64;
		es->e = xreallocarray(es->e, es->cap, sizeof(*es->e));
	}
	es->e[es->n++] = (struct ent){ .key = xstrdup(key), .port = port,
				       .names = names, .flows = flows,
				       .by_addr = by_addr };
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	if (x->dead != y->dead)
		return x->dead - y->dead;
	if (x->port != y->port)
		return x->port - y->port;
	return strcmp(x->key, y->key);
}

/* The dead dropped, one entry per key and port: a name counts once, a
 * wildcard the names it holds. Sorted by port and key. */
static void ents_merge(struct ents *es)
{
	size_t out = 0;

	if (!es->n)
		return;
	qsort(es->e, es->n, sizeof(*es->e), ent_cmp);
	for (size_t i = 0; i < es->n; i++) {
		struct ent *e = &es->e[i], *last = out ? &es->e[out - 1] : NULL;

		if (e->dead) {
			free(e->key);
		} else if (last && last->port == e->port &&
			   !strcmp(last->key, e->key)) {
			if (e->key[0] == '*')
				last->names += e->names;
			last->flows += e->flows;
			last->by_addr |= e->by_addr;
			free(e->key);
		} else {
			es->e[out++] = *e;
		}
	}
	es->n = out;
}

/* The node an entry stands for: "a.b.c" for both a.b.c and *.a.b.c. */
static const char *node(const struct ent *e)
{
	return e->key[0] == '*' ? e->key + 2 : e->key;
}

static const char *parent(const char *name)
{
	const char *dot = strchr(name, '.');

	return dot ? dot + 1 : NULL;
}

/* Whether name lies strictly under domain. */
static bool under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	return n > d + 1 && name[n - d - 1] == '.' &&
	       !strcmp(name + n - d, domain);
}

/* Everything under par (this port) into one *.par, if anything is. */
static void collapse(struct ents *es, const char *par, uint16_t port)
{
	char key[DOMAIN_MAX + 3];
	long names = 0, flows = 0;
	size_t n = es->n;

	for (size_t i = 0; i < n; i++) {
		struct ent *e = &es->e[i];

		if (!e->dead && e->port == port && under(node(e), par)) {
			names += e->names;
			flows += e->flows;
			e->dead = true;
		}
	}
	snprintf(key, sizeof(key), "*.%s", par);
	if (names)
		ent_add(es, key, port, names, flows, false);
}

/* Entries in order of port, parent, node: siblings side by side. */
static const struct ents *sorting;

static int sib_cmp(const void *a, const void *b)
{
	const struct ent *x = &sorting->e[*(const size_t *)a];
	const struct ent *y = &sorting->e[*(const size_t *)b];
	const char *px = parent(node(x)) ?: "", *py = parent(node(y)) ?: "";
	int c;

	if (x->port != y->port)
		return x->port - y->port;
	if ((c = strcmp(px, py)))
		return c;
	return strcmp(node(x), node(y));
}

/* The parents (a copy each) with at least threshold distinct children,
 * none at or above a public suffix. */
static size_t parents_due(const struct ents *es, const struct sg_opts *o,
			  char ***par, uint16_t **port)
{
	size_t *ix = xcalloc(es->n + 1, sizeof(*ix)), n = 0;

	*par = NULL;
	*port = NULL;
	for (size_t i = 0; i < es->n; i++)
		ix[i] = i;
	sorting = es;
	qsort(ix, es->n, sizeof(*ix), sib_cmp);
	for (size_t i = 0, j; i < es->n; i = j) {
		const struct ent *e = &es->e[ix[i]];
		const char *p = parent(node(e));
		unsigned kids = 1;

		for (j = i + 1; j < es->n; j++) {
			const struct ent *f = &es->e[ix[j]];
			const char *q = parent(node(f));

			if (f->port != e->port || !p || !q || strcmp(p, q))
				break;
			kids += !!strcmp(node(f), node(&es->e[ix[j - 1]]));
		}
		if (!p || !strchr(p, '.') || kids < o->wildcard_threshold ||
		    psl_is_suffix(o->psl, p))
			continue;
		*par = xreallocarray(*par, n + 1, sizeof(**par));
		*port = xreallocarray(*port, n + 1, sizeof(**port));
		(*par)[n] = xstrdup(p);
		(*port)[n++] = e->port;
	}
	free(ix);
	return n;
}

/* N or more siblings under one parent become *.parent, never at or above
 * a public suffix; again, until nothing more collapses (a wildcard is a
 * child of the parent above it). */
static void collapse_all(struct ents *es, const struct sg_opts *o)
{
	size_t n;

	ents_merge(es);
	while (o->psl && o->wildcard_threshold) {
		char **par;
		uint16_t *port;

		if (!(n = parents_due(es, o, &par, &port)))
			break;
		for (size_t i = 0; i < n; i++) {
			collapse(es, par[i], port[i]);
			free(par[i]);
		}
		free(par);
		free(port);
		ents_merge(es);
	}
}

/* A name from the wire as a rule may hold it: a valid host name, never a
 * pattern (a "*" in an SNI stays a name nobody can allow). */
static bool usable(const char *name, char out[DOMAIN_MAX + 1])
{
	if (strchr(name, '*') || strchr(name, ':'))
		return false;
	return domain_name_normalize(name, strlen(name), out) == 0;
}

static void list_add(char ***list, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i], s))
			return;
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrdup(s);
}

/* ---- addresses ---- */

struct host {
	int family;
	uint8_t addr[16];
	long flows;
	char note[64];
};

static int host_cmp(const void *a, const void *b)
{
	const struct host *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->addr, y->addr, 16);
}

/* "tcp/80 udp/5000": a host's ports, the first few. */
static void note_add(char *note, size_t size, const char *proto,
		     uint16_t port)
{
	char one[24], have[80], want[28];
	unsigned words = *note ? 1 : 0;

	snprintf(one, sizeof(one), "%s/%u", proto, port);
	snprintf(have, sizeof(have), " %s ", note);
	snprintf(want, sizeof(want), " %s ", one);
	if (strstr(have, want) || strstr(note, "..."))
		return;
	for (const char *p = note; (p = strchr(p, ' ')); p++)
		words++;
	snprintf(note + strlen(note), size - strlen(note), "%s%s",
		 *note ? " " : "", words < NOTE_PORTS ? one : "...");
}

static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
	unsigned n = 0;

	while (n < max && !((a[n / 8] ^ b[n / 8]) & (0x80 >> (n % 8))))
		n++;
	return n;
}

/* ---- the result ---- */

static void rule_add(struct suggestion *s, const char *text, bool range,
		     long names, long flows, const char *note)
{
	s->rule = xreallocarray(s->rule, s->nrule + 1, sizeof(*s->rule));
	s->rule[s->nrule++] = (struct sg_rule){
		.text = xstrdup(text), .range = range, .names = names,
		.flows = flows, .note = xstrdup(note ? note : ""),
	};
}

static int rule_cmp(const void *a, const void *b)
{
	const struct sg_rule *x = a, *y = b;

	if (x->range != y->range)
		return x->range - y->range;
	return strcmp(x->text, y->text);
}

/* One host's addresses found in a DNS answer's text. */
static bool answers_hold(const char *answers, int family, const uint8_t *addr)
{
	char text[CIDR_TEXT_MAX];

	addr_format(family, addr, text);
	for (const char *p = answers; (p = strstr(p, text)); p++) {
		char end = p[strlen(text)];

		if ((p == answers || p[-1] == ' ') && (!end || end == ','))
			return true;
	}
	return false;
}

static void names_from_flows(struct ents *es, const struct sg_input *in,
			     struct suggestion *s)
{
	char n[DOMAIN_MAX + 1];

	for (size_t i = 0; i < in->nnames; i++) {
		if (!usable(in->names[i].name, n)) {
			list_add(&s->unusable, &s->nunusable,
				 in->names[i].name);
			continue;
		}
		ent_add(es, n, in->names[i].port, 1, in->names[i].flows,
			false);
	}
}

/* A name whose answers the sandbox then reached without naming it (plain
 * HTTP by name): the range allows the flow, a name:port rule lets the
 * name resolve. */
static void names_by_address(struct ents *es, const struct sg_input *in)
{
	char n[DOMAIN_MAX + 1];

	for (size_t d = 0; d < in->ndns; d++) {
		if (!in->dns[d].answers || !usable(in->dns[d].name, n))
			continue;
		for (size_t a = 0; a < in->naddrs; a++) {
			const struct sg_addr *x = &in->addrs[a];

			if (answers_hold(in->dns[d].answers, x->family,
					 x->addr))
				ent_add(es, n, x->port, 1, x->flows, true);
		}
	}
}

static void domain_rules(struct ents *es, struct suggestion *s)
{
	for (size_t i = 0; i < es->n; i++) {
		const struct ent *e = &es->e[i];
		char text[DOMAIN_MAX + 16];

		if (e->dead)
			continue;
		if (e->port == 443)
			snprintf(text, sizeof(text), "%s", e->key);
		else
			snprintf(text, sizeof(text), "%s:%u", e->key, e->port);
		rule_add(s, text, false, e->names, e->flows,
			 e->by_addr ? "resolved, then reached by address" :
			 NULL);
	}
}

/* Each address alone, or those within max_prefix of each other as the
 * smallest prefix that covers them. */
static void range_rules(const struct sg_input *in, const struct sg_opts *o,
			struct suggestion *s)
{
	struct host *h = xcalloc(in->naddrs + 1, sizeof(*h));
	size_t n = 0;

	for (size_t i = 0; i < in->naddrs; i++) {
		const struct sg_addr *a = &in->addrs[i];
		struct host *t = NULL;

		for (size_t j = 0; j < n && !t; j++)
			if (h[j].family == a->family &&
			    !memcmp(h[j].addr, a->addr, 16))
				t = &h[j];
		if (!t) {
			t = &h[n++];
			t->family = a->family;
			memcpy(t->addr, a->addr, 16);
		}
		t->flows += a->flows;
		note_add(t->note, sizeof(t->note), a->proto, a->port);
	}
	if (n)
		qsort(h, n, sizeof(*h), host_cmp);
	for (size_t i = 0; i < n;) {
		unsigned bits = h[i].family == AF_INET ? 32 : 128;
		unsigned maxp = h[i].family == AF_INET ? o->max_prefix4 :
				o->max_prefix6;
		struct cidr c = { .family = (uint8_t)h[i].family };
		char text[CIDR_TEXT_MAX], note[sizeof(h->note) * 2] = "";
		long flows = 0;
		size_t j = i;

		while (j < n && h[j].family == h[i].family &&
		       common_bits(h[i].addr, h[j].addr, bits) >= maxp)
			j++;
		c.plen = (uint8_t)common_bits(h[i].addr, h[j - 1].addr, bits);
		for (unsigned b = 0; b < bits; b++)
			if (b < c.plen && (h[i].addr[b / 8] & (0x80 >> (b % 8))))
				c.addr[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		for (size_t k = i; k < j; k++) {
			flows += h[k].flows;
			if (strlen(note) + strlen(h[k].note) + 2 < sizeof(note))
				snprintf(note + strlen(note),
					 sizeof(note) - strlen(note), "%s%s",
					 *note ? " " : "", h[k].note);
		}
		cidr_format(&c, text);
		rule_add(s, text, true, (long)(j - i), flows, note);
		i = j;
	}
	free(h);
}

/* Resolved names no rule covers: never connected to. */
static void unconnected(const struct sg_input *in, struct suggestion *s)
{
	struct domain_pattern *p = xcalloc(s->nrule + 1, sizeof(*p));
	char n[DOMAIN_MAX + 1], err[256];
	size_t np = 0;

	for (size_t r = 0; r < s->nrule; r++)
		if (!s->rule[r].range &&
		    domain_pattern_parse(s->rule[r].text, &p[np], err,
					 sizeof(err)) == 0)
			np++;
	for (size_t d = 0; d < in->ndns; d++) {
		bool covered = false;

		if (!usable(in->dns[d].name, n))
			continue;
		for (size_t r = 0; r < np && !covered; r++)
			covered = domain_pattern_match(&p[r], n, p[r].port);
		if (!covered)
			list_add(&s->unconnected, &s->nunconnected, n);
	}
	for (size_t r = 0; r < np; r++)
		domain_pattern_clear(&p[r]);
	free(p);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void suggest_build(const struct sg_input *in, const struct sg_opts *o,
		   struct suggestion *s)
{
	struct ents es = { 0 };

	memset(s, 0, sizeof(*s));
	names_from_flows(&es, in, s);
	names_by_address(&es, in);
	collapse_all(&es, o);
	domain_rules(&es, s);
	range_rules(in, o, s);
	if (s->nrule)
		qsort(s->rule, s->nrule, sizeof(*s->rule), rule_cmp);
	unconnected(in, s);
	if (s->nunconnected)
		qsort(s->unconnected, s->nunconnected, sizeof(char *),
		      str_cmp);
	for (size_t i = 0; i < es.n; i++)
		free(es.e[i].key);
	free(es.e);
}

void suggestion_free(struct suggestion *s)
{
	for (size_t i = 0; i < s->nrule; i++) {
		free(s->rule[i].text);
		free(s->rule[i].note);
	}
	for (size_t i = 0; i < s->nunconnected; i++)
		free(s->unconnected[i]);
	for (size_t i = 0; i < s->nunusable; i++)
		free(s->unusable[i]);
	free(s->rule);
	free(s->unconnected);
	free(s->unusable);
	memset(s, 0, sizeof(*s));
}
