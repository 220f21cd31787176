/* libFuzzer target: the pipeline spec parser, and everything a parsed spec
 * drives. The input is spec text. A spec that parses must describe itself in
 * a form that parses back to the same description; it is then sampled and
 * run by the executor on a small image (its sizes limited by max_pixels,
 * which is what stops `resize 65536x65536` before it allocates), its sample
 * written as JSON, read back and replayed to the same bytes, and run on the
 * reference path. */
#include "fuzz.h"

#define NIMAGES 5
#define FUZZ_MAX_PIXELS ((uint64_t)1 << 16)

static struct {
	uint8_t *buf;
	size_t len;
} images[NIMAGES];

static void make_image(int i, int w, int h, int c, aug_format f)
{
	aug_image *img = NULL;
	aug_encode_options eo;

	if (aug_image_new(&img, w, h, c))
		abort();
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w * c; x++)
			aug_image_row(img, y)[x] = (uint8_t)(x * 37 + y * 11 + (x * y) % 7);
	aug_encode_options_init(&eo);
	eo.format = f;
	if (aug_encode(img, &eo, &images[i].buf, &images[i].len))
		abort();
	aug_image_free(img);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	make_image(0, 7, 5, 3, AUG_FORMAT_PNG);
	make_image(1, 1, 1, 1, AUG_FORMAT_PNG);
	make_image(2, 33, 17, 3, AUG_FORMAT_PNG);
	make_image(3, 40, 24, 3, AUG_FORMAT_JPEG);
	make_image(4, 16, 9, 1, AUG_FORMAT_JPEG);
	return 0;
}

/* Describe, parse back, describe again: the same text. */
static void check_describe(const aug_pipeline *p)
{
	size_t n = aug_pipeline_describe(p, NULL, 0), n2;
	char *a = malloc(n), *b;
	aug_pipeline *q = NULL;
	aug_status st;

	FUZZ_CHECK(a != NULL, "no memory");
	FUZZ_CHECK(aug_pipeline_describe(p, a, n) == n, "describe changed length");
	st = aug_pipeline_parse(a, "described", &q);
	FUZZ_CHECK(st == AUG_OK, "the description does not parse: %s\n%s", aug_error_message(), a);
	n2 = aug_pipeline_describe(q, NULL, 0);
	b = malloc(n2);
	FUZZ_CHECK(b != NULL, "no memory");
	aug_pipeline_describe(q, b, n2);
	FUZZ_CHECK(n == n2 && memcmp(a, b, n) == 0, "description changed on a round trip:\n%s\n---\n%s", a, b);
	FUZZ_CHECK(aug_pipeline_length(p) == aug_pipeline_length(q), "length changed");
	free(a);
	free(b);
	aug_pipeline_free(q);
}

static void run_pipeline(const aug_pipeline *p, uint64_t h)
{
	aug_executor_options eo;
	aug_executor *ex = NULL;
	aug_sample *s = NULL, *back = NULL;
	const aug_image *out = NULL, *again = NULL;
	aug_image *copy = NULL, *src = NULL, *ref = NULL;
	aug_key key = { h >> 32, (h >> 8) & 3, h };
	const int im = (int)(h % NIMAGES);
	char json[16384];
	aug_status st;
	int w, hh, c, fw, fh;

	aug_executor_options_init(&eo);
	eo.decode.max_pixels = FUZZ_MAX_PIXELS;
	eo.region_decode = (h >> 4) & 1;
	eo.dct_scaling = (h >> 5) & 1;
	if ((h >> 6) & 1)
		eo.decode.channels = (h >> 7) & 1 ? AUG_CHANNELS_GREY : AUG_CHANNELS_RGB;
	if (aug_executor_new(p, &eo, &ex) || aug_sample_new(&back))
		abort();
	st = aug_executor_run(ex, images[im].buf, images[im].len, "fuzz", key, &out);
	FUZZ_CHECK_MESSAGE(st);
	if (st)
		goto out;
	aug_sample_output(aug_executor_last_sample(ex), &w, &hh, &c);
	FUZZ_CHECK(out->width == w && out->height == hh && out->channels == c, "output %dx%dx%d, sample %dx%dx%d",
		   out->width, out->height, out->channels, w, hh, c);
	FUZZ_CHECK((uint64_t)w * (uint64_t)hh <= FUZZ_MAX_PIXELS, "output over the limit");
	if (aug_image_copy(&copy, out))
		abort();

	/* The logged sample replays to the same bytes. */
	FUZZ_CHECK(aug_sample_to_json(aug_executor_last_sample(ex), json, sizeof(json)) < sizeof(json),
		   "sample JSON too long");
	st = aug_sample_from_json(p, json, back);
	FUZZ_CHECK(st == AUG_OK, "the sample's own JSON does not read back: %s\n%s", aug_error_message(), json);
	st = aug_executor_run_sample(ex, images[im].buf, images[im].len, "fuzz", back, &again);
	FUZZ_CHECK(st == AUG_OK, "replay failed: %s\n%s", aug_error_message(), json);
	FUZZ_CHECK(again->width == copy->width && again->height == copy->height && again->channels == copy->channels,
		   "replay changed the size");
	for (int y = 0; y < copy->height; y++)
		FUZZ_CHECK(memcmp(aug_image_row(again, y), aug_image_row(copy, y),
				  (size_t)copy->width * (size_t)copy->channels) == 0,
			   "replay changed row %d\n%s", y, json);

	/* Float output into a batch slot, when the size is fixed. */
	if (aug_pipeline_fixed_size(p, &fw, &fh) && fw == w && fh == hh) {
		float *slot = malloc((size_t)c * (size_t)w * (size_t)hh * sizeof(float));

		FUZZ_CHECK(slot != NULL, "no memory");
		st = aug_executor_run_f32(ex, images[im].buf, images[im].len, "fuzz", key, slot, c, hh, w);
		FUZZ_CHECK(st == AUG_OK, "run_f32 failed where run did not: %s", aug_error_message());
		free(slot);
	}

	/* The reference path on the decoded image. */
	if (aug_decode(images[im].buf, images[im].len, "fuzz", &eo.decode, &src) == AUG_OK &&
	    !aug_sample_new(&s) &&
	    !aug_pipeline_sample(p, src->width, src->height, src->channels, key, s)) {
		st = aug_reference_apply(p, s, src, &ref);
		FUZZ_CHECK_MESSAGE(st);
		if (!st)
			FUZZ_CHECK(ref->width == w && ref->height == hh && ref->channels == c,
				   "reference %dx%dx%d, planned %dx%dx%d", ref->width, ref->height, ref->channels, w,
				   hh, c);
		aug_image_free(ref);
		ref = NULL;
		st = aug_planned_apply(p, s, src, &ref);
		FUZZ_CHECK_MESSAGE(st);
		aug_image_free(ref);
	}
out:
	aug_image_free(src);
	aug_image_free(copy);
	aug_sample_free(s);
	aug_sample_free(back);
	aug_executor_free(ex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	aug_pipeline *p = NULL;
	aug_status st;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	st = aug_pipeline_parse(text, "fuzz", &p);
	FUZZ_CHECK_MESSAGE(st);
	FUZZ_CHECK((st == AUG_OK) == (p != NULL), "status %d with pipeline %p", (int)st, (void *)p);
	if (p) {
		FUZZ_CHECK(aug_pipeline_length(p) >= 0 && aug_pipeline_length(p) <= AUG_MAX_STAGES, "length");
		check_describe(p);
		run_pipeline(p, fuzz_hash(data, size));
	}
	aug_pipeline_free(p);
	free(text);
	return 0;
}
