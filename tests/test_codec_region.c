/* Codec, regions: aug_decode_region() and aug_decoder_decode_region().
 *
 * At scale 1 a region must equal the same rectangle of aug_decode()'s
 * output exactly, for many random rectangles (seeded), on every JPEG kind,
 * EXIF orientation, and PNG. At scales 2, 4 and 8 the output must follow
 * codec.h's geometry (got.rect, got.origin, output size), equal djpeg's
 * DCT-scaled decode (-scale 1/s) of the same blocks, oriented here by this
 * file's own EXIF table, and stay within a mean absolute difference of 2 of
 * a box-filtered full-size decode.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "support.h"

#define FIX "tests/fixtures/codec/"

static uint8_t *load(const char *rel, size_t *len)
{
	uint8_t *b = slurp(src_path(rel), len);

	cr_assert_not_null(b, "cannot read %s", rel);
	return b;
}

static aug_image *load_pnm(const char *rel)
{
	size_t len, pos = 2;
	uint8_t *b = load(rel, &len);
	int field[3];
	aug_image *img = NULL;

	cr_assert(b[0] == 'P' && (b[1] == '5' || b[1] == '6'));
	for (int i = 0; i < 3; i++) {
		while (b[pos] == ' ' || b[pos] == '\n')
			pos++;
		field[i] = 0;
		while (b[pos] >= '0' && b[pos] <= '9')
			field[i] = field[i] * 10 + (b[pos++] - '0');
	}
	pos++;
	cr_assert_eq(aug_image_new(&img, field[0], field[1], b[1] == '6' ? 3 : 1), AUG_OK);
	cr_assert_eq(len - pos, img->stride * (size_t)img->height);
	memcpy(img->data, b + pos, len - pos);
	free(b);
	return img;
}

/* A JPEG with an APP1 Exif orientation inserted after SOI. */
static uint8_t *with_orientation(const uint8_t *jpg, size_t len, int o, bool big, size_t *out_len)
{
	uint8_t seg[40] = { 0xff, 0xe1, 0, 34, 'E', 'x', 'i', 'f', 0, 0 };
	uint8_t *t = seg + 10, *out;

	if (big) {
		const uint8_t tiff[26] = { 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3,
					   0, 0, 0, 1, 0, (uint8_t)o, 0, 0, 0, 0, 0, 0 };

		memcpy(t, tiff, sizeof(tiff));
	} else {
		const uint8_t tiff[26] = { 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0,
					   1, 0, 0, 0, (uint8_t)o, 0, 0, 0, 0, 0, 0, 0 };

		memcpy(t, tiff, sizeof(tiff));
	}
	out = malloc(len + 36);
	memcpy(out, jpg, 2);
	memcpy(out + 2, seg, 36);
	memcpy(out + 38, jpg + 2, len - 2);
	*out_len = len + 36;
	return out;
}

/* Displayed (x, y) of an image stored w x h with EXIF orientation o comes
 * from stored (sx, sy): the EXIF 2.3 table, written out once more here. */
static void exif_source(int o, int w, int h, int x, int y, int *sx, int *sy)
{
	switch (o) {
	case 2: *sx = w - 1 - x, *sy = y; break;
	case 3: *sx = w - 1 - x, *sy = h - 1 - y; break;
	case 4: *sx = x, *sy = h - 1 - y; break;
	case 5: *sx = y, *sy = x; break;
	case 6: *sx = y, *sy = h - 1 - x; break;
	case 7: *sx = w - 1 - y, *sy = h - 1 - x; break;
	case 8: *sx = w - 1 - y, *sy = x; break;
	default: *sx = x, *sy = y; break;
	}
}

