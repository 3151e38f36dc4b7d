/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "xalloc.h"

static bool label_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* Lower-case an ASCII label or convert a UTF-8 one to its A-label. */
static int label_to_ascii(const char *in, size_t len, char *out,
			  size_t outlen)
{
	bool ascii = true;
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] >= 0x80)
			ascii = false;
	if (ascii) {
		if (len >= outlen)
			return -EINVAL;
		for (i = 0; i < len; i++) {
			char c = in[i];
			out[i] = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
		}
		out[len] = '\0';
		return 0;
	}

	char *u = xstrndup(in, len), *a = NULL;
	int rc = idn2_to_ascii_8z(u, &a, IDN2_NONTRANSITIONAL);

	free(u);
	if (rc != IDN2_OK)
		return -EINVAL;
	if (strlen(a) >= outlen) {
		idn2_free(a);
		return -EINVAL;
	}
	strcpy(out, a);
	idn2_free(a);
	return 0;
}

static const char *label_check(const char *l, size_t len, bool wild_ok)
{
	size_t i;

	if (len == 0)
		return "empty label";
	if (len == 1 && l[0] == '*')
		return wild_ok ? NULL : "wildcard not allowed here";
	if (len > DOMAIN_LABEL_MAX)
		return "label longer than 63 characters";
	for (i = 0; i < len; i++) {
		if (l[i] == '*')
			return "`*' must stand for a whole label";
		if (!label_char_ok((unsigned char)l[i]))
			return "invalid character";
	}
	if (l[0] == '-' || l[len - 1] == '-')
		return "label starts or ends with `-'";
	return NULL;
}

/* Normalise `in[0..len)` label by label into out. */
static const char *name_normalize(const char *in, size_t len, bool wild_ok,
				  char out[DOMAIN_MAX + 1])
{
	size_t o = 0;
	const char *p = in, *end;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return "empty name";
	end = in + len;
	while (p <= end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = dot ? (size_t)(dot - p) : (size_t)(end - p);
		char lab[256];
		const char *why;

		if (l == 0)
			return "empty label";
		if (label_to_ascii(p, l, lab, sizeof(lab)) < 0)
			return "invalid international name";
		why = label_check(lab, strlen(lab), wild_ok);
		if (why)
			return why;
		l = strlen(lab);
		if (o + l + (o ? 1 : 0) > DOMAIN_MAX)
			return "name longer than 253 characters";
		if (o)
			out[o++] = '.';
		memcpy(out + o, lab, l);
		o += l;
		if (!dot)
			break;
		p = dot + 1;
	}
	out[o] = '\0';
	return NULL;
}

int domain_name_normalize(const char *in, size_t len,
			  char out[DOMAIN_MAX + 1])
{
	if (memchr(in, '\0', len))
		return -EINVAL;
	return name_normalize(in, len, false, out) ? -EINVAL : 0;
}

static const char *port_parse(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s)
		return "empty port";
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return "port is not a number";
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return "port out of range";
	}
	if (v == 0)
		return "port out of range";
	*port = (uint16_t)v;
	return NULL;
}

int domain_pattern_parse(const char *in, struct domain_pattern *out,
			 char *err, size_t errlen)
{
	const char *colon = strrchr(in, ':');
	size_t len = colon ? (size_t)(colon - in) : strlen(in), tlen, nlen;
	char name[DOMAIN_MAX + 1], text[DOMAIN_PATTERN_MAX + 1];
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	if (strlen(in) > DOMAIN_PATTERN_MAX + 64)
		why = "longer than 253 characters";
	else if (strpbrk(in, " \t\r\n"))
		why = "contains white space";
	else if (colon)
		why = port_parse(colon + 1, &out->port);
	if (!why)
		why = name_normalize(in, len, true, name);
	if (why) {
		snprintf(err, errlen, "invalid domain `%s': %s", in, why);
		out->port = 0;
		return -EINVAL;
	}
	if (out->port)
		snprintf(text, sizeof(text), "%s:%u", name, out->port);
	else
		snprintf(text, sizeof(text), "%s", name);
	tlen = strlen(text);
	nlen = strlen(name);
	out->text = xmalloc(tlen + 1 + nlen + 1);
	memcpy(out->text, text, tlen + 1);
	memcpy(out->text + tlen + 1, name, nlen + 1);
	out->name = out->text + tlen + 1;
	return 0;
}

void domain_pattern_clear(struct domain_pattern *p)
{
	free(p->text);
	p->text = NULL;
	p->name = NULL;
}

