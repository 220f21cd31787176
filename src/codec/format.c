/* Formats by magic bytes, option defaults, and the small shared helpers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

const char *aug_format_name(aug_format format)
{
	switch (format) {
	case AUG_FORMAT_PNG:
		return "png";
	case AUG_FORMAT_JPEG:
		return "jpeg";
	default:
		return "unknown";
	}
}

aug_format aug_format_detect(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!p)
		return AUG_FORMAT_UNKNOWN;
	if (len >= sizeof(png_magic) && memcmp(p, png_magic, sizeof(png_magic)) == 0)
		return AUG_FORMAT_PNG;
	/* SOI and the 0xFF of the next marker: three bytes, as file(1) and
	 * libvips check, so that a text file starting "\xff\xd8" is not taken. */
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return AUG_FORMAT_JPEG;
	return AUG_FORMAT_UNKNOWN;
}

aug_format aug_format_from_path(const char *path)
{
	const char *dot, *slash;

	if (!path)
		return AUG_FORMAT_UNKNOWN;
	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return AUG_FORMAT_UNKNOWN;
	if (strcasecmp(dot, ".png") == 0)
		return AUG_FORMAT_PNG;
	if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0)
		return AUG_FORMAT_JPEG;
	return AUG_FORMAT_UNKNOWN;
}

void aug_header_display_size(const aug_header *hdr, int *width, int *height)
{
	bool swap = hdr->orientation >= 5 && hdr->orientation <= 8;

	if (width)
		*width = swap ? hdr->height : hdr->width;
	if (height)
		*height = swap ? hdr->width : hdr->height;
}

void aug_decode_options_init(aug_decode_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->channels = AUG_CHANNELS_STORED;
	opts->max_pixels = AUG_DEFAULT_MAX_PIXELS;
	opts->ignore_orientation = false;
	opts->strict = false;
	opts->background[0] = 255;
	opts->background[1] = 255;
	opts->background[2] = 255;
}

void aug_encode_options_init(aug_encode_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->format = AUG_FORMAT_UNKNOWN;
	opts->quality = 90;
	opts->chroma_444 = false;
	opts->png_level = 6;
	opts->optimize = false;
}

aug_status aug__buf_reserve(aug__buf *b, size_t n, const aug__ctx *ctx)
{
	size_t want = n;
	uint8_t *p;

	if (n <= b->cap)
		return AUG_OK;
	/* Grow by half again at least, so a stream of slightly larger images
	 * does not reallocate every time. */
	if (b->cap + b->cap / 2 > want)
		want = b->cap + b->cap / 2;
	p = realloc(b->p, want);
	if (!p && want > n) {
		want = n;
		p = realloc(b->p, want);
	}
	if (!p)
		return aug__fail(AUG_ENOMEM, ctx->func, "%s: no memory for %zu bytes", ctx->name, n);
	b->p = p;
	b->cap = want;
	return AUG_OK;
}

void aug__buf_free(aug__buf *b)
{
	free(b->p);
	b->p = NULL;
	b->cap = 0;
}

aug_status aug__warnings(const aug__ctx *ctx, int count, const char *first)
{
	if (count <= 0)
		return AUG_OK;
	if (ctx->opts->strict)
		return aug__fail(AUG_EWARNING, ctx->func, "%s: %s (a warning, failing because the options are strict)",
				 ctx->name, first);
	if (count == 1)
		aug__warn(ctx->func, "%s: %s", ctx->name, first);
	else
		aug__warn(ctx->func, "%s: %s (and %d more warnings)", ctx->name, first, count - 1);
	return AUG_OK;
}
