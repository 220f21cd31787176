/* Option parsing and help for the subcommands. GNU style: --name value,
 * --name=value, -x value; "--" ends options. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("augment: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("augment: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_fail(aug_status st)
{
	const char *msg = aug_error_message();

	if (msg && *msg)
		cli_error("%s", msg);
	else
		cli_error("%s", aug_strerror(st));
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool cli_parse_shard(const char *s, int *k, int *n)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (end == s || *end != '/' || errno)
		return false;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (end == s || *end || errno || b < 1 || b > INT_MAX || a < 0 || a >= b)
		return false;
	*k = (int)a;
	*n = (int)b;
	return true;
}

static const struct opt *find_long(const struct opt *opts, const char *name, size_t len)
{
	for (const struct opt *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct opt *find_short(const struct opt *opts, char c)
{
	for (const struct opt *o = opts; o && o->name; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

static bool set_value(const struct command *cmd, const struct opt *o, const char *v)
{
	char *end;

	errno = 0;
	switch (o->kind) {
	case OPT_FLAG:
		*(bool *)o->dst = true;
		return true;
	case OPT_STRING:
		*(const char **)o->dst = v;
		return true;
	case OPT_INT: {
		long x = strtol(v, &end, 10);

		if (end == v || *end || errno || x < INT_MIN || x > INT_MAX)
			break;
		*(int *)o->dst = (int)x;
		return true;
	}
	case OPT_U64: {
		unsigned long long x;

		if (*v == '-')
			break;
		x = strtoull(v, &end, 10);
		if (end == v || *end || errno)
			break;
		*(uint64_t *)o->dst = x;
		return true;
	}
	case OPT_DOUBLE: {
		double x = strtod(v, &end);

		if (end == v || *end || errno)
			break;
		*(double *)o->dst = x;
		return true;
	}
	case OPT_LIST: {
		struct str_list *l = o->dst;
		const char **items = realloc(l->items, (size_t)(l->count + 1) * sizeof(*items));

		if (!items)
			return false;
		items[l->count++] = v;
		l->items = items;
		return true;
	}
	}
	cli_error("%s: --%s expects %s, not '%s'", cmd->name, o->name,
		  o->kind == OPT_DOUBLE ? "a number" : o->kind == OPT_U64 ? "a non-negative integer" : "an integer", v);
	return false;
}

int cli_parse(const struct command *cmd, int argc, char **argv)
{
	int npos = 0;
	bool only_pos = false;

	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		const struct opt *o = NULL;
		const char *val = NULL;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			argv[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli_help(cmd, stdout);
			return -2;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			o = find_long(cmd->opts, a + 2, len);
			if (!o) {
				cli_error("%s: unknown option '%.*s' (see augment %s --help)", cmd->name,
					  (int)len + 2, a, cmd->name);
				return -1;
			}
			if (eq) {
				if (o->kind == OPT_FLAG) {
					cli_error("%s: --%s takes no value", cmd->name, o->name);
					return -1;
				}
				val = eq + 1;
			}
		} else {
			o = find_short(cmd->opts, a[1]);
			if (!o || a[2]) {
				cli_error("%s: unknown option '%s' (see augment %s --help)", cmd->name, a, cmd->name);
				return -1;
			}
		}
		if (o->kind != OPT_FLAG && !val) {
			if (i + 1 >= argc) {
				cli_error("%s: --%s needs a value (%s)", cmd->name, o->name, o->metavar);
				return -1;
			}
			val = argv[++i];
		}
		if (!set_value(cmd, o, val))
			return -1;
	}
	if (npos < cmd->min_args || (cmd->max_args >= 0 && npos > cmd->max_args)) {
		cli_error("%s: %s arguments; usage: augment %s %s", cmd->name,
			  npos < cmd->min_args ? "missing" : "too many", cmd->name, cmd->usage);
		return -1;
	}
	return npos;
}

void cli_help(const struct command *cmd, FILE *f)
{
	fprintf(f, "usage: augment %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
	if (cmd->description)
		fprintf(f, "\n%s\n", cmd->description);
	fprintf(f, "\noptions:\n");
	for (const struct opt *o = cmd->opts; o && o->name; o++) {
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				 o->metavar ? " " : "", o->metavar ? o->metavar : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
		if (strlen(left) > 24)
			fprintf(f, "  %s\n  %-24s  %s\n", left, "", o->help);
		else
			fprintf(f, "  %-24s  %s\n", left, o->help);
	}
	fprintf(f, "  -h, --help                show this help\n");
}

/* JSON string with escapes; bytes that are not valid UTF-8 become U+FFFD so
 * the output stays valid JSON whatever the file names hold. */
void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned c = *p;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc((int)c, f);
			p++;
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			fputc((int)c, f);
			p++;
		} else {
			int n = c >= 0xf0 && c < 0xf5 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
			int ok = n > 0 && c < 0xf5;

			for (int k = 1; ok && k <= n; k++)
				ok = (p[k] & 0xc0) == 0x80;
			if (ok) {
				fwrite(p, 1, (size_t)n + 1, f);
				p += n + 1;
			} else {
				fputs("\\ufffd", f);
				p++;
			}
		}
	}
	fputc('"', f);
}