/* Labels of a name from the right: fills starts/lens, returns the count. */
static size_t split_reversed(const char *name, const char *starts[128],
			     uint8_t lens[128])
{
	size_t n = 0, len = strlen(name);
	const char *end = name + len, *p = end;

	if (len == 0)
		return 0;
	while (p > name && n < 128) {
		const char *q = p;
		while (q > name && q[-1] != '.')
			q--;
		starts[n] = q;
		lens[n++] = (uint8_t)(p - q);
		p = q > name ? q - 1 : name;
	}
	return n;
}

static bool labels_match(const char *const *ps, const uint8_t *pl, size_t pn,
			 const char *const *ns, const uint8_t *nl, size_t nn)
{
	size_t i;

	for (i = 0; i < pn; i++) {
		bool last = i + 1 == pn, star = pl[i] == 1 && ps[i][0] == '*';

		if (last && star)	/* leading `*`: one or more labels */
			return nn > i;
		if (i >= nn)
			return false;
		if (!star && (pl[i] != nl[i] || memcmp(ps[i], ns[i], pl[i])))
			return false;
	}
	return pn == nn;
}

bool domain_pattern_match(const struct domain_pattern *p, const char *name,
			  uint16_t port)
{
	const char *ps[128], *ns[128];
	uint8_t pl[128], nl[128];
	size_t pn, nn;

	if (p->port && p->port != port)
		return false;
	pn = split_reversed(p->name, ps, pl);
	nn = split_reversed(name, ns, nl);
	return labels_match(ps, pl, pn, ns, nl, nn);
}

/* ---- the set ---- */

struct term {			/* one rule ending at a node */
	uint32_t next;		/* index+1 into terms, 0 ends the list */
	uint32_t rule;
	uint16_t port;
};

struct node {
	uint32_t exact;		/* term list: name ends here */
	uint32_t wild;		/* term list: leading `*` here */
	uint32_t star;		/* child for a `*` label, 0 if none */
};

struct edge {			/* child of `parent` by label */
	uint32_t parent, child;	/* child 0: empty slot */
	uint32_t off;		/* label in the arena */
	uint8_t len;
};

struct domain_set {
	struct node *nodes;
	size_t nnodes, cnodes;
	struct term *terms;
	size_t nterms, cterms;
	struct edge *edges;
	size_t nedges, cedges;	/* cedges: power of two */
	char *arena;
	size_t narena, carena;
	size_t count;
};

static uint32_t edge_hash(uint32_t parent, const char *l, size_t len)
{
	uint32_t h = 2166136261u ^ parent * 0x9e3779b9u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)l[i]) * 16777619u;
	return h ^ (h >> 15);
}

static struct edge *edge_slot(const struct domain_set *s, uint32_t parent,
			      const char *l, size_t len)
{
	size_t mask = s->cedges - 1, i = edge_hash(parent, l, len) & mask;

	for (;; i = (i + 1) & mask) {
		struct edge *e = &s->edges[i];
		if (!e->child || (e->parent == parent && e->len == len &&
				  !memcmp(s->arena + e->off, l, len)))
			return e;
	}
}

static void edges_grow(struct domain_set *s)
{
	struct edge *old = s->edges;
	size_t i, oldc = s->cedges;

	s->cedges = oldc ? oldc * 2 : 64;
	s->edges = xcalloc(s->cedges, sizeof(*s->edges));
	for (i = 0; i < oldc; i++) {
		if (!old[i].child)
			continue;
		*edge_slot(s, old[i].parent, s->arena + old[i].off,
			   old[i].len) = old[i];
	}
	free(old);
}

static uint32_t node_new(struct domain_set *s)
{
	if (s->nnodes == s->cnodes) {
		s->cnodes *= 2;
		s->nodes = xreallocarray(s->nodes, s->cnodes, sizeof(*s->nodes));
	}
	memset(&s->nodes[s->nnodes], 0, sizeof(*s->nodes));
	return (uint32_t)s->nnodes++;
}

