/* augment run IN -o OUT -p SPEC: write augmented copies of a data set. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *opt_out;
static const char *opt_spec;
static const char *opt_format = "same";
static const char *opt_shard;
static const char *opt_log;
static const char *opt_on_error = "skip";
static int opt_copies = 1;
static int opt_threads;
static int opt_quality = 90;
static uint64_t opt_seed;
static uint64_t opt_max_pixels = AUG_DEFAULT_MAX_PIXELS;
static bool opt_quiet;
static bool opt_optimize;

static const struct opt run_opts[] = {
	{ "output", 'o', OPT_STRING, &opt_out, "OUT", "output folder (made if missing; not inside IN)" },
	{ "pipeline", 'p', OPT_STRING, &opt_spec, "SPEC|FILE", "the pipeline: spec text, or a file holding it" },
	{ "copies", 'n', OPT_INT, &opt_copies, "N", "augmented copies per image (default 1)" },
	{ "seed", 's', OPT_U64, &opt_seed, "S", "random seed (default 0)" },
	{ "threads", 't', OPT_INT, &opt_threads, "T", "worker threads (default: all cores)" },
	{ "format", 'f', OPT_STRING, &opt_format, "FMT", "png, jpg or same as the input (default same)" },
	{ "quality", 'q', OPT_INT, &opt_quality, "Q", "JPEG quality 1..100 (default 90)" },
	{ "optimize", 0, OPT_FLAG, &opt_optimize, NULL, "JPEG: fit the Huffman tables to each image (3% smaller at q90, slower)" },
	{ "shard", 0, OPT_STRING, &opt_shard, "K/N", "do only shard K of N (0-based), for several machines" },
	{ "log-params", 0, OPT_STRING, &opt_log, "FILE", "write every sample's drawn parameters, one JSON line each" },
	{ "on-error", 0, OPT_STRING, &opt_on_error, "skip|fail", "skip: report bad inputs and go on (default); fail: stop" },
	{ "max-pixels", 0, OPT_U64, &opt_max_pixels, "N", "refuse images of more than N pixels (default 100000000)" },
	{ "quiet", 0, OPT_FLAG, &opt_quiet, NULL, "no progress and no summary" },
	{ 0 },
};

/* The absolute, symlink-free form of a path that may not exist yet: the
 * longest existing ancestor resolved, the rest appended. */
static char *resolve(const char *path)
{
	char buf[PATH_MAX], *res, *slash;
	size_t len;

	if (strlen(path) >= sizeof(buf))
		return NULL;
	strcpy(buf, path);
	len = strlen(buf);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	res = realpath(buf, NULL);
	if (res)
		return res;
	slash = strrchr(buf, '/');
	if (!slash) {
		char *cwd = realpath(".", NULL), *out;

		if (!cwd)
			return NULL;
		out = malloc(strlen(cwd) + strlen(buf) + 2);
		if (out)
			sprintf(out, "%s/%s", cwd, buf);
		free(cwd);
		return out;
	}
	*slash = '\0';
	{
		char *parent = resolve(slash == buf ? "/" : buf), *out;

		if (!parent)
			return NULL;
		out = malloc(strlen(parent) + strlen(slash + 1) + 2);
		if (out)
			sprintf(out, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, slash + 1);
		free(parent);
		return out;
	}
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

/* A temporary an interrupted run left: "<name>.tmp.XXXXXX". */
static bool is_stale_tmp(const char *name)
{
	const char *t = strstr(name, ".tmp.");

	return t && strlen(t) == 11 && t != name;
}

static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[PATH_MAX];

		if (!is_stale_tmp(e->d_name))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) < (int)sizeof(p))
			unlink(p);
	}
	closedir(d);
}

struct job {
	const aug_dataset_item *item;
	uint64_t index;      /* the sample index: FNV-1a of the path */
	char *out_stem;      /* OUT/dir/stem (without _copy.ext) */
	const char *ext;
	aug_status status;
	char *error;
	char *log;           /* the JSON lines of its samples */
	int written;
	int skipped;
	bool out_full;       /* the output could not be written for lack of room */
};

/* A write that failed for want of room (a full disk, a quota, a file size
 * limit, a read-only file system) will fail for every image after it. */
static bool no_room(const char *msg)
{
	static const int errs[] = { ENOSPC, EFBIG, EDQUOT, EROFS };

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (strstr(msg, strerror(errs[i])))
			return true;
	return false;
}