static aug_image *orient_image(const aug_image *src, int o)
{
	aug_image *d = NULL;
	bool swap = o >= 5;

	cr_assert_eq(aug_image_new(&d, swap ? src->height : src->width, swap ? src->width : src->height,
				   src->channels), AUG_OK);
	for (int y = 0; y < d->height; y++) {
		for (int x = 0; x < d->width; x++) {
			int sx, sy;

			exif_source(o, src->width, src->height, x, y, &sx, &sy);
			memcpy(aug_image_row(d, y) + x * d->channels, aug_image_row(src, sy) + sx * src->channels,
			       (size_t)src->channels);
		}
	}
	return d;
}

static aug_rect clip(aug_rect r, int w, int h)
{
	int64_t x0 = r.x > 0 ? r.x : 0, y0 = r.y > 0 ? r.y : 0;
	int64_t x1 = (int64_t)r.x + r.width < w ? (int64_t)r.x + r.width : w;
	int64_t y1 = (int64_t)r.y + r.height < h ? (int64_t)r.y + r.height : h;

	return (aug_rect){ (int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0) };
}

/* A random rectangle, sometimes reaching outside, sometimes 1 pixel,
 * sometimes touching the far edges. */
static aug_rect random_rect(aug_rng *r, int w, int h)
{
	aug_rect q;
	int kind = (int)aug_rng_below(r, 8);

	q.x = (int)aug_rng_below(r, (uint64_t)w);
	q.y = (int)aug_rng_below(r, (uint64_t)h);
	q.width = 1 + (int)aug_rng_below(r, (uint64_t)(w - q.x));
	q.height = 1 + (int)aug_rng_below(r, (uint64_t)(h - q.y));
	if (kind == 0) {
		q.width = 1, q.height = 1;
	} else if (kind == 1) {
		q.width = w - q.x, q.height = h - q.y;
	} else if (kind == 2) {
		q.x -= 7, q.y -= 5, q.width += 20, q.height += 9;
	}
	return q;
}

static void assert_crop_equal(const aug_image *got, const aug_image *full, int fx, int fy, const char *what)
{
	for (int y = 0; y < got->height; y++) {
		const uint8_t *g = aug_image_row(got, y);
		const uint8_t *f = aug_image_row(full, fy + y) + (size_t)fx * (size_t)full->channels;

		if (memcmp(g, f, (size_t)got->width * (size_t)got->channels) != 0) {
			for (int x = 0; x < got->width * got->channels; x++)
				cr_assert_eq(g[x], f[x], "%s: row %d byte %d: %d, want %d", what, y, x, g[x], f[x]);
		}
	}
}

/* codec.h's geometry for a region decoded at scale s from a dw x dh image. */
static void check_geometry(aug_rect want, int dw, int dh, int s, const aug_region *g, const aug_image *img,
			   const char *what)
{
	aug_rect c = clip(want, dw, dh);
	int right = g->rect.x + g->rect.width, bottom = g->rect.y + g->rect.height;

	cr_assert_eq(g->scale, s, "%s", what);
	if (s == 1) {
		cr_assert(g->rect.x == c.x && g->rect.y == c.y && g->rect.width == c.width &&
			  g->rect.height == c.height, "%s: scale 1 must give the clipped rectangle", what);
		cr_assert(g->origin_x == c.x && g->origin_y == c.y, "%s", what);
	}
	/* Covers want, inside the image, widened by less than a block. */
	cr_assert(g->rect.x <= c.x && g->rect.y <= c.y && right >= c.x + c.width && bottom >= c.y + c.height,
		  "%s: does not cover want", what);
	cr_assert(g->rect.x >= 0 && g->rect.y >= 0 && right <= dw && bottom <= dh, "%s: outside", what);
	cr_assert(c.x - g->rect.x < s && c.y - g->rect.y < s, "%s: widened too far", what);
	cr_assert(right - (c.x + c.width) < s && bottom - (c.y + c.height) < s, "%s: widened too far", what);
	/* Edges on the block grid (or the image's edges). */
	cr_assert(g->origin_x <= g->rect.x && g->rect.x < g->origin_x + s, "%s: origin_x", what);
	cr_assert(g->origin_y <= g->rect.y && g->rect.y < g->origin_y + s, "%s: origin_y", what);
	cr_assert(g->rect.x == g->origin_x || g->rect.x == 0, "%s", what);
	cr_assert(g->rect.y == g->origin_y || g->rect.y == 0, "%s", what);
	cr_assert(right == dw || (right - g->origin_x) % s == 0, "%s: right edge off the grid", what);
	cr_assert(bottom == dh || (bottom - g->origin_y) % s == 0, "%s: bottom edge off the grid", what);
	cr_assert_eq(img->width, (right - g->origin_x + s - 1) / s, "%s: output width", what);
	cr_assert_eq(img->height, (bottom - g->origin_y + s - 1) / s, "%s: output height", what);
}

