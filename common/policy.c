/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_path.h"
#include "policy.h"
#include "secret.h"
#include "xalloc.h"

static const char *const mode_names[] = {
	[MODE_ALLOW_ALL] = "allow-all",
	[MODE_DENY_ALL] = "deny-all",
	[MODE_USER_DEFINED] = "user-defined",
};

const char *policy_mode_name(enum policy_mode m)
{
	return mode_names[m];
}

int policy_mode_parse(const char *s, enum policy_mode *m)
{
	size_t i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(s, mode_names[i])) {
			*m = (enum policy_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *verdict_name(enum verdict v)
{
	static const char *const names[] = { "allow", "deny", "need-payload",
					     "dns" };
	return names[v];
}

struct policy *policy_new(enum policy_mode mode)
{
	struct policy *p = xcalloc(1, sizeof(*p));
	int l;

	p->mode = mode;
	for (l = 0; l < 2; l++) {
		p->dset[l] = domain_set_new();
		p->cset[l] = cidr_set_new();
	}
	return p;
}

void inject_rule_clear(struct inject_rule *r)
{
	size_t i;

	domain_pattern_clear(&r->domain);
	free(r->method);
	free(r->path);
	for (i = 0; i < r->nmatch; i++) {
		free(r->match[i].name);
		free(r->match[i].value);
	}
	for (i = 0; i < r->nset; i++) {
		free(r->set[i].name);
		secret_free(r->set[i].value);
	}
	free(r->match);
	free(r->set);
	memset(r, 0, sizeof(*r));
}

void policy_free(struct policy *p)
{
	size_t i;
	int l;

	if (!p)
		return;
	for (l = 0; l < 2; l++) {
		for (i = 0; i < p->ndomains[l]; i++)
			domain_pattern_clear(&p->domains[l][i]);
		free(p->domains[l]);
		free(p->cidrs[l]);
		domain_set_free(p->dset[l]);
		cidr_set_free(p->cset[l]);
	}
	for (i = 0; i < p->ninject; i++)
		inject_rule_clear(&p->inject[i]);
	free(p->inject);
	free(p);
}

bool policy_rule_is_cidr(const char *s)
{
	/* Domains never hold ':' before a port nor start with a digit-and-dot
	 * quad; an address parse decides. */
	struct cidr c;
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (slash)
		return true;
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return addr_parse(buf, &c) == 0;
}

int policy_add_domain(struct policy *p, enum rule_list l, const char *text,
		      char *err, size_t errlen)
{
	struct domain_pattern d;
	int rc;

	if (domain_pattern_parse(text, &d, err, errlen) < 0)
		return -EINVAL;
	rc = domain_set_add(p->dset[l], &d, (uint32_t)p->ndomains[l]);
	if (rc < 0) {
		snprintf(err, errlen, "domain `%s' is already %s", d.text,
			 l == LIST_ALLOW ? "allowed" : "denied");
		domain_pattern_clear(&d);
		return rc;
	}
	p->domains[l] = xreallocarray(p->domains[l], p->ndomains[l] + 1,
				      sizeof(d));
	p->domains[l][p->ndomains[l]++] = d;
	return 0;
}

int policy_add_cidr(struct policy *p, enum rule_list l, const char *text,
		    char *err, size_t errlen)
{
	struct cidr c;
	char buf[CIDR_TEXT_MAX];
	int rc;

	if (cidr_parse(text, &c, err, errlen) < 0)
		return -EINVAL;
	rc = cidr_set_add(p->cset[l], &c, (uint32_t)p->ncidrs[l]);
	if (rc < 0) {
		cidr_format(&c, buf);
		snprintf(err, errlen, "address range `%s' is already %s", buf,
			 l == LIST_ALLOW ? "allowed" : "denied");
		return rc;
	}
	p->cidrs[l] = xreallocarray(p->cidrs[l], p->ncidrs[l] + 1, sizeof(c));
	p->cidrs[l][p->ncidrs[l]++] = c;
	return 0;
}

int policy_add_rule(struct policy *p, enum rule_list l, const char *text,
		    char *err, size_t errlen)
{
	if (policy_rule_is_cidr(text))
		return policy_add_cidr(p, l, text, err, errlen);
	return policy_add_domain(p, l, text, err, errlen);
}

/* Rebuild the indexes of list l after a removal. */
static void policy_reindex(struct policy *p, enum rule_list l)
{
	size_t i;

	domain_set_free(p->dset[l]);
	cidr_set_free(p->cset[l]);
	p->dset[l] = domain_set_new();
	p->cset[l] = cidr_set_new();
	for (i = 0; i < p->ndomains[l]; i++)
		domain_set_add(p->dset[l], &p->domains[l][i], (uint32_t)i);
	for (i = 0; i < p->ncidrs[l]; i++)
		cidr_set_add(p->cset[l], &p->cidrs[l][i], (uint32_t)i);
}

static bool remove_from(struct policy *p, enum rule_list l, bool is_cidr,
			const struct domain_pattern *d, const struct cidr *c)
{
	size_t i;

	if (is_cidr) {
		for (i = 0; i < p->ncidrs[l]; i++) {
			struct cidr *x = &p->cidrs[l][i];
			if (x->family == c->family && x->plen == c->plen &&
			    !memcmp(x->addr, c->addr, 16)) {
				memmove(x, x + 1, (p->ncidrs[l] - i - 1) *
						      sizeof(*x));
				p->ncidrs[l]--;
				return true;
			}
		}
		return false;
	}
	for (i = 0; i < p->ndomains[l]; i++) {
		struct domain_pattern *x = &p->domains[l][i];
		if (!strcmp(x->text, d->text)) {
			domain_pattern_clear(x);
			memmove(x, x + 1,
				(p->ndomains[l] - i - 1) * sizeof(*x));
			p->ndomains[l]--;
			return true;
		}
	}
	return false;
}

int policy_remove_rule(struct policy *p, const char *text, char *err,
		       size_t errlen)
{
	struct domain_pattern d;
	struct cidr c;
	bool is_cidr = policy_rule_is_cidr(text), found = false;
	int l;

	if (is_cidr ? cidr_parse(text, &c, err, errlen) < 0
		    : domain_pattern_parse(text, &d, err, errlen) < 0)
		return -EINVAL;
	for (l = 0; l < 2; l++) {
		if (remove_from(p, (enum rule_list)l, is_cidr, &d, &c)) {
			policy_reindex(p, (enum rule_list)l);
			found = true;
		}
	}
	if (!is_cidr)
		domain_pattern_clear(&d);
	if (!found) {
		snprintf(err, errlen, "rule `%s' is not in the policy", text);
		return -ENOENT;
	}
	return 0;
}

static bool header_name_ok(const char *s)
{
	/* RFC 9110 token */
	static const char tchar[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(tchar, *s)))
			return false;
	return true;
}

static bool header_value_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return false;
	return true;
}

