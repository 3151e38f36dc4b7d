/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Root's chown of the state never follows what the user could plant, and
 * secret values sit in pages left out of core dumps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "priv.h"
#include "secret.h"
#include "test.h"

/* not root: modes only, so that the test runs as anyone */
static const struct priv me = { .root = false, .user = "me", .group = "me" };

static void state(char *dir, char *db)
{
	snprintf(dir, 64, "/tmp/sbxfw-priv-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(db, 96, "%s/sbxfw.db", dir);
}

static void clean(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		abort();
}

TEST(test_state_files_get_their_modes)
{
	char dir[64], db[96], p[128], err[256];
	struct stat st;
	FILE *f;

	state(dir, db);
	f = fopen(db, "w");
	fclose(f);
	chmod(db, 0666);
	CHECK(priv_state_files(&me, db, err, sizeof(err)) == 0);
	CHECK(stat(db, &st) == 0 && (st.st_mode & 07777) == 0640);
	snprintf(p, sizeof(p), "%s/sbxfw-secrets.db", dir);
	f = fopen(p, "w");
	fclose(f);
	chmod(p, 0644);
	CHECK(priv_state_files(&me, db, err, sizeof(err)) == 0);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
	clean(dir);
}

TEST(test_state_files_refuse_a_symbolic_link)
{
	char dir[64], db[96], p[128], err[256];
	struct stat st;

	state(dir, db);
	snprintf(p, sizeof(p), "%s-conns", db);
	CHECK(symlink("/etc/passwd", p) == 0);
	CHECK(priv_state_files(&me, db, err, sizeof(err)) == -EPERM);
	CHECK(strstr(err, "sbxfw.db-conns: a symbolic link"));
	CHECK(stat("/etc/passwd", &st) == 0 && (st.st_mode & 07777) == 0644);
	clean(dir);
}

TEST(test_state_files_refuse_a_hard_link)
{
	char dir[64], db[96], p[128], err[256];
	FILE *f;

	state(dir, db);
	snprintf(p, sizeof(p), "%s/other", dir);
	f = fopen(p, "w");
	fclose(f);
	CHECK(link(p, db) == 0);
	CHECK(priv_state_files(&me, db, err, sizeof(err)) == -EPERM);
	CHECK(strstr(err, "hard link"));
	clean(dir);
}

TEST(test_state_dir_made_when_missing_and_must_be_writable)
{
	char dir[64], db[128], err[256];
	struct stat st;

	state(dir, db);
	snprintf(db, sizeof(db), "%s/sub/sbxfw.db", dir);
	CHECK(priv_state_dir(&me, db, err, sizeof(err)) == 0);
	snprintf(db, sizeof(db), "%s/sub", dir);
	CHECK(stat(db, &st) == 0 && S_ISDIR(st.st_mode) &&
	      (st.st_mode & 07777) == 0750);
	chmod(db, 0550);
	snprintf(db, sizeof(db), "%s/sub/sbxfw.db", dir);
	/* root writes anyway; the check is on the mode bits */
	CHECK(priv_state_dir(&me, db, err, sizeof(err)) == -EACCES);
	CHECK(strstr(err, "not writable by user `me'"));
	clean(dir);
}

/* Whether the mapping that holds p is marked "dd" (MADV_DONTDUMP). */
static bool dontdump(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi, a = (unsigned long)p;
	bool in = false, dd = false;
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8))
			dd = strstr(line, " dd") != NULL;
	}
	if (f)
		fclose(f);
	return dd;
}

TEST(test_secret_values_are_left_out_of_core_dumps)
{
	char *s = secret_strdup("Bearer hunter2");

	CHECK(!strcmp(s, "Bearer hunter2"));
	CHECK(dontdump(s));
	secret_free(s);
	secret_free(NULL);
}
