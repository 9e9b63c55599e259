/* SPDX-License-Identifier: MIT */
/* A small JSON reader for the tests' vector files: parses a whole text
 * into a tree. Not for untrusted or huge input; nesting is bounded. */
#ifndef WGPIPE_TEST_JSON_H
#define WGPIPE_TEST_JSON_H

#include <stddef.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type type;
	char *key;	    /* member name when inside an object */
	char *str;	    /* JSON_STRING, NUL-terminated */
	double num;	    /* JSON_NUMBER; JSON_BOOL as 0 or 1 */
	struct json *child; /* first element or member */
	struct json *next;  /* next sibling */
	size_t count;	    /* elements or members */
};

/* The tree, or NULL on a syntax error or out of memory. */
struct json *test_json_parse(const char *text);
void test_json_free(struct json *j);

/* Member of an object by name (the first one), or NULL. */
const struct json *test_json_get(const struct json *obj, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *test_json_get_string(const struct json *obj, const char *key);
/* The member's number, or def when absent or not a number. */
double test_json_get_number(const struct json *obj, const char *key,
			    double def);

#endif