static char *out_stem_of(const char *out, const char *rel)
{
	const char *dot = strrchr(rel, '.');
	size_t n = dot ? (size_t)(dot - rel) : strlen(rel);
	char *s = malloc(strlen(out) + n + 2);

	if (s)
		sprintf(s, "%s/%.*s", out, (int)n, rel);
	return s;
}

static const char *ext_of(const char *rel)
{
	static const char *const exts[] = { "png", "jpg", "jpeg" };
	const char *dot = strrchr(rel, '.');

	for (int i = 0; dot && i < 3; i++)
		if (strcasecmp(dot + 1, exts[i]) == 0)
			return exts[i];
	return "png";
}

static void append(char **log, const char *line)
{
	size_t a = *log ? strlen(*log) : 0, b = strlen(line);
	char *s = realloc(*log, a + b + 2);

	if (!s)
		return;
	memcpy(s + a, line, b);
	s[a + b] = '\n';
	s[a + b + 1] = '\0';
	*log = s;
}

static void log_line(struct job *j, int copy, const char *path, const aug_sample *s)
{
	char sample[8192], line[12000];
	FILE *m;
	char *buf = NULL;
	size_t len = 0;

	aug_sample_to_json(s, sample, sizeof(sample));
	m = open_memstream(&buf, &len);
	if (!m)
		return;
	fputs("{\"file\":", m);
	json_string(m, j->item->relpath);
	fprintf(m, ",\"copy\":%d,\"output\":", copy);
	json_string(m, path);
	fprintf(m, ",\"sample\":%s}", sample);
	fclose(m);
	snprintf(line, sizeof(line), "%s", buf);
	free(buf);
	append(&j->log, line);
}

static void do_job(struct job *j, aug_executor *ex, const aug_encode_options *enc, const aug_pipeline *p,
		   const aug_decode_options *dopt)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char path[PATH_MAX];

	for (int c = 0; c < opt_copies; c++) {
		aug_key key = { opt_seed, (uint64_t)c, j->index };
		const aug_image *img = NULL;
		struct stat sb;
		aug_status st;

		snprintf(path, sizeof(path), "%s_%d.%s", j->out_stem, c, j->ext);
		if (stat(path, &sb) == 0) {
			/* Written by an earlier run: outputs appear only whole. */
			j->skipped++;
			if (opt_log) {
				aug_header h;
				aug_sample *s = NULL;
				int w, hh;

				if (!aug_probe_file(j->item->path, &h) && !aug_sample_new(&s)) {
					if (dopt->ignore_orientation) {
						w = h.width;
						hh = h.height;
					} else {
						aug_header_display_size(&h, &w, &hh);
					}
					if (!aug_pipeline_sample(p, w, hh,
								 dopt->channels == AUG_CHANNELS_STORED
									 ? ((h.channels <= 2 && !h.palette) ? 1 : 3)
									 : (int)dopt->channels,
								 key, s))
						log_line(j, c, path, s);
				}
				aug_sample_free(s);
			}
			continue;
		}
		if (!buf) {
			st = aug_file_read(j->item->path, 0, &buf, &len);
			if (st)
				goto fail;
		}
		st = aug_executor_run(ex, buf, len, j->item->path, key, &img);
		if (!st) {
			st = aug_encode_file(img, path, enc);
			if (st)
				j->out_full = no_room(aug_error_message());
		}
		if (st) {
			j->status = st;
			goto fail;
		}
		if (opt_log)
			log_line(j, c, path, aug_executor_last_sample(ex));
		j->written++;
	}
	aug_free(buf);
	return;
fail:
	j->status = AUG_EIO;
	j->error = strdup(aug_error_message());
	aug_free(buf);
}

