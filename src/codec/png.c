/* PNG decoding through libpng 1.6.
 *
 * libpng expands palettes, low-bit grey and tRNS so that every row arrives
 * as 8- or 16-bit grey, grey+alpha, RGB or RGBA; convert.c then composites,
 * reduces 16-bit samples and changes the channel count with formulas of our
 * own (libpng's own gamma-aware compositing and 16-bit scaling are not used:
 * their exact rounding is harder to state and test). gAMA, cHRM, sRGB and
 * iCCP are ignored, as in PIL and OpenCV: pixels are taken as stored.
 *
 * Non-interlaced images are read row by row and reading stops after the
 * last row a region needs; Adam7 images spread every row over seven passes,
 * so they are decoded whole and the region is cut out of the result.
 *
 * Errors: libpng reports through error_fn, which longjmps back to the one
 * setjmp in aug__png_decode(). Everything the protected code allocates
 * belongs to the decoder (aug__buf) or to libpng, so the jump leaks nothing.
 * A file that ends before the last needed row is AUG_ETRUNCATED; one that
 * ends after it (a missing IEND) decodes, as the rows are all there.
 */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Ancillary chunks may be compressed (iCCP, zTXt, iTXt); libpng would
 * decompress them into at most this much memory. They are skipped anyway. */
#define CHUNK_MALLOC_MAX ((png_alloc_size_t)8 << 20)

typedef struct png_src {
	const aug__ctx *ctx;
	const uint8_t *data;
	size_t len;
	size_t pos;
	aug_status status;   /* set before png_error() for our own failures */
	bool truncated;      /* the read callback ran out of data */
	int warnings;
	char warning[200];   /* the first */
	char error[200];
} png_src;

static void read_fn(png_structp png, png_bytep out, size_t n)
{
	png_src *s = png_get_io_ptr(png);

	if (s->len - s->pos < n) {
		s->truncated = true;
		png_error(png, "data ends early");
	}
	memcpy(out, s->data + s->pos, n);
	s->pos += n;
}

static void error_fn(png_structp png, png_const_charp msg)
{
	png_src *s = png_get_error_ptr(png);

	snprintf(s->error, sizeof(s->error), "%s", msg);
	png_longjmp(png, 1);
}

static void warning_fn(png_structp png, png_const_charp msg)
{
	png_src *s = png_get_error_ptr(png);

	if (s->warnings++ == 0)
		snprintf(s->warning, sizeof(s->warning), "%s", msg);
}

/* Fail from inside the protected region with our own status. */
static void fail(png_structp png, png_src *s, aug_status st, const char *msg)
{
	s->status = st;
	png_error(png, msg);
}

static aug_status error_status(const png_src *s)
{
	const aug__ctx *ctx = s->ctx;

	if (s->status == AUG_ENOMEM)
		return s->status; /* the message is already set */
	if (s->status != AUG_OK)
		return aug__fail(s->status, ctx->func, "%s: %s", ctx->name, s->error);
	if (s->truncated)
		return aug__fail(AUG_ETRUNCATED, ctx->func, "%s: PNG data ends early (after %zu bytes)",
				 ctx->name, s->len);
	if (strstr(s->error, "exceeds user limit"))
		return aug__fail(AUG_ELIMIT, ctx->func, "%s: %s", ctx->name, s->error);
	if (strstr(s->error, "Out of memory") || strstr(s->error, "out of memory"))
		return aug__fail(AUG_ENOMEM, ctx->func, "%s: %s", ctx->name, s->error);
	return aug__fail(AUG_ECORRUPT, ctx->func, "%s: corrupt PNG: %s", ctx->name, s->error);
}

static void reserve(png_structp png, png_src *s, aug__buf *b, size_t n)
{
	if (aug__buf_reserve(b, n, s->ctx))
		fail(png, s, AUG_ENOMEM, "no memory");
}

/* Everything that may longjmp. Returns normally when done, or early in
 * strict mode once a warning was seen (the caller turns it into a failure). */
