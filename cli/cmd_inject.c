/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Credentials brokering (SPEC §6):
 *   inject NAME DOMAIN (--header 'Name: value'... | --header-file FILE)
 *          [--match-method M] [--match-path P | --match-path-prefix P |
 *           --match-path-regex RE] [--match-header 'Name: value']...
 *   inject NAME DOMAIN --remove [matches]
 *   ca NAME [--bundle]      env NAME [--path FILE] */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "file.h"
#include "secret.h"

#define HEADER_FILE_MAX (1u << 20)
#define SYSTEM_STORE "/etc/ssl/certs/ca-certificates.crt"
#define BUNDLE_PATH "/etc/ssl/certs/sbxfw-ca-bundle.pem"

/* "Name: value" into obj; -1 after an error line naming it. */
static int header_put(json_t *obj, const char *opt, const char *text)
{
	const char *colon = strchr(text, ':'), *v;
	char name[256];
	size_t n;

	if (!colon || colon == text || (size_t)(colon - text) >= sizeof(name))
		goto bad;
	n = (size_t)(colon - text);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)text[i]) &&
		    !strchr("!#$%&'*+-.^_`|~", text[i]))
			goto bad;
	memcpy(name, text, n);
	name[n] = 0;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (strpbrk(v, "\r\n"))
		goto bad;
	json_object_set_new(obj, name, json_string(v));
	return 0;
bad:
	/* never the value: it may be the secret */
	fprintf(stderr, "sbxfw: %s: expected `Name: value' with a header "
		"name of letters, digits and !#$%%&'*+-.^_`|~\n", opt);
	return -1;
}

/* One header a line; empty lines and lines starting with # skipped. */
static int header_file(json_t *obj, const char *path)
{
	size_t len;
	char *text = file_read(path, HEADER_FILE_MAX, &len), *line, *save;
	int rc = 0;

	if (!text) {
		fprintf(stderr, "sbxfw: %s: %m\n", path);
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		if (n && line[n - 1] == '\r')
			line[--n] = 0;
		if (n && line[0] != '#')
			rc = header_put(obj, path, line);
	}
	wipe_free(text, len);
	return rc;
}

static int match_path(json_t *m, const char *key, const char *v)
{
	if (json_object_get(m, "path") || json_object_get(m, "path_prefix") ||
	    json_object_get(m, "path_regex")) {
		fprintf(stderr, "sbxfw: inject: one --match-path* at most\n");
		return -1;
	}
	json_object_set_new(m, key, json_string(v));
	return 0;
}

int inject_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "header", required_argument, NULL, 'H' },
		{ "header-file", required_argument, NULL, 'F' },
		{ "remove", no_argument, NULL, 'r' },
		{ "match-method", required_argument, NULL, 'm' },
		{ "match-path", required_argument, NULL, 'p' },
		{ "match-path-prefix", required_argument, NULL, 'P' },
		{ "match-path-regex", required_argument, NULL, 'R' },
		{ "match-header", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *headers = json_object(), *match = json_object();
	json_t *mh = json_object(), *req, *reply;
	bool remove = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;

		switch (c) {
		case 'H':
			r = header_put(headers, "--header", optarg);
			break;
		case 'F':
			r = header_file(headers, optarg);
			break;
		case 'r':
			remove = true;
			break;
		case 'm':
			json_object_set_new(match, "method",
					    json_string(optarg));
			break;
		case 'p':
			r = match_path(match, "path", optarg);
			break;
		case 'P':
			r = match_path(match, "path_prefix", optarg);
			break;
		case 'R':
			r = match_path(match, "path_regex", optarg);
			break;
		case 'h':
			r = header_put(mh, "--match-header", optarg);
			break;
		default:
			rc = cli_usage_error("inject");
			goto out;
		}
		if (r < 0)
			goto out;
	}
	if (argc - optind != 2 || remove == (json_object_size(headers) > 0)) {
		rc = cli_usage_error("inject");
		goto out;
	}
	if (json_object_size(mh))
		json_object_set(match, "headers", mh);
	req = json_pack("{s:s, s:s, s:s, s:b}", "command", "inject", "name",
			argv[optind], "domain", argv[optind + 1], "remove",
			remove);
	if (!remove)
		json_object_set(req, "headers", headers);
	if (json_object_size(match))
		json_object_set(req, "match", match);
	if (!(reply = ctl_request(req)))
		goto out;
	if (cli_opts.json)
		print_json(reply);
	else
		printf("%s: %s\n", argv[optind],
		       json_string_value(json_object_get(reply, "change")));
	json_decref(reply);
	rc = 0;
out:
	json_decref(headers);
	json_decref(match);
	json_decref(mh);
	return rc;
}

static char *ca_get(const char *name)
{
	json_t *reply = ctl_request(json_pack("{s:s, s:s}", "command", "ca",
					      "name", name));
	char *pem;

	if (!reply)
		return NULL;
	pem = strdup(json_string_value(json_object_get(reply,
						       "certificate")) ?: "");
	json_decref(reply);
	return pem;
}

int ca_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	bool bundle = false;
	char *pem, *store = NULL;
	size_t len;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'b')
			return cli_usage_error("ca");
		bundle = true;
	}
	if (argc - optind != 1)
		return cli_usage_error("ca");
	if (bundle && !(store = file_read(SYSTEM_STORE, 16u << 20, &len))) {
		fprintf(stderr, "sbxfw: %s: %m\n", SYSTEM_STORE);
		return 1;
	}
	if (!(pem = ca_get(argv[optind]))) {
		free(store);
		return 1;
	}
	if (cli_opts.json) {
		json_t *o = json_pack("{s:s, s:s}", "name", argv[optind],
				      "certificate", pem);

		if (store)
			json_object_set_new(o, "bundle", json_sprintf(
				"%s%s", store, pem));
		print_json(o);
		json_decref(o);
	} else {
		if (store)
			fputs(store, stdout);
		fputs(pem, stdout);
	}
	free(store);
	free(pem);
	return 0;
}

int env_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const vars[] = {
		"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
		"NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "PIP_CERT",
		"CARGO_HTTP_CAINFO", "AWS_CA_BUNDLE", "DENO_CERT",
	};
	const char *path = BUNDLE_PATH;
	json_t *o;
	char *pem;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'p')
			return cli_usage_error("env");
		path = optarg;
	}
	if (argc - optind != 1 || strpbrk(path, "\n\r\"'$` "))
		return cli_usage_error("env");
	/* the sandbox must exist, with its CA */
	if (!(pem = ca_get(argv[optind])))
		return 1;
	free(pem);
	o = json_object();
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (cli_opts.json)
			json_object_set_new(o, vars[i], json_string(path));
		else
			printf("%s=%s\n", vars[i], path);
	}
	if (cli_opts.json)
		print_json(o);
	json_decref(o);
	return 0;
}
