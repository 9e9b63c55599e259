// SPDX-License-Identifier: MIT
/* Recursive-descent JSON parser (RFC 8259) for the test vector files. */
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64 };

struct parser {
	const char *p;
	int depth;
};

static struct json *parse_value(struct parser *ps);

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	       *ps->p == '\r')
		ps->p++;
}

static struct json *new_node(enum json_type type)
{
	struct json *j = calloc(1, sizeof(*j));

	if (j)
		j->type = type;
	return j;
}

static int hex4(const char *s)
{
	int v = 0, i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static char *put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		*out++ = (char)cp;
	} else if (cp < 0x800) {
		*out++ = (char)(0xc0 | cp >> 6);
		*out++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*out++ = (char)(0xe0 | cp >> 12);
		*out++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*out++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*out++ = (char)(0xf0 | cp >> 18);
		*out++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*out++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*out++ = (char)(0x80 | (cp & 0x3f));
	}
	return out;
}

/* Decodes \uXXXX (and a following low surrogate) at s, just past the
 * backslash-u; returns the code point and advances *s, or -1. */
static long unicode_escape(const char **s)
{
	int hi = hex4(*s), lo;

	if (hi < 0)
		return -1;
	*s += 4;
	if (hi < 0xd800 || hi > 0xdfff)
		return hi;
	if (hi > 0xdbff || (*s)[0] != '\\' || (*s)[1] != 'u')
		return -1;
	lo = hex4(*s + 2);
	if (lo < 0xdc00 || lo > 0xdfff)
		return -1;
	*s += 6;
	return 0x10000 + ((long)(hi - 0xd800) << 10) + (lo - 0xdc00);
}

/* One escape after the backslash at *s into out; NULL on bad input. */
static char *unescape(const char **s, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	long cp;

	if (**s == 'u') {
		(*s)++;
		cp = unicode_escape(s);
		return cp < 0 ? NULL : put_utf8(out, (uint32_t)cp);
	}
	e = **s ? strchr(from, **s) : NULL;
	if (!e)
		return NULL;
	(*s)++;
	*out++ = to[e - from];
	return out;
}

/* A string literal at ps->p (on its opening quote), newly allocated.
 * Escapes never decode to more bytes than they take, so the raw length
 * bounds the buffer. */
static char *parse_string_raw(struct parser *ps)
{
	const char *s = ps->p + 1, *end = s;
	char *buf, *out;

	while (*end && *end != '"')
		end += (*end == '\\' && end[1]) ? 2 : 1;
	if (*end != '"')
		return NULL;
	buf = out = malloc((size_t)(end - s) + 1);
	while (buf && s < end) {
		if ((unsigned char)*s < 0x20) {
			out = NULL;
		} else if (*s == '\\') {
			s++;
			out = unescape(&s, out);
		} else {
			*out++ = *s++;
		}
		if (!out) {
			free(buf);
			return NULL;
		}
	}
	if (buf)
		*out = '\0';
	ps->p = end + 1;
	return buf;
}

static struct json *parse_string(struct parser *ps)
{
	struct json *j = new_node(JSON_STRING);

	if (j && !(j->str = parse_string_raw(ps))) {
		free(j);
		return NULL;
	}
	return j;
}

static struct json *parse_number(struct parser *ps)
{
	struct json *j;
	char *end;
	double v = strtod(ps->p, &end);

	if (end == ps->p || !(j = new_node(JSON_NUMBER)))
		return NULL;
	j->num = v;
	ps->p = end;
	return j;
}

static struct json *parse_word(struct parser *ps)
{
	static const struct {
		const char *word;
		enum json_type type;
		double num;
	} words[] = {
	    {"true", JSON_BOOL, 1},
	    {"false", JSON_BOOL, 0},
	    {"null", JSON_NULL, 0},
	};
	struct json *j;
	size_t i, n;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i].word);
		if (strncmp(ps->p, words[i].word, n))
			continue;
		if (!(j = new_node(words[i].type)))
			return NULL;
		j->num = words[i].num;
		ps->p += n;
		return j;
	}
	return NULL;
}

/* Member "key": value of an object; the key goes into the node. */
static struct json *parse_member(struct parser *ps)
{
	struct json *j;
	char *key;

	skip_space(ps);
	if (*ps->p != '"' || !(key = parse_string_raw(ps)))
		return NULL;
	skip_space(ps);
	if (*ps->p != ':')
		goto err_free_key;
	ps->p++;
	j = parse_value(ps);
	if (!j)
		goto err_free_key;
	j->key = key;
	return j;
err_free_key:
	free(key);
	return NULL;
}

/* Array or object: items separated by commas up to the closer. */
static struct json *parse_container(struct parser *ps, enum json_type type)
{
	char closer = type == JSON_ARRAY ? ']' : '}';
	struct json *j = new_node(type), **tail, *item;

	if (!j || ++ps->depth > MAX_DEPTH)
		goto err;
	tail = &j->child;
	ps->p++;
	skip_space(ps);
	if (*ps->p == closer)
		goto done;
	for (;;) {
		item = type == JSON_ARRAY ? parse_value(ps) : parse_member(ps);
		if (!item)
			goto err;
		*tail = item;
		tail = &item->next;
		j->count++;
		skip_space(ps);
		if (*ps->p == closer)
			goto done;
		if (*ps->p++ != ',')
			goto err;
	}
done:
	ps->p++;
	ps->depth--;
	return j;
err:
	test_json_free(j);
	return NULL;
}

static struct json *parse_value(struct parser *ps)
{
	skip_space(ps);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, JSON_OBJECT);
	case '[':
		return parse_container(ps, JSON_ARRAY);
	case '"':
		return parse_string(ps);
	case '-':
	case '0' ... '9':
		return parse_number(ps);
	default:
		return parse_word(ps);
	}
}

struct json *test_json_parse(const char *text)
{
	struct parser ps = {.p = text, .depth = 0};
	struct json *j = parse_value(&ps);

	if (!j)
		return NULL;
	skip_space(&ps);
	if (*ps.p) {
		test_json_free(j);
		return NULL;
	}
	return j;
}

void test_json_free(struct json *j)
{
	while (j) {
		struct json *next = j->next;

		test_json_free(j->child);
		free(j->key);
		free(j->str);
		free(j);
		j = next;
	}
}

const struct json *test_json_get(const struct json *obj, const char *key)
{
	const struct json *j;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (j = obj->child; j; j = j->next)
		if (!strcmp(j->key, key))
			return j;
	return NULL;
}

const char *test_json_get_string(const struct json *obj, const char *key)
{
	const struct json *j = test_json_get(obj, key);

	return j && j->type == JSON_STRING ? j->str : NULL;
}

double test_json_get_number(const struct json *obj, const char *key, double def)
{
	const struct json *j = test_json_get(obj, key);

	return j && j->type == JSON_NUMBER ? j->num : def;
}
