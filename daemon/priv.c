/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Least privilege (SPEC §10): root's work first, then the user, with
 * CAP_NET_ADMIN alone (nftables, the queues, conntrack: every netfilter
 * message is checked for it), no way back, no core dumps. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "store.h"
#include "syscall_filter.h"

#define KEEP_CAPS (1ULL << CAP_NET_ADMIN)

/* By absolute path: never whatever PATH finds first. */
static bool run(char *const argv[])
{
	extern char **environ;
	int status;
	pid_t pid;

	return posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0 &&
	       waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

static struct group *group_get(const char *name)
{
	char *argv[] = { "/usr/sbin/groupadd", "--system", (char *)name, NULL };
	struct group *gr = getgrnam(name);

	if (gr || !run(argv))
		return gr;
	log_info("created the system group `%s'", name);
	return getgrnam(name);
}

static struct passwd *user_get(const char *name, const char *group)
{
	char *argv[] = { "/usr/sbin/useradd", "--system", "--gid",
			 (char *)group, "--no-create-home", "--home-dir",
			 "/nonexistent", "--shell", "/usr/sbin/nologin",
			 "--comment", "sbxfw daemon", (char *)name, NULL };
	struct passwd *pw = getpwnam(name);

	if (pw || !run(argv))
		return pw;
	log_info("created the system user `%s'", name);
	return getpwnam(name);
}

int priv_prepare(const char *user, const char *group, struct priv *p,
		 char *err, size_t errlen)
{
	struct group *gr;
	struct passwd *pw;

	memset(p, 0, sizeof(*p));
	p->root = geteuid() == 0;
	if (!p->root) {
		/* already dropped by whoever started us */
		p->uid = getuid();
		p->gid = getgid();
		pw = getpwuid(p->uid);
		gr = getgrgid(p->gid);
		snprintf(p->user, sizeof(p->user), "%s",
			 pw ? pw->pw_name : "?");
		snprintf(p->group, sizeof(p->group), "%s",
			 gr ? gr->gr_name : "?");
		if (strcmp(p->user, user))
			log_warnx("started as user `%s', not `%s' ([daemon] "
				  "user): staying `%s'", p->user, user,
				  p->user);
		return 0;
	}
	if (!(gr = group_get(group))) {
		snprintf(err, errlen, "[daemon] group `%s' does not exist and "
			 "could not be created", group);
		return -ENOENT;
	}
	p->gid = gr->gr_gid;
	if (!(pw = user_get(user, group))) {
		snprintf(err, errlen, "[daemon] user `%s' does not exist and "
			 "could not be created", user);
		return -ENOENT;
	}
	p->uid = pw->pw_uid;
	snprintf(p->user, sizeof(p->user), "%s", user);
	snprintf(p->group, sizeof(p->group), "%s", group);
	return 0;
}

static void dir_of(const char *path, char *dir, size_t len)
{
	char *slash;

	snprintf(dir, len, "%s", path);
	if (!(slash = strrchr(dir, '/')))
		snprintf(dir, len, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

/* By the mode bits: the user keeps no CAP_DAC_OVERRIDE, even uid 0 */
static bool writable_by(const struct stat *st, uid_t uid, gid_t gid)
{
	if (st->st_uid == uid)
		return st->st_mode & S_IWUSR;
	if (st->st_gid == gid)
		return st->st_mode & S_IWGRP;
	return st->st_mode & S_IWOTH;
}

/* 1: made here (the user's), 0: it was there; -errno */
static int dir_make(const struct priv *p, const char *dir, mode_t mode)
{
	if (mkdir(dir, mode) == 0)
		return p->root && chown(dir, p->uid, p->gid) < 0 ? -errno : 1;
	return errno == EEXIST ? 0 : -errno;
}

int priv_socket_dir(const struct priv *p, const char *socket, char *err,
		    size_t errlen)
{
	char dir[PATH_MAX];
	int rc;

	dir_of(socket, dir, sizeof(dir));
	if ((rc = dir_make(p, dir, 0755)) < 0)
		snprintf(err, errlen, "control socket %s: %s", socket,
			 strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* A directory of the user's: made when missing, else writable by it. */
static int user_dir(const struct priv *p, const char *dir, mode_t mode,
		    const char *what, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if ((rc = dir_make(p, dir, mode)) > 0)
		return 0;
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	if (stat(dir, &st) < 0)
		goto fail;
	/* ours: the group follows the ini, for `sbxfw log' */
	if (p->root && st.st_uid == p->uid && st.st_gid != p->gid &&
	    chown(dir, (uid_t)-1, p->gid) < 0)
		goto fail;
	if (!writable_by(&st, p->uid, p->gid)) {
		snprintf(err, errlen, "%s: not writable by user `%s' (%s "
			 "must be: chown %s:%s %s)", dir, p->user, what,
			 p->user, p->group, dir);
		return -EACCES;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", dir, strerror(errno));
	return -errno;
}

int priv_state_dir(const struct priv *p, const char *database, char *err,
		   size_t errlen)
{
	char dir[PATH_MAX];

	dir_of(database, dir, sizeof(dir));
	return user_dir(p, dir, 0750, "the database's directory", err,
			errlen);
}

int priv_ca_dir(const struct priv *p, const char *dir, char *err,
		size_t errlen)
{
	return user_dir(p, dir, 0700, "the CA directory", err, errlen);
}

/* One file of ours: opened without following links, so that the user
 * cannot aim root's chown at another file. */
static int own(const struct priv *p, const char *path, mode_t mode,
	       char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
			    O_CLOEXEC);
	struct stat st;
	int ret = 0;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, errno == ELOOP ?
			 "a symbolic link: refusing it" : strerror(errno));
		ret = -EPERM;
	} else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, errlen, "%s: not a plain file of its own (a "
			 "hard link or a special file): refusing it", path);
		ret = -EPERM;
	} else if ((p->root && (st.st_uid != p->uid || st.st_gid != p->gid) &&
		    fchown(fd, p->uid, p->gid) < 0) ||
		   ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int priv_state_files(const struct priv *p, const char *database, char *err,
		     size_t errlen)
{
	/* the audit is for the group's eyes (sbxfw log); the secrets and
	 * the names of open flows for the daemon's only */
	static const struct {
		const char *suffix;
		mode_t mode;
	} files[] = {
		{ "", 0640 }, { "-wal", 0640 }, { "-shm", 0640 },
		{ "-conns", 0600 },
	};
	char path[PATH_MAX + 32], secrets[PATH_MAX + 16];
	int rc;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", database,
			 files[i].suffix);
		if ((rc = own(p, path, files[i].mode, err, errlen)) < 0)
			return rc;
	}
	store_secrets_path(database, secrets, sizeof(secrets));
	if ((rc = own(p, secrets, 0600, err, errlen)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s-journal", secrets);
	return own(p, path, 0600, err, errlen);
}

static int caps_set(uint64_t keep)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = {
		{ .effective = (uint32_t)keep, .permitted = (uint32_t)keep },
		{ .effective = (uint32_t)(keep >> 32),
		  .permitted = (uint32_t)(keep >> 32) },
	};

	return (int)syscall(SYS_capset, &h, d);
}

static bool caps_have(uint64_t want)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return (((uint64_t)d[1].permitted << 32 | d[0].permitted) & want) ==
	       want;
}

/* Root only (CAP_SETPCAP); a unit's CapabilityBoundingSet does it else. */
static int bounding_drop(void)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (!(KEEP_CAPS & (1ULL << cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	return 0;
}

static int ids_switch(const struct priv *p)
{
	if (bounding_drop() < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(p->gid, p->gid, p->gid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int priv_drop(const struct priv *p, char *err, size_t errlen)
{
	const struct rlimit none = { 0, 0 };
	const char *step;
	int n;

	step = "switching to the user";
	if (p->root && ids_switch(p) < 0)
		goto fail;
	step = "keeping CAP_NET_ADMIN (run as root, or give it to the unit: "
	       "AmbientCapabilities=CAP_NET_ADMIN)";
	if (!caps_have(KEEP_CAPS)) {
		errno = EPERM;
		goto fail;
	}
	if (caps_set(KEEP_CAPS) < 0)
		goto fail;
	step = "dropping the rest";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    setrlimit(RLIMIT_CORE, &none) < 0)
		goto fail;
	/* no way back */
	if (p->uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "privileges: uid 0 could be regained");
		return -EPERM;
	}
	umask(027);
	if ((n = syscall_filter_install(err, errlen)) < 0)
		return n;
	log_info("privileges: user %s (uid %u), group %s (gid %u), keeping "
		 "CAP_NET_ADMIN; %d system calls allowed", p->user,
		 (unsigned)p->uid, p->group, (unsigned)p->gid, n);
	return 0;
fail:
	snprintf(err, errlen, "privileges: %s: %s", step, strerror(errno));
	return -errno;
}
