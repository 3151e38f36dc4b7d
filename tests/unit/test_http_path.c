/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdbool.h>
#include <string.h>

#include "http_path.h"
#include "test.h"

static bool norm_is(const char *target, const char *want)
{
	char out[256];
	int n = http_path_normalise(target, strlen(target), out, sizeof(out));

	if (!want)
		return n < 0;
	return n >= 0 && (size_t)n == strlen(want) && !strcmp(out, want);
}

TEST(test_path_normalised_as_the_server_sees_it)
{
	CHECK(norm_is("/public/x", "/public/x"));
	CHECK(norm_is("/public/../admin", "/admin"));
	CHECK(norm_is("/public/%2e%2e/admin", "/admin"));
	CHECK(norm_is("/public/%2E%2E/admin", "/admin"));
	CHECK(norm_is("/public/.%2e/admin", "/admin"));
	CHECK(norm_is("/public/..%2fadmin", "/admin"));
	CHECK(norm_is("/public/..%2Fadmin", "/admin"));
	CHECK(norm_is("/public/..%5cadmin", "/admin"));
	CHECK(norm_is("/public/..\\admin", "/admin"));
	CHECK(norm_is("/public/..;/admin", "/admin"));
	CHECK(norm_is("/public/..;jsessionid=1/admin", "/admin"));
	CHECK(norm_is("/public/.;x/a", "/public/a"));
	CHECK(norm_is("/public/./a", "/public/a"));
	CHECK(norm_is("/a/b/.", "/a/b/"));
	CHECK(norm_is("/a/b/..", "/a/"));
	CHECK(norm_is("/..", "/"));
	CHECK(norm_is("/../../a", "/a"));
	CHECK(norm_is("/a//../b", "/a/b"));
	CHECK(norm_is("/a/./b?q=/../x", "/a/b"));
	CHECK(norm_is("/a..b/...", "/a..b/..."));
	CHECK(norm_is("/a;x/b", "/a;x/b"));
	/* other escapes stay as they are: %2F in an id is a slash here only */
	CHECK(norm_is("/%41%3f", "/%41%3f"));
	CHECK(norm_is("/p/a%2Fb", "/p/a/b"));
	CHECK(norm_is("*", "*"));
}

TEST(test_path_that_cannot_be_normalised_is_refused)
{
	char small[4];

	CHECK(norm_is("/a%2", NULL));
	CHECK(norm_is("/a%", NULL));
	CHECK(norm_is("/a%zz", NULL));
	CHECK(norm_is("/a%g0", NULL));
	CHECK(norm_is("/a%00b", NULL));
	CHECK(norm_is("a/b", NULL));
	CHECK(norm_is("", NULL));
	CHECK(norm_is("%2fadmin", NULL));
	CHECK(http_path_normalise("/abcd", 5, small, sizeof(small)) < 0);
	CHECK(http_path_normalise("/abc", 4, small, sizeof(small)) == -1);
	CHECK(http_path_normalise("/ab", 3, small, sizeof(small)) == 3);
}

static bool canonical(const char *target)
{
	static struct http_path p;

	http_path_read(target, strlen(target), &p);
	return p.ok && p.canonical;
}

TEST(test_path_read_once_canonical_or_not)
{
	static struct http_path p;

	CHECK(canonical("/public/x?a=/../b"));
	CHECK(canonical("/public/group%2Fproject"));
	CHECK(canonical("*"));
	CHECK(!canonical("/public//../admin/x"));
	CHECK(!canonical("/public/./x"));
	CHECK(!canonical("/admin/..;/public/x"));
	CHECK(!canonical("/public/..%2fadmin"));
	CHECK(!canonical("/admin#/../public/x"));
	CHECK(!canonical("\\public\\x"));
	http_path_read("/a%2Fb/./c?q", 12, &p);
	CHECK(p.ok && !p.canonical && !strcmp(p.raw, "/a%2Fb/./c") &&
	      !strcmp(p.norm, "/a/b/c"));
	http_path_read("/a%zz", 5, &p);
	CHECK(!p.ok && !p.canonical);
}
