/* Pipelines: the spec language, sampling, every stage against an independent
 * expectation, and the planned path against the reference path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "augment/internal.h"
#include "support.h"

static aug_pipeline *parse_ok(const char *spec)
{
	aug_pipeline *p = NULL;
	aug_status st = aug_pipeline_parse(spec, "test", &p);

	cr_assert_eq(st, AUG_OK, "parse '%s': %s", spec, aug_error_message());
	return p;
}

/* A deterministic test image whose every pixel differs from its neighbours. */
static aug_image *pattern(int w, int h, int c)
{
	aug_image *img = NULL;

	cr_assert_eq(aug_image_new(&img, w, h, c), AUG_OK);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int ch = 0; ch < c; ch++)
				aug_image_row(img, y)[x * c + ch] = (uint8_t)((x * 7 + y * 13 + ch * 101 + x * y) & 255);
	return img;
}

static uint8_t px(const aug_image *img, int x, int y, int ch)
{
	return aug_image_row(img, y)[(size_t)x * (size_t)img->channels + (size_t)ch];
}

static aug_image *run_ref(const aug_pipeline *p, const aug_image *src, aug_key key, aug_sample **sp)
{
	aug_sample *s = NULL;
	aug_image *out = NULL;

	cr_assert_eq(aug_sample_new(&s), AUG_OK);
	cr_assert_eq(aug_pipeline_sample(p, src->width, src->height, src->channels, key, s), AUG_OK);
	cr_assert_eq(aug_reference_apply(p, s, src, &out), AUG_OK, "%s", aug_error_message());
	if (sp)
		*sp = s;
	else
		aug_sample_free(s);
	return out;
}

/* ---- Spec language ------------------------------------------------------ */

CTest(spec, stages_lines_semicolons_comments)
{
	aug_pipeline *p = parse_ok("# CIFAR\ncrop 32 pad=4   # positional size\nhflip; cutout size=16\n\n");
	char buf[1024];

	cr_assert_eq(aug_pipeline_length(p), 3);
	cr_assert_str_eq(aug_pipeline_stage(p, 0)->name, "crop");
	cr_assert_str_eq(aug_pipeline_stage(p, 1)->name, "hflip");
	cr_assert_str_eq(aug_pipeline_stage(p, 2)->name, "cutout");
	aug_pipeline_describe(p, buf, sizeof(buf));
	cr_assert(strstr(buf, "crop size=32 pad=4 fill=0 position=random p=1\n"), "%s", buf);
	cr_assert(strstr(buf, "hflip p=0.5\n"), "%s", buf);
	aug_pipeline_free(p);
}

CTest(spec, describe_round_trips)
{
	aug_pipeline *p = parse_ok("random_resized_crop 224 scale=0.08:1 ratio=3/4:4/3; hflip; "
				   "color_jitter brightness=.4 contrast=.4 saturation=.4 hue=.1; "
				   "cutout 56 p=0.5; normalize mean=imagenet std=imagenet");
	char a[2048], b[2048];
	aug_pipeline *q;

	aug_pipeline_describe(p, a, sizeof(a));
	q = parse_ok(a);
	aug_pipeline_describe(q, b, sizeof(b));
	cr_assert_str_eq(a, b);
	cr_assert_eq(p->count, q->count);
	for (int i = 0; i < p->count; i++) {
		/* Same stage apart from where it was written. */
		q->stages[i].line = p->stages[i].line;
		q->stages[i].col = p->stages[i].col;
		cr_assert_eq(memcmp(&p->stages[i], &q->stages[i], sizeof(struct stage)), 0, "stage %d", i);
	}
	cr_assert(aug_pipeline_normalizes(p));
	aug_pipeline_free(p);
	aug_pipeline_free(q);
}

CTest(spec, values_land_where_they_should)
{
	aug_pipeline *p = parse_ok("crop size=30x20 pad=2 fill=1,2,3; resize short=64 filter=area; "
				   "cutout holes=3 size=8x4 fill=mean inside=yes; hsl_jitter hue=30 saturation=.2");
	const struct stage *s = p->stages;

	cr_assert_eq(s[0].width, 30);
	cr_assert_eq(s[0].height, 20);
	cr_assert_eq(s[0].pad, 2);
	cr_assert_eq(s[0].fill.rgb[2], 3);
	cr_assert_eq(s[1].resize_mode, RESIZE_SHORT);
	cr_assert_eq(s[1].side, 64);
	cr_assert_eq(s[1].filter, FILTER_AREA);
	cr_assert_eq(s[2].holes, 3);
	cr_assert_eq(s[2].hole_w, 8);
	cr_assert_eq(s[2].hole_h, 4);
	cr_assert_eq(s[2].fill.mode, FILL_MEAN);
	cr_assert(s[2].inside);
	cr_assert_float_eq(s[3].hue_deg, 30, 1e-12);
	cr_assert_float_eq(s[3].sat_range, 0.2, 1e-12);
	cr_assert_float_eq(s[3].light_range, 0, 1e-12);
	aug_pipeline_free(p);
}

static void expect_error(const char *spec, const char *where, const char *what)
{
	aug_pipeline *p = NULL;
	aug_status st = aug_pipeline_parse(spec, "s.aug", &p);
	const char *msg = aug_error_message();

	cr_assert_eq(st, AUG_ESPEC, "'%s' parsed", spec);
	cr_assert_null(p);
	cr_assert(strstr(msg, where), "'%s': message '%s' lacks '%s'", spec, msg, where);
	cr_assert(strstr(msg, what), "'%s': message '%s' lacks '%s'", spec, msg, what);
	cr_assert_null(strchr(msg, '\n'), "one line: %s", msg);
}

CTest(spec_errors, unknown_stage_suggests)
{
	expect_error("hflip\nhflp p=0.3", "s.aug:2:1:", "did you mean 'hflip'");
	expect_error("crop 32; colour_jitter brightness=1", "s.aug:1:10:", "did you mean 'color_jitter'");
	expect_error("sharpen", "s.aug:1:1:", "unknown stage 'sharpen'");
}

CTest(spec_errors, unknown_parameter_suggests)
{
	expect_error("color_jitter brightnes=0.4", "s.aug:1:14:", "did you mean 'brightness'");
	expect_error("hflip q=1", "s.aug:1:7:", "no parameter 'q'");
}

CTest(spec_errors, bad_number)
{
	expect_error("hflip p=abc", "s.aug:1:9:", "expected a number for p");
	expect_error("crop size=3x", "s.aug:1:11:", "expected a size");
	expect_error("crop 32 pad=1.5", "s.aug:1:13:", "expected a whole number");
	expect_error("random_resized_crop 10 scale=0.5:x", "s.aug:1:30:", "expected a range");
}

CTest(spec_errors, out_of_range)
{
	expect_error("hflip p=1.5", "s.aug:1:9:", "out of range 0..1");
	expect_error("color_jitter hue=0.7", "s.aug:1:18:", "out of range 0..0.5");
	expect_error("random_resized_crop 10 scale=0.9:0.1", "s.aug:1:30:", "range is empty");
	expect_error("crop size=0", "s.aug:1:11:", "out of range");
	expect_error("cutout size=8 fill=300", "s.aug:1:20:", "expected mean|random");
}

CTest(spec_errors, missing_equals_and_values)
{
	expect_error("crop 32 pad 4", "s.aug:1:12:", "expected '=' after parameter 'pad'");
	expect_error("hflip p=", "s.aug:1:9:", "expected a value after 'p='");
	expect_error("hflip 0.5", "s.aug:1:7:", "expected key=value");
	expect_error("crop 32 32", "s.aug:1:9:", "size is already given");
}

CTest(spec_errors, stage_level_rules)
{
	expect_error("crop pad=4", "s.aug:1:1:", "crop needs size");
	expect_error("resize size=10 short=5", "s.aug:1:1:", "exactly one of");
	expect_error("cutout holes=2", "s.aug:1:1:", "either size=");
	expect_error("normalize\nhflip", "s.aug:1:1:", "normalize must be the last stage");
	expect_error("grayscale channels=1 p=0.5", "s.aug:1:1:", "needs p=1");
	expect_error("hflip p=1 p=0", "s.aug:1:11:", "given twice");
	expect_error("  # nothing\n", "s.aug", "holds no stages");
}

CTest(spec, catalogue_defaults_parse)
{
	/* Every default in the catalogue is itself valid: the parser applies
	 * them through the same code. */
	for (int i = 0; i < aug_stage_info_count(); i++) {
		const aug_stage_info *info = aug_stage_info_at(i);

		cr_assert_not_null(info->name);
		cr_assert_gt(info->param_count, 0, "%s", info->name);
		cr_assert_not_null(info->reference);
	}
	cr_assert_null(aug_stage_info_at(aug_stage_info_count()));
}

