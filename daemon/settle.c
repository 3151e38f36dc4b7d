/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "ctl_later.h"
#include "dnscache.h"
#include "settle.h"

#define WAITERS 64

static struct waiter {
	uint64_t asker;
	json_t *reply;
	uint32_t sb;
	uint64_t until;
} waiters[WAITERS];

/* An exact injection name whose own resolution is still under way. */
static bool resolving(const struct sandbox *sb, uint64_t now)
{
	for (size_t i = 0; i < sb->policy->ninject; i++) {
		const char *name = sb->policy->inject[i].domain.name;

		if (strchr(name, '*'))
			continue;
		if (dnscache_own(name, AF_INET, now) == OWN_PENDING ||
		    dnscache_own(name, AF_INET6, now) == OWN_PENDING)
			return true;
	}
	return false;
}

json_t *settle_reply(struct daemon *d, const struct sandbox *sb,
		     json_t *reply)
{
	uint64_t now = now_ns();

	if (!reply || !resolving(sb, now))
		return reply;
	for (size_t i = 0; i < WAITERS; i++) {
		if (waiters[i].reply)
			continue;
		waiters[i] = (struct waiter){ d->asker, reply, sb->id,
					      now + SETTLE_MS * 1000000ull };
		return CTL_LATER;
	}
	return reply;	/* many at once: without waiting */
}

void settle_tick(struct daemon *d, uint64_t now)
{
	for (size_t i = 0; i < WAITERS; i++) {
		struct waiter *w = &waiters[i];
		const struct sandbox *sb;

		if (!w->reply)
			continue;
		sb = sandbox_get(w->sb);
		if (sb && resolving(sb, now) && now < w->until)
			continue;
		ctl_later_reply(w->asker, w->reply, d);
		w->reply = NULL;
	}
}
