/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs every registered test, or those named on the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "test.h"

static struct test *tests, **tail = &tests;
static const char *failed_at;
static char failure[512];

void test_register(struct test *t)
{
	*tail = t;
	tail = &t->next;
}

void test_fail(const char *file, int line, const char *what)
{
	snprintf(failure, sizeof(failure), "%s:%d: %s", file, line, what);
	failed_at = failure;
}

const char *test_data_dir(void)
{
	const char *d = getenv("SBXFW_TEST_DATA");

	return d ? d : "tests/data";
}

static uint32_t rng_state = 2463534242u;

uint32_t test_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static bool wanted(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	struct test *t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init("unit", LOG_LVL_ERR);
	for (t = tests; t; t = t->next) {
		if (!wanted(t->name, argc, argv))
			continue;
		failed_at = NULL;
		t->fn();
		if (failed_at) {
			printf("FAIL %s: %s\n", t->name, failed_at);
			failed++;
		} else {
			printf("ok   %s\n", t->name);
			passed++;
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