CTest(spec, fixed_size)
{
	int w = 0, h = 0;
	aug_pipeline *p = parse_ok("resize short=40; crop 32; hflip");

	cr_assert(aug_pipeline_fixed_size(p, &w, &h));
	cr_assert_eq(w, 32);
	cr_assert_eq(h, 32);
	aug_pipeline_free(p);
	p = parse_ok("crop 32; crop 16 p=0.5");
	cr_assert_not(aug_pipeline_fixed_size(p, &w, &h));
	aug_pipeline_free(p);
	p = parse_ok("resize short=40");
	cr_assert_not(aug_pipeline_fixed_size(p, &w, &h));
	aug_pipeline_free(p);
}

/* ---- Sampling ----------------------------------------------------------- */

CTest(sample, same_key_same_draws_other_key_other_draws)
{
	aug_pipeline *p = parse_ok("random_resized_crop 64; hflip; color_jitter brightness=.4 hue=.1");
	aug_sample *a, *b;
	char ja[2048], jb[2048];
	aug_key k = { 7, 2, 1234 };

	aug_sample_new(&a);
	aug_sample_new(&b);
	aug_pipeline_sample(p, 500, 400, 3, k, a);
	aug_pipeline_sample(p, 500, 400, 3, k, b);
	aug_sample_to_json(a, ja, sizeof(ja));
	aug_sample_to_json(b, jb, sizeof(jb));
	cr_assert_str_eq(ja, jb);
	k.index++;
	aug_pipeline_sample(p, 500, 400, 3, k, b);
	aug_sample_to_json(b, jb, sizeof(jb));
	cr_assert_str_neq(ja, jb);
	aug_sample_free(a);
	aug_sample_free(b);
	aug_pipeline_free(p);
}

CTest(sample, a_stage_draws_do_not_depend_on_earlier_stages)
{
	/* Adding a stage in front must not change what the later stage draws
	 * (streams are keyed by stage index, so compare stage 1 of both). */
	aug_pipeline *p = parse_ok("hflip p=0; cutout 10");
	aug_pipeline *q = parse_ok("hflip p=1; cutout 10");
	aug_sample *a, *b;
	aug_key k = { 1, 0, 5 };

	aug_sample_new(&a);
	aug_sample_new(&b);
	aug_pipeline_sample(p, 100, 80, 3, k, a);
	aug_pipeline_sample(q, 100, 80, 3, k, b);
	cr_assert_eq(memcmp(&a->draws[1].holes[0], &b->draws[1].holes[0], sizeof(struct hole)), 0);
	aug_sample_free(a);
	aug_sample_free(b);
	aug_pipeline_free(p);
	aug_pipeline_free(q);
}

CTest(sample, json_round_trip_replays_exactly)
{
	aug_pipeline *p = parse_ok("random_resized_crop 48 scale=0.2:1; hflip; vflip; crop 40 pad=4; "
				   "color_jitter brightness=.4 contrast=.4 saturation=.4 hue=.1; "
				   "hsl_jitter hue=20 saturation=.3 lightness=.2; cutout holes=3 size=8; grayscale");
	aug_image *src = pattern(120, 90, 3), *o1, *o2;
	aug_sample *s, *r;
	char j1[4096], j2[4096];

	for (uint64_t idx = 0; idx < 20; idx++) {
		aug_key k = { 99, 1, idx };

		o1 = run_ref(p, src, k, &s);
		aug_sample_to_json(s, j1, sizeof(j1));
		aug_sample_new(&r);
		cr_assert_eq(aug_sample_from_json(p, j1, r), AUG_OK, "%s: %s", j1, aug_error_message());
		aug_sample_to_json(r, j2, sizeof(j2));
		cr_assert_str_eq(j1, j2);
		cr_assert_eq(aug_reference_apply(p, r, src, &o2), AUG_OK);
		cr_assert_eq(o1->width, o2->width);
		for (int y = 0; y < o1->height; y++)
			cr_assert_eq(memcmp(aug_image_row(o1, y), aug_image_row(o2, y), (size_t)o1->width * (size_t)o1->channels), 0);
		aug_image_free(o1);
		aug_image_free(o2);
		aug_sample_free(s);
		aug_sample_free(r);
	}
	aug_image_free(src);
	aug_pipeline_free(p);
}

CTest(sample, from_json_rejects_garbage)
{
	aug_pipeline *p = parse_ok("hflip; crop 10");
	aug_sample *s;

	aug_sample_new(&s);
	cr_assert_neq(aug_sample_from_json(p, "{}", s), AUG_OK);
	cr_assert_neq(aug_sample_from_json(p, "{\"seed\":1,\"in\":[10,10,3],\"stages\":[{\"stage\":\"vflip\"}]}", s), AUG_OK);
	cr_assert_neq(aug_sample_from_json(p, "{\"seed\":1,\"in\":[0,10,3],\"stages\":[]}", s), AUG_OK);
	aug_sample_free(s);
	aug_pipeline_free(p);
}

/* ---- Geometry, exact ---------------------------------------------------- */

CTest(stages, hflip_vflip_exact)
{
	aug_pipeline *p = parse_ok("hflip p=1; vflip p=1");
	aug_image *src = pattern(17, 11, 3);
	aug_image *out = run_ref(p, src, (aug_key){ 0, 0, 0 }, NULL);

	for (int y = 0; y < 11; y++)
		for (int x = 0; x < 17; x++)
			for (int c = 0; c < 3; c++)
				cr_assert_eq(px(out, x, y, c), px(src, 16 - x, 10 - y, c));
	aug_image_free(out);
	aug_image_free(src);
	aug_pipeline_free(p);
}

CTest(stages, crop_with_padding_exact)
{
	aug_pipeline *p = parse_ok("crop 32 pad=4 fill=9,8,7");
	aug_image *src = pattern(32, 32, 3);
	int seen_x[9] = { 0 };

	for (uint64_t i = 0; i < 300; i++) {
		aug_sample *s;
		aug_image *out = run_ref(p, src, (aug_key){ 1, 0, i }, &s);
		int bx = s->draws[0].bx, by = s->draws[0].by;

		/* The CIFAR recipe: offsets -4..4 on each axis, uniform. */
		cr_assert(bx >= -4 && bx <= 4 && by >= -4 && by <= 4);
		seen_x[bx + 4]++;
		cr_assert_eq(out->width, 32);
		for (int y = 0; y < 32; y++)
			for (int x = 0; x < 32; x++) {
				int sx = x + bx, sy = y + by;
				bool in = sx >= 0 && sx < 32 && sy >= 0 && sy < 32;

				for (int c = 0; c < 3; c++)
					cr_assert_eq(px(out, x, y, c), in ? px(src, sx, sy, c) : (uint8_t)(9 - c));
			}
		aug_image_free(out);
		aug_sample_free(s);
	}
	for (int k = 0; k < 9; k++)
		cr_assert_gt(seen_x[k], 10, "offset %d seen %d times in 300", k - 4, seen_x[k]);
	aug_image_free(src);
	aug_pipeline_free(p);
}

CTest(stages, crop_larger_than_image_pads_evenly)
{
	aug_pipeline *p = parse_ok("crop 12x6");
	aug_image *src = pattern(8, 6, 1);
	aug_sample *s;
	aug_image *out = run_ref(p, src, (aug_key){ 0, 0, 0 }, &s);

	/* pad_if_needed: 4 extra columns, 2 each side, so the only box is x = -2. */
	cr_assert_eq(s->draws[0].bx, -2);
	cr_assert_eq(s->draws[0].by, 0);
	cr_assert_eq(px(out, 0, 0, 0), 0);
	cr_assert_eq(px(out, 2, 3, 0), px(src, 0, 3, 0));
	aug_image_free(out);
	aug_sample_free(s);
	aug_image_free(src);
	aug_pipeline_free(p);
}

CTest(stages, crop_edge_and_reflect_fill)
{
	aug_image *src = pattern(5, 4, 1);
	aug_image *e = NULL, *r = NULL;
	struct fill edge = { FILL_EDGE, { 0 } }, refl = { FILL_REFLECT, { 0 } };

	cr_assert_eq(aug__crop_reference(src, -2, -1, 9, 6, &edge, &e), AUG_OK);
	cr_assert_eq(aug__crop_reference(src, -2, -1, 9, 6, &refl, &r), AUG_OK);
	/* Edge: (-2,-1) -> (0,0). Reflect: x -2 -> 2, y -1 -> 1; x 6 -> 2. */
	cr_assert_eq(px(e, 0, 0, 0), px(src, 0, 0, 0));
	cr_assert_eq(px(e, 8, 5, 0), px(src, 4, 3, 0));
	cr_assert_eq(px(r, 0, 0, 0), px(src, 2, 1, 0));
	cr_assert_eq(px(r, 8, 0, 0), px(src, 2, 1, 0));
	cr_assert_eq(px(r, 3, 5, 0), px(src, 1, 2, 0));
	aug_image_free(e);
	aug_image_free(r);
	aug_image_free(src);
}

