/* augment info PATH...: what a file is, or what a data set holds. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static bool opt_json;
static bool opt_strict;
static bool opt_quick;
static uint64_t opt_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt info_opts[] = {
	{ "json", 0, OPT_FLAG, &opt_json, NULL, "print JSON, one object per PATH, for machines" },
	{ "strict", 0, OPT_FLAG, &opt_strict, NULL, "exit with status 1 when any file cannot be read" },
	{ "quick", 0, OPT_FLAG, &opt_quick, NULL, "read headers only; do not decode to check the pixels" },
	{ "max-pixels", 0, OPT_U64, &opt_max_pixels, "N", "refuse images of more than N pixels (default 100000000)" },
	{ 0 },
};

static const char *const orientation_names[9] = {
	"", "normal", "mirrored", "rotated 180", "flipped", "transposed", "rotated 90 cw",
	"transverse", "rotated 90 ccw",
};

struct file_result {
	aug_status status;
	aug_header hdr;
	char *message; /* error, or warning when status is OK */
};

static void check_file(const char *path, struct file_result *r)
{
	aug_decode_options o;
	aug_image *img = NULL;

	memset(r, 0, sizeof(*r));
	aug_warning_clear();
	r->status = aug_probe_file(path, &r->hdr);
	if (!r->status && !opt_quick) {
		aug_decode_options_init(&o);
		o.max_pixels = opt_max_pixels;
		r->status = aug_decode_file(path, &o, &img);
		aug_image_free(img);
	} else if (!r->status && (uint64_t)r->hdr.width * (uint64_t)r->hdr.height > opt_max_pixels) {
		r->status = AUG_ELIMIT;
		r->message = NULL;
		if (asprintf(&r->message, "%s: %dx%d is over the limit of %llu pixels", path, r->hdr.width,
			     r->hdr.height, (unsigned long long)opt_max_pixels) < 0)
			r->message = NULL;
		return;
	}
	if (r->status)
		r->message = strdup(aug_error_message());
	else if (*aug_warning_message())
		r->message = strdup(aug_warning_message());
}

static void print_file_text(const char *path, const struct file_result *r)
{
	const aug_header *h = &r->hdr;
	int o = h->orientation >= 1 && h->orientation <= 8 ? h->orientation : 1;

	printf("%s: %s, %dx%d, %d channel%s%s%s, %d-bit, orientation %d (%s)%s%s\n", path,
	       aug_format_name(h->format), h->width, h->height, h->channels, h->channels == 1 ? "" : "s",
	       h->palette ? " (palette)" : "", h->cmyk ? " (CMYK)" : "", h->bit_depth, o, orientation_names[o],
	       h->interlaced ? (h->format == AUG_FORMAT_JPEG ? ", progressive" : ", interlaced") : "",
	       h->has_alpha ? ", alpha" : "");
}

static void print_file_json(const char *path, const struct file_result *r)
{
	const aug_header *h = &r->hdr;

	printf("{\"path\":");
	json_string(stdout, path);
	if (r->status) {
		printf(",\"error\":");
		json_string(stdout, r->message ? r->message : aug_strerror(r->status));
		printf("}\n");
		return;
	}
	printf(",\"format\":\"%s\",\"width\":%d,\"height\":%d,\"channels\":%d,\"bit_depth\":%d,"
	       "\"orientation\":%d,\"palette\":%s,\"alpha\":%s,\"interlaced\":%s,\"cmyk\":%s",
	       aug_format_name(h->format), h->width, h->height, h->channels, h->bit_depth, h->orientation,
	       h->palette ? "true" : "false", h->has_alpha ? "true" : "false",
	       h->interlaced ? "true" : "false", h->cmyk ? "true" : "false");
	if (r->message) {
		printf(",\"warning\":");
		json_string(stdout, r->message);
	}
	printf("}\n");
}

static int info_file(const char *path)
{
	struct file_result r;
	int rc = 0;

	check_file(path, &r);
	if (opt_json) {
		print_file_json(path, &r);
	} else if (r.status) {
		cli_error("%s", r.message ? r.message : aug_strerror(r.status));
	} else {
		print_file_text(path, &r);
		if (r.message)
			cli_warn("%s", r.message);
	}
	if (r.status)
		rc = 1;
	free(r.message);
	return rc;
}

struct class_stats {
	size_t images;
	size_t bad;
	int min_w, max_w, min_h, max_h;
	size_t formats[3];
};

