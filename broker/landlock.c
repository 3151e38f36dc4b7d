/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Landlock: the broker reads /dev/urandom (wolfSSL's seed, this build
 * has no getrandom()) and nothing else of the file system, and connects
 * over TCP only to port 443 (the redirected flows' port). Defined here
 * from the kernel's ABI: Debian 12's headers stop before network rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker.h"

#define LL_CREATE_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port {
	uint64_t allowed_access;
	uint64_t port;
};

/* Every file system right this ABI knows. */
static uint64_t fs_rights(int abi)
{
	int bits = abi >= 5 ? 16 : abi >= 3 ? 15 : abi >= 2 ? 14 : 13;

	return (1ULL << bits) - 1;
}

static int allow_path(int rs, const char *path, uint64_t access)
{
	struct ll_path_beneath pb = { .allowed_access = access };
	int rc;

	if ((pb.parent_fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return -errno;
	rc = (int)syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb,
			  0);
	close(pb.parent_fd);
	return rc < 0 ? -errno : 0;
}

int broker_landlock(char *err, size_t errlen)
{
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
			       LL_CREATE_VERSION);
	struct ll_ruleset_attr attr;
	struct ll_net_port np = { LL_NET_CONNECT_TCP, 443 };
	int rs, rc = 0;

	if (abi < 1) {
		snprintf(err, errlen, "landlock: not available (%s)",
			 strerror(errno));
		return 0;	/* seccomp still holds; said in the log */
	}
	attr.handled_access_fs = fs_rights(abi);
	attr.handled_access_net = abi >= 4 ? LL_NET_BIND_TCP |
					     LL_NET_CONNECT_TCP : 0;
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr,
			  abi >= 4 ? sizeof(attr) : sizeof(uint64_t), 0);
	if (rs < 0) {
		snprintf(err, errlen, "landlock: %s", strerror(errno));
		return -1;
	}
	rc = allow_path(rs, "/dev/urandom", LL_FS_READ_FILE);
#if defined(__SANITIZE_ADDRESS__)
	if (rc == 0)	/* LeakSanitizer reads the process's maps */
		rc = allow_path(rs, "/proc", LL_FS_READ_FILE | LL_FS_READ_DIR);
#endif
	if (rc == 0 && abi >= 4 &&
	    syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &np, 0) < 0)
		rc = -errno;
	if (rc == 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		rc = -errno;
	close(rs);
	if (rc < 0) {
		snprintf(err, errlen, "landlock: %s", strerror(-rc));
		return -1;
	}
	return abi;
}