CTest(stages, center_crop_matches_torchvision_rounding)
{
	/* torchvision: top = int(round((h - th) / 2)), Python rounds half to
	 * even: (9 - 4) / 2 = 2.5 -> 2; (11 - 4) / 2 = 3.5 -> 4. */
	aug_pipeline *p = parse_ok("center_crop 4");
	aug_sample *s;
	aug_image *a = pattern(9, 11, 1);
	aug_image *out = run_ref(p, a, (aug_key){ 0, 0, 0 }, &s);

	cr_assert_eq(s->draws[0].bx, 2);
	cr_assert_eq(s->draws[0].by, 4);
	cr_assert_eq(px(out, 0, 0, 0), px(a, 2, 4, 0));
	aug_image_free(out);
	aug_sample_free(s);
	aug_image_free(a);
	aug_pipeline_free(p);
}

/* ---- random_resized_crop's distribution --------------------------------- */

/* A second, independent implementation of torchvision's sampling, driven
 * by a different generator (xorshift64*), to compute the expected mean area
 * fraction. */
static uint64_t xs_state = 88172645463325252ULL;
static double xs_uniform(void)
{
	xs_state ^= xs_state >> 12;
	xs_state ^= xs_state << 25;
	xs_state ^= xs_state >> 27;
	return (double)((xs_state * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
}

static double expected_rrc_area(int W, int H, double s0, double s1, double r0, double r1, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++) {
		double frac = -1;

		for (int t = 0; t < 10; t++) {
			double area = W * H * (s0 + (s1 - s0) * xs_uniform());
			double ar = exp(log(r0) + (log(r1) - log(r0)) * xs_uniform());
			double w = nearbyint(sqrt(area * ar)), h = nearbyint(sqrt(area / ar));

			if (w > 0 && w <= W && h > 0 && h <= H) {
				frac = w * h / (W * H);
				break;
			}
		}
		if (frac < 0) {
			double in = (double)W / H, w = W, h = H;

			if (in < r0)
				h = nearbyint(w / r0);
			else if (in > r1)
				w = nearbyint(h * r1);
			frac = w * h / (W * H);
		}
		sum += frac;
	}
	return sum / n;
}

CTest(stages, random_resized_crop_distribution)
{
	aug_pipeline *p = parse_ok("random_resized_crop 32 scale=0.08:1 ratio=3/4:4/3");
	aug_sample *s;
	const int W = 400, H = 300, N = 10000;
	double sum = 0, expect;

	aug_sample_new(&s);
	for (int i = 0; i < N; i++) {
		const struct draw *d = &s->draws[0];

		aug_pipeline_sample(p, W, H, 3, (aug_key){ 3, 0, (uint64_t)i }, s);
		cr_assert(d->bx >= 0 && d->by >= 0 && d->bx + d->bw <= W && d->by + d->bh <= H,
			  "box %d,%d %dx%d outside", d->bx, d->by, d->bw, d->bh);
		cr_assert_eq(s->out_w, 32);
		sum += (double)d->bw * d->bh / (W * H);
	}
	expect = expected_rrc_area(W, H, 0.08, 1, 3.0 / 4, 4.0 / 3, 400000);
	cr_assert_lt(fabs(sum / N - expect) / expect, 0.01, "mean area %f, expected %f", sum / N, expect);
	aug_sample_free(s);
	aug_pipeline_free(p);
}

CTest(stages, random_resized_crop_fallback)
{
	/* A 1000x10 strip: no box of ratio 3/4..4/3 with 50-100% of the area
	 * fits, so every draw falls back to the centre crop clamped to ratio
	 * 4/3: h = 10, w = round(10 * 4/3) = 13, at x = (1000 - 13) // 2. */
	aug_pipeline *p = parse_ok("random_resized_crop 16 scale=0.5:1");
	aug_sample *s;

	aug_sample_new(&s);
	for (int i = 0; i < 50; i++) {
		aug_pipeline_sample(p, 1000, 10, 3, (aug_key){ 1, 0, (uint64_t)i }, s);
		cr_assert_eq(s->draws[0].bw, 13);
		cr_assert_eq(s->draws[0].bh, 10);
		cr_assert_eq(s->draws[0].bx, 493);
		cr_assert_eq(s->draws[0].by, 0);
	}
	aug_sample_free(s);
	aug_pipeline_free(p);
}

/* ---- Resizing ----------------------------------------------------------- */

CTest(stages, bilinear_upscale_matches_direct_formula)
{
	aug_image *src = pattern(13, 9, 3), *out = NULL;
	const int W = 31, H = 20;

	cr_assert_eq(aug__resize_reference(src, W, H, FILTER_BILINEAR, &out), AUG_OK);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			/* Half-pixel centres, clamped at the edges. */
			double sx = (x + 0.5) * 13.0 / W - 0.5, sy = (y + 0.5) * 9.0 / H - 0.5;
			int x0, y0, x1, y1;
			double fx, fy;

			sx = sx < 0 ? 0 : sx;
			sy = sy < 0 ? 0 : sy;
			x0 = (int)sx;
			y0 = (int)sy;
			x1 = x0 + 1 < 13 ? x0 + 1 : 12;
			y1 = y0 + 1 < 9 ? y0 + 1 : 8;
			fx = sx - x0;
			fy = sy - y0;
			for (int c = 0; c < 3; c++) {
				double v = (1 - fy) * ((1 - fx) * px(src, x0, y0, c) + fx * px(src, x1, y0, c)) +
					   fy * ((1 - fx) * px(src, x0, y1, c) + fx * px(src, x1, y1, c));

				cr_assert_leq(fabs(px(out, x, y, c) - v), 1.0, "(%d,%d,%d): %d vs %f", x, y, c,
					      px(out, x, y, c), v);
			}
		}
	aug_image_free(out);
	aug_image_free(src);
}

CTest(stages, antialiased_shrink_of_a_checkerboard_is_grey)
{
	/* A one-pixel checkerboard of 0 and 255 halved: without antialiasing,
	 * bilinear sampling at the half-pixel centres lands between pixels and
	 * happens to average; shrinking by 4 would alias to one colour. With the
	 * stretched triangle every output pixel is mid grey. */
	aug_image *src = NULL, *out = NULL;

	cr_assert_eq(aug_image_new(&src, 64, 64, 1), AUG_OK);
	for (int y = 0; y < 64; y++)
		for (int x = 0; x < 64; x++)
			aug_image_row(src, y)[x] = ((x + y) & 1) ? 255 : 0;
	for (int f = 2; f <= 8; f *= 2) {
		for (int filter = FILTER_BILINEAR; filter <= FILTER_AREA; filter++) {
			cr_assert_eq(aug__resize_reference(src, 64 / f, 64 / f, (enum filter)filter, &out), AUG_OK);
			for (int y = 1; y < 64 / f - 1; y++)
				for (int x = 1; x < 64 / f - 1; x++)
					cr_assert_leq(abs(px(out, x, y, 0) - 128), 1, "factor %d filter %d: %d", f,
						      filter, px(out, x, y, 0));
			aug_image_free(out);
		}
	}
	/* Nearest does alias: all one colour. */
	cr_assert_eq(aug__resize_reference(src, 16, 16, FILTER_NEAREST, &out), AUG_OK);
	for (int y = 0; y < 16; y++)
		for (int x = 0; x < 16; x++)
			cr_assert_eq(px(out, x, y, 0), px(out, 0, 0, 0));
	aug_image_free(out);
	aug_image_free(src);
}

CTest(stages, area_shrink_is_the_block_mean)
{
	aug_image *src = pattern(12, 9, 3), *out = NULL;

	cr_assert_eq(aug__resize_reference(src, 4, 3, FILTER_AREA, &out), AUG_OK);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 4; x++)
			for (int c = 0; c < 3; c++) {
				double sum = 0;

				for (int j = 0; j < 3; j++)
					for (int i = 0; i < 3; i++)
						sum += px(src, 3 * x + i, 3 * y + j, c);
				cr_assert_leq(fabs(px(out, x, y, c) - sum / 9), 0.5 + 1e-9);
			}
	aug_image_free(out);
	aug_image_free(src);
}