/* Random regions at scale 1 against the whole decode. */
static void exact_regions(aug_decoder *dec, const uint8_t *buf, size_t len, const char *name,
			  const aug_decode_options *o, int count, uint64_t seed)
{
	aug_image *full = NULL;
	aug_rng rng = aug_rng_stream(seed, 1, 0, 0);

	cr_assert_eq(aug_decode(buf, len, name, o, &full), AUG_OK, "%s: %s", name, aug_error_message());
	for (int i = 0; i < count; i++) {
		aug_rect want = random_rect(&rng, full->width, full->height);
		const aug_image *img;
		aug_region got;
		char what[160];

		snprintf(what, sizeof(what), "%s region %d (%d,%d %dx%d)", name, i, want.x, want.y, want.width,
			 want.height);
		cr_assert_eq(aug_decoder_decode_region(dec, buf, len, name, o, want, 1, &img, &got), AUG_OK,
			     "%s: %s", what, aug_error_message());
		check_geometry(want, full->width, full->height, 1, &got, img, what);
		assert_crop_equal(img, full, got.rect.x, got.rect.y, what);
		if (i % 8 == 0) {
			/* The one-shot call hands out a packed copy. */
			aug_image *own = NULL;
			aug_region got2;

			cr_assert_eq(aug_decode_region(buf, len, name, o, want, 1, &own, &got2), AUG_OK);
			cr_assert_eq(own->stride, (size_t)own->width * (size_t)own->channels);
			cr_assert_eq(memcmp(&got, &got2, sizeof(got)), 0);
			assert_crop_equal(own, full, got.rect.x, got.rect.y, what);
			aug_image_free(own);
		}
	}
	aug_image_free(full);
}

static void exact_regions_file(aug_decoder *dec, const char *rel, const aug_decode_options *o, int count)
{
	size_t len;
	uint8_t *b = load(rel, &len);

	exact_regions(dec, b, len, rel, o, count, len);
	free(b);
}

CTest(region, jpeg_kinds_exact_at_scale_1)
{
	const char *rels[] = {
		FIX "b420.jpg", FIX "b444.jpg", FIX "b422.jpg", FIX "prog.jpg", FIX "prog444.jpg",
		FIX "arith.jpg", FIX "restart.jpg", FIX "grey.jpg", FIX "cmyk.jpg", FIX "ycck.jpg",
		FIX "trunc-scan.jpg",
	};
	aug_decoder *dec;
	aug_decode_options o;

	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	aug_decode_options_init(&o);
	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		o.channels = AUG_CHANNELS_STORED;
		exact_regions_file(dec, rels[i], &o, 60);
		o.channels = AUG_CHANNELS_GREY;
		exact_regions_file(dec, rels[i], &o, 15);
		o.channels = AUG_CHANNELS_RGB;
		exact_regions_file(dec, rels[i], &o, 15);
	}
	aug_decoder_free(dec);
}

