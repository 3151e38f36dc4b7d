/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "upool.h"

static struct slot {
	int fd;			/* -1: free */
	size_t up;
	unsigned uses;
	size_t owner;		/* UPOOL_IDLE: idle */
} slots[UPOOL_MAX];

void upool_init(void)
{
	for (size_t i = 0; i < UPOOL_MAX; i++)
		slots[i].fd = -1;
}

int upool_take(size_t up, const struct sockaddr *to, socklen_t tolen,
	       size_t owner, size_t *slot, bool *fresh)
{
	size_t i, free_slot = UPOOL_MAX;

	for (i = 0; i < UPOOL_MAX; i++) {
		if (slots[i].fd < 0) {
			if (free_slot == UPOOL_MAX)
				free_slot = i;
		} else if (slots[i].owner == UPOOL_IDLE && slots[i].up == up) {
			break;
		}
	}
	*fresh = i == UPOOL_MAX;
	if (*fresh) {
		int fd;

		if (free_slot == UPOOL_MAX)
			return -EAGAIN;
		fd = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, to, tolen) < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		i = free_slot;
		slots[i] = (struct slot){ .fd = fd, .up = up };
	}
	slots[i].owner = owner;
	slots[i].uses++;
	*slot = i;
	return slots[i].fd;
}

void upool_give(size_t slot, bool ok)
{
	struct slot *s = &slots[slot];

	s->owner = UPOOL_IDLE;
	if (ok && s->uses < UPOOL_USES)
		return;
	close(s->fd);	/* leaves the epoll set with it */
	s->fd = -1;
}

size_t upool_owner(size_t slot)
{
	return slots[slot].owner;
}

int upool_fd(size_t slot)
{
	return slots[slot].fd;
}

void upool_flush(void)
{
	for (size_t i = 0; i < UPOOL_MAX; i++)
		if (slots[i].fd >= 0 && slots[i].owner == UPOOL_IDLE) {
			close(slots[i].fd);
			slots[i].fd = -1;
		} else if (slots[i].fd >= 0) {
			slots[i].uses = UPOOL_USES;	/* closed when given */
		}
}
