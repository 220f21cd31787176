/* Decoding entry points: whole images and regions, one-shot or through a
 * reusable aug_decoder.
 *
 * Every decode runs the same steps: probe the header (probe.c), check the
 * pixel limit before anything is allocated, map the wanted rectangle from
 * displayed to stored coordinates (EXIF orientation), widen it to the DCT
 * scale's block grid, let png.c or jpeg.c decode that stored region, and
 * finally rotate or mirror it into display orientation.
 *
 * The decoder's buffers grow and never shrink, so a worker decoding a
 * stream of images allocates nothing of ours once it has seen the largest.
 * Without orientation to apply, the codec writes straight into the output
 * buffer (for JPEG even the rows of a crop: the output image then has a
 * stride wider than its width and starts a few pixels into the buffer).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct aug_decoder {
	aug__jpeg *jpeg;
	aug__buf out;     /* the output pixels */
	aug__buf scratch; /* stored-orientation pixels, when orientation is applied */
	aug__buf row;     /* one or a few rows of samples before conversion */
	aug__buf full;    /* a whole interlaced PNG */
	aug_image img;    /* what aug_decoder_decode_region() hands out */
};

aug_status aug_decoder_new(aug_decoder **out)
{
	aug_decoder *dec;
	aug_status st;

	if (!out)
		return aug__fail(AUG_EINVAL, __func__, "out is NULL");
	*out = NULL;
	dec = calloc(1, sizeof(*dec));
	if (!dec)
		return aug__fail(AUG_ENOMEM, __func__, "no memory for a decoder");
	st = aug__jpeg_new(&dec->jpeg);
	if (st) {
		free(dec);
		return st;
	}
	*out = dec;
	return AUG_OK;
}

void aug_decoder_free(aug_decoder *dec)
{
	if (!dec)
		return;
	aug__jpeg_free(dec->jpeg);
	aug__buf_free(&dec->out);
	aug__buf_free(&dec->scratch);
	aug__buf_free(&dec->row);
	aug__buf_free(&dec->full);
	free(dec);
}