/* A JPEG without the segments of one marker (before the first SOS). */
static uint8_t *strip_segments(const uint8_t *jpg, size_t len, uint8_t marker, size_t *out_len)
{
	uint8_t *out = malloc(len);
	size_t i = 2, n = 2;

	cr_assert_not_null(out);
	memcpy(out, jpg, 2);
	while (i + 4 <= len && jpg[i] == 0xff && jpg[i + 1] != 0xda) {
		size_t seg = 2 + ((size_t)jpg[i + 2] << 8 | jpg[i + 3]);

		if (jpg[i + 1] != marker) {
			memcpy(out + n, jpg + i, seg);
			n += seg;
		}
		i += seg;
	}
	memcpy(out + n, jpg + i, len - i);
	*out_len = n + len - i;
	return out;
}

/* libjpeg keeps the quantisation and Huffman tables of the last image in a
 * decompress object, for abbreviated datastreams. A damaged file missing a
 * table would then be decoded with the tables of whatever the worker decoded
 * before: its pixels (and whether it decodes at all) must not depend on
 * that. Found by fuzz_jpeg (a mutated orient-4.jpg whose chroma DHTs were
 * overwritten). */
CTest(region, reused_decoder_forgets_the_last_images_tables)
{
	static const uint8_t markers[] = { 0xc4, 0xdb }; /* DHT, DQT */
	size_t blen, plen;
	uint8_t *base = load(FIX "b420.jpg", &blen), *prev = load("samples/images/space/rocket.jpg", &plen);
	aug_rect all = { 0, 0, 1 << 20, 1 << 20 };

	for (size_t k = 0; k < sizeof(markers); k++) {
		size_t len;
		uint8_t *jpg = strip_segments(base, blen, markers[k], &len);
		aug_decoder *dec;
		aug_image *fresh = NULL;
		const aug_image *reused = NULL, *first = NULL;
		aug_status st_fresh, st_reused;

		cr_assert_lt(len, blen, "no segment 0x%02x in b420.jpg", markers[k]);
		st_fresh = aug_decode(jpg, len, "stripped", NULL, &fresh);
		cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
		cr_assert_eq(aug_decoder_decode_region(dec, prev, plen, "rocket", NULL, all, 1, &first, NULL), AUG_OK);
		st_reused = aug_decoder_decode_region(dec, jpg, len, "stripped", NULL, all, 1, &reused, NULL);
		cr_assert_eq(st_reused, st_fresh, "marker 0x%02x: %s after another image, %s alone", markers[k],
			     aug_strerror(st_reused), aug_strerror(st_fresh));
		if (st_fresh == AUG_OK) {
			cr_assert_eq(reused->width, fresh->width);
			cr_assert_eq(reused->height, fresh->height);
			for (int y = 0; y < fresh->height; y++)
				cr_assert_arr_eq(aug_image_row(reused, y), aug_image_row(fresh, y),
						 (size_t)fresh->width * (size_t)fresh->channels,
						 "marker 0x%02x: row %d depends on the image decoded before", markers[k], y);
		}
		aug_image_free(fresh);
		aug_decoder_free(dec);
		free(jpg);
	}
	free(base);
	free(prev);
}

CTest(region, samples_exact_at_scale_1)
{
	aug_decoder *dec;

	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	exact_regions_file(dec, "samples/images/space/rocket.jpg", NULL, 40);
	exact_regions_file(dec, "samples/images/space/hubble_deep_field.jpg", NULL, 15);
	exact_regions_file(dec, "samples/images/animal/chelsea.png", NULL, 30);
	exact_regions_file(dec, "samples/edge/green_palette.png", NULL, 20);
	exact_regions_file(dec, "samples/edge/chessboard_GRAY.png", NULL, 20);
	aug_decoder_free(dec);
}

