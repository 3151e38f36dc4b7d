/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CTL_PROTO_H
#define SBXFW_CTL_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Control protocol between sbxfw and sbxfwd over a Unix stream socket:
 * frames of a 4-byte big-endian length and a JSON object. Requests carry
 * "version" and "command"; replies "ok" and either data or "error". */
#define CTL_VERSION 1
#define CTL_FRAME_MAX (16u << 20)

enum ctl_frame { CTL_NEED_MORE, CTL_FRAME, CTL_BAD };

/* Parse one frame from the front of buf; on CTL_FRAME *used says how
 * much it took and *out holds the object. On CTL_BAD err says why. */
enum ctl_frame ctl_frame_parse(const uint8_t *buf, size_t len, size_t *used,
			       json_t **out, char *err, size_t errlen);
/* The frame for an object; the caller frees it. */
char *ctl_frame_build(json_t *msg, size_t *len);
/* Blocking helpers for the command line. */
int ctl_send(int fd, json_t *msg);
json_t *ctl_recv(int fd, char *err, size_t errlen);
json_t *ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
