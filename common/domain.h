/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_DOMAIN_H
#define SBXFW_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOMAIN_MAX 253		/* RFC 1035, without the trailing dot */
#define DOMAIN_LABEL_MAX 63
#define DOMAIN_PATTERN_MAX (DOMAIN_MAX + 6)	/* ":65535" */

/* A domain rule: exact name, `*` for one whole label, a leading `*` for one
 * or more labels, `*` alone for any name, optionally limited to one port.
 * `text` is the canonical spelling: lower case, A-labels, no trailing dot. */
/* Owned strings, sized to fit: a policy holds 100,000 of them. */
struct domain_pattern {
	char *text;		/* normalised, with its ":port" */
	const char *name;	/* without the port; in text's allocation */
	uint16_t port;		/* 0: any port */
};

/* Parse and normalise a pattern. On error returns -EINVAL and writes a
 * message naming the input to err. */
int domain_pattern_parse(const char *in, struct domain_pattern *out,
			 char *err, size_t errlen);

/* Free a parsed pattern's strings (NULL-safe, idempotent). */
void domain_pattern_clear(struct domain_pattern *p);

/* Normalise a host name seen on the wire or typed by a user (no wildcards):
 * lower case, one trailing dot removed, A-label form. -EINVAL if it is not a
 * valid host name. */
int domain_name_normalize(const char *in, size_t len,
			  char out[DOMAIN_MAX + 1]);

/* Match one pattern against one normalised name (reference matcher used
 * by tests and the benchmark's baseline; the set below is what runs). */
bool domain_pattern_match(const struct domain_pattern *p, const char *name,
			  uint16_t port);

/* A set of patterns with lookup in time independent of the number of rules
 * (a trie over reversed labels, children in one hash table). */
struct domain_set;

struct domain_set *domain_set_new(void);
void domain_set_free(struct domain_set *s);
/* -EEXIST when the same pattern is already in the set. */
int domain_set_add(struct domain_set *s, const struct domain_pattern *p,
		   uint32_t rule_id);
size_t domain_set_count(const struct domain_set *s);
/* Most specific match for a normalised name: exact labels beat `*`,
 * `*` beats a leading `*`, a rule for this port beats an any-port rule.
 * Returns the rule id, or -1. */
int64_t domain_set_lookup(const struct domain_set *s, const char *name,
			  uint16_t port);
/* With any_port, a rule limited to some port matches too (DNS knows no
 * port); a rule for every port is preferred. */
int64_t domain_set_lookup_port(const struct domain_set *s, const char *name,
			       uint16_t port, bool any_port);

#endif