CTest(region, every_orientation_exact_at_scale_1)
{
	const char *bases[] = { FIX "b420.jpg", FIX "prog.jpg", FIX "grey.jpg", FIX "b422.jpg" };
	aug_decoder *dec;
	aug_decode_options o;

	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	aug_decode_options_init(&o);
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		size_t len;
		uint8_t *b = load(bases[i], &len);

		for (int ori = 1; ori <= 8; ori++) {
			size_t n;
			uint8_t *r = with_orientation(b, len, ori, ori % 2, &n);
			char name[128];

			snprintf(name, sizeof(name), "%s orientation %d", bases[i], ori);
			o.ignore_orientation = false;
			exact_regions(dec, r, n, name, &o, 25, (uint64_t)ori * 31 + i);
			o.ignore_orientation = true;
			exact_regions(dec, r, n, name, &o, 5, (uint64_t)ori * 37 + i);
			free(r);
		}
		free(b);
	}
	for (int ori = 1; ori <= 8; ori++) {
		char rel[64];

		snprintf(rel, sizeof(rel), FIX "orient-%d.jpg", ori);
		exact_regions_file(dec, rel, NULL, 30);
	}
	aug_decoder_free(dec);
}

/* An interlaced and a non-interlaced RGBA PNG written with libpng from a
 * decoded sample, for the PNG region paths. */
typedef struct membuf {
	uint8_t *p;
	size_t len;
} membuf;

static void mem_write(png_structp png, png_bytep data, size_t n)
{
	membuf *m = png_get_io_ptr(png);

	m->p = realloc(m->p, m->len + n);
	memcpy(m->p + m->len, data, n);
	m->len += n;
}

static void mem_flush(png_structp png)
{
	(void)png;
}

static membuf write_png(const aug_image *img, bool interlace, bool alpha)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	membuf m = { NULL, 0 };
	int c = alpha ? 4 : 3;
	uint8_t *pix = malloc((size_t)img->width * (size_t)img->height * (size_t)c);
	png_bytep *rows = malloc(sizeof(*rows) * (size_t)img->height);

	if (setjmp(png_jmpbuf(png)))
		cr_assert_fail("libpng write failed");
	for (int y = 0; y < img->height; y++) {
		rows[y] = pix + (size_t)y * (size_t)img->width * (size_t)c;
		for (int x = 0; x < img->width; x++) {
			memcpy(rows[y] + x * c, aug_image_row(img, y) + x * 3, 3);
			if (alpha)
				rows[y][x * c + 3] = (uint8_t)(x * 7 + y * 3);
		}
	}
	png_set_write_fn(png, &m, mem_write, mem_flush);
	png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
		     alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
		     interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, 0, 0);
	png_write_info(png, info);
	png_write_image(png, rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(rows);
	free(pix);
	return m;
}

CTest(region, png_exact_and_always_full_scale)
{
	aug_image *src = NULL;
	aug_decoder *dec;
	aug_decode_options o;

	cr_assert_eq(aug_decode_file(src_path("samples/images/object/coffee.png"), NULL, &src), AUG_OK);
	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	aug_decode_options_init(&o);
	for (int il = 0; il <= 1; il++) {
		for (int alpha = 0; alpha <= 1; alpha++) {
			membuf m = write_png(src, il, alpha);
			aug_rng rng = aug_rng_stream(7, (uint64_t)il, (uint64_t)alpha, 0);

			o.channels = AUG_CHANNELS_STORED;
			exact_regions(dec, m.p, m.len, il ? "adam7.png" : "plain.png", &o, 30, 40 + il);
			o.channels = AUG_CHANNELS_GREY;
			exact_regions(dec, m.p, m.len, il ? "adam7.png" : "plain.png", &o, 10, 50 + il);
			/* Asked for a scale, PNG still decodes at full size. */
			for (int i = 0; i < 10; i++) {
				aug_rect want = random_rect(&rng, src->width, src->height);
				const aug_image *img;
				aug_region got;

				cr_assert_eq(aug_decoder_decode_region(dec, m.p, m.len, "png", &o, want, 4, &img, &got),
					     AUG_OK);
				check_geometry(want, src->width, src->height, 1, &got, img, "png at scale 4");
			}
			free(m.p);
		}
	}
	aug_decoder_free(dec);
	aug_image_free(src);
}