CTest(stages, resize_short_side_like_torchvision)
{
	aug_pipeline *p = parse_ok("resize short=256");
	aug_sample *s;

	aug_sample_new(&s);
	/* int(256 * 640 / 427) = 383 */
	aug_pipeline_sample(p, 640, 427, 3, (aug_key){ 0, 0, 0 }, s);
	cr_assert_eq(s->out_w, 383);
	cr_assert_eq(s->out_h, 256);
	aug_pipeline_sample(p, 300, 451, 3, (aug_key){ 0, 0, 0 }, s);
	cr_assert_eq(s->out_w, 256);
	cr_assert_eq(s->out_h, 384);
	aug_sample_free(s);
	aug_pipeline_free(p);
}

/* ---- Colour ------------------------------------------------------------- */

CTest(color, hsl_round_trip_on_a_grid)
{
	for (int r = 0; r < 256; r += 8)
		for (int g = 0; g < 256; g += 8)
			for (int b = 0; b < 256; b += 8) {
				double h, s, l, R, G, B;

				aug__rgb_to_hsl(r / 255.0, g / 255.0, b / 255.0, &h, &s, &l);
				aug__hsl_to_rgb(h, s, l, &R, &G, &B);
				cr_assert_leq(fabs(R * 255 - r), 1.0);
				cr_assert_leq(fabs(G * 255 - g), 1.0);
				cr_assert_leq(fabs(B * 255 - b), 1.0);
			}
}

CTest(color, hsl_known_values)
{
	double h, s, l, r, g, b;

	/* Pure red: hue 0, saturation 1, lightness 1/2. Rotated by 120 degrees
	 * it is pure green; by 240, pure blue. */
	aug__rgb_to_hsl(1, 0, 0, &h, &s, &l);
	cr_assert_float_eq(h, 0, 1e-12);
	cr_assert_float_eq(s, 1, 1e-12);
	cr_assert_float_eq(l, 0.5, 1e-12);
	aug__hsl_to_rgb(h + 120.0 / 360, s, l, &r, &g, &b);
	cr_assert_float_eq(r, 0, 1e-9);
	cr_assert_float_eq(g, 1, 1e-9);
	cr_assert_float_eq(b, 0, 1e-9);
	aug__hsl_to_rgb(h + 240.0 / 360, s, l, &r, &g, &b);
	cr_assert_float_eq(b, 1, 1e-9);
	/* (64, 128, 192): max .753, min .251, l = .502, s = .502/(2-1.004) = .504, h = 210 deg. */
	aug__rgb_to_hsl(64 / 255.0, 128 / 255.0, 192 / 255.0, &h, &s, &l);
	cr_assert_float_eq(h * 360, 210, 1e-9);
	cr_assert_float_eq(l, 256 / 510.0, 1e-9);
	cr_assert_float_eq(s, 128.0 / (510 - 256), 1e-9);
}

CTest(color, hsl_jitter_stage_rotates_red_to_green)
{
	aug_image *img = NULL;
	struct draw d = { .applied = true, .hsl_hue = 120, .hsl_sat = 1, .hsl_light = 1 };

	cr_assert_eq(aug_image_new(&img, 2, 1, 3), AUG_OK);
	aug_image_row(img, 0)[0] = 255;
	aug_image_row(img, 0)[3] = 100; /* grey pixel: no hue, unchanged */
	aug_image_row(img, 0)[4] = 100;
	aug_image_row(img, 0)[5] = 100;
	aug__hsl_jitter_apply(img, &d);
	cr_assert_eq(px(img, 0, 0, 0), 0);
	cr_assert_eq(px(img, 0, 0, 1), 255);
	cr_assert_eq(px(img, 0, 0, 2), 0);
	cr_assert_eq(px(img, 1, 0, 0), 100);
	/* Lightness x0.5 on grey 100 -> 50. */
	d.hsl_hue = 0;
	d.hsl_light = 0.5;
	aug__hsl_jitter_apply(img, &d);
	cr_assert_eq(px(img, 1, 0, 1), 50);
	aug_image_free(img);
}

CTest(color, jitter_factors_by_hand)
{
	aug_image *img = NULL;
	struct draw d = { .applied = true, .f_bright = 1.5, .f_contrast = 1, .f_sat = 1, .f_hue = 0,
			  .order = { 0, 1, 2, 3 } };

	cr_assert_eq(aug_image_new(&img, 2, 1, 3), AUG_OK);
	memcpy(aug_image_row(img, 0), (uint8_t[]){ 100, 50, 200, 10, 20, 30 }, 6);
	/* Brightness 1.5: 150, 75, 300->255, 15, 30, 45. */
	aug__color_jitter_apply(img, &d);
	cr_assert_eq(memcmp(aug_image_row(img, 0), ((uint8_t[]){ 150, 75, 255, 15, 30, 45 }), 6), 0);
	/* Contrast 0.5 on that: grey = .299R + .587G + .114B per pixel:
	 * 44.85 + 44.025 + 29.07 = 117.945 and 4.485 + 17.61 + 5.13 = 27.225;
	 * mean 72.585; v' = .5 v + 36.2925. */
	d.f_bright = 1;
	d.f_contrast = 0.5;
	aug__color_jitter_apply(img, &d);
	cr_assert_eq(memcmp(aug_image_row(img, 0), ((uint8_t[]){ 111, 74, 164, 44, 51, 59 }), 6), 0,
		     "%d %d %d %d %d %d", px(img, 0, 0, 0), px(img, 0, 0, 1), px(img, 0, 0, 2), px(img, 1, 0, 0),
		     px(img, 1, 0, 1), px(img, 1, 0, 2));
	/* Saturation 0: every pixel becomes its grey level:
	 * .299*111 + .587*74 + .114*164 = 33.189 + 43.438 + 18.696 = 95.323. */
	d.f_contrast = 1;
	d.f_sat = 0;
	aug__color_jitter_apply(img, &d);
	cr_assert_eq(px(img, 0, 0, 0), 95);
	cr_assert_eq(px(img, 0, 0, 1), 95);
	cr_assert_eq(px(img, 0, 0, 2), 95);
	aug_image_free(img);
}

CTest(color, jitter_hue_half_turn_swaps_to_complement)
{
	aug_image *img = NULL;
	struct draw d = { .applied = true, .f_bright = 1, .f_contrast = 1, .f_sat = 1, .f_hue = 0.5,
			  .order = { 3, 2, 1, 0 } };

	cr_assert_eq(aug_image_new(&img, 1, 1, 3), AUG_OK);
	memcpy(aug_image_row(img, 0), (uint8_t[]){ 255, 0, 0 }, 3);
	aug__color_jitter_apply(img, &d);
	/* Red + half a turn of HSV hue = cyan. */
	cr_assert_eq(memcmp(aug_image_row(img, 0), ((uint8_t[]){ 0, 255, 255 }), 3), 0);
	aug_image_free(img);
}

CTest(color, jitter_factor_ranges)
{
	aug_pipeline *p = parse_ok("color_jitter brightness=0.4 contrast=1.5 saturation=0 hue=0.1");
	aug_sample *s;
	double bmin = 9, bmax = 0, cmin = 9, hmax = 0;
	int perms[24] = { 0 };

	aug_sample_new(&s);
	for (int i = 0; i < 4000; i++) {
		const struct draw *d = &s->draws[0];

		aug_pipeline_sample(p, 10, 10, 3, (aug_key){ 0, 0, (uint64_t)i }, s);
		bmin = fmin(bmin, d->f_bright);
		bmax = fmax(bmax, d->f_bright);
		cmin = fmin(cmin, d->f_contrast);
		hmax = fmax(hmax, fabs(d->f_hue));
		cr_assert_eq(d->f_sat, 1.0);
		perms[d->order[0] * 6 + d->order[1] * 2 + (d->order[2] > d->order[3])]++;
	}
	/* U(0.6, 1.4); contrast U(max(0, -0.5), 2.5) starts at 0; hue within 0.1. */
	cr_assert(bmin >= 0.6 && bmin < 0.61 && bmax <= 1.4 && bmax > 1.39);
	cr_assert(cmin >= 0 && cmin < 0.01);
	cr_assert(hmax <= 0.1 && hmax > 0.099);
	aug_sample_free(s);
	aug_pipeline_free(p);
}

CTest(color, grayscale_luma)
{
	aug_image *img = NULL, *g = NULL;

	cr_assert_eq(aug_image_new(&img, 1, 1, 3), AUG_OK);
	memcpy(aug_image_row(img, 0), (uint8_t[]){ 200, 100, 50 }, 3);
	cr_assert_eq(aug__grayscale(img, 1, &g), AUG_OK);
	/* 59.8 + 58.7 + 5.7 = 124.2 */
	cr_assert_eq(px(g, 0, 0, 0), 124);
	aug_image_free(g);
	cr_assert_eq(aug__grayscale(img, 3, &g), AUG_OK);
	cr_assert_eq(px(g, 0, 0, 2), 124);
	aug_image_free(g);
	aug_image_free(img);
}

