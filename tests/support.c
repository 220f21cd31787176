#include "support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *src_path(const char *rel)
{
	static _Thread_local char buf[8][4096];
	static _Thread_local int slot;
	char *b = buf[slot++ & 7];

	snprintf(b, 4096, "%s/%s", AUG_SOURCE_ROOT, rel);
	return b;
}

char *make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t;

	if (!base)
		base = "/tmp";
	if (asprintf(&t, "%s/augtest.XXXXXX", base) < 0)
		return NULL;
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

void rm_rf(const char *path)
{
	char *cmd;

	if (!path || asprintf(&cmd, "rm -rf '%s'", path) < 0)
		return;
	if (system(cmd) != 0)
		fprintf(stderr, "rm_rf %s failed\n", path);
	free(cmd);
}

int run_capture(const char *cmd, char **out)
{
	FILE *p;
	char *full;
	size_t cap = 4096, len = 0;
	char *buf;
	int st;

	if (asprintf(&full, "%s 2>&1", cmd) < 0)
		return -1;
	p = popen(full, "r");
	free(full);
	if (!p)
		return -1;
	buf = malloc(cap);
	for (;;) {
		size_t n;

		if (len + 1024 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, p);
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int cli(char **out, const char *fmt, ...)
{
	char args[8192], cmd[9000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s", AUG_CLI, args);
	return run_capture(cmd, out);
}

uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf && len)
		*len = (size_t)n;
	return buf;
}

int spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int bad;

	if (!f)
		return -1;
	bad = fwrite(buf, 1, len, f) != len;
	bad |= fclose(f) != 0;
	return bad ? -1 : 0;
}

int count_files(const char *dir)
{
	char *cmd = NULL, *out = NULL;
	int n = -1;

	if (asprintf(&cmd, "find '%s' -type f | wc -l", dir) < 0)
		return -1;
	if (run_capture(cmd, &out) == 0)
		n = atoi(out);
	free(out);
	free(cmd);
	return n;
}
