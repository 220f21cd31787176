/* augment import KIND [SRC] -o DIR: a published data set to class-per-folder PNGs. */
#include <string.h>

#include "cli.h"

/* Where Debian's dataset-fashion-mnist package puts the files. */
#define FASHION_MNIST_DEFAULT "/usr/share/datasets/fashion-mnist"

static const char *opt_out;
static int opt_threads;
static int opt_level = -1;
static uint64_t opt_limit;
static bool opt_quiet;
static uint64_t opt_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt import_opts[] = {
	{ "output", 'o', OPT_STRING, &opt_out, "DIR", "output folder: DIR/train/<class>/, DIR/test/<class>/ (required)" },
	{ "threads", 't', OPT_INT, &opt_threads, "T", "worker threads (default: all cores)" },
	{ "png-level", 0, OPT_INT, &opt_level, "L", "PNG zlib level 0..9 (default 1)" },
	{ "limit", 0, OPT_U64, &opt_limit, "N", "import only the first N images of each split (for quick tests)" },
	{ "quiet", 0, OPT_FLAG, &opt_quiet, NULL, "no progress and no summary" },
	{ "max-pixels", 0, OPT_U64, &opt_max_pixels, "N", "refuse sources whose images have more than N pixels (default 100000000)" },
	{ 0 },
};

static void on_progress(void *user, size_t done, size_t total)
{
	struct progress *pr = user;

	pr->total = total;
	progress_update(pr, done, false);
}

static int run_import(int argc, char **argv)
{
	aug_import_options o;
	aug_import_report rep;
	aug_import_kind kind;
	struct progress pr;
	const char *src = argc > 1 ? argv[1] : "-";
	aug_status st;

	if (!opt_out) {
		cli_error("import: -o DIR is required");
		return EXIT_USAGE;
	}
	if (aug_import_kind_parse(argv[0], &kind)) {
		cli_error("import: unknown data set '%s'; known: mnist, fashion-mnist, cifar10", argv[0]);
		return EXIT_USAGE;
	}
	if (opt_threads < 0 || opt_level < -1 || opt_level > 9) {
		cli_error("import: --threads must be >= 0, --png-level 0..9");
		return EXIT_USAGE;
	}
	if (strcmp(src, "-") == 0) {
		if (kind != AUG_IMPORT_FASHION_MNIST) {
			cli_error("import: %s needs SRC, the folder (or archive) holding the files",
				  aug_import_kind_name(kind));
			return EXIT_USAGE;
		}
		src = FASHION_MNIST_DEFAULT;
	}
	aug_import_options_init(&o);
	if (opt_level >= 0)
		o.png_level = opt_level;
	o.threads = opt_threads;
	o.limit = (size_t)opt_limit;
	o.max_pixels = opt_max_pixels;
	progress_init(&pr, 0, opt_quiet);
	o.progress = on_progress;
	o.progress_user = &pr;
	st = aug_import(kind, src, opt_out, &o, &rep);
	if (!opt_quiet && rep.splits[0].images + rep.splits[1].images)
		progress_update(&pr, rep.splits[0].written + rep.splits[0].skipped + rep.splits[1].written +
					     rep.splits[1].skipped, true);
	if (st) {
		cli_fail(st);
		return 1;
	}
	if (!opt_quiet) {
		printf("%s: %s -> %s: %dx%d %s, %d classes; read and checked in %.2f s\n",
		       aug_import_kind_name(kind), src, opt_out, rep.width, rep.height,
		       rep.channels == 1 ? "grey" : "RGB", rep.class_count, rep.read_seconds);
		for (int k = 0; k < 2; k++) {
			const aug_import_split *s = &rep.splits[k];

			printf("  %-5s %6zu images", s->name, s->images);
			if (s->images < s->records)
				printf(" (of %zu)", s->records);
			printf(", %2d classes: %zu written, %zu already there; %.2f s\n", s->classes, s->written,
			       s->skipped, s->seconds);
		}
		printf("  class folders (label: name):");
		for (int c = 0; c < rep.class_count; c++)
			printf(" %d:%s", c, rep.class_names[c]);
		printf("\n  (listed in %s/classes.txt; ImageFolder numbers the folders in sorted order)\n", opt_out);
	}
	return 0;
}

const struct command cmd_import = {
	.name = "import",
	.summary = "turn MNIST, Fashion-MNIST or CIFAR-10 files into class folders of PNGs",
	.usage = "mnist|fashion-mnist|cifar10 [SRC] -o DIR [options]",
	.description =
		"Writes DIR/train/<class>/<index>.png and DIR/test/<class>/<index>.png, where\n"
		"<index> is the record's position in its split (00042.png), and DIR/classes.txt.\n"
		"\n"
		"mnist, fashion-mnist: SRC is a folder holding train-images-idx3-ubyte,\n"
		"  train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,\n"
		"  gzipped (.gz) or not. Grey PNGs. For fashion-mnist SRC may be omitted (or -):\n"
		"  " FASHION_MNIST_DEFAULT " (Debian's dataset-fashion-mnist).\n"
		"cifar10: SRC is cifar-10-batches-bin (data_batch_1.bin .. data_batch_5.bin,\n"
		"  test_batch.bin, batches.meta.txt), a folder holding it, or\n"
		"  cifar-10-binary.tar.gz itself. RGB PNGs.\n"
		"\n"
		"Every file is checked before anything is written; a damaged one is named,\n"
		"with the problem, and the exit status is 1. PNGs are written atomically and\n"
		"existing ones are skipped, so an interrupted import resumes.",
	.opts = import_opts,
	.min_args = 1,
	.max_args = 2,
	.run = run_import,
};
