/* augment apply IMAGE -p SPEC -o OUT: one sample of one image, for replaying
 * a logged sample or trying a key. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *opt_out;
static const char *opt_spec;
static const char *opt_replay;
static uint64_t opt_seed;
static uint64_t opt_epoch;
static uint64_t opt_index;
static bool opt_index_set;
static bool opt_print;
static uint64_t opt_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt apply_opts[] = {
	{ "output", 'o', OPT_STRING, &opt_out, "FILE", "where to write the result" },
	{ "pipeline", 'p', OPT_STRING, &opt_spec, "SPEC|FILE", "the pipeline: spec text, or a file holding it" },
	{ "seed", 's', OPT_U64, &opt_seed, "S", "random seed (default 0)" },
	{ "epoch", 'e', OPT_U64, &opt_epoch, "E", "epoch, or copy number for `run` outputs (default 0)" },
	{ "index", 'i', OPT_U64, &opt_index, "I", "sample index (default: FNV-1a of IMAGE's path, as `run`)" },
	{ "replay", 0, OPT_STRING, &opt_replay, "JSON", "replay a line written by --log-params (or its \"sample\")" },
	{ "print-params", 0, OPT_FLAG, &opt_print, NULL, "print the drawn parameters as JSON" },
	{ "max-pixels", 0, OPT_U64, &opt_max_pixels, "N", "refuse images of more than N pixels, and pipelines that would make them (default 100000000)" },
	{ 0 },
};

static int run_apply(int argc, char **argv)
{
	aug_pipeline *p = NULL;
	aug_executor *ex = NULL;
	aug_executor_options eo;
	aug_sample *s = NULL;
	const aug_image *img = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	aug_status st;
	int rc;

	(void)argc;
	if (!opt_out) {
		cli_error("apply: -o FILE is required");
		return EXIT_USAGE;
	}
	rc = cli_load_pipeline(opt_spec, &p);
	if (rc)
		return rc;
	rc = 1;
	aug_executor_options_init(&eo);
	eo.decode.max_pixels = opt_max_pixels;
	st = aug_file_read(argv[0], 0, &buf, &len);
	if (!st)
		st = aug_executor_new(p, &eo, &ex);
	if (st)
		goto fail;
	if (opt_replay) {
		const char *js = strstr(opt_replay, "\"sample\"");

		st = aug_sample_new(&s);
		if (!st)
			st = aug_sample_from_json(p, js ? js : opt_replay, s);
		if (!st)
			st = aug_executor_run_sample(ex, buf, len, argv[0], s, &img);
	} else {
		aug_key key = { opt_seed, opt_epoch, opt_index };

		if (!opt_index_set && opt_index == 0)
			key.index = cli_path_index(argv[0]);
		st = aug_executor_run(ex, buf, len, argv[0], key, &img);
	}
	if (!st)
		st = aug_encode_file(img, opt_out, NULL);
	if (st)
		goto fail;
	if (opt_print) {
		char json[8192];

		aug_sample_to_json(aug_executor_last_sample(ex), json, sizeof(json));
		printf("%s\n", json);
	}
	rc = 0;
	goto out;
fail:
	cli_fail(st);
out:
	aug_sample_free(s);
	aug_executor_free(ex);
	aug_free(buf);
	aug_pipeline_free(p);
	return rc;
}

const struct command cmd_apply = {
	.name = "apply",
	.summary = "apply a pipeline to one image: one sample, or a logged one replayed",
	.usage = "IMAGE -p SPEC|FILE -o OUT [--seed S --epoch E --index I | --replay JSON]",
	.description =
		"Without --index the sample index is the FNV-1a hash of IMAGE's path as given, as\n"
		"`augment run` uses for a path under its input folder. --replay takes a line of\n"
		"--log-params output and produces exactly the bytes `run` wrote for it.",
	.opts = apply_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_apply,
};
