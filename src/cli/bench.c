/* augment bench DIR -p SPEC: images per second of the whole path, from file
 * bytes in memory to batch-ready output, with a per-phase breakdown. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *opt_spec;
static const char *opt_output = "float";
static int opt_threads;
static double opt_seconds = 5;
static bool opt_json;
static bool opt_no_roi;
static bool opt_no_dct;
static uint64_t opt_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt bench_opts[] = {
	{ "pipeline", 'p', OPT_STRING, &opt_spec, "SPEC|FILE", "the pipeline: spec text, or a file holding it" },
	{ "threads", 't', OPT_INT, &opt_threads, "T", "worker threads (default: all cores)" },
	{ "seconds", 0, OPT_DOUBLE, &opt_seconds, "S", "measure for about S seconds (default 5)" },
	{ "output", 0, OPT_STRING, &opt_output, "float|uint8", "float32 CHW batch slots (default) or 8-bit images" },
	{ "json", 0, OPT_FLAG, &opt_json, NULL, "print one JSON object" },
	{ "no-region", 0, OPT_FLAG, &opt_no_roi, NULL, "decode whole images (to measure what region decoding saves)" },
	{ "no-dct-scaling", 0, OPT_FLAG, &opt_no_dct, NULL, "never decode JPEG at a reduced DCT scale" },
	{ "max-pixels", 0, OPT_U64, &opt_max_pixels, "N", "refuse images of more than N pixels, and pipelines that would make them (default 100000000)" },
	{ 0 },
};

struct blob {
	uint8_t *data;
	size_t len;
	const char *path;
};

static int run_bench(int argc, char **argv)
{
	aug_pipeline *p = NULL;
	aug_dataset *ds = NULL;
	aug_dataset_scan_options so;
	aug_executor_options eo;
	struct blob *blobs = NULL;
	size_t n = 0, bytes = 0, total = 0, failed = 0;
	double phases[AUG_PHASE_COUNT] = { 0 }, secs;
	int fw = 0, fh = 0, nthreads, rc;
	bool f32 = strcmp(opt_output, "float") == 0;

	(void)argc;
	if (!f32 && strcmp(opt_output, "uint8") != 0) {
		cli_error("bench: --output must be float or uint8");
		return EXIT_USAGE;
	}
	rc = cli_load_pipeline(opt_spec, &p);
	if (rc)
		return rc;
	rc = 1;
	if (f32 && !aug_pipeline_fixed_size(p, &fw, &fh)) {
		cli_error("bench: --output float needs a pipeline that ends in a fixed size (crop, center_crop, "
			  "random_resized_crop or resize size=WxH), or --output uint8");
		rc = EXIT_USAGE;
		goto out;
	}
	aug_dataset_scan_options_init(&so);
	so.include_root_files = true;
	if (aug_dataset_scan(argv[0], &so, &ds)) {
		cli_fail(AUG_EIO);
		goto out;
	}
	n = aug_dataset_count(ds);
	blobs = calloc(n ? n : 1, sizeof(*blobs));
	if (!blobs || n == 0) {
		cli_error("bench: no images under %s", argv[0]);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		blobs[i].path = aug_dataset_item_at(ds, i)->path;
		if (aug_file_read(blobs[i].path, 0, &blobs[i].data, &blobs[i].len)) {
			cli_fail(AUG_EIO);
			goto out;
		}
		bytes += blobs[i].len;
	}
	aug_executor_options_init(&eo);
	eo.timing = true;
	eo.region_decode = !opt_no_roi;
	eo.dct_scaling = !opt_no_dct;
	eo.decode.channels = AUG_CHANNELS_RGB;
	eo.decode.max_pixels = opt_max_pixels;
	if (opt_threads > 0)
		omp_set_num_threads(opt_threads);
	nthreads = omp_get_max_threads();

	{
		double t0 = cli_now(), deadline = t0 + opt_seconds;
		int stop = 0;

#pragma omp parallel reduction(+ : total, failed)
		{
			aug_executor *ex = NULL;
			float *slot = f32 ? malloc((size_t)3 * (size_t)fw * (size_t)fh * sizeof(float)) : NULL;
			double mine[AUG_PHASE_COUNT];
			int t = omp_get_thread_num(), nt = omp_get_num_threads();
			uint64_t epoch = 0;

			if (aug_executor_new(p, &eo, &ex) == AUG_OK && (!f32 || slot)) {
				/* Whole passes over the images, each thread its share,
				 * until the time is up (at least one pass). */
				for (;;) {
					for (size_t i = (size_t)t; i < n; i += (size_t)nt) {
						aug_key key = { 0, epoch, i };
						aug_status st;

						if (f32) {
							st = aug_executor_run_f32(ex, blobs[i].data, blobs[i].len,
										  blobs[i].path, key, slot, 3, fh, fw);
						} else {
							const aug_image *img;

							st = aug_executor_run(ex, blobs[i].data, blobs[i].len,
									      blobs[i].path, key, &img);
						}
						if (st)
							failed++;
						else
							total++;
					}
					int stopped;

					epoch++;
#pragma omp atomic read
					stopped = stop;
					if (stopped || cli_now() >= deadline) {
#pragma omp atomic write
						stop = 1;
						break;
					}
				}
				aug_executor_timings(ex, mine);