/* ---- Cutout ------------------------------------------------------------- */

CTest(cutout, clipped_squares_devries)
{
	aug_pipeline *p = parse_ok("cutout size=16 fill=0");
	aug_image *src = NULL;
	int clipped = 0;

	cr_assert_eq(aug_image_new(&src, 32, 32, 1), AUG_OK);
	memset(src->data, 200, 32 * 32);
	for (uint64_t i = 0; i < 500; i++) {
		aug_sample *s;
		aug_image *out = run_ref(p, src, (aug_key){ 2, 0, i }, &s);
		const struct hole *h = &s->draws[0].holes[0];
		int zeros = 0;

		for (int y = 0; y < 32; y++)
			for (int x = 0; x < 32; x++)
				zeros += px(out, x, y, 0) == 0;
		/* Exactly the drawn rectangle is erased, clipped to the image. */
		cr_assert_eq(zeros, h->w * h->h);
		cr_assert(h->x >= 0 && h->y >= 0 && h->x + h->w <= 32 && h->y + h->h <= 32);
		cr_assert(h->w <= 16 && h->h <= 16 && h->w >= 8 && h->h >= 8);
		clipped += h->w < 16 || h->h < 16;
		aug_image_free(out);
		aug_sample_free(s);
	}
	/* A centre within 8 of an edge is clipped: P = 1 - (16/32)^2 = 3/4. */
	cr_assert(clipped > 330 && clipped < 420, "clipped %d of 500", clipped);
	aug_image_free(src);
	aug_pipeline_free(p);
}

CTest(cutout, inside_holes_are_whole)
{
	aug_pipeline *p = parse_ok("cutout holes=3 size=10x6 inside=yes fill=1,2,3");
	aug_sample *s;

	aug_sample_new(&s);
	for (uint64_t i = 0; i < 200; i++) {
		aug_pipeline_sample(p, 40, 20, 3, (aug_key){ 0, 0, i }, s);
		cr_assert_eq(s->draws[0].nholes, 3);
		for (int k = 0; k < 3; k++) {
			const struct hole *h = &s->draws[0].holes[k];

			cr_assert_eq(h->w, 10);
			cr_assert_eq(h->h, 6);
			cr_assert(h->x >= 0 && h->x + 10 <= 40 && h->y >= 0 && h->y + 6 <= 20);
		}
	}
	aug_sample_free(s);
	aug_pipeline_free(p);
}

CTest(cutout, random_erasing_area_and_ratio)
{
	aug_pipeline *p = parse_ok("cutout scale=0.02:0.4 ratio=0.3:3.3");
	aug_sample *s;
	double sum = 0;
	int n = 0;

	aug_sample_new(&s);
	for (uint64_t i = 0; i < 3000; i++) {
		aug_pipeline_sample(p, 100, 100, 3, (aug_key){ 4, 0, i }, s);
		for (int k = 0; k < s->draws[0].nholes; k++) {
			const struct hole *h = &s->draws[0].holes[k];
			double a = h->w * h->h / 1e4;

			cr_assert(a >= 0.015 && a <= 0.42, "area %f", a);
			cr_assert(h->x + h->w <= 100 && h->y + h->h <= 100);
			sum += a;
			n++;
		}
	}
	/* Mostly fits at 100x100: mean area close to (0.02 + 0.4) / 2 = 0.21
	 * (a little less: large, elongated boxes are rejected and redrawn). */
	cr_assert_gt(n, 2900);
	cr_assert(sum / n > 0.17 && sum / n < 0.22, "mean area %f", sum / n);
	aug_sample_free(s);
	aug_pipeline_free(p);
}

CTest(cutout, mean_and_random_fill)
{
	aug_image *img = NULL;
	struct stage st = { .kind = ST_CUTOUT, .fill = { FILL_MEAN, { 0 } } };
	struct draw d = { .applied = true, .nholes = 1, .holes = { { 0, 0, 1, 1 } } };

	cr_assert_eq(aug_image_new(&img, 2, 2, 3), AUG_OK);
	memcpy(aug_image_row(img, 0), (uint8_t[]){ 0, 0, 0, 100, 10, 1 }, 6);
	memcpy(aug_image_row(img, 1), (uint8_t[]){ 100, 10, 1, 201, 21, 3 }, 6);
	aug__cutout_apply(img, &st, &d, (aug_key){ 0, 0, 0 }, 0);
	/* means: 401/4 = 100.25, 41/4 = 10.25, 5/4 = 1.25 */
	cr_assert_eq(memcmp(aug_image_row(img, 0), ((uint8_t[]){ 100, 10, 1 }), 3), 0);
	st.fill.mode = FILL_RANDOM;
	d.holes[0] = (struct hole){ 0, 0, 2, 2 };
	aug__cutout_apply(img, &st, &d, (aug_key){ 0, 0, 0 }, 0);
	{
		aug_image *again = NULL;

		aug_image_copy(&again, img);
		aug__cutout_apply(again, &st, &d, (aug_key){ 0, 0, 0 }, 0);
		cr_assert_eq(memcmp(again->data, img->data, 12), 0, "random fill is keyed, not global");
		aug__cutout_apply(again, &st, &d, (aug_key){ 0, 0, 1 }, 0);
		cr_assert_neq(memcmp(again->data, img->data, 12), 0);
		aug_image_free(again);
	}
	aug_image_free(img);
}

/* ---- Planned path vs reference ------------------------------------------ */

static void compare(const aug_image *a, const aug_image *b, double *mad, int *maxd)
{
	double sum = 0;
	int mx = 0;

	cr_assert_eq(a->width, b->width);
	cr_assert_eq(a->height, b->height);
	cr_assert_eq(a->channels, b->channels);
	for (int y = 0; y < a->height; y++)
		for (int x = 0; x < a->width * a->channels; x++) {
			int d = abs(aug_image_row(a, y)[x] - aug_image_row(b, y)[x]);

			sum += d;
			mx = d > mx ? d : mx;
		}
	*mad = sum / ((double)a->width * a->height * a->channels);
	*maxd = mx;
}

static void planned_vs_reference(const char *spec, const aug_image *src, int n, double mad_max, int max_max)
{
	aug_pipeline *p = parse_ok(spec);
	aug_sample *s;
	double worst_mad = 0;
	int worst = 0;

	aug_sample_new(&s);
	for (int i = 0; i < n; i++) {
		aug_image *r = NULL, *q = NULL;
		double mad;
		int mx;

		aug_pipeline_sample(p, src->width, src->height, src->channels, (aug_key){ 11, 0, (uint64_t)i }, s);
		cr_assert_eq(aug_reference_apply(p, s, src, &r), AUG_OK);
		cr_assert_eq(aug_planned_apply(p, s, src, &q), AUG_OK, "%s", aug_error_message());
		compare(r, q, &mad, &mx);
		worst_mad = fmax(worst_mad, mad);
		worst = mx > worst ? mx : worst;
		aug_image_free(r);
		aug_image_free(q);
	}
	cr_assert_leq(worst_mad, mad_max, "%s: mean abs diff %f", spec, worst_mad);
	cr_assert_leq(worst, max_max, "%s: max diff %d", spec, worst);
	aug_sample_free(s);
	aug_pipeline_free(p);
}

CTest(planned, exact_for_flips_crops_and_padding)
{
	aug_image *src = pattern(45, 37, 3), *g = pattern(30, 50, 1);

	planned_vs_reference("hflip; vflip", src, 20, 0, 0);
	planned_vs_reference("crop 32 pad=4; hflip", src, 50, 0, 0);
	planned_vs_reference("crop 40x30 pad=6 fill=10,20,30; vflip; crop 20 pad=2 fill=10,20,30", src, 50, 0, 0);
	planned_vs_reference("center_crop 50; hflip p=1", src, 5, 0, 0);
	planned_vs_reference("crop 20; crop 24 pad=3; hflip", src, 50, 0, 0);
	planned_vs_reference("crop 32 pad=4; cutout 8; hflip", src, 50, 0, 0);
	planned_vs_reference("crop 24 pad=4; hflip; cutout 10 fill=mean", g, 50, 0, 0);
	aug_image_free(src);
	aug_image_free(g);
}

