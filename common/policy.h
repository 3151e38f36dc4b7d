/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_POLICY_H
#define SBXFW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "domain.h"

enum policy_mode { MODE_ALLOW_ALL, MODE_DENY_ALL, MODE_USER_DEFINED };

const char *policy_mode_name(enum policy_mode m);
int policy_mode_parse(const char *s, enum policy_mode *m);

struct header_kv {
	char *name;
	char *value;
};

enum path_match { PATH_ANY, PATH_EXACT, PATH_PREFIX, PATH_REGEX };

/* Headers set on HTTP requests to `domain`, optionally only on requests
 * matching method, path and request headers. Values are secrets. */
struct inject_rule {
	struct domain_pattern domain;
	char *method;			/* NULL: any */
	enum path_match path_kind;
	char *path;
	struct header_kv *match;	/* request headers that must match */
	size_t nmatch;
	struct header_kv *set;		/* headers to set */
	size_t nset;
};

enum rule_list { LIST_ALLOW, LIST_DENY };

struct policy {
	enum policy_mode mode;
	struct domain_pattern *domains[2];	/* by enum rule_list */
	size_t ndomains[2];
	struct cidr *cidrs[2];
	size_t ncidrs[2];
	struct inject_rule *inject;
	size_t ninject;
	/* indexes over the lists above, kept in step by the functions below */
	struct domain_set *dset[2];
	struct cidr_set *cset[2];
};

struct policy *policy_new(enum policy_mode mode);
void policy_free(struct policy *p);

/* Add a domain pattern or an address range (told apart by the text).
 * -EINVAL with a message naming the input; -EEXIST if already there. */
int policy_add_rule(struct policy *p, enum rule_list l, const char *text,
		    char *err, size_t errlen);
/* Whether a rule's text is an address range rather than a domain. */
bool policy_rule_is_cidr(const char *text);
int policy_add_domain(struct policy *p, enum rule_list l, const char *text,
		      char *err, size_t errlen);
int policy_add_cidr(struct policy *p, enum rule_list l, const char *text,
		    char *err, size_t errlen);
/* Remove a rule from whichever lists hold it; -ENOENT if none did. */
int policy_remove_rule(struct policy *p, const char *text, char *err,
		       size_t errlen);
/* Validates and takes ownership of the rule's strings. */
int policy_add_inject(struct policy *p, struct inject_rule *r, char *err,
		      size_t errlen);
void inject_rule_clear(struct inject_rule *r);

/* ---- evaluation (SPEC §2) ---- */

enum verdict { VERDICT_ALLOW, VERDICT_DENY, VERDICT_NEED_PAYLOAD,
	       VERDICT_DNS };

/* What the first bytes of the flow turned out to be. */
enum payload_kind {
	PAYLOAD_NONE,		/* nothing seen yet */
	PAYLOAD_TLS,		/* a complete ClientHello */
	PAYLOAD_NOT_TLS,
	PAYLOAD_MALFORMED,	/* starts as TLS, is not a valid ClientHello */
	PAYLOAD_INCOMPLETE,	/* gave up waiting for the ClientHello */
	PAYLOAD_CONFLICT,	/* TCP segments or CRYPTO frames overlapping
				 * with other bytes */
	PAYLOAD_NOT_QUIC,	/* UDP 443 that starts no QUIC connection */
};

struct flow_query {
	int family;
	uint8_t dst[16];
	uint16_t dport;
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	enum payload_kind payload;
	const char *sni;	/* as on the wire; NULL: no SNI */
	size_t sni_len;
	bool ech;		/* ClientHello carries encrypted_client_hello */
	bool ech_deny;		/* ini [tls] ech = deny */
	bool postgres;		/* after an SSLRequest: no injection (§5) */
	bool brokered;		/* redirected to the broker */
};

struct verdict_result {
	enum verdict verdict;
	const char *reason;
	char rule[DOMAIN_PATTERN_MAX + 1];	/* "" when no rule decided */
};

void policy_eval(const struct policy *p, const struct flow_query *q,
		 struct verdict_result *res);
/* Whether a DNS query for `name' is answered (allow) or blocked. */
void policy_eval_dns(const struct policy *p, const char *name, bool host,
		     struct verdict_result *res);
const char *verdict_name(enum verdict v);
/* The first injection rule for a name (normalised) on a port, or NULL. */
const struct inject_rule *policy_inject_find(const struct policy *p,
					     const char *name, uint16_t port);

#endif
