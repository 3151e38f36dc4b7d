/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A flow that reached the broker only because its address is shared with
 * an injection domain (a CDN): relayed as it is, never decrypted, with
 * splice(2) through a pipe each way. Nothing blocks: a side that stops
 * reading holds its way's pipe full, never the worker, and a relay with
 * no progress either way for IDLE_MS ends, as does one a change cut. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "log.h"

#define IDLE_MS (120 * 1000)
#define CHUNK (64 * 1024)

struct way {
	int from, to;
	int pipe[2];
	size_t held;		/* in the pipe, not yet written to `to' */
	bool eof, done;
};

/* Moves what it can; -1 when the way ended, else whether it moved. */
static int pump(struct way *w)
{
	bool moved = false;
	ssize_t n;

	if (!w->eof && !w->held) {
		n = splice(w->from, NULL, w->pipe[1], NULL, CHUNK,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0)
			w->eof = true;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		else if (n > 0) {
			w->held = (size_t)n;
			moved = true;
		}
	}
	while (w->held) {
		n = splice(w->pipe[0], NULL, w->to, NULL, w->held,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0)
			return -1;
		w->held -= (size_t)n;
		moved = true;
	}
	if (w->eof && !w->held) {
		w->done = true;
		shutdown(w->to, SHUT_WR);
	}
	return moved;
}

/* What each way waits for: bytes to read, or room to write. */
static nfds_t wants(struct way *w, struct pollfd *p)
{
	nfds_t n = 0;

	for (int i = 0; i < 2; i++) {
		if (w[i].done)
			continue;
		p[n++] = w[i].held ?
			(struct pollfd){ .fd = w[i].to, .events = POLLOUT } :
			(struct pollfd){ .fd = w[i].from, .events = POLLIN };
	}
	return n;
}

static void relay_loop(struct bk_flow *f, struct way *w)
{
	uint64_t idle_until = now_ns() / 1000000 + IDLE_MS;

	while ((!w[0].done || !w[1].done) && !atomic_load(&f->cut)) {
		struct pollfd p[2];
		uint64_t now = now_ns() / 1000000;
		int k;

		if (now >= idle_until)
			break;
		k = poll(p, wants(w, p), (int)(idle_until - now));
		if (k < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			int rc = w[i].done ? 0 : pump(&w[i]);

			if (rc < 0)
				return;
			if (rc > 0)
				idle_until = now_ns() / 1000000 + IDLE_MS;
		}
	}
}

void relay_run(struct bk_flow *f, const struct judgement *j)
{
	struct way w[2] = { { .from = f->cfd, .pipe = { -1, -1 } },
			    { .to = f->cfd, .pipe = { -1, -1 } } };
	int up = upstream_connect(j);

	if (up < 0)
		return;
	flows_set_ufd(f, up);
	w[0].to = w[1].from = up;
	fcntl(up, F_SETFL, fcntl(up, F_GETFL) | O_NONBLOCK);
	fcntl(f->cfd, F_SETFL, fcntl(f->cfd, F_GETFL) | O_NONBLOCK);
	if (pipe2(w[0].pipe, O_CLOEXEC | O_NONBLOCK) == 0 &&
	    pipe2(w[1].pipe, O_CLOEXEC | O_NONBLOCK) == 0)
		relay_loop(f, w);
	flows_set_ufd(f, -1);
	for (int i = 0; i < 2; i++)
		for (int e = 0; e < 2; e++)
			if (w[i].pipe[e] >= 0)
				close(w[i].pipe[e]);
	close(up);
}
