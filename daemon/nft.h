/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_NFT_H
#define SBXFWD_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "marks.h"
#include "policy.h"

#define NFT_TABLE "sbxfw"

/* What the ruleset is built from (the ini, and what the kernel has). */
/* The ClientHello of a flow the kernel allows unread, logged (not held)
 * with this prefix, for its name (nflog.c). */
#define NFLOG_NAME_PREFIX "name"
#define NFLOG_NAME_SNAPLEN 2048
/* The packet mark state of the datagrams the daemon sends in a server's
 * name (a ct mark state only, never a queued packet's): not tracked. */
#define NFT_FORGED_STATE ST_OTHER

struct nft_opts {
	const struct marks *marks;
	uint16_t queue, queues;
	uint16_t log_group;	/* NFLOG group of the kernel's own verdicts */
	bool native_queue;	/* nft `queue`; else xt NFQUEUE via nft_compat */
	bool fail_open;
	bool drop;		/* deny_action = drop */
	bool log_allowed;
	/* new flows a second one sandbox may open (twice that at once), past
	 * which they are refused (flow-limit): a share of what all share */
	unsigned flow_rate;
	uint16_t dns_port;	/* the daemon's resolver; 0: no redirect */
	uint16_t broker_port;	/* the credentials broker; 0: none */
	/* owner and persist flags (Linux 6.9): only this process changes
	 * the table, `nft flush ruleset' leaves it, it outlives the daemon */
	bool own_table;
};

/* How a sandbox is recognised and what the kernel decides for it alone:
 * address ranges and modes. Domains are the daemon's business. */
struct nft_sandbox {
	uint32_t id;
	char **ifaces;		/* names, `*' at the end for a prefix */
	size_t nifaces;
	struct cidr *sources;
	size_t nsources;
	const struct policy *policy;
};

int nft_init(char *err, size_t errlen);
void nft_fini(void);
/* Whether the kernel has the native queue expression. */
int nft_probe_native_queue(bool *native, char *err, size_t errlen);
/* An element of inject4/inject6: an address of an injection domain of a
 * sandbox, whose new flows to 443 there go to the broker; added for
 * timeout_ms, or deleted. */
struct nft_inject {
	bool add;
	uint32_t sandbox;
	int family;
	uint8_t addr[16];
	uint64_t timeout_ms;
};

/* Replace the table (if any) with a fresh one holding these sandboxes
 * and injection addresses, in one batch. A kernel that cannot own it
 * (before 6.9) gets it unowned: nft_table_owned() tells. */
int nft_table_create(const struct nft_opts *o, const struct nft_sandbox *sbs,
		     size_t n, const struct nft_inject *inj, size_t ninj,
		     char *err, size_t errlen);
bool nft_table_owned(void);
/* Every chain's rules replaced (the ini read again), in one batch; the
 * sets and their elements stay, the kernel's own too (the first sequence
 * numbers of flows in their handshake). */
int nft_rules_replace(const struct nft_opts *o, char *err, size_t errlen);
/* The netlink port the table's changes come from (its events carry it). */
uint32_t nft_portid(void);
int nft_table_delete(char *err, size_t errlen);
/* Without a daemon (a stop, a start that fails), no new sandbox flow is
 * allowed by the kernel alone: the table stays and refuses them all
 * (SPEC §1.5). -ENOENT when there is no table. */
int nft_close(char *err, size_t errlen);
/* Move n sandboxes' kernel elements from `old` to `new` in one batch
 * (none when the kernel's part is unchanged); either of a pair may be
 * NULL (create, destroy). */
int nft_sandboxes_update(const struct nft_sandbox *const *old,
			 const struct nft_sandbox *const *new, size_t n,
			 const struct marks *m, char *err, size_t errlen);
/* One pair. */
int nft_sandbox_update(const struct nft_sandbox *old,
		       const struct nft_sandbox *new, const struct marks *m,
		       char *err, size_t errlen);

/* The daemon lives: what the kernel allows on its own (ranges, allow-all,
 * the broker's redirect) it allows for NFT_ALIVE_MS more. Said every
 * second; a daemon that dies (a crash, SIGKILL) stops saying it, and new
 * flows then wait for the queue, which refuses them. */
#define NFT_ALIVE_MS 5000
int nft_alive(char *err, size_t errlen);

/* Injection addresses added and deleted in one batch, in this order. */
int nft_inject_elems(const struct marks *m, const struct nft_inject *ops,
		     size_t n, char *err, size_t errlen);

#endif
