/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A flow that reached the broker only because its address is shared with
 * an injection domain (a CDN): relayed as it is, never decrypted, with
 * splice(2) through a pipe each way. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"

#define IDLE_MS (300 * 1000)
#define CHUNK (64 * 1024)

struct way {
	int from, to;
	int pipe[2];
	bool done;
};

/* Move what `from' has to `to'; false when it ended. */
static bool pump(struct way *w)
{
	ssize_t n = splice(w->from, NULL, w->pipe[1], NULL, CHUNK,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	while (n > 0) {
		ssize_t m = splice(w->pipe[0], NULL, w->to, NULL, (size_t)n,
				   SPLICE_F_MOVE);

		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0)
			return false;
		n -= m;
	}
	return true;
}

void relay_run(int client, const struct judgement *j)
{
	struct way w[2] = { { .from = client }, { .to = client } };
	int up = upstream_connect(j);

	if (up < 0)
		return;
	w[0].to = w[1].from = up;
	if (pipe2(w[0].pipe, O_CLOEXEC) < 0 ||
	    pipe2(w[1].pipe, O_CLOEXEC) < 0)
		goto out;
	while (!w[0].done || !w[1].done) {
		struct pollfd p[2];
		int n = 0, k;

		for (int i = 0; i < 2; i++)
			if (!w[i].done)
				p[n++] = (struct pollfd){ .fd = w[i].from,
							  .events = POLLIN };
		if ((k = poll(p, (nfds_t)n, IDLE_MS)) <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			break;
		}
		for (int i = 0, q = 0; i < 2; i++) {
			if (w[i].done)
				continue;
			if (p[q++].revents && !pump(&w[i])) {
				w[i].done = true;
				shutdown(w[i].to, SHUT_WR);
			}
		}
	}
out:
	for (int i = 0; i < 2; i++)
		for (int e = 0; e < 2; e++)
			if (w[i].pipe[e] > 0)
				close(w[i].pipe[e]);
	close(up);
}
