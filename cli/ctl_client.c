/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Talking to sbxfwd: find its socket, send one request, read the reply. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "ctl_proto.h"
#include "wire.h"

int cli_config(struct sbxfw_config *c)
{
	char err[512];

	cfg_defaults(c);
	if (cfg_load(cli_opts.config ? cli_opts.config : CFG_DEFAULT_PATH, c,
		     err, sizeof(err)) < 0) {
		fprintf(stderr, "sbxfw: %s\n", err);
		return -1;
	}
	return 0;
}

/* -s, else the ini's (-c, or the default file when it exists). */
static int socket_path(char *out, size_t outlen)
{
	struct sbxfw_config c;

	if (cli_opts.socket) {
		snprintf(out, outlen, "%s", cli_opts.socket);
		return 0;
	}
	if (cli_config(&c) < 0)
		return -1;
	snprintf(out, outlen, "%s", c.socket);
	return 0;
}

json_t *ctl_request(json_t *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *reply = NULL;
	char err[512];
	int fd = -1;

	json_object_set_new(req, "version", json_integer(CTL_VERSION));
	if (socket_path(sa.sun_path, sizeof(sa.sun_path)) < 0)
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "sbxfw: cannot reach sbxfwd at %s: %s%s\n",
			sa.sun_path, strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ?
			" (is the daemon running?)" : "");
		goto out;
	}
	if (ctl_send(fd, req) < 0) {
		fprintf(stderr, "sbxfw: %s: %s\n", sa.sun_path,
			strerror(errno));
		goto out;
	}
	if (!(reply = ctl_recv(fd, err, sizeof(err)))) {
		fprintf(stderr, "sbxfw: %s\n", err);
		goto out;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply,
								  "error"));

		fprintf(stderr, "sbxfw: %s\n", e ? e : "request failed");
		json_decref(reply);
		reply = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	json_decref(req);
	return reply;
}

int print_json(json_t *o)
{
	char *s = wire_json_line(o);

	if (!s) {
		fprintf(stderr, "sbxfw: output not representable as JSON\n");
		return -1;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}
