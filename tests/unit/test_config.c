/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "test.h"

static int parse(const char *text, struct sbxfw_config *c, char *err)
{
	return cfg_parse_string(text, "t.ini", c, err, 256);
}

TEST(test_config_defaults)
{
	struct sbxfw_config c;
	char err[256];

	CHECK(parse("", &c, err) == 0);
	CHECK(!strcmp(c.socket, "/run/sbxfw/sbxfw.sock"));
	CHECK(!strcmp(c.database, "/var/lib/sbxfw/sbxfw.db"));
	CHECK(c.queue == 0 && c.queues == 1 && !c.fail_open);
	CHECK(c.mode == MODE_DENY_ALL && c.deny_action == DENY_REJECT);
	CHECK(c.ip_binding == BINDING_STRICT && c.ech == ECH_OUTER);
	CHECK(c.log_allowed && c.retention_days == 30 && c.leaf_days == 7);
	CHECK(c.max_size == 1ULL << 30);
	CHECK(c.nupstream == 0);
}

TEST(test_config_every_key_is_read)
{
	const char *ini =
		"; comment\n"
		"[daemon]\nsocket = /tmp/s.sock\ndatabase = /tmp/x.db\n"
		"queue = 100\nqueues = 2\nuser = nobody\ngroup = nogroup\n"
		"fail_open = yes\nmark_mask = 0x00ff0000\n"
		"[defaults]\nmode = user-defined\ndeny_action = drop\n"
		"[dns]\nupstream = 198.18.0.53, [2001:db8::53]:5353\n"
		"upstream = 2001:db8::54\nip_binding = off\n"
		"[tls]\nca_dir = /tmp/ca\nleaf_days = 3\n"
		"upstream_ca = /tmp/ca.pem\nech = deny\n"
		"[audit]\nlog_allowed = false\nretention_days = 0\n"
		"max_size = 512M\n";
	struct sbxfw_config c;
	char err[256];

	CHECK(parse(ini, &c, err) == 0);
	CHECK(!strcmp(c.socket, "/tmp/s.sock") && c.queue == 100);
	CHECK(c.queues == 2 && c.fail_open && c.mark_mask == 0x00ff0000);
	CHECK(!strcmp(c.user, "nobody") && !strcmp(c.group, "nogroup"));
	CHECK(c.mode == MODE_USER_DEFINED && c.deny_action == DENY_DROP);
	CHECK(c.nupstream == 3 && c.upstream[0].port == 53);
	CHECK(c.upstream[1].family == AF_INET6 && c.upstream[1].port == 5353);
	CHECK(c.upstream[2].family == AF_INET6 && c.upstream[2].port == 53);
	CHECK(c.ip_binding == BINDING_OFF && c.ech == ECH_DENY);
	CHECK(c.leaf_days == 3 && !c.log_allowed && c.retention_days == 0);
	CHECK(c.max_size == 512ULL << 20);
}

TEST(test_config_max_size_takes_a_size_with_its_unit)
{
	static const struct {
		const char *v;
		uint64_t bytes;
	} good[] = {
		{ "0", 0 },
		{ "1M", 1 << 20 },
		{ "512M", 512ULL << 20 },
		{ "2G", 2ULL << 30 },
		{ "2g", 2ULL << 30 },
		{ "1048576", 1 << 20 },
		{ "4096K", 4 << 20 },
		{ "3T", 3ULL << 40 },
	};
	struct sbxfw_config c;
	char ini[64], err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(ini, sizeof(ini), "[audit]\nmax_size = %s\n", good[i].v);
		CHECK(parse(ini, &c, err) == 0);
		CHECK(c.max_size == good[i].bytes);
	}
}

TEST(test_config_bad_max_size_names_file_key_and_value)
{
	static const char *const bad[][2] = {
		{ "1.5G", "t.ini:2: max_size = 1.5G: not a size" },
		{ "2GB", "t.ini:2: max_size = 2GB: not a size" },
		{ "G", "t.ini:2: max_size = G: not a size" },
		{ "-1G", "t.ini:2: max_size = -1G: not a size" },
		{ "1 G", "t.ini:2: max_size = 1 G: not a size" },
		{ "1P", "t.ini:2: max_size = 1P: not a size" },
		{ "512K", "t.ini:2: max_size = 512K: below 1M (0: no bound)" },
		{ "100", "t.ini:2: max_size = 100: below 1M" },
		{ "17T", "t.ini:2: max_size = 17T: out of range" },
		{ "99999999999999999999", "max_size = 99999999999999999999: "
					  "not a size" },
	};
	struct sbxfw_config c;
	char ini[64], err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(ini, sizeof(ini), "[audit]\nmax_size = %s\n", bad[i][0]);
		CHECK(parse(ini, &c, err) < 0);
		CHECK(strstr(err, bad[i][1]) != NULL);
		CHECK(!strchr(err, '\n'));	/* one line */
	}
}