static void stats_add(struct class_stats *c, const aug_header *h)
{
	if (c->images == 0 || h->width < c->min_w)
		c->min_w = h->width;
	if (c->images == 0 || h->width > c->max_w)
		c->max_w = h->width;
	if (c->images == 0 || h->height < c->min_h)
		c->min_h = h->height;
	if (c->images == 0 || h->height > c->max_h)
		c->max_h = h->height;
	c->images++;
	if ((unsigned)h->format < 3)
		c->formats[h->format]++;
}

static void print_sizes(const struct class_stats *c, char *buf, size_t n)
{
	if (!c->images)
		snprintf(buf, n, "-");
	else if (c->min_w == c->max_w && c->min_h == c->max_h)
		snprintf(buf, n, "%dx%d", c->min_w, c->min_h);
	else
		snprintf(buf, n, "%d..%d x %d..%d", c->min_w, c->max_w, c->min_h, c->max_h);
}

static void print_formats(const struct class_stats *c, char *buf, size_t n)
{
	snprintf(buf, n, "%s%.0zu%s%s%.0zu", c->formats[AUG_FORMAT_PNG] ? "png " : "",
		 c->formats[AUG_FORMAT_PNG], c->formats[AUG_FORMAT_PNG] && c->formats[AUG_FORMAT_JPEG] ? ", " : "",
		 c->formats[AUG_FORMAT_JPEG] ? "jpeg " : "", c->formats[AUG_FORMAT_JPEG]);
	if (!buf[0])
		snprintf(buf, n, "-");
}

