/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The path of a request as the server will see it, which path-narrowed
 * injection rules match: a rule for /public/ must not be a request for
 * /public/../admin however it is spelled (%2e%2e, ..%2f, ..%5c, ..;). */
#include <stdbool.h>
#include <string.h>

#include "http1.h"
#include "http_path.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* %2e, %2f, %5c and '\' decoded into out (other escapes stay as they
 * are); its length, or -1. */
static int path_decode(const char *t, size_t len, char *out, size_t cap)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++) {
		char c = t[i];

		if (c == '%') {
			int hi = i + 2 < len ? hexval(t[i + 1]) : -1,
			    lo = hi >= 0 ? hexval(t[i + 2]) : -1;

			if (lo < 0 || (hi | lo) == 0)
				return -1;	/* malformed, or %00 */
			c = (char)(hi << 4 | lo);
			if (c != '.' && c != '/' && c != '\\')
				c = '%';
			else
				i += 2;
		}
		if (c == '\0' || w + 1 >= cap)
			return -1;
		out[w++] = c == '\\' ? '/' : c;
	}
	out[w] = 0;
	return (int)w;
}

/* Whether the segment s (n bytes), up to any ';', is `dots'. */
static bool segment_is(const char *s, size_t n, const char *dots)
{
	const char *semi = memchr(s, ';', n);

	if (semi)
		n = (size_t)(semi - s);
	return n == strlen(dots) && !memcmp(s, dots, n);
}

/* RFC 3986 §5.2.4 on an absolute path, in place: each "/segment" is
 * appended to the output, "." dropped, ".." drops the last one; either
 * at the end leaves a trailing slash. */
static size_t remove_dot_segments(char *p, size_t n)
{
	size_t w = 0, i = 0;

	while (i < n) {
		const char *slash = memchr(p + i + 1, '/', n - i - 1);
		size_t j = slash ? (size_t)(slash - p) : n;
		bool up = segment_is(p + i + 1, j - i - 1, ".."),
		     here = segment_is(p + i + 1, j - i - 1, ".");

		if (up) {
			while (w > 0 && p[--w] != '/')
				;
		} else if (!here) {
			memmove(p + w, p + i, j - i);
			w += j - i;
		}
		if (j == n && (up || here))
			p[w++] = '/';
		i = j;
	}
	p[w] = 0;
	return w;
}

/* No empty segment (but a last one), no "." or ".." (up to ';'). */
static bool segments_plain(const char *d, size_t n)
{
	for (size_t i = 0; i < n;) {
		const char *slash = memchr(d + i + 1, '/', n - i - 1);
		size_t j = slash ? (size_t)(slash - d) : n, seg = j - i - 1;

		if ((!seg && j < n) || segment_is(d + i + 1, seg, ".") ||
		    segment_is(d + i + 1, seg, ".."))
			return false;
		i = j;
	}
	return true;
}

int http_path_normalise(const char *target, size_t len, char *out,
			size_t cap)
{
	const char *q = memchr(target, '?', len);
	int n;

	if (q)
		len = (size_t)(q - target);
	if (len == 1 && target[0] == '*' && cap > 1) {
		memcpy(out, "*", 2);
		return 1;
	}
	if (!len || (target[0] != '/' && target[0] != '\\'))
		return -1;
	if ((n = path_decode(target, len, out, cap)) < 0)
		return -1;
	return (int)remove_dot_segments(out, (size_t)n);
}

void http_path_read(const char *target, size_t len, struct http_path *p)
{
	const char *q = memchr(target, '?', len);
	size_t n = q ? (size_t)(q - target) : len;
	int d;

	memcpy(p->raw, target, n);
	p->raw[n] = 0;
	p->ok = p->canonical = false;
	if (n == 1 && target[0] == '*') {
		memcpy(p->norm, "*", 2);
		p->ok = p->canonical = true;
		return;
	}
	if (!n || (target[0] != '/' && target[0] != '\\') ||
	    (d = path_decode(target, n, p->norm, sizeof(p->norm))) < 0)
		return;
	p->ok = true;
	p->canonical = target[0] == '/' && !memchr(target, '#', len) &&
		       segments_plain(p->norm, (size_t)d);
	remove_dot_segments(p->norm, (size_t)d);
}
