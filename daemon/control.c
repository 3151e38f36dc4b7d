/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctl_later.h"
#include "ctl_proto.h"
#include "log.h"
#include "secret.h"
#include "xalloc.h"

#define CLIENTS_MAX 64
#define TRIM_AFTER (64u << 10)	/* request bytes */
#define CLIENTS_PER_UID 8
/* One reply waits at most per client (requests are served one at a time
 * while one is unread), and it is at most a frame: past that, dropped. */
#define CLIENT_OUT_MAX (CTL_FRAME_MAX + 4)

struct client {
	int fd;
	uint64_t id;		/* for replies that come later */
	uid_t uid;
	enum ctl_access access;
	uint8_t *buf;		/* requests read, not yet served */
	size_t len, cap;
	char *out;		/* a reply not yet written */
	size_t out_len, out_off;
	bool waiting;		/* for a reply that comes later */
	bool dead;
	struct client *next;
};

static int listen_fd = -1, ep = -1;
static gid_t read_gid = (gid_t)-1, admin_gid = (gid_t)-1;
static char sock_path[108];
static size_t nclients;
static struct client *clients;
static struct client listener;	/* its address tags the listening fd */
static uint64_t last_id;

int control_open(const char *path, const char *group,
		 const char *admin_group, int epfd, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listener };
	struct group *gr = getgrnam(group), *ag = NULL;
	mode_t old;

	ep = epfd;
	/* replies that come later (settle.c's) are sent from here */
	ctl_later_init(control_reply);
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   0);
	if (listen_fd < 0)
		goto fail;
	unlink(path);
	old = umask(0117);	/* never a moment wider than 0660 */
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (chmod(path, 0660) < 0 ||
	    (gr && chown(path, (uid_t)-1, gr->gr_gid) < 0) ||
	    listen(listen_fd, 16) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
		goto fail;
	if (!gr)
		log_warnx("control: no group `%s'; %s is root's only",
			  group, path);
	else
		read_gid = gr->gr_gid;
	if (*admin_group && !(ag = getgrnam(admin_group)))
		log_warnx("control: admin_group `%s' does not exist",
			  admin_group);
	else if (*admin_group)
		admin_gid = ag->gr_gid;
	return 0;
fail:
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	return -errno;
}

static void client_close(struct client *c)
{
	struct client **pp = &clients;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	wipe_free(c->buf, c->cap);	/* requests carry header values */
	free(c->out);
	free(c);
	nclients--;
}

void control_close(void)
{
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(sock_path);
	}
	listen_fd = -1;
}

/* Whether the user is in the group, as its primary or a supplementary. */
static bool in_group(uid_t uid, gid_t pgid, gid_t gid)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	if (gid == (gid_t)-1)
		return false;
	if (pgid == gid)
		return true;
	if (!(pw = getpwuid(uid)) ||
	    getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static enum ctl_access access_of(const struct ucred *cr)
{
	if (cr->uid == 0 || in_group(cr->uid, cr->gid, admin_gid))
		return CTL_CHANGE;
	if (in_group(cr->uid, cr->gid, read_gid))
		return CTL_READ;
	return CTL_NONE;
}

static size_t clients_of(uid_t uid)
{
	size_t n = 0;

	for (struct client *c = clients; c; c = c->next)
		n += c->uid == uid;
	return n;
}

static void accept_one(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* who is calling: the kernel says, not the message */
	if (nclients >= CLIENTS_MAX ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    access_of(&cred) == CTL_NONE ||
	    clients_of(cred.uid) >= CLIENTS_PER_UID) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->id = ++last_id;
	c->uid = cred.uid;
	c->access = access_of(&cred);
	c->next = clients;
	clients = c;
	ev.data.ptr = c;
	nclients++;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		client_close(c);
}

/* Write what waits, never blocking: the rest when the socket can take it
 * (EPOLLOUT). */
static void flush(struct client *c)
{
	struct epoll_event ev = { .data.ptr = c };

	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			c->dead = true;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
	}
	ev.events = EPOLLIN | (c->out ? EPOLLOUT : 0);
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void reply(struct client *c, json_t *msg)
{
	size_t len;
	char *frame = ctl_frame_build(msg, &len);

	json_decref(msg);
	if (!frame || len > CLIENT_OUT_MAX) {
		free(frame);
		c->dead = true;
		return;
	}
	c->out = frame;
	c->out_len = len;
	c->out_off = 0;
	flush(c);
}

/* Read what the client sent, within the frame bound. */
static bool client_read(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			uint8_t *buf;

			if (cap > CTL_FRAME_MAX + 4)
				return false;
			/* not realloc: the old buffer is wiped, not left */
			buf = xmalloc(cap);
			if (c->len)
				memcpy(buf, c->buf, c->len);
			wipe_free(c->buf, c->cap);
			c->buf = buf;
			c->cap = cap;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->len += (size_t)n;
	}
}

/* Serve the requests read, one at a time: the next only once the reply
 * before it is written, so a client that does not read holds one reply
 * and no more. */
static void serve(struct client *c, struct daemon *d)
{
	char err[256];
	size_t used;
	json_t *req, *r;

	while (!c->dead && !c->out && !c->waiting) {
		switch (ctl_frame_parse(c->buf, c->len, &used, &req, err,
					sizeof(err))) {
		case CTL_NEED_MORE:
			return;
		case CTL_BAD:
			/* refused whole, and the stream is lost */
			reply(c, ctl_error("%s", err));
			c->dead = true;
			return;
		case CTL_FRAME:
			d->asker = c->id;
			r = command_run(d, req, c->uid, c->access);
			json_decref(req);
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			explicit_bzero(c->buf + c->len, used);
			if (r == CTL_LATER)
				c->waiting = true;
			else
				reply(c, r);
			/* a big request's parse (a policy of 100,000 rules
			 * takes tens of MB) is not kept: the verdict path's
			 * own trim threshold would keep it resident */
			if (used > TRIM_AFTER)
				malloc_trim(0);
			break;
		}
	}
}

void control_reply(uint64_t id, json_t *msg, struct daemon *d)
{
	struct client *c = clients;

	while (c && c->id != id)
		c = c->next;
	if (!c) {
		json_decref(msg);	/* it left meanwhile */
		return;
	}
	c->waiting = false;
	reply(c, msg);
	serve(c, d);
	if (c->dead && !c->out)
		client_close(c);
}

void control_event(void *ptr, uint32_t events, struct daemon *d)
{
	struct client *c = ptr;

	if (c == &listener) {
		accept_one();
		return;
	}
	if (events & EPOLLOUT)
		flush(c);
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !client_read(c))
		c->dead = true;
	serve(c, d);
	/* a refusal goes out before the connection ends */
	if (c->dead)
		client_close(c);
}