CTest(region, png_rows_after_the_region_are_not_needed)
{
	/* A non-interlaced PNG cut in half still gives its top rows: reading
	 * stops after the region's last row. The whole decode fails. */
	aug_image *src = NULL, *img = NULL;
	membuf m;
	aug_rect top = { 0, 0, 600, 20 };
	aug_region got;

	cr_assert_eq(aug_decode_file(src_path("samples/images/object/coffee.png"), NULL, &src), AUG_OK);
	m = write_png(src, false, false);
	cr_assert_eq(aug_decode(m.p, m.len / 2, "half.png", NULL, &img), AUG_ETRUNCATED);
	cr_assert_eq(aug_decode_region(m.p, m.len / 2, "half.png", NULL, top, 1, &img, &got), AUG_OK,
		     "%s", aug_error_message());
	assert_crop_equal(img, src, 0, 0, "top of half.png");
	aug_image_free(img);
	free(m.p);
	aug_image_free(src);
}

/* Mean absolute difference between a scaled region and the box average of
 * the full-size decode over each output pixel's block. */
static double box_mad(const aug_image *img, const aug_region *g, const aug_image *full)
{
	double sum = 0;
	size_t n = 0;
	int s = g->scale, c = img->channels;

	for (int j = 0; j < img->height; j++) {
		int y0 = g->origin_y + j * s, y1 = y0 + s;

		y0 = y0 < g->rect.y ? g->rect.y : y0;
		y1 = y1 > g->rect.y + g->rect.height ? g->rect.y + g->rect.height : y1;
		for (int i = 0; i < img->width; i++) {
			int x0 = g->origin_x + i * s, x1 = x0 + s;

			x0 = x0 < g->rect.x ? g->rect.x : x0;
			x1 = x1 > g->rect.x + g->rect.width ? g->rect.x + g->rect.width : x1;
			for (int k = 0; k < c; k++) {
				double acc = 0;

				for (int y = y0; y < y1; y++)
					for (int x = x0; x < x1; x++)
						acc += aug_image_row(full, y)[x * c + k];
				acc /= (double)(x1 - x0) * (y1 - y0);
				sum += fabs(acc - aug_image_row(img, j)[i * c + k]);
				n++;
			}
		}
	}
	return sum / (double)n;
}

/* Scaled regions of b420.jpg in every orientation: geometry, exact
 * equality with djpeg -scale 1/s oriented by this file's EXIF table, and
 * closeness to a box filter of the full-size decode. */