TEST(test_config_errors_name_file_and_line)
{
	struct {
		const char *ini, *msg;
	} bad[] = {
		{ "[daemon]\nqueue = 70000\n", "t.ini:2: queue = 70000" },
		{ "[daemon]\n\nbogus = 1\n", "t.ini:3: unknown key `bogus'" },
		{ "[nope]\n", "t.ini:1: unknown section [nope]" },
		{ "[daemon]\n[nope]\nx = 1\n", "t.ini:2: unknown section" },
		{ "mode = x\n", "t.ini:1: key `mode' outside" },
		{ "[defaults]\nmode = open\n", "t.ini:2: mode = open" },
		{ "[daemon]\nfail_open = maybe\n", "not a boolean" },
		{ "[daemon]\nmark_mask = 0x00f0f000\n", "not contiguous" },
		{ "[daemon]\nsocket = relative\n", "not an absolute path" },
		{ "[dns]\nupstream = resolver.example\n", "address[:port]" },
		{ "[daemon]\nqueue = 1\nqueue = 2\n", "t.ini:3: queue set twice" },
		{ "[daemon]\nqueue = 65535\nqueues = 2\n", "exceeds 65535" },
		{ "[daemon]\nflow_rate = 0\n", "t.ini:2: flow_rate = 0" },
		{ "[daemon\n", "t.ini:1:" },
	};
	struct sbxfw_config c;
	char err[256];
	size_t i;

	cfg_defaults(&c);
	c.queue = 7;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(parse(bad[i].ini, &c, err) < 0);
		CHECK(strstr(err, bad[i].msg) != NULL);
		CHECK(c.queue == 7);	/* nothing changed */
	}
}

TEST(test_config_missing_default_file_means_defaults)
{
	struct sbxfw_config c;
	char err[256];

	CHECK(cfg_load("/nonexistent/sbxfw.ini", &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/sbxfw.ini") != NULL);
}

TEST(test_shipped_ini_parses_to_the_defaults)
{
	struct sbxfw_config c, d;
	char err[256];

	CHECK(cfg_load("etc/sbxfw.ini", &c, err, sizeof(err)) == 0);
	cfg_defaults(&d);
	CHECK(!memcmp(&c, &d, sizeof(c)));
}

TEST(test_upstream_from_resolv_conf)
{
	char path[] = "/tmp/sbxfw-resolv-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct sbxfw_config c;

	fputs("search example\nnameserver 198.18.0.53\n"
	      "nameserver 2001:db8::53\noptions edns0\n", f);
	fclose(f);
	cfg_defaults(&c);
	CHECK(cfg_upstream_from_resolv(&c, path) == 0);
	remove(path);
	CHECK(c.nupstream == 2 && c.upstream[1].family == AF_INET6);
}

TEST(test_config_metrics_listen_and_policies)
{
	static const char *const good[] = {
		"127.0.0.1:9469", "[::1]:9469", "[2001:db8::1]:80",
		"/run/sbxfw/metrics.sock",
	};
	static const char *const bad[] = {
		"198.18.0.1", "::1:9469", "[::1]", "1.2.3.4:+80", "1.2.3.4: 80",
		"1.2.3.4:0", "1.2.3.4:65536", "name:9469", "[::1]:", "relative",
	};
	struct sbxfw_config c;
	char ini[256], err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		snprintf(ini, sizeof(ini), "[metrics]\nlisten = %s\n", good[i]);
		CHECK(parse(ini, &c, err) == 0);
		CHECK(!strcmp(c.metrics_listen, good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(ini, sizeof(ini), "[metrics]\nlisten = %s\n", bad[i]);
		CHECK(parse(ini, &c, err) < 0);
		CHECK(strstr(err, "t.ini:2:") != NULL);
	}
	CHECK(parse("[metrics]\nper_sandbox = yes\n[audit]\njournal = on\n"
		    "[policies]\ndir = /srv/p\n", &c, err) == 0);
	CHECK(c.metrics_per_sandbox && c.journal &&
	      !strcmp(c.policies_dir, "/srv/p"));
	CHECK(parse("", &c, err) == 0);
	CHECK(!*c.metrics_listen && !c.journal &&
	      !strcmp(c.policies_dir, "/etc/sbxfw/policies.d"));
}
