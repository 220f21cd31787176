/* augment/codec.h — PNG and JPEG: header probe, decode (whole or a region at
 * a DCT scale), encode.
 *
 * The format is found from the magic bytes, never from the file name. Every
 * size read from a header is checked against a pixel limit before anything is
 * allocated.
 */
#ifndef AUGMENT_CODEC_H
#define AUGMENT_CODEC_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aug_format {
	AUG_FORMAT_UNKNOWN = 0,
	AUG_FORMAT_PNG,
	AUG_FORMAT_JPEG
} aug_format;

/* "png", "jpeg" or "unknown". */
const char *aug_format_name(aug_format format);

/* The format whose magic bytes start `buf`, or AUG_FORMAT_UNKNOWN. */
aug_format aug_format_detect(const void *buf, size_t len);

/* The format named by a path's extension (.png; .jpg, .jpeg; any case), or
 * AUG_FORMAT_UNKNOWN. Used only to choose an encoder, never to decode. */
aug_format aug_format_from_path(const char *path);

/* What a header says, read without decoding any pixels. */
typedef struct aug_header {
	aug_format format;
	int width;        /* as stored, before EXIF orientation */
	int height;
	int channels;     /* stored components: 1 grey, 2 grey+alpha, 3 RGB
	                   * (palette PNGs count 3, or 4 with tRNS), 4 RGBA or CMYK */
	int bit_depth;    /* bits per sample as stored: 1, 2, 4, 8, 12 or 16 */
	int orientation;  /* EXIF orientation 1..8; 1 when absent */
	bool has_alpha;   /* an alpha channel or a tRNS chunk */
	bool palette;     /* PNG colour type 3 */
	bool interlaced;  /* PNG Adam7, or a progressive JPEG */
	bool cmyk;        /* JPEG in CMYK or YCCK */
} aug_header;

/* Width and height as displayed, after the header's EXIF orientation. */
void aug_header_display_size(const aug_header *hdr, int *width, int *height);

/* Channels the caller asks a decoder for. */
typedef enum aug_channels {
	AUG_CHANNELS_STORED = 0, /* 1 for grey sources, 3 for everything else */
	AUG_CHANNELS_GREY = 1,
	AUG_CHANNELS_RGB = 3
} aug_channels;

/* Decoder options. Start from aug_decode_options_init(); the defaults are
 * written beside each field. */
typedef struct aug_decode_options {
	aug_channels channels;   /* AUG_CHANNELS_STORED */
	uint64_t max_pixels;     /* AUG_DEFAULT_MAX_PIXELS; width*height above it is AUG_ELIMIT */
	bool ignore_orientation; /* false: EXIF orientation is applied */
	bool strict;             /* false: recoverable warnings (a JPEG that ends early)
	                          * are reported through aug_warning_message(); true:
	                          * they fail with AUG_EWARNING */
	uint8_t background[3];   /* 255,255,255: the colour alpha is composited onto */
} aug_decode_options;

void aug_decode_options_init(aug_decode_options *opts);

/* Read the header of an image held in memory. `name` (may be NULL) is used
 * only in error messages. */
aug_status aug_probe(const void *buf, size_t len, const char *name, aug_header *hdr);

/* Read the header of an image file, reading only as many bytes as needed. */
aug_status aug_probe_file(const char *path, aug_header *hdr);

/* Decode a whole image held in memory into a new 8-bit image with 1 or 3
 * channels (see aug_decode_options). `name` (may be NULL) is used only in
 * messages. Free the result with aug_image_free().
 *
 * Pixels are taken as stored (PNG gamma, chromaticity and ICC chunks are
 * ignored, as in PIL). Conversions, each rounded half up:
 *   alpha (and tRNS) is composited onto opts->background at the source
 *     precision: (c*a + bg*(M-a)) / M, M = 255 or 65535; grey output
 *     composites onto the background's luma;
 *   16-bit samples become v*255/65535 (after compositing);
 *   RGB to grey is the BT.601 luma (19595 R + 38470 G + 7471 B + 32768) >> 16,
 *     PIL's convert("L"); grey from a colour JPEG is its Y plane, as
 *     djpeg -grayscale gives it;
 *   grey to RGB replicates;
 *   CMYK and YCCK JPEGs are Adobe (inverted) CMYK: R = C*K/255, likewise
 *     G from M and B from Y, as djpeg converts them.
 * Damage: a JPEG that libjpeg can decode despite missing or corrupt data
 * (it fills what is missing with grey) gives AUG_OK and a warning in
 * aug_warning_message(), or AUG_EWARNING with opts->strict; so does a PNG
 * whose ancillary chunks are damaged. Data that ends before the last image
 * row is AUG_ETRUNCATED for PNG (and for a JPEG cut inside its header);
 * other damage is AUG_ECORRUPT, and a 12-bit, lossless or hierarchical JPEG
 * is AUG_EUNSUPPORTED. Messages name the file and quote libpng or libjpeg. */
