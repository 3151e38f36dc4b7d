/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_SUGGEST_H
#define SBXFW_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psl.h"

/* `sbxfw suggest': what a sandbox did (its audit) into the smallest
 * policy that allows it (SPEC §2, §7). Pure: the command reads the rows,
 * this decides the rules. */

/* Allowed flows that named their destination (SNI), by name, port and
 * protocol ("udp": QUIC, named from its Initials; NULL: "tcp"). */
struct sg_name {
	const char *name;
	uint16_t port;
	long flows;
	const char *proto;
};

/* Allowed flows without a name, by destination. */
struct sg_addr {
	int family;
	uint8_t addr[16];
	uint16_t port;
	const char *proto;
	long flows;
};

/* Allowed DNS answers: "CNAME b.test, A 198.18.2.2, AAAA 2001:db8::2". */
struct sg_dns {
	const char *name;
	const char *answers;
};

/* Requests the broker passed on (or answered), by host. */
struct sg_request {
	const char *host;
	long requests;
};

struct sg_input {
	const struct sg_name *names;
	size_t nnames;
	const struct sg_addr *addrs;
	size_t naddrs;
	const struct sg_dns *dns;
	size_t ndns;
	/* the sandbox's injection rules now (their domain patterns): kept,
	 * and what they cover is no allow rule */
	const char *const *injections;
	size_t ninjections;
	const struct sg_request *requests;
	size_t nrequests;
};

#define SUGGEST_THRESHOLD_MAX 64

struct sg_opts {
	unsigned wildcard_threshold;	/* siblings that make *.parent (2..64) */
	unsigned max_prefix4, max_prefix6;	/* ranges never wider */
	const struct psl *psl;		/* NULL: no wildcards at all */
	bool ranges_for_unnamed;	/* TLS without a name: a range too */
};

struct sg_rule {
	char *text;		/* "*.github.com", "db.test:5432", "198.18.3.10/32" */
	bool range;
	long names;		/* names, or addresses for a range */
	long flows;
	char *note;		/* "tcp/80", "resolved, reached by address" */
	long quic;		/* flows of a domain rule over QUIC */
};

/* Flows on a TLS port (443, or one where a named flow went) without a
 * name, by destination: no range unless ranges_for_unnamed, since a
 * range allows every name and every port at the address (a CDN's, a
 * load balancer's: everything behind it). */
struct sg_unnamed {
	int family;
	uint8_t addr[16];
	uint16_t port;
	char proto[8];
	long flows;
	bool in_range;		/* a range holds it all the same */
};

/* An injection rule, kept: the names, flows and broker requests it
 * covered in the window. */
struct sg_kept {
	char *domain;
	long names, flows, requests;
};

struct suggestion {
	struct sg_rule *rule;	/* domains first, then ranges; each sorted */
	size_t nrule;
	struct sg_unnamed *unnamed;	/* by family, address, port */
	size_t nunnamed;
	struct sg_kept *kept;	/* as the input gave them */
	size_t nkept;
	char **unconnected;	/* resolved, never connected to */
	size_t nunconnected;
	char **unusable;	/* names that are no valid host name */
	size_t nunusable;
};

void suggest_build(const struct sg_input *in, const struct sg_opts *o,
		   struct suggestion *out);
void suggestion_free(struct suggestion *s);

#endif