static int info_dir(const char *path)
{
	aug_dataset_scan_options so;
	aug_dataset *ds = NULL;
	struct file_result *res;
	struct class_stats *cls, all = { 0 }, loose = { 0 };
	size_t n, nbad = 0, nwarn = 0;
	int ncls, rc = 0;
	aug_status st;

	aug_dataset_scan_options_init(&so);
	so.include_root_files = true;
	st = aug_dataset_scan(path, &so, &ds);
	if (st) {
		cli_fail(st);
		return 1;
	}
	n = aug_dataset_count(ds);
	ncls = aug_dataset_class_count(ds);
	res = calloc(n ? n : 1, sizeof(*res));
	cls = calloc((size_t)ncls + 1, sizeof(*cls));
	if (!res || !cls) {
		cli_error("out of memory");
		free(res);
		free(cls);
		aug_dataset_free(ds);
		return 1;
	}
#pragma omp parallel for schedule(dynamic, 4)
	for (size_t i = 0; i < n; i++)
		check_file(aug_dataset_item_at(ds, i)->path, &res[i]);

	for (size_t i = 0; i < n; i++) {
		const aug_dataset_item *it = aug_dataset_item_at(ds, i);
		struct class_stats *c = it->label >= 0 ? &cls[it->label] : &loose;

		if (res[i].status) {
			c->bad++;
			nbad++;
			continue;
		}
		if (res[i].message)
			nwarn++;
		stats_add(c, &res[i].hdr);
		stats_add(&all, &res[i].hdr);
	}

	if (opt_json) {
		printf("{\"path\":");
		json_string(stdout, path);
		printf(",\"images\":%zu,\"readable\":%zu,\"classes\":[", n, all.images);
		for (int k = 0; k < ncls; k++) {
			printf("%s{\"label\":%d,\"name\":", k ? "," : "", k);
			json_string(stdout, aug_dataset_class_name(ds, k));
			printf(",\"images\":%zu,\"unreadable\":%zu}", cls[k].images, cls[k].bad);
		}
		printf("],\"unclassified\":%zu", loose.images + loose.bad);
		if (all.images)
			printf(",\"width\":{\"min\":%d,\"max\":%d},\"height\":{\"min\":%d,\"max\":%d}", all.min_w,
			       all.max_w, all.min_h, all.max_h);
		printf(",\"formats\":{\"png\":%zu,\"jpeg\":%zu}", all.formats[AUG_FORMAT_PNG],
		       all.formats[AUG_FORMAT_JPEG]);
		printf(",\"unreadable\":[");
		for (size_t i = 0, k = 0; i < n; i++) {
			if (!res[i].status)
				continue;
			printf("%s{\"path\":", k++ ? "," : "");
			json_string(stdout, aug_dataset_item_at(ds, i)->path);
			printf(",\"error\":");
			json_string(stdout, res[i].message ? res[i].message : aug_strerror(res[i].status));
			printf("}");
		}
		printf("],\"warnings\":[");
		for (size_t i = 0, k = 0; i < n; i++) {
			if (res[i].status || !res[i].message)
				continue;
			printf("%s{\"path\":", k++ ? "," : "");
			json_string(stdout, aug_dataset_item_at(ds, i)->path);
			printf(",\"warning\":");
			json_string(stdout, res[i].message);
			printf("}");
		}
		printf("],\"scan_problems\":[");
		for (size_t i = 0; i < aug_dataset_problem_count(ds); i++) {
			const aug_dataset_problem *p = aug_dataset_problem_at(ds, i);

			printf("%s{\"path\":", i ? "," : "");
			json_string(stdout, p->path);
			printf(",\"error\":");
			json_string(stdout, p->reason);
			printf("}");
		}
		printf("]}\n");
	} else {
		char sizes[64], formats[64];
		int wname = 5;

		for (int k = 0; k < ncls; k++) {
			int l = (int)strlen(aug_dataset_class_name(ds, k));

			if (l > wname)
				wname = l < 32 ? l : 32;
		}
		printf("%s: %d class%s, %zu image%s", path, ncls, ncls == 1 ? "" : "es", n, n == 1 ? "" : "s");
		if (nbad)
			printf(" (%zu unreadable)", nbad);
		printf("\n");
		if (ncls) {
			printf("  %5s  %-*s  %6s  %-16s  %s\n", "label", wname, "class", "images", "formats",
			       "sizes (w x h)");
			for (int k = 0; k < ncls; k++) {
				print_sizes(&cls[k], sizes, sizeof(sizes));
				print_formats(&cls[k], formats, sizeof(formats));
				printf("  %5d  %-*.*s  %6zu  %-16s  %s\n", k, wname, 32, aug_dataset_class_name(ds, k),
				       cls[k].images, formats, sizes);
				if (cls[k].images + cls[k].bad == 0)
					cli_warn("%s: class '%s' holds no images", path, aug_dataset_class_name(ds, k));
			}
		}
		if (loose.images + loose.bad)
			printf("  %zu image%s directly under %s belong to no class (ImageFolder skips them)\n",
			       loose.images + loose.bad, loose.images + loose.bad == 1 ? "" : "s", path);
		print_sizes(&all, sizes, sizeof(sizes));
		print_formats(&all, formats, sizeof(formats));
		printf("  all: %zu readable, %s, sizes %s\n", all.images, formats, sizes);
		for (size_t i = 0; i < n; i++)
			if (!res[i].status && res[i].message)
				cli_warn("%s", res[i].message);
		if (nbad) {
			printf("unreadable (%zu):\n", nbad);
			for (size_t i = 0; i < n; i++)
				if (res[i].status)
					printf("  %s\n", res[i].message ? res[i].message : aug_strerror(res[i].status));
		}
		for (size_t i = 0; i < aug_dataset_problem_count(ds); i++) {
			const aug_dataset_problem *p = aug_dataset_problem_at(ds, i);

			cli_warn("%s: %s", p->path, p->reason);
		}
	}
	if (nbad || aug_dataset_problem_count(ds)) {
		if (!opt_json)
			cli_warn("%zu file%s could not be read%s", nbad + aug_dataset_problem_count(ds),
				 nbad + aug_dataset_problem_count(ds) == 1 ? "" : "s",
				 opt_strict ? "" : " (--strict makes this an error)");
		if (opt_strict)
			rc = 1;
	}
	(void)nwarn;
	for (size_t i = 0; i < n; i++)
		free(res[i].message);
	free(res);
	free(cls);
	aug_dataset_free(ds);
	return rc;
}

static int run_info(int argc, char **argv)
{
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		struct stat sb;

		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			rc |= info_dir(argv[i]);
		else
			rc |= info_file(argv[i]);
	}
	return rc;
}

const struct command cmd_info = {
	.name = "info",
	.summary = "describe image files, or a class-per-folder data set",
	.usage = "[options] PATH...",
	.description =
		"For a file: its format (from the magic bytes), size, channels, bit depth and EXIF\n"
		"orientation. For a folder: the classes as torchvision's ImageFolder sees them\n"
		"(sorted sub-folder names; .png .jpg .jpeg in any case), images per class, the\n"
		"range of sizes, and every file that cannot be read, with its reason. Each file\n"
		"is decoded to check it unless --quick. A folder with unreadable files exits 0\n"
		"with a warning, or 1 with --strict; an unreadable file given by name exits 1.",
	.opts = info_opts,
	.min_args = 1,
	.max_args = -1,
	.run = run_info,
};