aug_status aug_decode(const void *buf, size_t len, const char *name,
		      const aug_decode_options *opts, aug_image **out);

/* Read and decode an image file. */
aug_status aug_decode_file(const char *path, const aug_decode_options *opts, aug_image **out);

/* A rectangle in pixels. */
typedef struct aug_rect {
	int x;
	int y;
	int width;
	int height;
} aug_rect;

/* What a region decode produced: the rectangle of the full-size, oriented
 * image that the output covers, and the scale it was decoded at. Output
 * pixel (i, j) stands for the scale x scale block of full-size pixels whose
 * top-left corner is (origin_x + i*scale, origin_y + j*scale), clipped to
 * rect (and so to the image); the output is
 * ceil((rect.x + rect.width - origin_x)/scale) x
 * ceil((rect.y + rect.height - origin_y)/scale).
 *
 * origin is rect's top-left corner, so that the blocks start at rect.x and
 * rect.y and only the last ones are cut short by the image's right and
 * bottom edges, except in one case: the DCT scaling groups pixels into
 * blocks counted from the stored image's top-left corner, so when EXIF
 * orientation mirrors a displayed axis whose full-size length is not a
 * multiple of scale, the blocks along it are counted from the displayed far
 * edge. Then the first block is the one cut short, and origin lies 1 to
 * scale-1 pixels before rect's corner (it may be negative). At scale 1
 * origin always equals rect's corner. */
typedef struct aug_region {
	aug_rect rect;
	int scale;
	int origin_x;
	int origin_y;
} aug_region;

/* Decode only the part of an image that a plan needs. `want` is in the
 * coordinates of the full-size image as displayed (after EXIF orientation
 * unless opts->ignore_orientation), and is clipped to the image; `scale` is
 * 1, 2, 4 or 8, the factor the caller may shrink by.
 *
 * JPEG skips the rows above and below the region and the iMCU columns
 * outside it, and uses libjpeg-turbo's DCT scaling for 1/2, 1/4 and 1/8.
 * PNG decodes at scale 1 only and stops reading after the region's last row.
 * `got` says what the output covers: at scale 1 exactly the clipped `want`;
 * at a larger scale, `want` widened outwards to the edges of the scale x
 * scale blocks (multiples of the scale, but see aug_region.origin). The
 * pixels inside `want` at scale 1 equal those of aug_decode() exactly.
 * A `want` that lies wholly outside the image, or a scale other than 1, 2,
 * 4 or 8, is AUG_EINVAL. */
aug_status aug_decode_region(const void *buf, size_t len, const char *name,
			     const aug_decode_options *opts, aug_rect want, int scale,
			     aug_image **out, aug_region *got);

/* A reusable decoder: the per-thread state of decoding (libjpeg and libpng
 * contexts, row buffers, the output pixels), kept and grown to the largest
 * image seen, so that decoding many images in a loop allocates nothing of
 * ours in steady state. One per thread; not safe to share. */
typedef struct aug_decoder aug_decoder;

aug_status aug_decoder_new(aug_decoder **out);

/* Accepts NULL. */
void aug_decoder_free(aug_decoder *dec);

/* As aug_decode_region(), but the output image belongs to the decoder and
 * stays valid until the next call on `dec` or aug_decoder_free(). Its
 * stride may be wider than width * channels: a JPEG crop is decoded in
 * place, margin columns and all, without a copy. */
aug_status aug_decoder_decode_region(aug_decoder *dec, const void *buf, size_t len,
				     const char *name, const aug_decode_options *opts,
				     aug_rect want, int scale,
				     const aug_image **out, aug_region *got);

/* Encoder options. Start from aug_encode_options_init(). */
typedef struct aug_encode_options {
	aug_format format;    /* AUG_FORMAT_UNKNOWN: from the path's extension */
	int quality;          /* 90: JPEG quality 1..100 */
	bool chroma_444;      /* false: JPEG colour is subsampled 4:2:0 */
	int png_level;        /* 6: zlib compression level 0..9 */
	bool optimize;        /* false: JPEG Huffman tables from the standard's
			       * examples, one pass; true: tables fitted to the
			       * image in a second pass (cjpeg -optimize: 3%
			       * smaller at q90 on the bench corpus, slower) */
} aug_encode_options;

void aug_encode_options_init(aug_encode_options *opts);

/* Encode an image into a new buffer (free with aug_free()). The format must
 * be set in opts. */
aug_status aug_encode(const aug_image *img, const aug_encode_options *opts,
		      uint8_t **out, size_t *len);

/* Encode an image to a file, atomically (temporary name in the same folder,
 * then rename). The format comes from opts, or from the extension. */
aug_status aug_encode_file(const aug_image *img, const char *path, const aug_encode_options *opts);

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_CODEC_H */
