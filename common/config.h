/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CONFIG_H
#define SBXFW_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define CFG_DEFAULT_PATH "/etc/sbxfw/sbxfw.ini"
#define CFG_UPSTREAM_MAX 8
/* the broker beside sbxfwd: PREFIX/sbin/sbxfwd, PREFIX/libexec/sbxfw/ */
#define CFG_BROKER_RELATIVE "../libexec/sbxfw/sbxfw-broker"

enum deny_action { DENY_REJECT, DENY_DROP };
enum ip_binding { BINDING_STRICT, BINDING_OFF };
enum ech_policy { ECH_OUTER, ECH_DENY };

struct upstream {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

struct sbxfw_config {
	/* [daemon] */
	char socket[108];	/* sun_path */
	char database[PATH_MAX];
	uint16_t queue, queues;
	char user[64], group[64];
	char admin_group[64];	/* may change policies besides root; "" none */
	bool fail_open;
	bool table_owner;	/* the table flagged owner, persist */
	uint32_t mark_mask;
	unsigned flow_rate;	/* new flows a second per sandbox */
	/* [defaults] */
	enum policy_mode mode;
	enum deny_action deny_action;
	/* [dns]: no upstream means "the host's resolv.conf" */
	struct upstream upstream[CFG_UPSTREAM_MAX];
	size_t nupstream;
	enum ip_binding ip_binding;
	/* [tls] */
	char ca_dir[PATH_MAX];
	unsigned leaf_days;
	char upstream_ca[PATH_MAX];
	char broker[PATH_MAX];	/* the sbxfw-broker program; "": beside */
	enum ech_policy ech;
	/* [audit] */
	bool log_allowed;
	unsigned retention_days;	/* 0: keep forever */
	uint64_t max_size;	/* bytes of database pages in use; 0: no bound */
	bool journal;		/* rows exported to journald too */
	/* [policies] */
	char policies_dir[PATH_MAX];	/* one sandbox a file (policy_files.c) */
	/* [metrics]: "" off; ADDR:PORT, [V6]:PORT or a Unix socket path */
	char metrics_listen[PATH_MAX];
	bool metrics_per_sandbox;
};

#define CFG_MAX_SIZE_DEFAULT (1ULL << 30)
#define CFG_MAX_SIZE_MIN (1ULL << 20)

void cfg_defaults(struct sbxfw_config *c);
/* Parse ini text; `file` names it in messages "file:line: message".
 * On error c is left as it was. Pure. */
int cfg_parse_string(const char *text, const char *file,
		     struct sbxfw_config *c, char *err, size_t errlen);
/* Read and parse a file. A missing file is an error unless it is the
 * default path, which may be absent (all defaults). */
int cfg_load(const char *path, struct sbxfw_config *c, char *err,
	     size_t errlen);
/* Fill the upstream list from a resolv.conf when the ini gave none. */
int cfg_upstream_from_resolv(struct sbxfw_config *c, const char *path);
int upstream_parse(const char *s, struct upstream *u);
/* [metrics] listen as an address: "127.0.0.1:9469", "[::1]:9469". */
struct sockaddr_storage;
int cfg_listen_addr(const char *v, struct sockaddr_storage *ss);

#endif
