/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One journal entry to journald, by its native protocol
 * (systemd.io/JOURNAL_NATIVE_PROTOCOL, a stable interface): the fields
 * serialised into one datagram on a connected socket. sd_journal_sendv
 * gives each field two iovecs and names the socket on every send, 2 µs
 * more a row; it stays the path for what this one does not send: a value
 * with a newline (binary-safe form), an entry too big for a datagram (a
 * memfd). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "journal_send.h"

#define SOCKET_PATH "/run/systemd/journal/socket"
#define SNDBUF (8 << 20)	/* as libsystemd asks */

static int fd = -1;
static char buf[JOURNAL_ENTRY_MAX];

static int attach(void)
{
	static const struct sockaddr_un sa = {
		.sun_family = AF_UNIX, .sun_path = SOCKET_PATH,
	};
	int size = SNDBUF;

	if (fd < 0) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size,
				 sizeof(size));
	}
	return connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
}

/* NAME=value\n at AT; 0 for a field this form cannot carry (a value
 * with a newline in it, which libsystemd sends binary-safe) */
static size_t put(size_t at, const struct iovec *f)
{
	const char *eq = memchr(f->iov_base, '=', f->iov_len);

	if (!eq || memchr(eq, '\n', f->iov_len - (size_t)(eq -
	    (const char *)f->iov_base)) || at + f->iov_len + 1 > sizeof(buf))
		return 0;
	memcpy(buf + at, f->iov_base, f->iov_len);
	buf[at + f->iov_len] = '\n';
	return at + f->iov_len + 1;
}

/* not yet connected, or journald restarted: connect, once more */
static int send_native(size_t len)
{
	if (send(fd, buf, len, MSG_NOSIGNAL) >= 0)
		return 0;
	if (errno != EBADF && errno != ENOTCONN && errno != ECONNREFUSED)
		return -1;
	if (attach() < 0)
		return -1;
	return send(fd, buf, len, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int journal_send(const struct iovec *iov, int n)
{
	size_t len = 0;
	int i;

	for (i = 0; i < n && (len = put(len, &iov[i])); i++)
		;
	if (i == n) {
		if (send_native(len) == 0)
			return 0;
		if (errno != EMSGSIZE && errno != ENOBUFS)
			return -1;
	}
	return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
}

void journal_send_close(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}
