/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Wire bytes in output: escaped text, valid JSON, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "wire.h"

TEST(test_wire_text_escapes_what_a_terminal_would_act_on)
{
	char out[64];

	CHECK(!strcmp(wire_text("a.test", 6, out, sizeof(out)), "a.test"));
	CHECK(!strcmp(wire_text("\x1b[31mx", 6, out, sizeof(out)),
		      "\\x1b[31mx"));
	CHECK(!strcmp(wire_text("a\\b\n", 4, out, sizeof(out)),
		      "a\\\\b\\x0a"));
	CHECK(!strcmp(wire_text("\xff\0z", 3, out, sizeof(out)),
		      "\\xff\\x00z"));
	/* cut at a whole escape */
	CHECK(!strcmp(wire_text("ab\x1b", 3, out, 5), "ab"));
	CHECK(!strcmp(wire_text("abc", 3, out, 1), ""));
}

TEST(test_wire_json_is_valid_for_any_bytes)
{
	json_t *o = json_object(), *back;
	char *line;

	/* a non-UTF-8 ALPN made jansson give up, and puts(NULL) crash */
	json_object_set_new(o, "alpn", wire_json("h2\xc3\x28\xff", 5));
	CHECK((line = wire_json_line(o)));
	CHECK((back = json_loads(line, 0, NULL)));
	CHECK(!strcmp(json_string_value(json_object_get(back, "alpn")),
		      "h2\\xc3(\\xff"));
	CHECK(wire_json_line(NULL) == NULL);
	json_decref(back);
	json_decref(o);
	free(line);
}
