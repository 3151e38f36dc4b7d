/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_proc.h"

#define READ_SIZE 65536

static int table_fd = -1, count_fd = -1;

bool ct_proc_open(void)
{
	table_fd = open("/proc/net/nf_conntrack", O_RDONLY | O_CLOEXEC);
	count_fd = open("/proc/sys/net/netfilter/nf_conntrack_count",
			O_RDONLY | O_CLOEXEC);
	if (table_fd < 0 || count_fd < 0) {
		ct_proc_close();
		return false;
	}
	return true;
}

void ct_proc_close(void)
{
	if (table_fd >= 0)
		close(table_fd);
	if (count_fd >= 0)
		close(count_fd);
	table_fd = count_fd = -1;
}

long ct_proc_count(void)
{
	char buf[32];
	ssize_t n;

	if (count_fd < 0 || (n = pread(count_fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

#define LINE_MAX_LEN 1024

/* The value of the first " key=" token after *at, its end in *at. */
static bool field(const char **at, const char *end, const char *key,
		  char *val, size_t size)
{
	size_t klen = strlen(key);

	for (const char *p = *at; p + klen <= end; p++) {
		const char *v, *e;

		if (p[-1] != ' ' || memcmp(p, key, klen))
			continue;
		v = p + klen;
		e = v + strcspn(v, " \n");
		if (e > end || (size_t)(e - v) >= size)
			return false;
		memcpy(val, v, (size_t)(e - v));
		val[e - v] = 0;
		*at = e;
		return true;
	}
	return false;
}

static bool number(const char *s, unsigned long max, unsigned long *out)
{
	char *e;

	errno = 0;
	*out = strtoul(s, &e, 10);
	return *s >= '0' && *s <= '9' && !*e && !errno && *out <= max;
}

/* "ipv4 2 tcp 6 [timeout] [state] src=A dst=B [sport=P dport=Q] ... [src=
 * (the reply tuple)] ... mark=M ..." */
bool ct_proc_line(const char *text, size_t len, struct flow_key *k,
		  uint32_t *mark)
{
	char line[LINE_MAX_LEN], fam[8], num[8], src[48], dst[48], v[16];
	const char *at, *end, *reply;
	unsigned long proto, port, m;
	int af;

	memset(k, 0, sizeof(*k));
	if (!len || len >= sizeof(line) || text[len - 1] != '\n' ||
	    memchr(text, 0, len))
		return false;
	memcpy(line, text, len);
	line[len] = 0;
	at = line;
	end = line + len;
	if (sscanf(line, "%7s %*u %*s %7s", fam, num) != 2 ||
	    !number(num, 255, &proto))
		return false;
	af = !strcmp(fam, "ipv4") ? AF_INET : !strcmp(fam, "ipv6") ?
	     AF_INET6 : 0;
	at = line + 1;
	if (!af || !field(&at, end, "src=", src, sizeof(src)) ||
	    !field(&at, end, "dst=", dst, sizeof(dst)) ||
	    inet_pton(af, src, k->src) != 1 || inet_pton(af, dst, k->dst) != 1)
		return false;
	k->family = (uint8_t)af;
	k->proto = (uint8_t)proto;
	/* the ports, if any, come before the reply tuple's own src= */
	reply = at;
	if (!field(&reply, end, "src=", src, sizeof(src)))
		reply = end;
	if (field(&at, reply, "sport=", v, sizeof(v))) {
		if (!number(v, 65535, &port))
			return false;
		k->sport = (uint16_t)port;
		if (!field(&at, reply, "dport=", v, sizeof(v)) ||
		    !number(v, 65535, &port))
			return false;
		k->dport = (uint16_t)port;
	}
	at = line + 1;
	if (!field(&at, end, "mark=", v, sizeof(v)) ||
	    !number(v, UINT32_MAX, &m))
		return false;
	*mark = (uint32_t)m;
	return true;
}

/* "ipv4 2 tcp 6 117 TIME_WAIT src=...": a TCP entry whose connection
 * ended (TIME_WAIT, CLOSE). */
bool ct_proc_ended(const char *text, size_t len)
{
	char line[128], proto[8], state[16];

	snprintf(line, sizeof(line), "%.*s", (int)(len < 127 ? len : 127),
		 text);
	return sscanf(line, "%*s %*s %7s %*s %*s %15s", proto, state) == 2 &&
	       !strcmp(proto, "tcp") &&
	       (!strcmp(state, "TIME_WAIT") || !strcmp(state, "CLOSE"));
}

static void each_line(const char *buf, size_t len, uint32_t mark,
		      uint32_t mask, ct_entry_fn fn, void *arg)
{
	struct flow_key k;
	uint32_t m;

	if (ct_proc_line(buf, len, &k, &m) && (m & mask) == mark)
		fn(&k, m, ct_proc_ended(buf, len), arg);
}

int ct_proc_each(uint32_t mark, uint32_t mask, ct_entry_fn fn, void *arg)
{
	char *buf = malloc(READ_SIZE);
	size_t have = 0;
	ssize_t n;

	if (table_fd < 0 || !buf || lseek(table_fd, 0, SEEK_SET) < 0) {
		free(buf);
		return -EBADF;
	}
	/* whole lines out of each read, the rest kept for the next */
	while ((n = read(table_fd, buf + have, READ_SIZE - have)) > 0) {
		char *p = buf, *nl, *end = buf + have + n;

		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			each_line(p, (size_t)(nl + 1 - p), mark, mask, fn, arg);
			p = nl + 1;
		}
		have = (size_t)(end - p);
		if (have == READ_SIZE)
			have = 0;	/* no line is that long */
		memmove(buf, p, have);
	}
	free(buf);
	return n < 0 ? -errno : 0;
}