CTest(planned, close_for_resize_and_colour)
{
	aug_image *src = pattern(160, 120, 3);

	planned_vs_reference("random_resized_crop 64; hflip", src, 30, 1.0, 8);
	planned_vs_reference("resize short=50 filter=area; center_crop 48", src, 5, 1.0, 8);
	planned_vs_reference("resize 400x300", src, 3, 1.0, 8);
	planned_vs_reference("random_resized_crop 32 filter=nearest; vflip", src, 20, 1.0, 8);
	planned_vs_reference("random_resized_crop 96; hflip; color_jitter brightness=.4 contrast=.4 saturation=.4 hue=.1",
			     src, 20, 1.0, 8);
	aug_image_free(src);
}

/* The x axis's taps of one sample of `p` on a w x h x c image, built on a
 * grid decoded at 1/scale and put in blocks; lo..hi the source columns they
 * touch (hi < lo when none). False when the sample runs on the reference
 * path or leaves x unresampled. */
static bool x_taps(const aug_pipeline *p, aug_sample *s, int w, int h, int c, aug_key key, int scale,
		   struct taps *tx, int *lo, int *hi)
{
	struct plan pl;
	struct grid gx = { (w + scale - 1) / scale, 0, scale, w };

	if (aug_pipeline_sample(p, w, h, c, key, s))
		return false;
	aug__plan_build(p, s, &pl);
	if (pl.fallback || !pl.x.resampled)
		return false;
	cr_assert_eq(aug__taps_build(tx, &pl.x, pl.filter, &gx), AUG_OK);
	cr_assert_eq(aug__taps_blocks(tx), AUG_OK);
	*lo = 1 << 30;
	*hi = -1;
	for (int i = 0; i < tx->n; i++) {
		if (!tx->count[i])
			continue;
		*lo = tx->first[i] < *lo ? tx->first[i] : *lo;
		*hi = tx->first[i] + tx->count[i] - 1 > *hi ? tx->first[i] + tx->count[i] - 1 : *hi;
	}
	return true;
}

CTest(planned, resize_with_whole_blocks_of_padding)
{
	/* The crop box runs 60 pixels past the right edge of a 200-wide
	 * image and is halved: outputs 20..49 of each row are padding only,
	 * so the horizontal pass's blocks of 16 outputs from 32 on have no
	 * taps, while the row's taps start at source column 160. Such a
	 * block once placed its window at column 0, 160 floats before the
	 * row the pass reads (never used, but read). Narrow and wide blocks,
	 * shrinking by 2 and by 3. */
	aug_image *src = pattern(200, 100, 3);
	const char *specs[] = { "crop 100x60 pad=60 position=tr; resize 50x30",
				"crop 120x60 pad=90 position=tr; resize 40x20", "random_resized_crop 224" };

	/* Every block's window within the row the pass reads: from the
	 * first source column any tap touches to AUG__BLOCK_SPAN past the
	 * last (the row's slack); every block has the same tap count, and
	 * a lane's taps past its own count weigh 0. */
	for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
		aug_pipeline *p = parse_ok(specs[k]);
		aug_sample *s;
		struct taps tx = { 0 };
		int lo, hi, empty = 0;

		aug_sample_new(&s);
		cr_assert(x_taps(p, s, 200, 100, 3, (aug_key){ 3, 0, k }, 1, &tx, &lo, &hi), "%s", specs[k]);
		for (int b = 0; b < tx.nblk; b++) {
			size_t base = (size_t)b * (size_t)tx.max_taps * AUG__LANES;
			bool none = true;

			cr_assert(tx.bbase[b] >= lo && tx.bbase[b] <= hi, "%s: block %d at %d, row %d..%d", specs[k], b,
				  tx.bbase[b], lo, hi);
			cr_assert_eq(tx.bntaps[b], tx.bntaps[0]);
			for (int l = 0; l < AUG__LANES; l++) {
				int i = b * AUG__LANES + l, cnt = i < tx.n ? tx.count[i] : 0;

				none = none && cnt == 0;
				for (int t = 0; t < tx.bntaps[b]; t++) {
					cr_assert(tx.bidx[base + (size_t)t * AUG__LANES + (size_t)l] < AUG__BLOCK_SPAN);
					if (t >= cnt)
						cr_assert_eq(tx.bw[base + (size_t)t * AUG__LANES + (size_t)l], 0.0f);
				}
			}
			empty += none;
		}
		if (k < 2)
			cr_assert_geq(empty, 1, "%s: no block of padding only", specs[k]);
		aug__taps_free(&tx);
		aug_sample_free(s);
		aug_pipeline_free(p);
	}
	planned_vs_reference("crop 100x60 pad=60 position=tr; resize 50x30", src, 1, 1.0, 8);
	planned_vs_reference("crop 120x60 pad=90 position=tr; resize 40x20", src, 1, 1.0, 8);
	planned_vs_reference("crop 100x60 pad=60 position=tr fill=200,10,30; resize 50x30; hflip p=1", src, 1, 1.0, 8);
	aug_image_free(src);
}

CTest(planned, blocked_horizontal_pass_equals_the_scalar_one)
{
	/* The AVX-512 pass (16 outputs a block, windows of 32 or 64 floats,
	 * every block padded to the row's largest tap count) against the
	 * scalar loop over the same taps: the same floats, bit for bit, for
	 * shrinking and enlarging, the three filters, padding, flips, DCT-
	 * scaled grids, 1 and 3 channels. Each row is allocated to exactly
	 * what the pass may read, its slack filled with NaN: a read past the
	 * row is an ASan error, a padded tap that used the slack would give a
	 * NaN. */
	static const char *const specs[] = {
		"random_resized_crop 224", "random_resized_crop 64 scale=0.5:1", "resize 37x20",
		"resize 300x90", "resize 150x40 filter=area", "resize 90x30 filter=nearest",
		"crop 100x60 pad=60 position=tr; resize 50x30", "crop 120x60 pad=90 position=tl; resize 40x20; hflip p=1",
		"random_resized_crop 96 filter=area; hflip",
	};
	static const int sizes[][2] = { { 200, 100 }, { 481, 433 }, { 33, 17 }, { 1000, 40 } };
	uint32_t lcg = 12345;
	int blocked_runs = 0, cases = 0;
	bool avx512 = __builtin_cpu_supports("avx512f");

	for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
		aug_pipeline *p = parse_ok(specs[k]);
		aug_sample *s;

		aug_sample_new(&s);
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			for (int key = 0; key < 4; key++) {
				int w = sizes[z][0], h = sizes[z][1], c = key % 2 ? 1 : 3, scale = key == 3 ? 2 : 1;
				struct taps tx = { 0 };
				int lo, hi, span;
				float *rows[3], *ob[3], *os[3], fill[3] = { 10, 200, 77 };

				if (!x_taps(p, s, w, h, c, (aug_key){ 9, 0, (uint64_t)(z * 4 + (size_t)key) }, scale, &tx,
					    &lo, &hi)) {
					aug__taps_free(&tx);
					continue;
				}
				if (hi < lo)
					lo = 0, hi = -1;
				span = hi - lo + 1;
				for (int ch = 0; ch < c; ch++) {
					rows[ch] = malloc(((size_t)span + AUG__BLOCK_SPAN) * sizeof(float));
					ob[ch] = malloc((size_t)tx.n * sizeof(float));
					os[ch] = malloc((size_t)tx.n * sizeof(float));
					cr_assert(rows[ch] && ob[ch] && os[ch]);
					for (int x = 0; x < span; x++) {
						lcg = lcg * 1664525u + 1013904223u;
						rows[ch][x] = (float)(lcg >> 8) * (255.0f / 16777216.0f);
					}
					for (int x = span; x < span + AUG__BLOCK_SPAN; x++)
						rows[ch][x] = NAN;
				}
				cr_assert(aug__hrow_run(rows, c, lo, &tx, os, fill, false));
				if (aug__hrow_run(rows, c, lo, &tx, ob, fill, true)) {
					blocked_runs++;
					for (int ch = 0; ch < c; ch++)
						cr_assert(memcmp(ob[ch], os[ch], (size_t)tx.n * sizeof(float)) == 0,
							  "%s on %dx%d, %d channels, grid 1/%d: blocked and scalar differ",
							  specs[k], w, h, c, scale);
				}
				for (int ch = 0; ch < c; ch++) {
					for (int i = 0; i < tx.n; i++)
						cr_assert(os[ch][i] >= 0 && os[ch][i] <= 255, "%s: output %d is %f", specs[k],
							  i, os[ch][i]);
					free(rows[ch]);
					free(ob[ch]);
					free(os[ch]);
				}
				aug__taps_free(&tx);
				cases++;
			}
		}
		aug_sample_free(s);
		aug_pipeline_free(p);
	}
	cr_assert_geq(cases, 100);
	if (avx512)
		cr_assert_geq(blocked_runs, cases / 2, "only %d of %d ran blocked", blocked_runs, cases);
}

