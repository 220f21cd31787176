/* Encoders: PNG through libpng, JPEG through libjpeg, into memory or,
 * atomically, into a file.
 *
 * PNG: 8-bit grey or RGB, no interlace, zlib level opts->png_level, libpng's
 * default filter choice. JPEG: baseline, JDCT_ISLOW, optimised Huffman
 * tables (smaller files for a little CPU), quality opts->quality, chroma
 * 2x2-subsampled (4:2:0) or not (4:4:4); a grey image is written as a
 * one-component JPEG.
 *
 * Both libraries report errors by longjmp. The functions holding a setjmp
 * change no local after it: the state that changes lives in a struct in the
 * caller's frame.
 */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "internal.h"

/* The growing output buffer and the error state of one encode. */
typedef struct sink {
	const char *func;
	const char *name;     /* for messages */
	uint8_t *p;
	size_t len;
	size_t cap;
	bool oom;
	jmp_buf jmp;          /* JPEG only; libpng has its own */
	char error[JMSG_LENGTH_MAX > 200 ? JMSG_LENGTH_MAX : 200];
} sink;

static bool sink_grow(sink *s, size_t need)
{
	size_t cap = s->cap ? s->cap : 65536;
	uint8_t *p;

	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return false;
		cap *= 2;
	}
	if (cap == s->cap)
		return true;
	p = realloc(s->p, cap);
	if (!p)
		return false;
	s->p = p;
	s->cap = cap;
	return true;
}

/* ---- PNG ---- */

static void png_write_fn(png_structp png, png_bytep data, size_t n)
{
	sink *s = png_get_io_ptr(png);

	if (s->len + n < s->len || !sink_grow(s, s->len + n)) {
		s->oom = true;
		png_error(png, "no memory for the encoded image");
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
}

static void png_flush_fn(png_structp png)
{
	(void)png;
}

static void png_error_fn(png_structp png, png_const_charp msg)
{
	sink *s = png_get_error_ptr(png);

	snprintf(s->error, sizeof(s->error), "%s", msg);
	png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg; /* libpng warns only about its own misuse when writing */
}

static aug_status encode_png(const aug_image *img, const aug_encode_options *opts, sink *s)
{
	png_structp png;
	png_infop info;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, png_error_fn, png_warning_fn);
	if (!png)
		return aug__fail(AUG_ENOMEM, s->func, "%s: no memory for a PNG writer", s->name);
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return aug__fail(AUG_ENOMEM, s->func, "%s: no memory for a PNG writer", s->name);
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return aug__fail(s->oom ? AUG_ENOMEM : AUG_EINVAL, s->func, "%s: PNG encoder: %s",
				 s->name, s->error);
	}
	png_set_write_fn(png, s, png_write_fn, png_flush_fn);
	/* libpng's default limit, 10^6 a side, is for reading untrusted files. */
	png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
	png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
		     img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, opts->png_level);
	png_write_info(png, info);
	for (int y = 0; y < img->height; y++)
		png_write_row(png, aug_image_row(img, y));
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return AUG_OK;
}

/* ---- JPEG ---- */

typedef struct jpeg_dest {
	struct jpeg_destination_mgr pub;
	sink *s;
} jpeg_dest;

static void dest_init(j_compress_ptr c)
{
	jpeg_dest *d = (jpeg_dest *)c->dest;

	if (!sink_grow(d->s, 65536)) {
		d->s->oom = true;
		ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
	}
	d->s->len = 0;
	d->pub.next_output_byte = d->s->p;
	d->pub.free_in_buffer = d->s->cap;
}

static boolean dest_empty(j_compress_ptr c)
{
	jpeg_dest *d = (jpeg_dest *)c->dest;

	/* The whole buffer is full: libjpeg asks for more room. */
	d->s->len = d->s->cap;
	if (!sink_grow(d->s, d->s->cap + 1)) {
		d->s->oom = true;
		ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
	}
	d->pub.next_output_byte = d->s->p + d->s->len;
	d->pub.free_in_buffer = d->s->cap - d->s->len;
	return TRUE;
}

static void dest_term(j_compress_ptr c)
{
	jpeg_dest *d = (jpeg_dest *)c->dest;

	d->s->len = d->s->cap - d->pub.free_in_buffer;
}

typedef struct enc_err {
	struct jpeg_error_mgr pub;
	sink *s;
} enc_err;

static void enc_error_exit(j_common_ptr c)
{
	enc_err *e = (enc_err *)c->err;

	(*c->err->format_message)(c, e->s->error);
	longjmp(e->s->jmp, 1);
}

static void enc_output_message(j_common_ptr c)
{
	(void)c;
}

typedef struct jpeg_enc {
	struct jpeg_compress_struct c;
	enc_err err;
	jpeg_dest dest;
} jpeg_enc;

