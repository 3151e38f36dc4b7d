/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_DAEMON_H
#define SBXFWD_DAEMON_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "ctl_later.h"
#include "marks.h"
#include "nft.h"
#include "store.h"

#define SBXFW_VERSION "0.4.0"

/* What the control commands work on. */
struct daemon {
	const char *config_path;
	struct sbxfw_config cfg;
	struct marks marks;
	struct nft_opts nft;
	struct store store;
	time_t started;
	uint64_t asker;		/* the client of the request being run */
	struct {		/* the table built again after others' changes */
		uint64_t rebuilds;
		double last_ms;	/* how long the last rebuild took */
		uint64_t last_ns;	/* when */
		bool pending;	/* a rebuild failed: tried again each tick */
	} table;
};

enum ctl_access { CTL_NONE, CTL_READ, CTL_CHANGE };

/* One control request; returns the reply (never NULL), or CTL_LATER
 * (ctl_later.h): it comes through control_reply(d->asker, ...). */
json_t *command_run(struct daemon *d, json_t *req, uid_t peer_uid,
		    enum ctl_access access);
/* Load every sandbox of the store into the registry. */
int commands_load(struct daemon *d, char *err, size_t errlen);
/* The reply to `stats' once its counts are in. */
struct audit_counts;
json_t *commands_stats_reply(struct audit_counts *a);
/* What follows a sandbox's end in the store and the kernel: gone from
 * the registry, the resolver, the broker, its CA and its connections. */
struct sandbox;
void commands_sandbox_gone(struct daemon *d, struct sandbox *sb);
/* Build the table with every sandbox in it, in one batch. */
int commands_table(struct daemon *d, char *err, size_t errlen);
/* Another program changed or removed the table (`who' did): build it
 * again, whole, in one batch; logged once an episode. */
void commands_table_changed(struct daemon *d, const char *who);

#endif
