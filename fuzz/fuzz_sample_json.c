/* libFuzzer target: a logged sample read back (aug_sample_from_json), as
 * `augment apply --replay LINE` reads a line a user pastes. The pipeline is
 * fixed and holds every stage; a line that reads must write back to a line
 * that reads to the same sample, and replay on an image of its input size
 * without breaking the limits: the boxes and holes in the line are
 * untrusted numbers. */
#include "fuzz.h"

#define FUZZ_MAX_PIXELS ((uint64_t)1 << 16)

static const char spec[] =
	"resize short=24\n"
	"random_resized_crop 20 scale=0.25:1\n"
	"crop 18 pad=3 fill=reflect\n"
	"center_crop 16\n"
	"hflip\n"
	"vflip p=0.2\n"
	"color_jitter brightness=0.4 contrast=0.4 saturation=0.4 hue=0.1\n"
	"hsl_jitter hue=30 saturation=0.3 lightness=0.2\n"
	"cutout holes=2 size=6 fill=0\n"
	"cutout scale=0.02:0.2 ratio=0.3:3.3 fill=random p=0.5\n"
	"grayscale p=0.1\n"
	"normalize mean=imagenet std=imagenet\n";

static aug_pipeline *pipe_;
static aug_executor *ex;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aug_executor_options eo;

	(void)argc;
	(void)argv;
	aug_executor_options_init(&eo);
	eo.decode.max_pixels = FUZZ_MAX_PIXELS;
	if (aug_pipeline_parse(spec, "fuzz", &pipe_) || aug_executor_new(pipe_, &eo, &ex))
		abort();
	return 0;
}

static void replay(const aug_sample *s)
{
	char json[16384];
	aug_image *img = NULL;
	const aug_image *out = NULL;
	aug_encode_options enc;
	uint8_t *buf = NULL;
	size_t len = 0;
	aug_status st;
	int w = 0, h = 0, c = 0;
	char *p;

	aug_sample_to_json(s, json, sizeof(json));
	/* The input size is in the line: "in":[w,h,c]. */
	p = strstr(json, "\"in\":[");
	FUZZ_CHECK(p && sscanf(p, "\"in\":[%d,%d,%d]", &w, &h, &c) == 3, "no input size in\n%s", json);
	if ((int64_t)w * h > 4096)
		return;
	if (aug_image_new(&img, w, h, c))
		abort();
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w * c; x++)
			aug_image_row(img, y)[x] = (uint8_t)(x * 7 + y * 13);
	aug_encode_options_init(&enc);
	enc.format = AUG_FORMAT_PNG;
	enc.png_level = 0;
	if (aug_encode(img, &enc, &buf, &len))
		abort();
	st = aug_executor_run_sample(ex, buf, len, "fuzz", s, &out);
	FUZZ_CHECK_MESSAGE(st);
	if (!st) {
		aug_sample_output(s, &w, &h, &c);
		FUZZ_CHECK(out->width == w && out->height == h && out->channels == c, "output size");
	}
	aug_free(buf);
	aug_image_free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), a[16384], b[16384];
	aug_sample *s = NULL, *t = NULL;
	aug_status st;

	if (!text || aug_sample_new(&s) || aug_sample_new(&t))
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	st = aug_sample_from_json(pipe_, text, s);
	FUZZ_CHECK_MESSAGE(st);
	if (!st) {
		size_t n = aug_sample_to_json(s, a, sizeof(a));

		FUZZ_CHECK(n < sizeof(a), "JSON too long");
		st = aug_sample_from_json(pipe_, a, t);
		FUZZ_CHECK(st == AUG_OK, "the sample's own JSON does not read back: %s\n%s", aug_error_message(), a);
		aug_sample_to_json(t, b, sizeof(b));
		FUZZ_CHECK(strcmp(a, b) == 0, "JSON changed on a round trip:\n%s\n%s", a, b);
		replay(s);
	}
	aug_sample_free(s);
	aug_sample_free(t);
	free(text);
	return 0;
}