static int headers_check(const struct header_kv *h, size_t n, char *err,
			 size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!header_name_ok(h[i].name)) {
			snprintf(err, errlen, "invalid header name `%s'",
				 h[i].name);
			return -EINVAL;
		}
		if (!header_value_ok(h[i].value)) {
			/* never echo the value: it may be a secret */
			snprintf(err, errlen,
				 "header `%s': value holds control characters",
				 h[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

/* A rule's path: a regex that compiles, or one that starts with '/' and
 * can be normalised (requests are matched normalised: it could match
 * none). */
static int path_check(const struct inject_rule *r, char *err, size_t errlen)
{
	char norm[HTTP_HEAD_MAX + 1];

	if (r->path_kind == PATH_REGEX) {
		regex_t re;
		if (regcomp(&re, r->path, REG_EXTENDED | REG_NOSUB)) {
			snprintf(err, errlen, "invalid path regex `%s'",
				 r->path);
			return -EINVAL;
		}
		regfree(&re);
	} else if (r->path_kind != PATH_ANY && r->path[0] != '/') {
		snprintf(err, errlen, "path `%s' does not start with `/'",
			 r->path);
		return -EINVAL;
	} else if (r->path_kind != PATH_ANY &&
		   http_path_normalise(r->path, strlen(r->path), norm,
				       sizeof(norm)) < 0) {
		snprintf(err, errlen, "path `%s' cannot be normalised "
			 "(a malformed escape, %%00)", r->path);
		return -EINVAL;
	}
	return 0;
}

int policy_add_inject(struct policy *p, struct inject_rule *r, char *err,
		      size_t errlen)
{
	if (r->nset == 0) {
		snprintf(err, errlen, "injection for `%s' sets no header",
			 r->domain.text);
		return -EINVAL;
	}
	if (headers_check(r->set, r->nset, err, errlen) < 0 ||
	    headers_check(r->match, r->nmatch, err, errlen) < 0)
		return -EINVAL;
	if (r->method && !header_name_ok(r->method)) {
		snprintf(err, errlen, "invalid method `%s'", r->method);
		return -EINVAL;
	}
	if (path_check(r, err, errlen) < 0)
		return -EINVAL;
	p->inject = xreallocarray(p->inject, p->ninject + 1, sizeof(*r));
	p->inject[p->ninject++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

/* ---- evaluation ---- */

static void decide(struct verdict_result *res, enum verdict v,
		   const char *reason, const char *rule)
{
	size_t n = 0;

	res->verdict = v;
	res->reason = reason;
	/* not snprintf: this runs for every verdict, and for every name a
	 * policy change checks again */
	for (; rule && rule[n] && n < sizeof(res->rule) - 1; n++)
		res->rule[n] = rule[n];
	res->rule[n] = '\0';
}

static bool range_match(const struct policy *p, enum rule_list l,
			const struct flow_query *q, char rule[CIDR_TEXT_MAX])
{
	int64_t r = cidr_set_lookup(p->cset[l], q->family, q->dst);

	if (r < 0)
		return false;
	cidr_format(&p->cidrs[l][r], rule);
	return true;
}

static const struct domain_pattern *domain_match(const struct policy *p,
						 enum rule_list l,
						 const char *name,
						 uint16_t port)
{
	int64_t r = domain_set_lookup(p->dset[l], name, port);

	return r < 0 ? NULL : &p->domains[l][r];
}

/* Step 6 of SPEC §2: the flow must identify itself. */
static void eval_payload(const struct policy *p, const struct flow_query *q,
			 struct verdict_result *res)
{
	bool allow_all = p->mode == MODE_ALLOW_ALL;
	const struct inject_rule *ir;
	const struct domain_pattern *d;
	char name[DOMAIN_MAX + 1];

	switch (q->payload) {
	case PAYLOAD_NONE:
		return decide(res, VERDICT_NEED_PAYLOAD, "need-payload", NULL);
	case PAYLOAD_CONFLICT:
		return decide(res, VERDICT_DENY, q->proto == IPPROTO_UDP ?
			      "crypto-overlap-conflict" : "tcp-overlap-conflict",
			      NULL);
	case PAYLOAD_NOT_QUIC:
		return decide(res, VERDICT_DENY, "not-quic", NULL);
	case PAYLOAD_INCOMPLETE:
		return decide(res, VERDICT_DENY, "clienthello-incomplete",
			      NULL);
	case PAYLOAD_MALFORMED:
		return decide(res, VERDICT_DENY, "clienthello-malformed", NULL);
	case PAYLOAD_NOT_TLS:
		if (allow_all)
			return decide(res, VERDICT_ALLOW, "mode-allow-all",
				      NULL);
		return decide(res, VERDICT_DENY, "not-tls", NULL);
	case PAYLOAD_TLS:
		break;
	}
	if (!q->sni) {
		if (allow_all)
			return decide(res, VERDICT_ALLOW, "mode-allow-all",
				      NULL);
		return decide(res, VERDICT_DENY, "no-sni", NULL);
	}
	if (domain_name_normalize(q->sni, q->sni_len, name) < 0)
		return decide(res, VERDICT_DENY, "sni-invalid", NULL);
	if ((d = domain_match(p, LIST_DENY, name, q->dport)))
		return decide(res, VERDICT_DENY, "domain-denied", d->text);
	if (q->ech && q->ech_deny)
		return decide(res, VERDICT_DENY, "ech-denied", NULL);
	/* its credential is added by the broker, which only the flows
	 * redirected at their SYN reach: never let one go without it */
	if (!q->postgres && !q->brokered &&
	    (ir = policy_inject_find(p, name, q->dport)))
		return decide(res, VERDICT_DENY, "inject-not-redirected",
			      ir->domain.text);
	if (allow_all)
		return decide(res, VERDICT_ALLOW, "mode-allow-all", NULL);
	if ((d = domain_match(p, LIST_ALLOW, name, q->dport)))
		return decide(res, VERDICT_ALLOW, "domain-allowed", d->text);
	return decide(res, VERDICT_DENY, "domain-not-allowed", NULL);
}

const struct inject_rule *policy_inject_find(const struct policy *p,
					     const char *name, uint16_t port)
{
	for (size_t i = 0; i < p->ninject; i++)
		if (domain_pattern_match(&p->inject[i].domain, name, port))
			return &p->inject[i];
	return NULL;
}

/* SPEC §3: whether a sandbox may resolve a name (lower case, a host name
 * unless !host). Only rules for every port deny a name; a rule for any
 * port allows it, and so does an injection rule. */
void policy_eval_dns(const struct policy *p, const char *name, bool host,
		     struct verdict_result *res)
{
	const struct domain_pattern *d;
	int64_t r;

	if (p->mode == MODE_DENY_ALL)
		return decide(res, VERDICT_DENY, "mode-deny-all", NULL);
	if (p->mode == MODE_ALLOW_ALL && (!host || !p->ndomains[LIST_DENY]))
		return decide(res, VERDICT_ALLOW, "mode-allow-all", NULL);
	if (!host)
		return decide(res, VERDICT_DENY, "name-invalid", NULL);
	if ((d = domain_match(p, LIST_DENY, name, 0)))
		return decide(res, VERDICT_DENY, "domain-denied", d->text);
	if (p->mode == MODE_ALLOW_ALL)
		return decide(res, VERDICT_ALLOW, "mode-allow-all", NULL);
	r = domain_set_lookup_port(p->dset[LIST_ALLOW], name, 0, true);
	if (r >= 0)
		return decide(res, VERDICT_ALLOW, "domain-allowed",
			      p->domains[LIST_ALLOW][r].text);
	for (size_t i = 0; i < p->ninject; i++) {
		d = &p->inject[i].domain;
		if (domain_pattern_match(d, name, d->port))
			return decide(res, VERDICT_ALLOW, "domain-allowed",
				      d->text);
	}
	return decide(res, VERDICT_DENY, "domain-not-allowed", NULL);
}

void policy_eval(const struct policy *p, const struct flow_query *q,
		 struct verdict_result *res)
{
	char rule[CIDR_TEXT_MAX];

	if (range_match(p, LIST_DENY, q, rule))
		return decide(res, VERDICT_DENY, "range-denied", rule);
	if (p->mode == MODE_DENY_ALL)
		return decide(res, VERDICT_DENY, "mode-deny-all", NULL);
	if (range_match(p, LIST_ALLOW, q, rule))
		return decide(res, VERDICT_ALLOW, "range-allowed", rule);
	if (p->mode == MODE_ALLOW_ALL && p->ndomains[LIST_DENY] == 0)
		return decide(res, VERDICT_ALLOW, "mode-allow-all", NULL);
	if (q->dport == 53)
		return decide(res, VERDICT_DNS, "dns", NULL);
	/* UDP 443 is QUIC, judged by its SNI as TLS is (SPEC §1.9) */
	if (q->proto == IPPROTO_UDP && q->dport != 443) {
		if (p->mode == MODE_ALLOW_ALL)
			return decide(res, VERDICT_ALLOW, "mode-allow-all",
				      NULL);
		return decide(res, VERDICT_DENY, "not-tls", NULL);
	}
	eval_payload(p, q, res);
}
