/* augment grid IMAGES... -p SPEC -o grid.png: one picture of what a
 * pipeline does. A row per image: the original, then K samples (or, with
 * --per-stage, each stage applied alone). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char *opt_out;
static const char *opt_spec;
static const char *opt_cell = "160x160";
static int opt_samples = 6;
static int opt_rows = 6;
static uint64_t opt_seed;
static bool opt_per_stage;
static bool opt_no_labels;
static uint64_t opt_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt grid_opts[] = {
	{ "output", 'o', OPT_STRING, &opt_out, "FILE", "the grid image to write (.png or .jpg)" },
	{ "pipeline", 'p', OPT_STRING, &opt_spec, "SPEC|FILE", "the pipeline: spec text, or a file holding it" },
	{ "samples", 'k', OPT_INT, &opt_samples, "K", "augmented samples per image (default 6)" },
	{ "cell", 0, OPT_STRING, &opt_cell, "WxH", "size of each cell (default 160x160)" },
	{ "rows", 0, OPT_INT, &opt_rows, "R", "at most R images, for folders (default 6)" },
	{ "seed", 's', OPT_U64, &opt_seed, "S", "random seed (default 0)" },
	{ "per-stage", 0, OPT_FLAG, &opt_per_stage, NULL, "one column per stage, each applied alone (p=1)" },
	{ "no-labels", 0, OPT_FLAG, &opt_no_labels, NULL, "no column titles" },
	{ "max-pixels", 0, OPT_U64, &opt_max_pixels, "N", "refuse images of more than N pixels, and pipelines that would make them (default 100000000)" },
	{ 0 },
};

#define GUTTER 4
#define LABEL_H 14

struct canvas {
	aug_image *img;
	int cw, ch;
};

/* Paste `src` scaled to fit the cell (aspect kept, area filter when
 * shrinking), centred, into cell (col, row). */
static int paste(struct canvas *cv, int col, int row, const aug_image *src, int top)
{
	int fw, fh, x0, y0;
	double s = (double)cv->cw / src->width;
	aug_pipeline *p = NULL;
	aug_sample *smp = NULL;
	aug_image *fit = NULL;
	char spec[96];
	int rc = 1;

	if ((double)cv->ch / src->height < s)
		s = (double)cv->ch / src->height;
	fw = (int)(src->width * s + 0.5);
	fh = (int)(src->height * s + 0.5);
	fw = fw < 1 ? 1 : fw > cv->cw ? cv->cw : fw;
	fh = fh < 1 ? 1 : fh > cv->ch ? cv->ch : fh;
	snprintf(spec, sizeof(spec), "resize size=%dx%d filter=%s", fw, fh, s < 1 ? "area" : "bilinear");
	if (aug_pipeline_parse(spec, "grid", &p) || aug_sample_new(&smp) ||
	    aug_pipeline_sample(p, src->width, src->height, src->channels, (aug_key){ 0, 0, 0 }, smp) ||
	    aug_planned_apply(p, smp, src, &fit)) {
		cli_fail(AUG_EINVAL);
		goto out;
	}
	x0 = GUTTER + col * (cv->cw + GUTTER) + (cv->cw - fw) / 2;
	y0 = top + GUTTER + row * (cv->ch + GUTTER) + (cv->ch - fh) / 2;
	for (int y = 0; y < fh; y++) {
		uint8_t *d = aug_image_row(cv->img, y0 + y) + (size_t)x0 * 3;
		const uint8_t *s8 = aug_image_row(fit, y);

		for (int x = 0; x < fw; x++)
			for (int c = 0; c < 3; c++)
				d[3 * x + c] = s8[x * fit->channels + (fit->channels == 3 ? c : 0)];
	}
	rc = 0;
out:
	aug_image_free(fit);
	aug_sample_free(smp);
	aug_pipeline_free(p);
	return rc;
}

