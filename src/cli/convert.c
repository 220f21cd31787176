/* augment convert IN OUT: decode, then encode by OUT's extension. */
#include <string.h>

#include "cli.h"

static int opt_quality = 90;
static int opt_level = 6;
static bool opt_444;
static bool opt_optimize;
static bool opt_no_orient;
static bool opt_grey;
static uint64_t opt_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt convert_opts[] = {
	{ "quality", 'q', OPT_INT, &opt_quality, "Q", "JPEG quality 1..100 (default 90)" },
	{ "444", 0, OPT_FLAG, &opt_444, NULL, "JPEG: keep full colour resolution (default 4:2:0)" },
	{ "optimize", 0, OPT_FLAG, &opt_optimize, NULL, "JPEG: fit the Huffman tables to the image (3% smaller at q90, slower)" },
	{ "png-level", 0, OPT_INT, &opt_level, "L", "PNG zlib level 0..9 (default 6)" },
	{ "grey", 0, OPT_FLAG, &opt_grey, NULL, "convert to one grey channel" },
	{ "no-orientation", 0, OPT_FLAG, &opt_no_orient, NULL, "do not apply the EXIF orientation" },
	{ "max-pixels", 0, OPT_U64, &opt_max_pixels, "N", "refuse images of more than N pixels (default 100000000)" },
	{ 0 },
};

static int run_convert(int argc, char **argv)
{
	aug_decode_options d;
	aug_encode_options e;
	aug_image *img = NULL;
	aug_status st;

	(void)argc;
	if (opt_quality < 1 || opt_quality > 100) {
		cli_error("convert: --quality must be 1..100, not %d", opt_quality);
		return EXIT_USAGE;
	}
	if (opt_level < 0 || opt_level > 9) {
		cli_error("convert: --png-level must be 0..9, not %d", opt_level);
		return EXIT_USAGE;
	}
	aug_encode_options_init(&e);
	e.format = aug_format_from_path(argv[1]);
	if (e.format == AUG_FORMAT_UNKNOWN) {
		cli_error("convert: %s: the extension names no format we write (.png, .jpg, .jpeg)", argv[1]);
		return EXIT_USAGE;
	}
	e.quality = opt_quality;
	e.optimize = opt_optimize;
	e.chroma_444 = opt_444;
	e.png_level = opt_level;
	aug_decode_options_init(&d);
	d.max_pixels = opt_max_pixels;
	d.ignore_orientation = opt_no_orient;
	if (opt_grey)
		d.channels = AUG_CHANNELS_GREY;
	aug_warning_clear();
	st = aug_decode_file(argv[0], &d, &img);
	if (st) {
		cli_fail(st);
		return 1;
	}
	if (*aug_warning_message())
		cli_warn("%s", aug_warning_message());
	st = aug_encode_file(img, argv[1], &e);
	aug_image_free(img);
	if (st) {
		cli_fail(st);
		return 1;
	}
	return 0;
}

const struct command cmd_convert = {
	.name = "convert",
	.summary = "decode an image and write it in the format of OUT's extension",
	.usage = "[options] IN OUT",
	.description =
		"IN's format comes from its bytes, OUT's from its extension (.png, .jpg, .jpeg).\n"
		"EXIF orientation is applied, alpha is composited onto white, 16-bit samples are\n"
		"reduced to 8. OUT is written atomically: it is whole or not there.",
	.opts = convert_opts,
	.min_args = 2,
	.max_args = 2,
	.run = run_convert,
};
