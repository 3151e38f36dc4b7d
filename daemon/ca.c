/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "cert.h"
#include "file.h"
#include "log.h"
#include "secret.h"

static void ca_path(const char *dir, const char *sandbox, const char *ext,
		    char *out, size_t len)
{
	snprintf(out, len, "%s/%s.%s", dir, sandbox, ext);
}

/* A new file (never through a link, never over one), written whole. */
static int write_new(const char *path, const char *text, mode_t mode)
{
	size_t n = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		      O_CLOEXEC, mode);
	ssize_t w;

	if (fd < 0)
		return -errno;
	w = write(fd, text, n);
	if (w != (ssize_t)n || fsync(fd) < 0) {
		int e = w < 0 ? errno : EIO;

		close(fd);
		unlink(path);
		return -e;
	}
	return close(fd) < 0 ? -errno : 0;
}

int ca_ensure(const char *dir, const char *sandbox, char *err,
	      size_t errlen)
{
	char crt[PATH_MAX], key[PATH_MAX], *cpem, *kpem;
	int rc;

	ca_path(dir, sandbox, "crt", crt, sizeof(crt));
	ca_path(dir, sandbox, "key", key, sizeof(key));
	if (access(crt, F_OK) == 0 && access(key, F_OK) == 0)
		return 0;
	unlink(crt);
	unlink(key);
	if (cert_ca_make(sandbox, &cpem, &kpem, err, errlen) < 0)
		return -EIO;
	if ((rc = write_new(key, kpem, 0600)) == 0 &&
	    (rc = write_new(crt, cpem, 0644)) < 0)
		unlink(key);
	if (rc < 0)
		snprintf(err, errlen, "CA of sandbox %s: %s: %s", sandbox,
			 rc == -EEXIST ? key : dir, strerror(-rc));
	else
		log_info("sandbox %s: CA made (%s)", sandbox, crt);
	free(cpem);
	secret_free(kpem);
	return rc;
}

static char *read_file(const char *path, bool secret, char *err,
		       size_t errlen)
{
	size_t len;
	char *s = file_read(path, CERT_PEM_MAX, &len), *out;

	if (!s) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!secret)
		return s;
	out = secret_strdup(s);
	wipe_free(s, len);
	return out;
}

int ca_read(const char *dir, const char *sandbox, char **cert, char **key,
	    char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (ca_ensure(dir, sandbox, err, errlen) < 0)
		return -EIO;
	ca_path(dir, sandbox, "crt", path, sizeof(path));
	if (!(*cert = read_file(path, false, err, errlen)))
		return -EIO;
	if (!key)
		return 0;
	ca_path(dir, sandbox, "key", path, sizeof(path));
	if (!(*key = read_file(path, true, err, errlen))) {
		free(*cert);
		*cert = NULL;
		return -EIO;
	}
	return 0;
}

void ca_remove(const char *dir, const char *sandbox)
{
	char path[PATH_MAX];

	ca_path(dir, sandbox, "key", path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("%s", path);
	ca_path(dir, sandbox, "crt", path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("%s", path);
}
