/* Helpers several subcommands share: pipelines from -p, progress lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* A spec argument names a file rather than holding spec text when it has
 * no space, ';' or '=' and has a '/' or a spec file's extension. */
static bool looks_like_a_path(const char *arg)
{
	const char *dot = strrchr(arg, '.');

	if (strpbrk(arg, " \t\n;="))
		return false;
	return strchr(arg, '/') || (dot && (strcmp(dot, ".aug") == 0 || strcmp(dot, ".model") == 0 ||
					    strcmp(dot, ".txt") == 0));
}

char *cli_read_spec(const char *arg)
{
	struct stat sb;
	uint8_t *buf = NULL;
	size_t len = 0;
	char *text;

	if (stat(arg, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (looks_like_a_path(arg)) {
			/* A mistyped file name is not spec text: say so, not
			 * "unknown stage 'pipelines/imagenet.aug'". */
			cli_error("%s: %s", arg, stat(arg, &sb) != 0 ? strerror(errno) : "not a regular file");
			return NULL;
		}
		text = strdup(arg);
		if (!text)
			cli_error("out of memory");
		return text;
	}
	if (aug_file_read(arg, 1 << 20, &buf, &len)) {
		cli_fail(AUG_EIO);
		return NULL;
	}
	text = malloc(len + 1);
	if (text) {
		memcpy(text, buf, len);
		text[len] = '\0';
	} else {
		cli_error("out of memory");
	}
	aug_free(buf);
	return text;
}

int cli_load_pipeline(const char *arg, aug_pipeline **out)
{
	struct stat sb;
	aug_status st;
	char *text;

	*out = NULL;
	if (!arg) {
		cli_error("a pipeline is needed: -p SPEC or -p FILE (see augment stages)");
		return EXIT_USAGE;
	}
	text = cli_read_spec(arg);
	if (!text)
		return EXIT_USAGE;
	st = aug_pipeline_parse(text, stat(arg, &sb) == 0 ? arg : "-p", out);
	free(text);
	if (st) {
		cli_fail(st);
		return EXIT_USAGE;
	}
	return 0;
}

/* FNV-1a, 64 bits: a sample's index from its path, so its draws do not move
 * when files are added to or removed from the data set. */
uint64_t cli_path_index(const char *relpath)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)relpath; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void progress_init(struct progress *pr, size_t total, bool quiet)
{
	memset(pr, 0, sizeof(*pr));
	pr->total = total;
	pr->quiet = quiet;
	pr->tty = isatty(STDERR_FILENO);
	pr->start = cli_now();
	pr->last = pr->start;
}

static void fmt_secs(char *buf, size_t n, double s)
{
	if (s < 0 || s > 1e7)
		snprintf(buf, n, "--:--");
	else if (s >= 3600)
		snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
	else
		snprintf(buf, n, "%d:%02d", (int)s / 60, (int)s % 60);
}

void progress_update(struct progress *pr, size_t done, bool final)
{
	double t = cli_now(), el = t - pr->start;
	double rate = el > 0 ? (double)done / el : 0;
	char eta[32], ela[32];

	if (pr->quiet)
		return;
	if (!final && t - pr->last < (pr->tty ? 0.2 : 5.0))
		return;
	pr->last = t;
	fmt_secs(eta, sizeof(eta), rate > 0 ? (double)(pr->total - done) / rate : -1);
	fmt_secs(ela, sizeof(ela), el);
	if (pr->tty) {
		int width = 30, fill = pr->total ? (int)((double)done / (double)pr->total * width) : width;
		char bar[64];

		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = '\0';
		fprintf(stderr, "\r[%s] %zu/%zu %5.1f%%  %.1f img/s  elapsed %s  eta %s ", bar, done, pr->total,
			pr->total ? 100.0 * (double)done / (double)pr->total : 100.0, rate, ela, eta);
		if (final)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "augment: %zu/%zu images (%.1f%%), %.1f img/s, elapsed %s, eta %s\n", done,
			pr->total, pr->total ? 100.0 * (double)done / (double)pr->total : 100.0, rate, ela, eta);
	}
	fflush(stderr);
}
