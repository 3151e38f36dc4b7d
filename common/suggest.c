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

static struct ent *ent_get(struct ents *es, const char *key, uint16_t port)
{
	for (size_t i = 0; i < es->n; i++)
		if (!es->e[i].dead && es->e[i].port == port &&
		    !strcmp(es->e[i].key, key))
			return &es->e[i];
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 64;
		es->e = xreallocarray(es->e, es->cap, sizeof(*es->e));
	}
	es->e[es->n] = (struct ent){ .key = xstrdup(key), .port = port };
	return &es->e[es->n++];
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

/* Distinct nodes with this parent and port. */
static unsigned siblings(const struct ents *es, const char *par,
			 uint16_t port)
{
	const char *seen[SUGGEST_THRESHOLD_MAX];
	unsigned n = 0;

	for (size_t i = 0; i < es->n && n < SUGGEST_THRESHOLD_MAX; i++) {
		const struct ent *e = &es->e[i];
		const char *p = parent(node(e));
		bool dup = false;

		if (e->dead || e->port != port || !p || strcmp(p, par))
			continue;
		for (unsigned j = 0; j < n && !dup; j++)
			dup = !strcmp(seen[j], node(e));
		if (!dup)
			seen[n++] = node(e);
	}
	return n;
}

/* Everything under par (this port) into one *.par. */
static void collapse(struct ents *es, const char *par, uint16_t port)
{
	char key[DOMAIN_MAX + 3];
	long names = 0, flows = 0;
	struct ent *w;

	snprintf(key, sizeof(key), "*.%s", par);
	for (size_t i = 0; i < es->n; i++) {
		struct ent *e = &es->e[i];

		if (!e->dead && e->port == port && under(node(e), par)) {
			names += e->names;
			flows += e->flows;
			e->dead = true;
		}
	}
	w = ent_get(es, key, port);
	w->names += names;
	w->flows += flows;
}

/* N or more siblings under one parent become *.parent, never at or above
 * a public suffix; again, until nothing more collapses. */
static void collapse_all(struct ents *es, const struct sg_opts *o)
{
	bool again = o->psl && o->wildcard_threshold;

	while (again) {
		again = false;
		for (size_t i = 0; i < es->n && !again; i++) {
			const struct ent *e = &es->e[i];
			const char *par = e->dead ? NULL : parent(node(e));
			char p[DOMAIN_MAX + 1];

			if (!par || !strchr(par, '.') ||
			    psl_is_suffix(o->psl, par) ||
			    siblings(es, par, e->port) < o->wildcard_threshold)
				continue;
			snprintf(p, sizeof(p), "%s", par);
			collapse(es, p, e->port);
			again = true;
		}
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
		struct ent *e;

		if (!usable(in->names[i].name, n)) {
			list_add(&s->unusable, &s->nunusable,
				 in->names[i].name);
			continue;
		}
		e = ent_get(es, n, in->names[i].port);
		if (!e->names)
			e->names = 1;
		e->flows += in->names[i].flows;
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
			struct ent *e;

			if (!answers_hold(in->dns[d].answers, x->family,
					  x->addr))
				continue;
			e = ent_get(es, n, x->port);
			if (!e->names)
				e->names = 1;
			e->flows += x->flows;
			e->by_addr = true;
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
	char n[DOMAIN_MAX + 1], err[256];

	for (size_t d = 0; d < in->ndns; d++) {
		bool covered = false;

		if (!usable(in->dns[d].name, n))
			continue;
		for (size_t r = 0; r < s->nrule && !covered; r++) {
			struct domain_pattern p;

			if (s->rule[r].range ||
			    domain_pattern_parse(s->rule[r].text, &p, err,
						 sizeof(err)) < 0)
				continue;
			covered = domain_pattern_match(&p, n, p.port);
			domain_pattern_clear(&p);
		}
		if (!covered)
			list_add(&s->unconnected, &s->nunconnected, n);
	}
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