static aug_status encode_jpeg(const aug_image *img, const aug_encode_options *opts, sink *s,
			      jpeg_enc *je)
{
	j_compress_ptr c = &je->c;
	JSAMPROW rowp;

	c->err = jpeg_std_error(&je->err.pub);
	je->err.pub.error_exit = enc_error_exit;
	je->err.pub.output_message = enc_output_message;
	je->err.s = s;
	if (setjmp(s->jmp)) {
		jpeg_destroy_compress(c);
		return aug__fail(s->oom ? AUG_ENOMEM : AUG_EINVAL, s->func, "%s: JPEG encoder: %s", s->name, s->error);
	}
	jpeg_create_compress(c);
	je->dest.pub.init_destination = dest_init;
	je->dest.pub.empty_output_buffer = dest_empty;
	je->dest.pub.term_destination = dest_term;
	je->dest.s = s;
	c->dest = &je->dest.pub;
	c->image_width = (JDIMENSION)img->width;
	c->image_height = (JDIMENSION)img->height;
	c->input_components = img->channels;
	c->in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(c);
	jpeg_set_quality(c, opts->quality, TRUE);
	c->dct_method = JDCT_ISLOW;
	c->optimize_coding = opts->optimize ? TRUE : FALSE;
	if (img->channels == 3) {
		int f = opts->chroma_444 ? 1 : 2;

		c->comp_info[0].h_samp_factor = f;
		c->comp_info[0].v_samp_factor = f;
		for (int i = 1; i < 3; i++) {
			c->comp_info[i].h_samp_factor = 1;
			c->comp_info[i].v_samp_factor = 1;
		}
	}
	jpeg_start_compress(c, TRUE);
	while (c->next_scanline < c->image_height) {
		/* libjpeg does not write through the row pointer. */
		rowp = (JSAMPROW)aug_image_row(img, (int)c->next_scanline);
		jpeg_write_scanlines(c, &rowp, 1);
	}
	jpeg_finish_compress(c);
	jpeg_destroy_compress(c);
	return AUG_OK;
}

/* ---- entry points ---- */

static aug_status check_image(const aug_image *img, const char *func, const char *name)
{
	if (!img || !img->data)
		return aug__fail(AUG_EINVAL, func, "%s: NULL image", name);
	if (img->width <= 0 || img->height <= 0)
		return aug__fail(AUG_EINVAL, func, "%s: image size %dx%d is not positive", name,
				 img->width, img->height);
	if (img->channels != 1 && img->channels != 3)
		return aug__fail(AUG_EINVAL, func, "%s: %d channels; only 1 and 3 can be encoded", name,
				 img->channels);
	if (img->stride < (size_t)img->width * (size_t)img->channels)
		return aug__fail(AUG_EINVAL, func, "%s: stride %zu is less than a row of %d pixels", name,
				 img->stride, img->width);
	return AUG_OK;
}

static aug_status encode(const aug_image *img, const aug_encode_options *opts, aug_format format,
			 const char *func, const char *name, uint8_t **out, size_t *len)
{
	sink s;
	jpeg_enc *je;
	aug_status st;

	*out = NULL;
	*len = 0;
	st = check_image(img, func, name);
	if (st)
		return st;
	memset(&s, 0, sizeof(s));
	s.func = func;
	s.name = name;
	if (format == AUG_FORMAT_PNG) {
		if (opts->png_level < 0 || opts->png_level > 9)
			return aug__fail(AUG_EINVAL, func, "%s: png_level %d is not 0..9", name, opts->png_level);
		st = encode_png(img, opts, &s);
	} else if (format == AUG_FORMAT_JPEG) {
		if (opts->quality < 1 || opts->quality > 100)
			return aug__fail(AUG_EINVAL, func, "%s: JPEG quality %d is not 1..100", name,
					 opts->quality);
		if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
			return aug__fail(AUG_ELIMIT, func, "%s: %dx%d is too large for JPEG (at most %d a side)",
					 name, img->width, img->height, (int)JPEG_MAX_DIMENSION);
		je = calloc(1, sizeof(*je));
		if (!je)
			return aug__fail(AUG_ENOMEM, func, "%s: no memory for a JPEG encoder", name);
		st = encode_jpeg(img, opts, &s, je);
		free(je);
	} else {
		return aug__fail(AUG_EINVAL, func, "%s: no output format: set opts->format to PNG or JPEG",
				 name);
	}
	if (st) {
		free(s.p);
		return st;
	}
	*out = s.p;
	*len = s.len;
	return AUG_OK;
}

aug_status aug_encode(const aug_image *img, const aug_encode_options *opts, uint8_t **out, size_t *len)
{
	if (!out || !len)
		return aug__fail(AUG_EINVAL, __func__, "NULL output arguments");
	*out = NULL;
	*len = 0;
	if (!opts)
		return aug__fail(AUG_EINVAL, __func__, "no options: the format must be set");
	return encode(img, opts, opts->format, __func__, "<memory>", out, len);
}

aug_status aug_encode_file(const aug_image *img, const char *path, const aug_encode_options *opts)
{
	aug_encode_options defaults;
	aug_format format;
	uint8_t *buf;
	size_t len;
	aug_status st;

	if (!path)
		return aug__fail(AUG_EINVAL, __func__, "NULL path");
	if (!opts) {
		aug_encode_options_init(&defaults);
		opts = &defaults;
	}
	format = opts->format != AUG_FORMAT_UNKNOWN ? opts->format : aug_format_from_path(path);
	if (format == AUG_FORMAT_UNKNOWN)
		return aug__fail(AUG_EINVAL, __func__, "%s: cannot tell the format from the name; set opts->format",
				 path);
	st = encode(img, opts, format, __func__, path, &buf, &len);
	if (st)
		return st;
	st = aug_file_write_atomic(path, buf, len);
	free(buf);
	return st;
}