#pragma omp critical
				for (int k = 0; k < AUG_PHASE_COUNT; k++)
					phases[k] += mine[k];
			}
			aug_executor_free(ex);
			free(slot);
		}
		secs = cli_now() - t0;
	}
	rc = 0;
	{
		double sum = 0, rate = (double)total / secs, bound;

		for (int k = 0; k < AUG_PHASE_COUNT; k++)
			sum += phases[k];
		/* The rate if everything but reading the header and decoding
		 * took no time: what the decoder alone allows. */
		bound = phases[AUG_PHASE_PROBE] + phases[AUG_PHASE_DECODE] > 0
				? rate * sum / (phases[AUG_PHASE_PROBE] + phases[AUG_PHASE_DECODE])
				: 0;
		if (opt_json) {
			printf("{\"images_per_second\":%.2f,\"images\":%zu,\"failed\":%zu,\"files\":%zu,\"bytes\":%zu,"
			       "\"threads\":%d,\"seconds\":%.3f,\"output\":\"%s\",\"phases\":{",
			       rate, total, failed, n, bytes, nthreads, secs, f32 ? "float" : "uint8");
			for (int k = 0; k < AUG_PHASE_COUNT; k++)
				printf("%s\"%s\":%.4f", k ? "," : "", aug_phase_name((aug_phase)k),
				       sum > 0 ? phases[k] / sum : 0);
			printf("},\"decode_share\":%.4f,\"decode_bound\":%.2f}\n",
			       sum > 0 ? phases[AUG_PHASE_DECODE] / sum : 0, bound);
		} else {
			printf("%zu files (%.1f MB) in memory, %d thread%s, %s output\n", n, bytes / 1e6, nthreads,
			       nthreads == 1 ? "" : "s", f32 ? "float32 CHW" : "uint8");
			printf("%zu images in %.2f s: %.1f images/s (%.3f ms per image per thread)%s\n", total, secs,
			       rate, rate > 0 ? 1000.0 * nthreads / rate : 0.0, failed ? "" : "");
			if (failed)
				printf("%zu images failed\n", failed);
			printf("time per phase (share of thread time):\n");
			for (int k = 0; k < AUG_PHASE_COUNT; k++)
				printf("  %-9s %5.1f%%  %7.3f ms/image\n", aug_phase_name((aug_phase)k),
				       sum > 0 ? 100 * phases[k] / sum : 0,
				       total ? 1000 * phases[k] / (double)total : 0.0);
			printf("decoding alone (header and region decode, nothing else) would allow %.1f images/s\n",
			       bound);
		}
	}
out:
	for (size_t i = 0; blobs && i < n; i++)
		aug_free(blobs[i].data);
	free(blobs);
	aug_dataset_free(ds);
	aug_pipeline_free(p);
	return rc;
}

const struct command cmd_bench = {
	.name = "bench",
	.summary = "measure images/s of a pipeline on the images of a folder",
	.usage = "DIR -p SPEC|FILE [--threads T] [--seconds S] [--output float|uint8] [--json]",
	.description =
		"Loads every image under DIR into memory, then runs the planned path (header,\n"
		"sample, plan, region decode, one resample, colour, cutout, store) over them on\n"
		"T threads for about S seconds, and reports images/s, where the time goes, and\n"
		"what reading the header and decoding alone would allow (the other phases taken\n"
		"as free; \"decode_bound\" in --json).\n"
		"The float output writes a 3 x H x W float32 batch slot, normalised when the\n"
		"pipeline ends with normalize.",
	.opts = bench_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_bench,
};
