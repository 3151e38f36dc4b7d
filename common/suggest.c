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
	long names, flows, quic;
	bool by_addr, dead;
};

struct ents {
	struct ent *e;
	size_t n, cap;
};

static void ent_add(struct ents *es, const char *key, uint16_t port,
		    long names, long flows, long quic, bool by_addr)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 64;
		es->e = xreallocarray(es->e, es->cap, sizeof(*es->e));
	}
	es->e[es->n++] = (struct ent){ .key = xstrdup(key), .port = port,
				       .names = names, .flows = flows,
				       .quic = quic, .by_addr = by_addr };
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
			last->quic += e->quic;
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
	long names = 0, flows = 0, quic = 0;
	size_t n = es->n;

	for (size_t i = 0; i < n; i++) {
		struct ent *e = &es->e[i];

		if (!e->dead && e->port == port && under(node(e), par)) {
			names += e->names;
			flows += e->flows;
			quic += e->quic;
			e->dead = true;
		}
	}
	snprintf(key, sizeof(key), "*.%s", par);
	if (names)
		ent_add(es, key, port, names, flows, quic, false);
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
		     long names, long flows, long quic, const char *note)
{
	s->rule = xreallocarray(s->rule, s->nrule + 1, sizeof(*s->rule));
	s->rule[s->nrule++] = (struct sg_rule){
		.text = xstrdup(text), .range = range, .names = names,
		.flows = flows, .note = xstrdup(note ? note : ""),
		.quic = quic,
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

/* The injection rules in place: parsed, and kept in the suggestion. */
struct injections {
	struct domain_pattern *p;
	size_t n;
	char ***seen;		/* the names each one covered */
	size_t *nseen;
};

static void injections_parse(const struct sg_input *in, struct injections *ij,
			     struct suggestion *s)
{
	char err[256];

	ij->p = xcalloc(in->ninjections + 1, sizeof(*ij->p));
	for (size_t i = 0; i < in->ninjections; i++) {
		bool again = false;

		for (size_t j = 0; j < s->nkept && !again; j++)
			again = !strcmp(s->kept[j].domain, in->injections[i]);
		if (again || domain_pattern_parse(in->injections[i],
						  &ij->p[ij->n], err,
						  sizeof(err)) < 0)
			continue;
		s->kept = xreallocarray(s->kept, s->nkept + 1,
					sizeof(*s->kept));
		s->kept[s->nkept++] = (struct sg_kept){
			.domain = xstrdup(in->injections[i]) };
		ij->n++;
	}
	ij->seen = xcalloc(ij->n + 1, sizeof(*ij->seen));
	ij->nseen = xcalloc(ij->n + 1, sizeof(*ij->nseen));
}

static void injections_free(struct injections *ij)
{
	for (size_t i = 0; i < ij->n; i++) {
		domain_pattern_clear(&ij->p[i]);
		for (size_t j = 0; j < ij->nseen[i]; j++)
			free(ij->seen[i][j]);
		free(ij->seen[i]);
	}
	free(ij->p);
	free(ij->seen);
	free(ij->nseen);
}

/* The injection rule that takes a flow to name:port (or any port), or
 * -1: an injection domain stays one, never an allow rule. */
static long injected(const struct injections *ij, const char *name,
		     uint16_t port)
{
	for (size_t i = 0; i < ij->n; i++)
		if (domain_pattern_match(&ij->p[i], name,
					 port ? port : ij->p[i].port))
			return (long)i;
	return -1;
}

static void names_from_flows(struct ents *es, const struct sg_input *in,
			     struct injections *ij, struct suggestion *s)
{
	char n[DOMAIN_MAX + 1];

	for (size_t i = 0; i < in->nnames; i++) {
		const struct sg_name *x = &in->names[i];
		bool quic = x->proto && !strcmp(x->proto, "udp");
		long j;

		if (!usable(x->name, n)) {
			list_add(&s->unusable, &s->nunusable, x->name);
			continue;
		}
		if ((j = injected(ij, n, x->port)) >= 0) {
			size_t had = ij->nseen[j];

			list_add(&ij->seen[j], &ij->nseen[j], n);
			s->kept[j].names += ij->nseen[j] > had;
			s->kept[j].flows += x->flows;
			continue;
		}
		ent_add(es, n, x->port, 1, x->flows, quic ? x->flows : 0,
			false);
	}
	for (size_t i = 0; i < in->nrequests; i++) {
		long j;

		if (usable(in->requests[i].host, n) &&
		    (j = injected(ij, n, 0)) >= 0)
			s->kept[j].requests += in->requests[i].requests;
	}
}

static const char *proto_of(const char *proto)
{
	return proto ? proto : "tcp";
}

/* A port where TLS was seen: 443 (TCP, or UDP for QUIC), or one where a
 * flow named itself. */
static bool tls_port(const struct sg_input *in, const char *proto,
		     uint16_t port)
{
	if (port == 443)
		return true;
	for (size_t i = 0; i < in->nnames; i++)
		if (in->names[i].port == port &&
		    !strcmp(proto_of(in->names[i].proto), proto_of(proto)))
			return true;
	return false;
}

/* Flows without a name on a TLS port: listed, by destination. */
static void unnamed_tls(const struct sg_input *in, bool *is,
			struct suggestion *s)
{
	for (size_t a = 0; a < in->naddrs; a++) {
		const struct sg_addr *x = &in->addrs[a];
		struct sg_unnamed *u = NULL;

		if (!(is[a] = tls_port(in, x->proto, x->port)))
			continue;
		for (size_t i = 0; i < s->nunnamed && !u; i++)
			if (s->unnamed[i].family == x->family &&
			    !memcmp(s->unnamed[i].addr, x->addr, 16) &&
			    s->unnamed[i].port == x->port &&
			    !strcmp(s->unnamed[i].proto, proto_of(x->proto)))
				u = &s->unnamed[i];
		if (!u) {
			s->unnamed = xreallocarray(s->unnamed, s->nunnamed + 1,
						   sizeof(*s->unnamed));
			u = &s->unnamed[s->nunnamed++];
			*u = (struct sg_unnamed){ .family = x->family,
						  .port = x->port };
			memcpy(u->addr, x->addr, 16);
			snprintf(u->proto, sizeof(u->proto), "%s",
				 proto_of(x->proto));
		}
		u->flows += x->flows;
	}
}

static int unnamed_cmp(const void *a, const void *b)
{
	const struct sg_unnamed *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family - y->family;
	if ((c = memcmp(x->addr, y->addr, 16)))
		return c;
	if (x->port != y->port)
		return x->port - y->port;
	return strcmp(x->proto, y->proto);
}

/* Sorted, each said whether a range of the suggestion holds its address
 * all the same (its other flows', or --ranges-for-unnamed). */
static void in_ranges(struct suggestion *s)
{
	char err[128];

	if (s->nunnamed)
		qsort(s->unnamed, s->nunnamed, sizeof(*s->unnamed),
		      unnamed_cmp);
	for (size_t r = 0; r < s->nrule; r++) {
		struct cidr c;

		if (!s->rule[r].range ||
		    cidr_parse(s->rule[r].text, &c, err, sizeof(err)) < 0)
			continue;
		for (size_t i = 0; i < s->nunnamed; i++)
			s->unnamed[i].in_range |= cidr_contains(
				&c, s->unnamed[i].family, s->unnamed[i].addr);
	}
}

/* A name whose answers the sandbox then reached without naming it (plain
 * HTTP by name): the range allows the flow, a name:port rule lets the
 * name resolve. Not for TLS without a name (skip): no range allows it. */
static void names_by_address(struct ents *es, const struct sg_input *in,
			     const bool *skip)
{
	char n[DOMAIN_MAX + 1];

	for (size_t d = 0; d < in->ndns; d++) {
		if (!in->dns[d].answers || !usable(in->dns[d].name, n))
			continue;
		for (size_t a = 0; a < in->naddrs; a++) {
			const struct sg_addr *x = &in->addrs[a];

			if (!skip[a] && answers_hold(in->dns[d].answers,
						     x->family, x->addr))
				ent_add(es, n, x->port, 1, x->flows, 0, true);
		}
	}
}

static void domain_rules(struct ents *es, struct suggestion *s)
{
	for (size_t i = 0; i < es->n; i++) {
		const struct ent *e = &es->e[i];
		char text[DOMAIN_MAX + 16], note[96] = "";

		if (e->dead)
			continue;
		if (e->port == 443)
			snprintf(text, sizeof(text), "%s", e->key);
		else
			snprintf(text, sizeof(text), "%s:%u", e->key, e->port);
		if (e->quic)
			snprintf(note, sizeof(note), "%ld over QUIC, named by "
				 "their Initials", e->quic);
		if (e->by_addr)
			snprintf(note + strlen(note), sizeof(note) -
				 strlen(note), "%sresolved, then reached by "
				 "address", *note ? "; " : "");
		rule_add(s, text, false, e->names, e->flows, e->quic, note);
	}
}

/* Each address alone, or those within max_prefix of each other as the
 * smallest prefix that covers them. */
static void range_rules(const struct sg_input *in, const struct sg_opts *o,
			const bool *skip, struct suggestion *s)
{
	struct host *h = xcalloc(in->naddrs + 1, sizeof(*h));
	size_t n = 0;

	for (size_t i = 0; i < in->naddrs; i++) {
		const struct sg_addr *a = &in->addrs[i];
		struct host *t = NULL;

		if (skip[i])
			continue;
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
		rule_add(s, text, true, (long)(j - i), flows, 0, note);
		i = j;
	}
	free(h);
}

/* Resolved names no rule covers (nor an injection rule): never
 * connected to. */
static void unconnected(const struct sg_input *in,
			const struct injections *ij, struct suggestion *s)
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

		if (!usable(in->dns[d].name, n) || injected(ij, n, 0) >= 0)
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
	bool *unnamed = xcalloc(in->naddrs + 1, sizeof(*unnamed));
	struct injections ij = { 0 };
	struct ents es = { 0 };

	memset(s, 0, sizeof(*s));
	injections_parse(in, &ij, s);
	names_from_flows(&es, in, &ij, s);
	unnamed_tls(in, unnamed, s);
	if (o->ranges_for_unnamed)	/* ranges as any nameless flow's */
		memset(unnamed, 0, in->naddrs * sizeof(*unnamed));
	names_by_address(&es, in, unnamed);
	collapse_all(&es, o);
	domain_rules(&es, s);
	range_rules(in, o, unnamed, s);
	if (s->nrule)
		qsort(s->rule, s->nrule, sizeof(*s->rule), rule_cmp);
	in_ranges(s);
	unconnected(in, &ij, s);
	if (s->nunconnected)
		qsort(s->unconnected, s->nunconnected, sizeof(char *),
		      str_cmp);
	for (size_t i = 0; i < es.n; i++)
		free(es.e[i].key);
	free(es.e);
	injections_free(&ij);
	free(unnamed);
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
	for (size_t i = 0; i < s->nkept; i++)
		free(s->kept[i].domain);
	free(s->unnamed);
	free(s->kept);
	free(s->rule);
	free(s->unconnected);
	free(s->unusable);
	memset(s, 0, sizeof(*s));
}
