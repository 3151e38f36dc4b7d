/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_proto.h"
#include "xalloc.h"

enum ctl_frame ctl_frame_parse(const uint8_t *buf, size_t len, size_t *used,
			       json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	uint32_t n;

	if (len < 4)
		return CTL_NEED_MORE;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	if (n == 0 || n > CTL_FRAME_MAX) {
		snprintf(err, errlen, "message of %u bytes (limit %u)", n,
			 CTL_FRAME_MAX);
		return CTL_BAD;
	}
	if (len - 4 < n)
		return CTL_NEED_MORE;
	*out = json_loadb((const char *)buf + 4, n, JSON_REJECT_DUPLICATES,
			  &je);
	if (!*out || !json_is_object(*out)) {
		snprintf(err, errlen, "malformed message: %s",
			 *out ? "not a JSON object" : je.text);
		json_decref(*out);
		*out = NULL;
		return CTL_BAD;
	}
	*used = 4 + n;
	return CTL_FRAME;
}

char *ctl_frame_build(json_t *msg, size_t *len)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t n = strlen(text);
	char *frame = xmalloc(n + 4);

	frame[0] = (char)(n >> 24);
	frame[1] = (char)(n >> 16);
	frame[2] = (char)(n >> 8);
	frame[3] = (char)n;
	memcpy(frame + 4, text, n);
	free(text);
	*len = n + 4;
	return frame;
}

int ctl_send(int fd, json_t *msg)
{
	size_t len, off = 0;
	char *frame = ctl_frame_build(msg, &len);
	int ret = 0;

	while (off < len) {
		ssize_t n = write(fd, frame + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(frame);
	return ret;
}

json_t *ctl_recv(int fd, char *err, size_t errlen)
{
	size_t len = 0, cap = 65536, used;
	uint8_t *buf = xmalloc(cap);
	json_t *out = NULL;

	for (;;) {
		ssize_t n;

		switch (ctl_frame_parse(buf, len, &used, &out, err, errlen)) {
		case CTL_FRAME:
			goto done;
		case CTL_BAD:
			goto done;
		case CTL_NEED_MORE:
			break;
		}
		if (len == cap) {
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s", n ? strerror(errno) :
				 "the daemon closed the connection");
			goto done;
		}
		len += (size_t)n;
	}
done:
	free(buf);
	return out;
}

json_t *ctl_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}