static int run_run(int argc, char **argv)
{
	const char *in = argv[0];
	aug_pipeline *p = NULL;
	aug_dataset *ds = NULL;
	aug_dataset_scan_options so;
	aug_encode_options enc;
	aug_executor_options eo;
	aug_executor **ex = NULL;
	struct job *jobs = NULL;
	struct progress pr;
	FILE *logf = NULL;
	char *rin = NULL, *rout = NULL, *logtmp = NULL;
	size_t njobs = 0, done = 0, written = 0, skipped = 0, failed = 0;
	int shard_k = 0, shard_n = 1, nthreads, rc = 0;
	bool stop = false, out_full = false;
	double t0 = cli_now();

	(void)argc;
	if (!opt_out) {
		cli_error("run: -o OUT is required");
		return EXIT_USAGE;
	}
	if (opt_copies < 1 || opt_quality < 1 || opt_quality > 100 || opt_threads < 0) {
		cli_error("run: --copies must be >= 1, --quality 1..100, --threads >= 0");
		return EXIT_USAGE;
	}
	if (strcmp(opt_format, "png") && strcmp(opt_format, "jpg") && strcmp(opt_format, "jpeg") &&
	    strcmp(opt_format, "same")) {
		cli_error("run: --format must be png, jpg or same, not '%s'", opt_format);
		return EXIT_USAGE;
	}
	if (strcmp(opt_on_error, "skip") && strcmp(opt_on_error, "fail")) {
		cli_error("run: --on-error must be skip or fail, not '%s'", opt_on_error);
		return EXIT_USAGE;
	}
	if (opt_shard && !cli_parse_shard(opt_shard, &shard_k, &shard_n)) {
		cli_error("run: --shard must be K/N with 0 <= K < N, not '%s'", opt_shard);
		return EXIT_USAGE;
	}
	rc = cli_load_pipeline(opt_spec, &p);
	if (rc)
		return rc;
	if (aug_pipeline_normalizes(p) && !opt_quiet)
		cli_warn("run: normalize is skipped: images are written as 8-bit");

	rin = resolve(in);
	rout = resolve(opt_out);
	if (!rin || !rout) {
		cli_error("run: cannot resolve %s or %s", in, opt_out);
		rc = EXIT_USAGE;
		goto out;
	}
	{
		size_t l = strlen(rin);

		if (strcmp(rin, rout) == 0 || (strncmp(rout, rin, l) == 0 && (rout[l] == '/' || l == 1))) {
			cli_error("run: the output folder %s is inside the input %s; choose one outside it", opt_out, in);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	aug_dataset_scan_options_init(&so);
	so.include_root_files = true;
	if (aug_dataset_scan(in, &so, &ds)) {
		cli_fail(AUG_EIO);
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < aug_dataset_problem_count(ds); i++)
		cli_warn("%s: %s", aug_dataset_problem_at(ds, i)->path, aug_dataset_problem_at(ds, i)->reason);

	jobs = calloc(aug_dataset_count(ds) + 1, sizeof(*jobs));
	if (!jobs) {
		cli_error("out of memory");
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < aug_dataset_count(ds); i++) {
		const aug_dataset_item *it = aug_dataset_item_at(ds, i);
		uint64_t idx = cli_path_index(it->relpath);
		struct job *j;

		if (idx % (uint64_t)shard_n != (uint64_t)shard_k)
			continue;
		j = &jobs[njobs++];
		j->item = it;
		j->index = idx;
		j->out_stem = out_stem_of(opt_out, it->relpath);
		j->ext = strcmp(opt_format, "same") == 0 ? ext_of(it->relpath)
			 : strcmp(opt_format, "png") == 0 ? "png" : "jpg";
		if (!j->out_stem) {
			cli_error("out of memory");
			rc = 1;
			goto out;
		}
	}
	/* Make the output folders, and clear temporaries a killed run left. */
	if (mkdir_p(opt_out) != 0) {
		cli_error("run: cannot make %s: %s", opt_out, strerror(errno));
		rc = 1;
		goto out;
	}
	remove_stale(opt_out);
	{
		char last[PATH_MAX] = "";

		for (size_t i = 0; i < njobs; i++) {
			char dir[PATH_MAX];
			char *slash;

			snprintf(dir, sizeof(dir), "%s", jobs[i].out_stem);
			slash = strrchr(dir, '/');
			if (!slash)
				continue;
			*slash = '\0';
			if (strcmp(dir, last) == 0)
				continue; /* jobs come folder by folder */
			if (mkdir_p(dir) != 0) {
				cli_error("run: cannot make %s: %s", dir, strerror(errno));
				rc = 1;
				goto out;
			}
			remove_stale(dir);
			snprintf(last, sizeof(last), "%s", dir);
		}
	}
	if (opt_log) {
		if (asprintf(&logtmp, "%s.tmp.XXXXXX", opt_log) < 0) {
			logtmp = NULL;
			rc = 1;
			goto out;
		}
		{
			int fd = mkstemp(logtmp);

			logf = fd >= 0 ? fdopen(fd, "w") : NULL;
		}
		if (!logf) {
			cli_error("run: cannot write %s: %s", opt_log, strerror(errno));
			rc = 1;
			goto out;
		}
	}

	aug_encode_options_init(&enc);
	enc.quality = opt_quality;
	enc.optimize = opt_optimize;
	aug_executor_options_init(&eo);
	eo.decode.max_pixels = opt_max_pixels;
	if (opt_threads > 0)
		omp_set_num_threads(opt_threads);
	nthreads = omp_get_max_threads();
	ex = calloc((size_t)nthreads, sizeof(*ex));
	for (int t = 0; ex && t < nthreads; t++) {
		if (aug_executor_new(p, &eo, &ex[t])) {
			cli_fail(AUG_ENOMEM);
			rc = 1;
			goto out;
		}
	}
	if (!ex) {
		rc = 1;
		goto out;
	}
	progress_init(&pr, njobs, opt_quiet);
	/* Chunks keep the log and the progress in input order and let a failure
	 * stop the run soon, while threads share each chunk's work. */
	for (size_t base = 0; base < njobs && !stop; base += (size_t)nthreads * 16) {
		size_t end = base + (size_t)nthreads * 16 < njobs ? base + (size_t)nthreads * 16 : njobs;

#pragma omp parallel for schedule(dynamic, 1)
		for (size_t i = base; i < end; i++)
			do_job(&jobs[i], ex[omp_get_thread_num()], &enc, p, &eo.decode);

		for (size_t i = base; i < end; i++) {
			struct job *j = &jobs[i];

			written += (size_t)j->written;
			skipped += (size_t)j->skipped;
			if (j->error) {
				failed++;
				if (!opt_quiet && pr.tty)
					fputc('\n', stderr);
				cli_error("%s", j->error);
				if (strcmp(opt_on_error, "fail") == 0)
					stop = true;
				if (j->out_full && !out_full) {
					out_full = true;
					stop = true;
				}
			}
			if (logf && j->log)
				fputs(j->log, logf);
			done++;
		}
		progress_update(&pr, done, false);
	}
	progress_update(&pr, done, true);
	if (logf) {
		/* A write that failed earlier (a full disk) leaves the error
		 * flag, whatever the last flush in fclose says. */
		bool bad = ferror(logf) != 0;

		bad = fclose(logf) != 0 || bad;

		logf = NULL;
		if (bad || rename(logtmp, opt_log) != 0) {
			cli_error("run: cannot write %s: %s", opt_log, strerror(errno));
			rc = 1;
		}
	}
	if (!opt_quiet) {
		double secs = cli_now() - t0;

		fprintf(stderr,
			"augment: %zu image%s: %zu output%s written, %zu already there (skipped), %zu failed; "
			"%.2f s, %.1f images/s\n",
			done, done == 1 ? "" : "s", written, written == 1 ? "" : "s", skipped, failed, secs,
			secs > 0 ? (double)done / secs : 0.0);
		if (failed) {
			fprintf(stderr, "augment: failed:\n");
			for (size_t i = 0; i < njobs; i++)
				if (jobs[i].error)
					fprintf(stderr, "  %s\n", jobs[i].item->path);
		}
		if (out_full)
			fprintf(stderr, "augment: stopped: no room to write the outputs; %zu images not done\n",
				njobs - done);
		else if (stop)
			fprintf(stderr, "augment: stopped at the first failure (--on-error fail); %zu images not done\n",
				njobs - done);
	}
	if (failed)
		rc = 1;
out:
	if (logf) {
		fclose(logf);
		unlink(logtmp);
	}
	free(logtmp);
	for (int t = 0; ex && t < nthreads; t++)
		aug_executor_free(ex[t]);
	free(ex);
	for (size_t i = 0; jobs && i < njobs; i++) {
		free(jobs[i].out_stem);
		free(jobs[i].error);
		free(jobs[i].log);
	}
	free(jobs);
	free(rin);
	free(rout);
	aug_dataset_free(ds);
	aug_pipeline_free(p);
	return rc;
}

const struct command cmd_run = {
	.name = "run",
	.summary = "write N augmented copies of every image of a data set",
	.usage = "IN -o OUT -p SPEC|FILE [options]",
	.description =
		"Reads the images under IN (.png .jpg .jpeg, found by content) and writes\n"
		"OUT/<folders>/<stem>_<copy>.<ext>, mirroring IN's folders. Sample k of an image\n"
		"draws from streams keyed (seed, copy, FNV-1a of its path, stage): the output\n"
		"does not depend on the thread count, the shard or the other files. Outputs\n"
		"are written atomically; a rerun skips the ones that exist, so a killed run\n"
		"resumes. Exit status 1 when any input could not be processed.",
	.opts = run_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_run,
};