/* Every colour of a 32-level RGB grid, as a 256x128 image. */
static aug_image *colour_grid(void)
{
	aug_image *img = NULL;

	cr_assert_eq(aug_image_new(&img, 256, 128, 3), AUG_OK);
	for (int i = 0; i < 32768; i++) {
		uint8_t *p = aug_image_row(img, i / 256) + (size_t)(i % 256) * 3;

		p[0] = (uint8_t)((i & 31) * 255 / 31);
		p[1] = (uint8_t)(((i >> 5) & 31) * 255 / 31);
		p[2] = (uint8_t)(((i >> 10) & 31) * 255 / 31);
	}
	return img;
}

CTest(planned, colour_stages_on_every_colour)
{
	aug_image *g = colour_grid();

	/* The planned path's float, vectorised colour code against the
	 * reference's double code: the same formulas, so within rounding. */
	planned_vs_reference("color_jitter hue=0.5", g, 20, 0.05, 1);
	planned_vs_reference("color_jitter brightness=0.6 contrast=0.6 saturation=0.6 hue=0.2", g, 20, 0.1, 1);
	planned_vs_reference("hsl_jitter hue=180 saturation=0.5 lightness=0.5", g, 10, 0.05, 1);
	planned_vs_reference("grayscale", g, 1, 0.05, 1);
	planned_vs_reference("grayscale channels=1", g, 1, 0.05, 1);
	planned_vs_reference("cutout holes=4 size=40 fill=mean; cutout holes=2 size=30 fill=random", g, 10, 0, 0);
	aug_image_free(g);
}

/* ---- The executor (region decode, DCT scaling) on the real samples ------- */

static const char *const sample_files[] = {
	"samples/images/animal/chelsea.png", "samples/images/object/coffee.png",
	"samples/images/people/astronaut.png", "samples/images/space/rocket.jpg",
	"samples/images/space/hubble_deep_field.jpg", "samples/edge/chessboard_GRAY.png",
	"samples/edge/green_palette.png",
};

/* Run `spec` through the executor on every sample, `n` keys each, and hold
 * it to the reference path on the fully decoded image. */
static void executor_vs_reference(const char *spec, bool dct, int n, double mad_max, int max_max)
{
	aug_pipeline *p = parse_ok(spec);
	aug_executor_options o;
	aug_executor *ex = NULL;
	double worst_mad = 0;
	int worst = 0;

	aug_executor_options_init(&o);
	o.dct_scaling = dct;
	cr_assert_eq(aug_executor_new(p, &o, &ex), AUG_OK);
	for (size_t f = 0; f < sizeof(sample_files) / sizeof(sample_files[0]); f++) {
		size_t len;
		uint8_t *buf = slurp(src_path(sample_files[f]), &len);
		aug_image *full = NULL;

		cr_assert_not_null(buf);
		cr_assert_eq(aug_decode(buf, len, sample_files[f], NULL, &full), AUG_OK);
		for (int i = 0; i < n; i++) {
			const aug_image *fast = NULL;
			aug_image *ref = NULL;
			double mad;
			int mx;

			cr_assert_eq(aug_executor_run(ex, buf, len, sample_files[f], (aug_key){ 5, 1, (uint64_t)i }, &fast),
				     AUG_OK, "%s", aug_error_message());
			cr_assert_eq(aug_reference_apply(p, aug_executor_last_sample(ex), full, &ref), AUG_OK);
			compare(ref, fast, &mad, &mx);
			if (mad > worst_mad)
				worst_mad = mad;
			worst = mx > worst ? mx : worst;
			aug_image_free(ref);
		}
		aug_image_free(full);
		free(buf);
	}
	cr_assert_leq(worst_mad, mad_max, "%s: mean abs diff %f", spec, worst_mad);
	cr_assert_leq(worst, max_max, "%s: max diff %d", spec, worst);
	aug_executor_free(ex);
	aug_pipeline_free(p);
}

CTest(executor, exact_for_flips_crops_and_padding_on_samples)
{
	/* Region decode at scale 1 is exact, and so is the plan. */
	executor_vs_reference("crop 64 pad=8; hflip; vflip", true, 12, 0, 0);
	executor_vs_reference("center_crop 300x200; hflip p=1", true, 2, 0, 0);
	executor_vs_reference("crop 96 pad=4 fill=255,0,0; cutout holes=2 size=30; hflip", true, 12, 0, 0);
}

static const char *const resize_colour_specs[] = {
	"random_resized_crop 224 scale=0.08:1; hflip; color_jitter brightness=.4 contrast=.4 saturation=.4 hue=.1; "
	"cutout size=56 p=.5",
	"random_resized_crop 64 scale=0.08:1; vflip",
	"resize short=64; center_crop 56; hsl_jitter hue=30 saturation=.3 lightness=.2",
	"resize 96x96 filter=area; grayscale",
	"resize short=128",
};

CTest(executor, close_for_resize_and_colour_on_samples)
{
	/* The planned path (region decode, one fused resample, colour on
	 * float planes) against crop-then-resize-then-colour: the pipelines
	 * issue's tolerance. */
	for (size_t i = 0; i < sizeof(resize_colour_specs) / sizeof(resize_colour_specs[0]); i++)
		executor_vs_reference(resize_colour_specs[i], false, 6, 1.0, 8);
}

CTest(executor, dct_scaled_decoding_stays_close_on_samples)
{
	/* JPEG decoded at 1/2, 1/4 or 1/8 when the plan shrinks by twice that:
	 * the scaled IDCT is not the reference's filter, so single pixels of a
	 * star field differ more; the mean stays within the speed issue's
	 * tolerance for scaled decoding (2). */
	for (size_t i = 0; i < sizeof(resize_colour_specs) / sizeof(resize_colour_specs[0]); i++)
		executor_vs_reference(resize_colour_specs[i], true, 6, 2.0, 255);
}

CTest(stages, crop_fixed_positions_for_five_crop)
{
	/* 10x8 image, pad 2 -> 14x12, crop 10x8: corners at offsets 0 and 4
	 * (x), 0 and 4 (y), centre at 2, 2; minus the padding. */
	const char *pos[] = { "center", "tl", "tr", "bl", "br" };
	const int want[5][2] = { { 0, 0 }, { -2, -2 }, { 2, -2 }, { -2, 2 }, { 2, 2 } };

	for (int i = 0; i < 5; i++) {
		char spec[64];
		aug_pipeline *p;
		aug_sample *s;

		snprintf(spec, sizeof(spec), "crop 10x8 pad=2 position=%s", pos[i]);
		p = parse_ok(spec);
		aug_sample_new(&s);
		for (uint64_t k = 0; k < 5; k++) {
			aug_pipeline_sample(p, 10, 8, 3, (aug_key){ 0, 0, k }, s);
			cr_assert_eq(s->draws[0].bx, want[i][0], "%s", spec);
			cr_assert_eq(s->draws[0].by, want[i][1], "%s", spec);
		}
		aug_sample_free(s);
		aug_pipeline_free(p);
	}
}

/* ---- Limits: sizes from the spec or a replayed line, before allocation ---- */

static uint8_t *encode_png(const aug_image *img, size_t *len)
{
	aug_encode_options eo;
	uint8_t *buf = NULL;

	aug_encode_options_init(&eo);
	eo.format = AUG_FORMAT_PNG;
	cr_assert_eq(aug_encode(img, &eo, &buf, len), AUG_OK);
	return buf;
}

