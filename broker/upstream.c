/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A new TCP connection to a flow's real destination (as the daemon
 * judged it), for a relay or the TLS terminator. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"

#define CONNECT_WAIT_MS 5000

int upstream_connect(const struct judgement *j)
{
	struct sockaddr_storage ss = { 0 };
	struct pollfd pfd;
	socklen_t sl, el = sizeof(int);
	int fd, e = 0, one = 1;

	if (j->family == AF_INET) {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(j->dport);
		memcpy(&s4->sin_addr, j->dst, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(j->dport);
		memcpy(&s6->sin6_addr, j->dst, 16);
		sl = sizeof(*s6);
	}
	if ((fd = socket(j->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, CONNECT_WAIT_MS) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
		goto fail;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
fail:
	close(fd);
	return -1;
}