CTest(region, scaled_regions_follow_djpeg_and_the_geometry)
{
	size_t len;
	uint8_t *b = load(FIX "b420.jpg", &len);
	aug_decoder *dec;
	double worst = 0;

	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	for (int s = 2; s <= 8; s *= 2) {
		char ref[64];
		aug_image *stored;

		snprintf(ref, sizeof(ref), FIX "b420-s%d.ppm", s);
		stored = load_pnm(ref);
		for (int ori = 1; ori <= 8; ori++) {
			size_t n;
			uint8_t *r = with_orientation(b, len, ori, ori > 4, &n);
			aug_image *full = NULL, *disp = orient_image(stored, ori);
			aug_rng rng = aug_rng_stream(99, (uint64_t)s, (uint64_t)ori, 0);
			bool swap = ori >= 5;
			int sx_last, sy_last, dx0, dy0;
			/* Where the displayed scaled image's block grid starts: a
			 * mirrored axis counts its blocks from the far edge. */
			int W = 141, H = 93, dw = swap ? H : W, dh = swap ? W : H;

			exif_source(ori, W, H, 0, 0, &sx_last, &sy_last);
			{
				/* Displayed x runs along stored x (or y when swapped),
				 * backwards when the top-left pixel comes from the far end. */
				bool xrev = swap ? sy_last != 0 : sx_last != 0;
				bool yrev = swap ? sx_last != 0 : sy_last != 0;

				dx0 = xrev ? dw - ((dw + s - 1) / s) * s : 0;
				dy0 = yrev ? dh - ((dh + s - 1) / s) * s : 0;
			}
			cr_assert_eq(aug_decode(r, n, "o", NULL, &full), AUG_OK);
			for (int i = 0; i < 40; i++) {
				aug_rect want = i == 0 ? (aug_rect){ 0, 0, dw, dh } : random_rect(&rng, dw, dh);
				const aug_image *img;
				aug_region got;
				char what[128];
				double mad;

				snprintf(what, sizeof(what), "s=%d o=%d (%d,%d %dx%d)", s, ori, want.x, want.y,
					 want.width, want.height);
				cr_assert_eq(aug_decoder_decode_region(dec, r, n, "o", NULL, want, s, &img, &got), AUG_OK,
					     "%s: %s", what, aug_error_message());
				check_geometry(want, dw, dh, s, &got, img, what);
				cr_assert_eq(((got.origin_x - dx0) % s + s) % s, 0, "%s: origin_x %d, grid at %d", what,
					     got.origin_x, dx0);
				cr_assert_eq(((got.origin_y - dy0) % s + s) % s, 0, "%s: origin_y", what);
				assert_crop_equal(img, disp, (got.origin_x - dx0) / s, (got.origin_y - dy0) / s, what);
				mad = box_mad(img, &got, full);
				if (i == 0)
					cr_log_info("s=%d o=%d whole image: MAD %.3f", s, ori, mad);
				if (img->width * img->height >= 64) {
					worst = mad > worst ? mad : worst;
					cr_assert_leq(mad, 2.0, "%s: mean absolute difference %.3f", what, mad);
				}
			}
			aug_image_free(full);
			aug_image_free(disp);
			free(r);
		}
		aug_image_free(stored);
	}
	cr_log_info("worst box MAD %.3f", worst);
	aug_decoder_free(dec);
	free(b);
}

CTest(region, scaled_regions_of_the_samples_are_close_to_a_box_filter)
{
	const char *rels[] = { "samples/images/space/rocket.jpg", FIX "prog.jpg", FIX "grey.jpg", FIX "b444.jpg",
			       FIX "cmyk.jpg" };
	aug_decoder *dec;

	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	for (size_t f = 0; f < sizeof(rels) / sizeof(rels[0]); f++) {
		size_t len;
		uint8_t *b = load(rels[f], &len);
		aug_image *full = NULL;

		cr_assert_eq(aug_decode(b, len, rels[f], NULL, &full), AUG_OK);
		for (int s = 2; s <= 8; s *= 2) {
			aug_rng rng = aug_rng_stream(5, (uint64_t)s, f, 0);
			aug_image *whole = NULL;
			aug_region wg;
			aug_rect all = { 0, 0, full->width, full->height };

			cr_assert_eq(aug_decode_region(b, len, rels[f], NULL, all, s, &whole, &wg), AUG_OK);
			cr_log_info("%s s=%d whole image: MAD %.3f", rels[f], s, box_mad(whole, &wg, full));
			for (int i = 0; i < 15; i++) {
				aug_rect want = random_rect(&rng, full->width, full->height);
				const aug_image *img;
				aug_region got;
				double mad;

				cr_assert_eq(aug_decoder_decode_region(dec, b, len, rels[f], NULL, want, s, &img, &got),
					     AUG_OK);
				check_geometry(want, full->width, full->height, s, &got, img, rels[f]);
				/* The same blocks as the whole image at this scale. */
				assert_crop_equal(img, whole, (got.origin_x - wg.origin_x) / s,
						  (got.origin_y - wg.origin_y) / s, rels[f]);
				mad = box_mad(img, &got, full);
				if (img->width * img->height >= 64)
					cr_assert_leq(mad, 2.0, "%s s=%d: MAD %.3f", rels[f], s, mad);
			}
			aug_image_free(whole);
		}
		aug_image_free(full);
		free(b);
	}
	aug_decoder_free(dec);
}