CTest(limits, spec_sizes_over_max_pixels_are_refused_before_allocation)
{
	/* Specs allow sides up to 65536: on a 7x5 image each of these asked
	 * the planned path for 3 x 65536^2 floats (51 GB) or the reference
	 * path for a 4-gigapixel image. */
	static const char *const specs[] = {
		"crop 65536", "resize 65536x65536", "center_crop 65536x65536", "random_resized_crop 65536",
		"crop 20000x6000", "resize short=65536", "crop 16 pad=65536; resize long=65536",
	};
	aug_image *src = pattern(7, 5, 3), *out = NULL;
	size_t len;
	uint8_t *buf = encode_png(src, &len);

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		aug_pipeline *p = parse_ok(specs[i]);
		aug_executor *ex = NULL;
		aug_sample *s = NULL;
		const aug_image *img = NULL;
		float slot[1];

		cr_assert_eq(aug_executor_new(p, NULL, &ex), AUG_OK);
		cr_assert_eq(aug_executor_run(ex, buf, len, "small.png", (aug_key){ 0, 0, i }, &img), AUG_ELIMIT,
			     "%s: %s", specs[i], aug_error_message());
		cr_assert(strstr(aug_error_message(), "small.png") && strstr(aug_error_message(), "limit"), "%s",
			  aug_error_message());
		cr_assert_eq(aug_executor_run_f32(ex, buf, len, "small.png", (aug_key){ 0, 0, i }, slot, 3, 1, 1),
			     AUG_ELIMIT, "%s", specs[i]);
		cr_assert_eq(aug_sample_new(&s), AUG_OK);
		if (aug_pipeline_sample(p, 7, 5, 3, (aug_key){ 0, 0, i }, s) == AUG_OK) {
			cr_assert_eq(aug_reference_apply(p, s, src, &out), AUG_ELIMIT, "%s", specs[i]);
			cr_assert_eq(aug_planned_apply(p, s, src, &out), AUG_ELIMIT, "%s", specs[i]);
			cr_assert_null(out);
		}
		aug_sample_free(s);
		aug_executor_free(ex);
		aug_pipeline_free(p);
	}
	free(buf);
	aug_image_free(src);
}

CTest(limits, max_pixels_applies_to_every_stage_output)
{
	/* decode.max_pixels bounds what the stages make, not only the file. */
	aug_image *src = pattern(20, 10, 3);
	size_t len;
	uint8_t *buf = encode_png(src, &len);
	aug_executor_options eo;
	struct {
		const char *spec;
		aug_status want;
	} cases[] = {
		{ "resize 30x20", AUG_OK },         /* 600 pixels */
		{ "resize 31x20", AUG_ELIMIT },     /* 620 */
		{ "crop 25x24 pad=4", AUG_OK },     /* 600, whatever the padding */
		{ "resize 40x40; crop 10", AUG_ELIMIT },
	};

	aug_executor_options_init(&eo);
	eo.decode.max_pixels = 600;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		aug_pipeline *p = parse_ok(cases[i].spec);
		aug_executor *ex = NULL;
		const aug_image *img = NULL;

		cr_assert_eq(aug_executor_new(p, &eo, &ex), AUG_OK);
		cr_assert_eq(aug_executor_run(ex, buf, len, "t.png", (aug_key){ 1, 0, 0 }, &img), cases[i].want, "%s: %s",
			     cases[i].spec, aug_error_message());
		aug_executor_free(ex);
		aug_pipeline_free(p);
	}
	free(buf);
	aug_image_free(src);
}

CTest(limits, reference_resize_intermediate_is_bounded)
{
	/* The reference resize goes through out_w x in_h: resizing 10x200 to
	 * 50x2 makes 50x200 on the way. */
	aug_pipeline *p = parse_ok("resize 50x2");
	aug_image *src = pattern(10, 200, 1), *out = NULL;
	aug_sample *s = NULL;

	cr_assert_eq(aug_sample_new(&s), AUG_OK);
	cr_assert_eq(aug_pipeline_sample(p, 10, 200, 1, (aug_key){ 0 }, s), AUG_OK);
	cr_assert_eq(aug__reference_apply(p, s, src, 9999, &out), AUG_ELIMIT);
	cr_assert(strstr(aug_error_message(), "50x200"), "%s", aug_error_message());
	cr_assert_eq(aug__reference_apply(p, s, src, 10000, &out), AUG_OK, "%s", aug_error_message());
	aug_image_free(out);
	aug_sample_free(s);
	aug_image_free(src);
	aug_pipeline_free(p);
}

CTest(limits, sides_beyond_int_are_refused_not_overflowed)
{
	/* int(65536 * 100000000 / 1) does not fit an int: the size is
	 * refused instead of converted (undefined behaviour). */
	aug_pipeline *p = parse_ok("resize short=65536");
	aug_sample *s = NULL;

	cr_assert_eq(aug_sample_new(&s), AUG_OK);
	cr_assert_eq(aug_pipeline_sample(p, 100000000, 1, 3, (aug_key){ 0 }, s), AUG_ELIMIT);
	cr_assert_eq(aug_pipeline_sample(p, 1 << 29, 1, 3, (aug_key){ 0 }, s), AUG_ELIMIT);
	cr_assert_eq(aug_pipeline_sample(p, 1000, 1, 3, (aug_key){ 0 }, s), AUG_OK, "%s", aug_error_message());
	aug_sample_free(s);
	aug_pipeline_free(p);
}

CTest(limits, replayed_lines_hold_only_what_could_be_drawn)
{
	/* --replay lines are pasted by users. Found by fuzz_sample_json: a box
	 * width of 22456069684934711 was converted to int (undefined), and
	 * boxes, holes and factors were trusted as they came. */
	aug_pipeline *p = parse_ok("random_resized_crop 20; crop 18 pad=3; color_jitter brightness=0.4 hue=0.1; "
				   "hsl_jitter hue=30 saturation=0.3; cutout holes=2 size=6");
	const char *head = "{\"seed\":2,\"epoch\":0,\"index\":1,\"in\":[39,25,3],\"stages\":[";
	const char *ok[] = {
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[7,0,22,22]},"
		"{\"stage\":\"crop\",\"applied\":true,\"box\":[-2,5,18,18]},"
		"{\"stage\":\"color_jitter\",\"applied\":true,\"order\":[1,2,0,3],\"brightness\":1.27,\"hue\":0.04},"
		"{\"stage\":\"hsl_jitter\",\"applied\":true,\"hue\":-0.88,\"saturation\":1.12},"
		"{\"stage\":\"cutout\",\"applied\":true,\"holes\":[[0,0,5,3],[1,12,6,4]]}]}",
	};
	const char *bad[] = {
		/* the fuzzer's line: a box width beyond int */
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[7,0,22456069684934711,22]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[7,0,1e300,22]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[7,0,nan,22]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[30,0,22,22]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[0.5,0,22,22]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[7,0,22,22]},"
		"{\"stage\":\"crop\",\"applied\":true,\"box\":[-2000000000,5,18,18]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":true,\"box\":[7,0,22,22]},"
		"{\"stage\":\"crop\",\"applied\":true,\"box\":[0,0,65536,18]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":false},{\"stage\":\"crop\",\"applied\":false},"
		"{\"stage\":\"color_jitter\",\"applied\":true,\"order\":[0,0,0,0]},",
		"{\"stage\":\"random_resized_crop\",\"applied\":false},{\"stage\":\"crop\",\"applied\":false},"
		"{\"stage\":\"color_jitter\",\"applied\":true,\"order\":[0,1,2,3],\"brightness\":1e308},",
		"{\"stage\":\"random_resized_crop\",\"applied\":false},{\"stage\":\"crop\",\"applied\":false},"
		"{\"stage\":\"color_jitter\",\"applied\":true,\"order\":[0,1,2,3],\"hue\":nan},",
		"{\"stage\":\"random_resized_crop\",\"applied\":false},{\"stage\":\"crop\",\"applied\":false},"
		"{\"stage\":\"color_jitter\",\"applied\":false},{\"stage\":\"hsl_jitter\",\"applied\":true,\"hue\":1000},",
		"{\"stage\":\"random_resized_crop\",\"applied\":false},{\"stage\":\"crop\",\"applied\":false},"
		"{\"stage\":\"color_jitter\",\"applied\":false},{\"stage\":\"hsl_jitter\",\"applied\":false},"
		"{\"stage\":\"cutout\",\"applied\":true,\"holes\":[[2000000000,0,2000000000,3]]}]}",
		"{\"stage\":\"random_resized_crop\",\"applied\":false},{\"stage\":\"crop\",\"applied\":false},"
		"{\"stage\":\"color_jitter\",\"applied\":false},{\"stage\":\"hsl_jitter\",\"applied\":false},"
		"{\"stage\":\"cutout\",\"applied\":true,\"holes\":[[0,0,1,1],[0,0,1,1],[0,0,1,1]]}]}",
	};
	aug_sample *s = NULL;
	char line[2048];

	cr_assert_eq(aug_sample_new(&s), AUG_OK);
	snprintf(line, sizeof(line), "%s%s", head, ok[0]);
	cr_assert_eq(aug_sample_from_json(p, line, s), AUG_OK, "%s", aug_error_message());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s%s", head, bad[i]);
		cr_assert_eq(aug_sample_from_json(p, line, s), AUG_EINVAL, "line %zu read: %s", i, line);
	}
	snprintf(line, sizeof(line), "{\"seed\":2,\"in\":[1e20,25,3],\"stages\":[]}");
	cr_assert_eq(aug_sample_from_json(p, line, s), AUG_EINVAL);
	aug_sample_free(s);
	aug_pipeline_free(p);
}