static uint32_t child_get(struct domain_set *s, uint32_t parent,
			  const char *l, size_t len)
{
	struct edge *e;

	if (len == 1 && l[0] == '*') {
		if (!s->nodes[parent].star) {
			uint32_t c = node_new(s);
			s->nodes[parent].star = c;
		}
		return s->nodes[parent].star;
	}
	if ((s->nedges + 1) * 4 > s->cedges * 3)
		edges_grow(s);
	e = edge_slot(s, parent, l, len);
	if (e->child)
		return e->child;
	if (s->narena + len > s->carena) {
		s->carena = (s->carena + len) * 2;
		s->arena = xreallocarray(s->arena, s->carena, 1);
	}
	memcpy(s->arena + s->narena, l, len);
	e->parent = parent;
	e->off = (uint32_t)s->narena;
	e->len = (uint8_t)len;
	s->narena += len;
	s->nedges++;
	e->child = node_new(s);
	return e->child;
}

struct domain_set *domain_set_new(void)
{
	struct domain_set *s = xcalloc(1, sizeof(*s));

	s->cnodes = 16;
	s->nodes = xcalloc(s->cnodes, sizeof(*s->nodes));
	node_new(s);		/* root */
	edges_grow(s);
	return s;
}

void domain_set_free(struct domain_set *s)
{
	if (!s)
		return;
	free(s->nodes);
	free(s->terms);
	free(s->edges);
	free(s->arena);
	free(s);
}

size_t domain_set_count(const struct domain_set *s)
{
	return s->count;
}

static int term_add(struct domain_set *s, uint32_t *head, uint16_t port,
		    uint32_t rule)
{
	uint32_t t;

	for (t = *head; t; t = s->terms[t - 1].next)
		if (s->terms[t - 1].port == port)
			return -EEXIST;
	if (s->nterms == s->cterms) {
		s->cterms = s->cterms ? s->cterms * 2 : 16;
		s->terms = xreallocarray(s->terms, s->cterms, sizeof(*s->terms));
	}
	s->terms[s->nterms] = (struct term){ .next = *head, .rule = rule,
					     .port = port };
	*head = (uint32_t)++s->nterms;
	return 0;
}

int domain_set_add(struct domain_set *s, const struct domain_pattern *p,
		   uint32_t rule_id)
{
	const char *ls[128];
	uint8_t ll[128];
	size_t n = split_reversed(p->name, ls, ll), i;
	uint32_t node = 0;
	int rc;

	for (i = 0; i + 1 < n; i++)
		node = child_get(s, node, ls[i], ll[i]);
	if (ll[n - 1] == 1 && ls[n - 1][0] == '*') {
		rc = term_add(s, &s->nodes[node].wild, p->port, rule_id);
	} else {
		node = child_get(s, node, ls[n - 1], ll[n - 1]);
		rc = term_add(s, &s->nodes[node].exact, p->port, rule_id);
	}
	if (rc == 0)
		s->count++;
	return rc;
}

/* any_port: a rule for any one port will do (a rule for all preferred) */
static int64_t term_pick(const struct domain_set *s, uint32_t head,
			 uint16_t port, bool any_port)
{
	int64_t any = -1;
	uint32_t t;

	for (t = head; t; t = s->terms[t - 1].next) {
		const struct term *e = &s->terms[t - 1];
		if (e->port == port)
			return e->rule;
		if (e->port == 0 || (any_port && any < 0))
			any = e->rule;
	}
	return any;
}

struct walk {
	const struct domain_set *s;
	const char *ls[128];
	uint8_t ll[128];
	size_t n;
	uint16_t port;
	bool any_port;
};

/* Each trie node sits at one depth, so the walk visits a node at most once:
 * its cost is bounded by the name's length and the rules, whatever both. */
static int64_t walk(const struct walk *w, uint32_t node, size_t i)
{
	const struct node *nd = &w->s->nodes[node];
	int64_t r;

	if (i == w->n)
		return term_pick(w->s, nd->exact, w->port, w->any_port);
	if (w->s->nedges) {
		const struct edge *e = edge_slot(w->s, node, w->ls[i], w->ll[i]);
		if (e->child && (r = walk(w, e->child, i + 1)) >= 0)
			return r;
	}
	if (nd->star && (r = walk(w, nd->star, i + 1)) >= 0)
		return r;
	return term_pick(w->s, nd->wild, w->port, w->any_port);
}

int64_t domain_set_lookup(const struct domain_set *s, const char *name,
			  uint16_t port)
{
	return domain_set_lookup_port(s, name, port, false);
}

int64_t domain_set_lookup_port(const struct domain_set *s, const char *name,
			       uint16_t port, bool any_port)
{
	struct walk w = { .s = s, .port = port, .any_port = any_port };

	w.n = split_reversed(name, w.ls, w.ll);
	if (w.n == 0)
		return -1;
	return walk(&w, 0, 0);
}