/* The pipeline of stage i alone, with p=1. */
static aug_pipeline *single_stage(const aug_pipeline *p, int i)
{
	size_t n = aug_pipeline_describe(p, NULL, 0);
	char *text = malloc(n), *line, *save = NULL, *pp;
	aug_pipeline *q = NULL;
	int k = 0;

	if (!text)
		return NULL;
	aug_pipeline_describe(p, text, n);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), k++) {
		if (k != i)
			continue;
		pp = strstr(line, " p=");
		if (pp)
			*pp = '\0';
		if (aug_pipeline_parse(line, "grid", &q))
			q = NULL;
		break;
	}
	free(text);
	return q;
}

static int run_grid(int argc, char **argv)
{
	aug_pipeline *p = NULL, *stage_p[AUG_MAX_STAGES] = { NULL };
	const char *titles[AUG_MAX_STAGES + 2];
	aug_executor *ex = NULL;
	aug_executor_options eo;
	aug_dataset_scan_options so;
	struct canvas cv = { 0 };
	const char **files = NULL;
	char **owned = NULL;
	int nfiles = 0, cols, rows, top, rc;
	aug_encode_options enc;
	char *title_buf[AUG_MAX_STAGES + 2] = { NULL };

	if (!opt_out) {
		cli_error("grid: -o FILE is required");
		return EXIT_USAGE;
	}
	if (sscanf(opt_cell, "%dx%d", &cv.cw, &cv.ch) != 2 || cv.cw < 8 || cv.ch < 8 || cv.cw > 4096 || cv.ch > 4096) {
		cli_error("grid: --cell must be WxH between 8 and 4096, not '%s'", opt_cell);
		return EXIT_USAGE;
	}
	if (opt_samples < 1 || opt_samples > 64 || opt_rows < 1 || opt_rows > 256) {
		cli_error("grid: --samples must be 1..64 and --rows 1..256");
		return EXIT_USAGE;
	}
	rc = cli_load_pipeline(opt_spec, &p);
	if (rc)
		return rc;
	rc = 1;
	/* The images: files as given, folders scanned in ImageFolder order. */
	files = calloc((size_t)opt_rows, sizeof(*files));
	owned = calloc((size_t)opt_rows, sizeof(*owned));
	if (!files || !owned)
		goto out;
	aug_dataset_scan_options_init(&so);
	so.include_root_files = true;
	for (int i = 0; i < argc && nfiles < opt_rows; i++) {
		struct stat sb;
		aug_dataset *ds = NULL;

		if (stat(argv[i], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			files[nfiles++] = argv[i];
			continue;
		}
		if (aug_dataset_scan(argv[i], &so, &ds)) {
			cli_fail(AUG_EIO);
			goto out;
		}
		for (size_t k = 0; k < aug_dataset_count(ds) && nfiles < opt_rows; k++) {
			owned[nfiles] = strdup(aug_dataset_item_at(ds, k)->path);
			files[nfiles] = owned[nfiles];
			nfiles++;
		}
		aug_dataset_free(ds);
	}
	if (nfiles == 0) {
		cli_error("grid: no images found");
		goto out;
	}
	titles[0] = "original";
	if (opt_per_stage) {
		cols = 1;
		for (int i = 0; i < aug_pipeline_length(p); i++) {
			if (strcmp(aug_pipeline_stage(p, i)->name, "normalize") == 0)
				continue;
			stage_p[cols - 1] = single_stage(p, i);
			if (!stage_p[cols - 1]) {
				cli_fail(AUG_ESPEC);
				goto out;
			}
			titles[cols++] = aug_pipeline_stage(p, i)->name;
		}
	} else {
		cols = 1 + opt_samples;
		for (int k = 1; k < cols; k++) {
			title_buf[k] = malloc(24);
			if (title_buf[k])
				snprintf(title_buf[k], 24, "sample %d", k);
			titles[k] = title_buf[k] ? title_buf[k] : "";
		}
	}
	rows = nfiles;
	top = opt_no_labels ? 0 : LABEL_H;
	if (aug_image_new(&cv.img, GUTTER + cols * (cv.cw + GUTTER), top + GUTTER + rows * (cv.ch + GUTTER), 3)) {
		cli_fail(AUG_ELIMIT);
		goto out;
	}
	memset(cv.img->data, 255, cv.img->stride * (size_t)cv.img->height);
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++)
			for (int y = 0; y < cv.ch; y++)
				memset(aug_image_row(cv.img, top + GUTTER + r * (cv.ch + GUTTER) + y) +
					       (size_t)(GUTTER + c * (cv.cw + GUTTER)) * 3,
				       235, (size_t)cv.cw * 3);
	if (!opt_no_labels)
		for (int c = 0; c < cols; c++)
			cli_text(cv.img, GUTTER + c * (cv.cw + GUTTER) + 2, 3, titles[c], cv.cw - 4,
				 (const uint8_t[3]){ 60, 60, 60 });

	for (int r = 0; r < rows; r++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		aug_image *orig = NULL;
		aug_decode_options dopt;
		aug_status st;

		aug_decode_options_init(&dopt);
		dopt.max_pixels = opt_max_pixels;
		st = aug_file_read(files[r], 0, &buf, &len);
		if (!st)
			st = aug_decode(buf, len, files[r], &dopt, &orig);
		if (st) {
			cli_fail(st);
			aug_free(buf);
			goto out;
		}
		paste(&cv, 0, r, orig, top);
		for (int c = 1; c < cols; c++) {
			const aug_pipeline *use = opt_per_stage ? stage_p[c - 1] : p;
			const aug_image *aug = NULL;
			aug_key key = { opt_seed, opt_per_stage ? 0 : (uint64_t)(c - 1), cli_path_index(files[r]) };

			aug_executor_free(ex);
			ex = NULL;
			aug_executor_options_init(&eo);
			eo.decode.max_pixels = opt_max_pixels;
			st = aug_executor_new(use, &eo, &ex);
			if (!st)
				st = aug_executor_run(ex, buf, len, files[r], key, &aug);
			if (st) {
				cli_fail(st);
				aug_image_free(orig);
				aug_free(buf);
				goto out;
			}
			paste(&cv, c, r, aug, top);
		}
		aug_image_free(orig);
		aug_free(buf);
	}
	aug_encode_options_init(&enc);
	if (aug_encode_file(cv.img, opt_out, &enc)) {
		cli_fail(AUG_EIO);
		goto out;
	}
	printf("%s: %d row%s x %d columns, %dx%d\n", opt_out, rows, rows == 1 ? "" : "s", cols, cv.img->width,
	       cv.img->height);
	rc = 0;
out:
	aug_executor_free(ex);
	for (int i = 0; i < AUG_MAX_STAGES; i++)
		aug_pipeline_free(stage_p[i]);
	for (int i = 0; i < AUG_MAX_STAGES + 2; i++)
		free(title_buf[i]);
	for (int i = 0; owned && i < opt_rows; i++)
		free(owned[i]);
	free(owned);
	free(files);
	aug_image_free(cv.img);
	aug_pipeline_free(p);
	return rc;
}

const struct command cmd_grid = {
	.name = "grid",
	.summary = "draw a grid of augmented samples: what a pipeline does, in one picture",
	.usage = "IMAGES... -p SPEC|FILE -o grid.png [options]",
	.description =
		"A row per image (folders give their first --rows images): the original, then\n"
		"--samples augmented samples, each fitted into its cell. With --per-stage, one\n"
		"column per stage applied alone with p=1, the way lecture notes show flip, crop,\n"
		"scale, cutout and colour jitter side by side.",
	.opts = grid_opts,
	.min_args = 1,
	.max_args = -1,
	.run = run_grid,
};