static int64_t ceil_div(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

/* Plan the decode of the displayed rectangle [x0, x1) x [y0, y1) (already
 * clipped to the image) at scale s: the stored region in output pixels,
 * and what the output will cover in displayed coordinates. */
static void plan_region(const aug_header *hdr, aug__orient o, int64_t x0, int64_t y0, int64_t x1,
			int64_t y1, int s, aug__plan *plan, aug_region *got)
{
	int64_t w = hdr->width, h = hdr->height;
	int64_t u0, u1, v0, v1, sx0, sx1, sy0, sy1, gx0, gx1, gy0, gy1, ou, ov;
	aug_rect r;

	/* Displayed (x, y) to the stored axes (u, v), then undo the mirrors. */
	if (o.transpose) {
		u0 = y0, u1 = y1, v0 = x0, v1 = x1;
	} else {
		u0 = x0, u1 = x1, v0 = y0, v1 = y1;
	}
	sx0 = o.flip_x ? w - u1 : u0;
	sx1 = o.flip_x ? w - u0 : u1;
	sy0 = o.flip_y ? h - v1 : v0;
	sy1 = o.flip_y ? h - v0 : v1;

	/* libjpeg's scaled pixel j covers stored pixels [j*s, (j+1)*s). */
	gx0 = sx0 / s * s;
	gy0 = sy0 / s * s;
	gx1 = ceil_div(sx1, s) * s < w ? ceil_div(sx1, s) * s : w;
	gy1 = ceil_div(sy1, s) * s < h ? ceil_div(sy1, s) * s : h;
	plan->scale = s;
	plan->ox = (int)(gx0 / s);
	plan->oy = (int)(gy0 / s);
	plan->ow = (int)(ceil_div(gx1, s) - gx0 / s);
	plan->oh = (int)(ceil_div(gy1, s) - gy0 / s);

	/* Back to displayed coordinates. Along a mirrored axis the first
	 * output pixel is the last stored block, which starts at
	 * ceil(g1/s)*s counted from the far edge. */
	u0 = o.flip_x ? w - gx1 : gx0;
	u1 = o.flip_x ? w - gx0 : gx1;
	v0 = o.flip_y ? h - gy1 : gy0;
	v1 = o.flip_y ? h - gy0 : gy1;
	ou = o.flip_x ? w - ceil_div(gx1, s) * s : gx0;
	ov = o.flip_y ? h - ceil_div(gy1, s) * s : gy0;
	if (o.transpose) {
		r.x = (int)v0, r.y = (int)u0, r.width = (int)(v1 - v0), r.height = (int)(u1 - u0);
		got->origin_x = (int)ov;
		got->origin_y = (int)ou;
	} else {
		r.x = (int)u0, r.y = (int)v0, r.width = (int)(u1 - u0), r.height = (int)(v1 - v0);
		got->origin_x = (int)ou;
		got->origin_y = (int)ov;
	}
	got->rect = r;
	got->scale = s;
}

/* Decode into dec->img. `want` is NULL for the whole image. */
static aug_status decode(aug_decoder *dec, const void *buf, size_t len, const char *func,
			 const char *name, const aug_decode_options *user_opts, const aug_rect *want,
			 int scale, aug_region *got)
{
	aug_decode_options defaults;
	aug__ctx ctx = { func, aug__name(name), user_opts, false };
	aug_header hdr;
	aug__orient o;
	aug__plan plan;
	aug__placed placed;
	aug_region region;
	aug__buf *target;
	int dw, dh, grey;
	int64_t x0, y0, x1, y1;
	aug_status st;

	aug_warning_clear();
	memset(&dec->img, 0, sizeof(dec->img));
	if (!user_opts) {
		aug_decode_options_init(&defaults);
		ctx.opts = &defaults;
	}
	if (!buf && len)
		return aug__fail(AUG_EINVAL, func, "%s: NULL buffer", ctx.name);
	if (ctx.opts->channels != AUG_CHANNELS_STORED && ctx.opts->channels != AUG_CHANNELS_GREY &&
	    ctx.opts->channels != AUG_CHANNELS_RGB)
		return aug__fail(AUG_EINVAL, func, "%s: channels %d is not 0, 1 or 3", ctx.name,
				 (int)ctx.opts->channels);
	if (scale != 1 && scale != 2 && scale != 4 && scale != 8)
		return aug__fail(AUG_EINVAL, func, "%s: scale %d is not 1, 2, 4 or 8", ctx.name, scale);
	st = aug__probe_mem(buf, len, &ctx, &hdr, NULL);
	if (st)
		return st;
	if ((uint64_t)hdr.width * (uint64_t)hdr.height > ctx.opts->max_pixels)
		return aug__fail(AUG_ELIMIT, func, "%s: %dx%d is %llu pixels, over the limit of %llu",
				 ctx.name, hdr.width, hdr.height,
				 (unsigned long long)hdr.width * (unsigned long long)hdr.height,
				 (unsigned long long)ctx.opts->max_pixels);
	if (ctx.opts->ignore_orientation)
		hdr.orientation = 1;
	o = aug__orient_of(hdr.orientation);
	aug_header_display_size(&hdr, &dw, &dh);

	if (want) {
		if (want->width <= 0 || want->height <= 0)
			return aug__fail(AUG_EINVAL, func, "%s: region %dx%d is empty", ctx.name,
					 want->width, want->height);
		x0 = want->x > 0 ? want->x : 0;
		y0 = want->y > 0 ? want->y : 0;
		x1 = (int64_t)want->x + want->width < dw ? (int64_t)want->x + want->width : dw;
		y1 = (int64_t)want->y + want->height < dh ? (int64_t)want->y + want->height : dh;
		if (x1 <= x0 || y1 <= y0)
			return aug__fail(AUG_EINVAL, func, "%s: region %dx%d at (%d, %d) lies outside the %dx%d image",
					 ctx.name, want->width, want->height, want->x, want->y, dw, dh);
	} else {
		x0 = 0, y0 = 0, x1 = dw, y1 = dh;
	}
	/* PNG has no cheaper way to a smaller image: decode at full size. */
	if (hdr.format == AUG_FORMAT_PNG)
		scale = 1;
	plan_region(&hdr, o, x0, y0, x1, y1, scale, &plan, &region);
	grey = hdr.format == AUG_FORMAT_PNG ? !hdr.palette && hdr.channels <= 2 : hdr.channels == 1;
	if (ctx.opts->channels == AUG_CHANNELS_STORED)
		plan.channels = grey ? 1 : 3;
	else
		plan.channels = (int)ctx.opts->channels;

	target = aug__orient_is_identity(o) ? &dec->out : &dec->scratch;
	if (hdr.format == AUG_FORMAT_PNG)
		st = aug__png_decode(buf, len, &ctx, &hdr, &plan, target, &dec->row, &dec->full, &placed);
	else
		st = aug__jpeg_decode(dec->jpeg, buf, len, &ctx, &hdr, &plan, target, &dec->row, &placed);
	if (st)
		return st;

	if (target == &dec->out) {
		dec->img.width = plan.ow;
		dec->img.height = plan.oh;
		dec->img.data = dec->out.p + placed.offset;
		dec->img.stride = placed.stride;
	} else {
		int w = o.transpose ? plan.oh : plan.ow;
		int h = o.transpose ? plan.ow : plan.oh;
		size_t stride = (size_t)w * (size_t)plan.channels, need;

		/* Bounded by the pixel limit, checked above. */
		if (!aug__mul(stride, (size_t)h, &need))
			return aug__fail(AUG_ELIMIT, func, "%s: %dx%d overflows size_t", ctx.name, w, h);
		st = aug__buf_reserve(&dec->out, need, &ctx);
		if (st)
			return st;
		aug__orient_apply(o, dec->scratch.p + placed.offset, placed.stride, plan.ow, plan.oh,
				  plan.channels, dec->out.p, stride);
		dec->img.width = w;
		dec->img.height = h;
		dec->img.data = dec->out.p;
		dec->img.stride = stride;
	}
	dec->img.channels = plan.channels;
	if (got)
		*got = region;
	return AUG_OK;
}

/* Hand the decoder's output to the caller as a packed image of its own. */
static aug_status take_image(aug_decoder *dec, const char *func, aug_image **out)
{
	aug_image *img = malloc(sizeof(*img));
	size_t packed = (size_t)dec->img.width * (size_t)dec->img.channels;
	uint8_t *shrunk;

	if (!img)
		return aug__fail(AUG_ENOMEM, func, "no memory for an image");
	*img = dec->img;
	if (img->data != dec->out.p || img->stride != packed) {
		/* Row y moves down to y * packed, which never reaches a row
		 * not yet moved: packed <= stride. */
		for (int y = 0; y < img->height; y++)
			memmove(dec->out.p + (size_t)y * packed, img->data + (size_t)y * img->stride, packed);
	}
	img->data = dec->out.p;
	img->stride = packed;
	shrunk = realloc(dec->out.p, packed * (size_t)img->height);
	if (shrunk)
		img->data = shrunk;
	dec->out.p = NULL;
	dec->out.cap = 0;
	*out = img;
	return AUG_OK;
}

static aug_status decode_new(const void *buf, size_t len, const char *func, const char *name,
			     const aug_decode_options *opts, const aug_rect *want, int scale,
			     aug_image **out, aug_region *got)
{
	aug_decoder *dec;
	aug_status st;

	if (!out)
		return aug__fail(AUG_EINVAL, func, "%s: out is NULL", aug__name(name));
	*out = NULL;
	st = aug_decoder_new(&dec);
	if (st)
		return st;
	st = decode(dec, buf, len, func, name, opts, want, scale, got);
	if (!st)
		st = take_image(dec, func, out);
	aug_decoder_free(dec);
	return st;
}

aug_status aug_decode(const void *buf, size_t len, const char *name,
		      const aug_decode_options *opts, aug_image **out)
{
	return decode_new(buf, len, __func__, name, opts, NULL, 1, out, NULL);
}

aug_status aug_decode_region(const void *buf, size_t len, const char *name,
			     const aug_decode_options *opts, aug_rect want, int scale,
			     aug_image **out, aug_region *got)
{
	return decode_new(buf, len, __func__, name, opts, &want, scale, out, got);
}

aug_status aug_decoder_decode_region(aug_decoder *dec, const void *buf, size_t len,
				     const char *name, const aug_decode_options *opts,
				     aug_rect want, int scale,
				     const aug_image **out, aug_region *got)
{
	aug_status st;

	if (!dec || !out)
		return aug__fail(AUG_EINVAL, __func__, "%s: NULL decoder or out", aug__name(name));
	*out = NULL;
	st = decode(dec, buf, len, __func__, name, opts, &want, scale, got);
	if (!st)
		*out = &dec->img;
	return st;
}

aug_status aug_decode_file(const char *path, const aug_decode_options *opts, aug_image **out)
{
	uint8_t *buf;
	size_t len;
	aug_status st;

	if (!path || !out)
		return aug__fail(AUG_EINVAL, __func__, "NULL argument");
	*out = NULL;
	st = aug_file_read(path, 0, &buf, &len);
	if (st)
		return st;
	st = decode_new(buf, len, __func__, path, opts, NULL, 1, out, NULL);
	free(buf);
	return st;
}
