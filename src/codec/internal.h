/* Internals of the codec folder, shared by its files and by nobody else. */
#ifndef AUG_CODEC_INTERNAL_H
#define AUG_CODEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "augment/codec.h"
#include "core/internal.h"

/* Who is decoding what, for messages: the public function that was called
 * and the file name (never NULL: aug__name() is applied first). */
typedef struct aug__ctx {
	const char *func;
	const char *name;
	const aug_decode_options *opts;
	bool quiet; /* probe.c only: fail without recording a message */
} aug__ctx;

/* A heap buffer that grows and never shrinks: the decoder's scratch space. */
typedef struct aug__buf {
	uint8_t *p;
	size_t cap;
} aug__buf;

/* Make room for n bytes (contents are kept). */
aug_status aug__buf_reserve(aug__buf *b, size_t n, const aug__ctx *ctx);

void aug__buf_free(aug__buf *b);

/* ---- header parsing without the codec libraries (probe.c) ---- */

/* Parse the header of a PNG or JPEG held in memory. *complete (may be NULL)
 * is set when the parser reached the image data (IDAT, SOS), so that no
 * later byte could change the answer; a header cut short after the
 * essential part (IHDR, SOF) still parses, with *complete false. Fails with
 * AUG_ETRUNCATED when the data ends before the essential part. */
aug_status aug__probe_mem(const uint8_t *buf, size_t len, const aug__ctx *ctx,
			  aug_header *hdr, bool *complete);

/* The EXIF orientation (1..8) in a TIFF structure (the payload of a JPEG
 * APP1 "Exif\0\0" segment after those 6 bytes, or of a PNG eXIf chunk), or
 * 0 when it has none or it cannot be read. Never reads outside [p, p+len). */
int aug__exif_orientation(const uint8_t *p, size_t len);

/* ---- orientation (orient.c) ---- */

/* EXIF orientation as three flags. A displayed pixel (x, y) comes from the
 * stored pixel found by: (u, v) = transpose ? (y, x) : (x, y); then
 * sx = flip_x ? W-1-u : u and sy = flip_y ? H-1-v : v, where W x H is the
 * stored size. */
typedef struct aug__orient {
	bool transpose;
	bool flip_x;
	bool flip_y;
} aug__orient;

aug__orient aug__orient_of(int orientation);

static inline bool aug__orient_is_identity(aug__orient o)
{
	return !o.transpose && !o.flip_x && !o.flip_y;
}

/* Copy a w x h image with c channels, as stored, into dst as displayed
 * (h x w when transposed). */
void aug__orient_apply(aug__orient o, const uint8_t *src, size_t sstride, int w, int h,
		       int c, uint8_t *dst, size_t dstride);

/* ---- pixel conversions (convert.c) ---- */

/* Luma of 8-bit RGB: ITU-R BT.601 weights in 16-bit fixed point, rounded,
 * exactly as PIL's convert("L") and libjpeg's RGB->grey conversion:
 * (19595 R + 38470 G + 7471 B + 32768) >> 16. */
static inline uint8_t aug__luma(unsigned r, unsigned g, unsigned b)
{
	return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 32768u) >> 16);
}

/* How a row of samples is laid out before conversion to 8-bit grey or RGB. */
typedef struct aug__rowfmt {
	int channels;  /* 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (or CMYK) */
	int depth;     /* 8 or 16 (big-endian, as PNG stores it) */
	bool cmyk;     /* 4 channels are Adobe (inverted) CMYK, not RGBA */
} aug__rowfmt;

/* Convert n pixels of `src` (format f) into `dst` with out_channels (1 or
 * 3) channels, compositing alpha onto bg (see convert.c for the formulas). */
void aug__convert_row(const uint8_t *src, aug__rowfmt f, int n, uint8_t *dst, int out_channels,
		      const uint8_t bg[3]);

/* ---- decoding (png.c, jpeg.c) ---- */

/* A region to decode, in stored (unrotated) coordinates. */
typedef struct aug__plan {
	int scale;    /* 1, 2, 4 or 8 */
	int channels; /* 1 or 3: output channels */
	int ox;       /* the region in output (scaled) pixels */
	int oy;
	int ow;
	int oh;
} aug__plan;

/* Where a decode put its pixels: output pixel (0, 0) is at buf + offset,
 * rows are stride bytes apart. */
typedef struct aug__placed {
	size_t offset;
	size_t stride;
} aug__placed;

/* libjpeg state kept by a decoder across calls (jpeg.c). */
typedef struct aug__jpeg aug__jpeg;

aug_status aug__jpeg_new(aug__jpeg **out);
void aug__jpeg_free(aug__jpeg *jp);

/* Decode plan's region of a JPEG into `out`, using `row` as scratch. The
 * header `hdr` was probed from the same bytes and checked against the limit. */
aug_status aug__jpeg_decode(aug__jpeg *jp, const uint8_t *data, size_t len, const aug__ctx *ctx,
			    const aug_header *hdr, const aug__plan *plan, aug__buf *out,
			    aug__buf *row, aug__placed *placed);

/* The same for a PNG (scale 1 only). `full` holds a whole interlaced image. */
aug_status aug__png_decode(const uint8_t *data, size_t len, const aug__ctx *ctx,
			   const aug_header *hdr, const aug__plan *plan, aug__buf *out,
			   aug__buf *row, aug__buf *full, aug__placed *placed);

/* Report a decode's warnings: through aug__warn() normally, as AUG_EWARNING
 * when the options are strict. `count` warnings were seen, `first` is the
 * text of the first. */
aug_status aug__warnings(const aug__ctx *ctx, int count, const char *first);

#endif /* AUG_CODEC_INTERNAL_H */