static void read_region(png_structp png, png_infop info, png_src *s, const aug_header *hdr,
			const aug__plan *plan, aug__buf *out, aug__buf *row, aug__buf *full)
{
	const aug_decode_options *opts = s->ctx->opts;
	png_uint_32 w, h;
	int depth, type, interlace;
	size_t rowbytes, ostride, need;
	aug__rowfmt f;
	int oc = plan->channels;
	int passes = 1;
	int last = plan->oy + plan->oh;
	bool strict = opts->strict;
	bool direct;

	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &type, &interlace, NULL, NULL);
	if ((int)w != hdr->width || (int)h != hdr->height)
		fail(png, s, AUG_ECORRUPT, "IHDR changed between probe and decode");
	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(png);
	if (interlace != PNG_INTERLACE_NONE)
		passes = png_set_interlace_handling(png);
	png_read_update_info(png, info);

	f.channels = png_get_channels(png, info);
	f.depth = png_get_bit_depth(png, info);
	f.cmyk = false;
	rowbytes = png_get_rowbytes(png, info);
	if (f.channels < 1 || f.channels > 4 || (f.depth != 8 && f.depth != 16) ||
	    rowbytes != (size_t)w * (size_t)f.channels * (size_t)(f.depth / 8))
		fail(png, s, AUG_ECORRUPT, "unexpected row layout after transformations");

	/* Sizes are below the pixel limit (checked by the caller), so these
	 * products fit; aug__mul is the second line of defence. */
	ostride = (size_t)plan->ow * (size_t)oc;
	if (!aug__mul(ostride, (size_t)plan->oh, &need))
		fail(png, s, AUG_ELIMIT, "region too large");
	reserve(png, s, out, need);
	reserve(png, s, row, rowbytes);

	if (interlace != PNG_INTERLACE_NONE) {
		if (!aug__mul(rowbytes, h, &need))
			fail(png, s, AUG_ELIMIT, "image too large");
		reserve(png, s, full, need);
		for (int pass = 0; pass < passes; pass++) {
			for (png_uint_32 y = 0; y < h; y++)
				png_read_row(png, full->p + (size_t)y * rowbytes, NULL);
			if (strict && s->warnings)
				return;
		}
		for (int y = 0; y < plan->oh; y++)
			aug__convert_row(full->p + (size_t)(plan->oy + y) * rowbytes +
					 (size_t)plan->ox * (size_t)f.channels * (size_t)(f.depth / 8),
					 f, plan->ow, out->p + (size_t)y * ostride, oc, opts->background);
		return;
	}

	/* Rows already in the output layout go straight into the output. */
	direct = f.depth == 8 && f.channels == oc && plan->ox == 0 && plan->ow == (int)w;

	for (int y = 0; y < last; y++) {
		uint8_t *dst = y >= plan->oy ? out->p + (size_t)(y - plan->oy) * ostride : NULL;

		if (dst && direct) {
			png_read_row(png, dst, NULL);
		} else {
			png_read_row(png, row->p, NULL);
			if (dst)
				aug__convert_row(row->p + (size_t)plan->ox * (size_t)f.channels *
						 (size_t)(f.depth / 8),
						 f, plan->ow, dst, oc, opts->background);
		}
		if (strict && s->warnings)
			return;
	}
}

/* The part with the setjmp. Its locals are all set before setjmp and never
 * changed after it; the state that changes (src) lives in the caller's
 * frame, so nothing is left indeterminate by the longjmp. */
static aug_status decode(png_src *src, const aug_header *hdr, const aug__plan *plan,
			 aug__buf *out, aug__buf *row, aug__buf *full)
{
	const aug__ctx *ctx = src->ctx;
	png_structp png;
	png_infop info;
	png_uint_32 lim;
	aug_status st;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, error_fn, warning_fn);
	if (!png)
		return aug__fail(AUG_ENOMEM, ctx->func, "%s: no memory for a PNG reader", ctx->name);
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		return aug__fail(AUG_ENOMEM, ctx->func, "%s: no memory for a PNG reader", ctx->name);
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		if (src->warnings)
			aug__warn(ctx->func, "%s: %s", ctx->name, src->warning);
		return error_status(src);
	}
	png_set_read_fn(png, src, read_fn);
	/* Defence in depth: the caller has checked width * height against
	 * opts->max_pixels; libpng checks each side and its chunk buffers. */
	lim = ctx->opts->max_pixels < 0x7fffffffu ? (png_uint_32)ctx->opts->max_pixels : 0x7fffffffu;
	png_set_user_limits(png, lim, lim);
	png_set_chunk_malloc_max(png, CHUNK_MALLOC_MAX);
	/* -1: skip every ancillary chunk except tRNS (orientation comes from
	 * the probe's own reading of eXIf). Faster, and less parsing of
	 * untrusted bytes. */
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
	read_region(png, info, src, hdr, plan, out, row, full);
	png_destroy_read_struct(&png, &info, NULL);
	st = aug__warnings(ctx, src->warnings, src->warning);
	return st;
}

aug_status aug__png_decode(const uint8_t *data, size_t len, const aug__ctx *ctx,
			   const aug_header *hdr, const aug__plan *plan, aug__buf *out,
			   aug__buf *row, aug__buf *full, aug__placed *placed)
{
	png_src src;

	memset(&src, 0, sizeof(src));
	src.ctx = ctx;
	src.data = data;
	src.len = len;
	placed->offset = 0;
	placed->stride = (size_t)plan->ow * (size_t)plan->channels;
	return decode(&src, hdr, plan, out, row, full);
}
