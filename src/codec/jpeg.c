/* JPEG decoding through libjpeg-turbo's libjpeg API (2.1).
 *
 * One decompress object per aug_decoder, made afresh for every image: a
 * reused object keeps the last image's quantisation and Huffman tables (so
 * that abbreviated datastreams can share them), and a damaged file missing
 * one would be decoded with the tables of whatever the decoder saw before.
 * That would make a file's pixels depend on the order of work; a new object
 * costs a few small allocations, next to the per-image pools libjpeg makes
 * anyway. Defaults are djpeg's: JDCT_ISLOW and fancy
 * upsampling, so that whole decodes equal djpeg's output byte for byte.
 *
 * A region is decoded with as little work as the library allows:
 * jpeg_skip_scanlines() for the rows above it, jpeg_crop_scanline() for the
 * iMCU columns around it, no rows below it (the decode is abandoned after
 * the last one), and scale_denom 2, 4 or 8 for a scaled decode. Fancy
 * upsampling blends each chroma sample with its neighbours, and at the left
 * and right edges of a cropped decode libjpeg has no neighbour and repeats
 * the edge sample instead; so the crop asks for one pixel more on each side
 * (which jpeg_crop_scanline() rounds out to whole iMCU columns) and that
 * margin is dropped, keeping the region's pixels equal to a full decode's.
 *
 * Colour: grey and YCbCr/RGB JPEGs are converted by libjpeg (grey output of
 * a YCbCr JPEG is its Y plane, exactly what `djpeg -grayscale` gives); CMYK
 * and YCCK arrive as CMYK and go through convert.c's CMYK->RGB formula.
 *
 * Errors longjmp from error_exit() to the setjmp in aug__jpeg_decode().
 * Warnings (corrupt or missing data that libjpeg works around, filling the
 * rest with grey) are counted and reported after the decode; with
 * opts->strict the first one stops the decode.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "internal.h"

/* A progressive JPEG can ask for any number of scans, each a pass over the
 * whole coefficient buffer: a small file could keep a decoder busy for
 * minutes. TurboJPEG's TJFLAG_LIMITSCANS uses the same bound. */
#define MAX_SCANS 500

/* Rows handed to jpeg_read_scanlines() at a time. */
#define ROW_BATCH 16

typedef struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jmp;
	const aug__ctx *ctx;
	aug_status status;   /* our own failure, set before longjmp */
	int warnings;
	bool eof;            /* libjpeg ran out of data (JWRN_JPEG_EOF) */
	bool strict_stop;    /* stopped at a warning because of opts->strict */
	char warning[JMSG_LENGTH_MAX];
	char error[JMSG_LENGTH_MAX];
} jerr;

struct aug__jpeg {
	struct jpeg_decompress_struct d;
	bool used; /* d has read an image: make it afresh before the next */
	jerr err;
	struct jpeg_progress_mgr progress;
	JSAMPROW rows[ROW_BATCH];
};

static void error_exit(j_common_ptr cinfo)
{
	jerr *e = (jerr *)cinfo->err;

	(*cinfo->err->format_message)(cinfo, e->error);
	longjmp(e->jmp, 1);
}

static void emit_message(j_common_ptr cinfo, int level)
{
	jerr *e = (jerr *)cinfo->err;

	if (level >= 0)
		return; /* trace messages */
	if (cinfo->err->msg_code == JWRN_JPEG_EOF)
		e->eof = true;
	cinfo->err->num_warnings++;
	if (e->warnings++ == 0)
		(*cinfo->err->format_message)(cinfo, e->warning);
	if (e->ctx && e->ctx->opts->strict) {
		e->strict_stop = true;
		longjmp(e->jmp, 1);
	}
}

static void output_message(j_common_ptr cinfo)
{
	(void)cinfo; /* a library never prints */
}

static void progress_monitor(j_common_ptr cinfo)
{
	j_decompress_ptr d = (j_decompress_ptr)cinfo;
	jerr *e = (jerr *)cinfo->err;

	if (cinfo->is_decompressor && d->input_scan_number > MAX_SCANS) {
		e->status = AUG_ELIMIT;
		snprintf(e->error, sizeof(e->error), "progressive JPEG has more than %d scans", MAX_SCANS);
		longjmp(e->jmp, 1);
	}
}

/* Fail from inside the protected region with our own status. */
static void fail(jerr *e, aug_status st, const char *msg)
{
	e->status = st;
	snprintf(e->error, sizeof(e->error), "%s", msg);
	longjmp(e->jmp, 1);
}

aug_status aug__jpeg_new(aug__jpeg **out)
{
	aug__jpeg *jp = calloc(1, sizeof(*jp));

	*out = NULL;
	if (!jp)
		return aug__fail(AUG_ENOMEM, "aug_decoder_new", "no memory for a JPEG decoder");
	jp->d.err = jpeg_std_error(&jp->err.pub);
	jp->err.pub.error_exit = error_exit;
	jp->err.pub.emit_message = emit_message;
	jp->err.pub.output_message = output_message;
	jp->progress.progress_monitor = progress_monitor;
	if (setjmp(jp->err.jmp)) {
		/* Only an allocation can fail here. */
		jpeg_destroy_decompress(&jp->d);
		free(jp);
		return aug__fail(AUG_ENOMEM, "aug_decoder_new", "no memory for a JPEG decoder");
	}
	jpeg_create_decompress(&jp->d);
	*out = jp;
	return AUG_OK;
}

void aug__jpeg_free(aug__jpeg *jp)
{
	if (!jp)
		return;
	jpeg_destroy_decompress(&jp->d);
	free(jp);
}

static aug_status error_status(const jerr *e)
{
	const aug__ctx *ctx = e->ctx;

	if (e->strict_stop)
		return aug__fail(AUG_EWARNING, ctx->func,
				 "%s: %s (a warning, failing because the options are strict)",
				 ctx->name, e->warning);
	if (e->status == AUG_ENOMEM)
		return e->status; /* aug__buf_reserve() wrote the message */
	if (e->status != AUG_OK)
		return aug__fail(e->status, ctx->func, "%s: %s", ctx->name, e->error);
	switch (e->pub.msg_code) {
	case JERR_BAD_PRECISION:
	case JERR_SOF_UNSUPPORTED:
	case JERR_CONVERSION_NOTIMPL:
	case JERR_NOT_COMPILED:
	case JERR_NOTIMPL:
	case JERR_ARITH_NOTIMPL:
	case JERR_EMPTY_IMAGE:
	case JERR_CCIR601_NOTIMPL:
	case JERR_FRACT_SAMPLE_NOTIMPL:
		return aug__fail(AUG_EUNSUPPORTED, ctx->func, "%s: unsupported JPEG: %s", ctx->name, e->error);
	case JERR_OUT_OF_MEMORY:
		return aug__fail(AUG_ENOMEM, ctx->func, "%s: %s", ctx->name, e->error);
	case JERR_NO_BACKING_STORE:
	case JERR_IMAGE_TOO_BIG:
		return aug__fail(AUG_ELIMIT, ctx->func, "%s: JPEG needs more memory than the limit allows: %s",
				 ctx->name, e->error);
	default:
		break;
	}
	if (e->eof)
		return aug__fail(AUG_ETRUNCATED, ctx->func, "%s: JPEG data ends early (%s)", ctx->name, e->error);
	return aug__fail(AUG_ECORRUPT, ctx->func, "%s: corrupt JPEG: %s", ctx->name, e->error);
}

static void reserve(jerr *e, aug__buf *b, size_t n)
{
	if (aug__buf_reserve(b, n, e->ctx)) {
		e->status = AUG_ENOMEM;
		longjmp(e->jmp, 1);
	}
}

/* The columns to ask jpeg_crop_scanline() for: the region plus one pixel
 * each side where the image goes on, and at least two iMCU columns in all.
 * A narrower crop can leave the fancy upsampler with fewer than two chroma
 * samples a row, an edge case libjpeg-turbo only started to treat
 * separately in 3.0 (it reinitialises the upsampler); two iMCUs keep 2.1
 * away from it at the cost of decoding at most one iMCU more. */
static void crop_request(j_decompress_ptr d, JDIMENSION x0, JDIMENSION x1,
			 JDIMENSION *cx0, JDIMENSION *cw)
{
	JDIMENSION ow = d->output_width;
	JDIMENSION align = (JDIMENSION)(d->min_DCT_scaled_size * d->max_h_samp_factor);
	JDIMENSION a0, a1;

	a0 = x0 > 0 ? x0 - 1 : 0;
	a1 = x1 < ow ? x1 + 1 : ow;
	if (d->num_components == 1)
		align = (JDIMENSION)d->min_DCT_scaled_size;
	a0 = a0 / align * align;
	if (a1 - a0 < 2 * align) {
		a1 = ow - a0 < 2 * align ? ow : a0 + 2 * align;
		if (a1 - a0 < 2 * align)
			a0 = a1 < 2 * align ? 0 : a1 - 2 * align;
	}
	*cx0 = a0;
	*cw = a1 - a0;
}

static void read_region(aug__jpeg *jp, const uint8_t *data, size_t len, const aug_header *hdr,
			const aug__plan *plan, aug__buf *out, aug__buf *row, aug__placed *placed)
{
	j_decompress_ptr d = &jp->d;
	jerr *e = &jp->err;
	const aug_decode_options *opts = e->ctx->opts;
	JDIMENSION x0 = (JDIMENSION)plan->ox, x1 = x0 + (JDIMENSION)plan->ow;
	JDIMENSION y0 = (JDIMENSION)plan->oy, y1 = y0 + (JDIMENSION)plan->oh;
	JDIMENSION xoff = 0, cw, sw, sh;
	size_t lstride, ostride, need, skip_bytes;
	int oc = plan->channels;
	bool cmyk;
	uint64_t mem;
	aug__rowfmt f = { 4, 8, true };

	if (jp->used) {
		/* No table of the last image may survive (see the top). */
		jpeg_destroy_decompress(d);
		jpeg_create_decompress(d);
	}
	jp->used = true;
	jpeg_mem_src(d, data, (unsigned long)len);
	jpeg_read_header(d, TRUE);
	if (d->image_width != (JDIMENSION)hdr->width || d->image_height != (JDIMENSION)hdr->height)
		fail(e, AUG_ECORRUPT, "the JPEG size changed between probe and decode");
	cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
	if (cmyk)
		d->out_color_space = JCS_CMYK;
	else
		d->out_color_space = oc == 1 ? JCS_GRAYSCALE : JCS_RGB;
	d->scale_num = 1;
	d->scale_denom = (unsigned)plan->scale;
	d->dct_method = JDCT_ISLOW;
	d->do_fancy_upsampling = TRUE;
	/* Defence in depth: libjpeg's whole-image buffers (progressive and
	 * multi-scan files) get at most 16 bytes per allowed pixel. */
	mem = opts->max_pixels < (uint64_t)LONG_MAX / 32 ? opts->max_pixels * 16 + ((uint64_t)64 << 20)
							  : (uint64_t)LONG_MAX;
	d->mem->max_memory_to_use = (long)mem;
	d->progress = &jp->progress;
	jpeg_start_decompress(d);

	sw = (d->image_width + (JDIMENSION)plan->scale - 1) / (JDIMENSION)plan->scale;
	sh = (d->image_height + (JDIMENSION)plan->scale - 1) / (JDIMENSION)plan->scale;
	if (d->output_width != sw || d->output_height != sh || x1 > sw || y1 > sh)
		fail(e, AUG_ECORRUPT, "unexpected output size for the scale");
	if (d->output_components != (cmyk ? 4 : oc))
		fail(e, AUG_ECORRUPT, "unexpected number of output components");

	cw = d->output_width;
	if (x0 > 0 || x1 < d->output_width) {
		JDIMENSION want_x;

		crop_request(d, x0, x1, &xoff, &cw);
		want_x = xoff;
		if (cw < d->output_width)
			jpeg_crop_scanline(d, &xoff, &cw);
		else
			xoff = 0;
		if (xoff > want_x || xoff > x0 || xoff + cw < x1)
			fail(e, AUG_ECORRUPT, "the crop does not cover the region");
	}
	lstride = (size_t)cw * (size_t)d->output_components;
	skip_bytes = (size_t)(x0 - xoff) * (size_t)d->output_components;
	if (!cmyk) {
		/* Rows go straight into the output; the margin columns stay
		 * in it and the image starts skip_bytes into each row. */
		if (!aug__mul(lstride, (size_t)plan->oh, &need))
			fail(e, AUG_ELIMIT, "region too large");
		reserve(e, out, need);
		placed->offset = skip_bytes;
		placed->stride = lstride;
	} else {
		ostride = (size_t)plan->ow * (size_t)oc;
		if (!aug__mul(ostride, (size_t)plan->oh, &need))
			fail(e, AUG_ELIMIT, "region too large");
		reserve(e, out, need);
		if (!aug__mul(lstride, ROW_BATCH, &need))
			fail(e, AUG_ELIMIT, "region too large");
		reserve(e, row, need);
		placed->offset = 0;
		placed->stride = ostride;
	}

	if (y0 > 0 && jpeg_skip_scanlines(d, y0) != y0)
		fail(e, AUG_ECORRUPT, "could not skip to the region");
	while (d->output_scanline < y1) {
		JDIMENSION first = d->output_scanline - y0;
		JDIMENSION n = y1 - d->output_scanline, got;

		if (n > ROW_BATCH)
			n = ROW_BATCH;
		for (JDIMENSION i = 0; i < n; i++)
			jp->rows[i] = cmyk ? row->p + (size_t)i * lstride
					   : out->p + (size_t)(first + i) * lstride;
		got = jpeg_read_scanlines(d, jp->rows, n);
		if (got == 0)
			fail(e, AUG_ECORRUPT, "libjpeg returned no rows");
		if (cmyk) {
			for (JDIMENSION i = 0; i < got; i++)
				aug__convert_row(jp->rows[i] + skip_bytes, f, plan->ow,
						 out->p + (size_t)(first + i) * placed->stride, oc,
						 opts->background);
		}
	}
}

aug_status aug__jpeg_decode(aug__jpeg *jp, const uint8_t *data, size_t len, const aug__ctx *ctx,
			    const aug_header *hdr, const aug__plan *plan, aug__buf *out,
			    aug__buf *row, aug__placed *placed)
{
	jerr *e = &jp->err;
	aug_status st;

	if (hdr->bit_depth != 8)
		return aug__fail(AUG_EUNSUPPORTED, ctx->func,
				 "%s: %d-bit JPEG samples are not supported (only 8-bit)", ctx->name,
				 hdr->bit_depth);
	e->ctx = ctx;
	e->status = AUG_OK;
	e->warnings = 0;
	e->eof = false;
	e->strict_stop = false;
	e->warning[0] = '\0';
	e->error[0] = '\0';
	e->pub.num_warnings = 0;
	/* read_region() changes no local of this function, so after a longjmp
	 * there is nothing indeterminate to worry about. */
	if (setjmp(e->jmp)) {
		/* The warnings that came before the error are reported too:
		 * "Premature end of JPEG file" says why the error happened. */
		if (e->warnings && !e->strict_stop)
			aug__warn(ctx->func, "%s: %s", ctx->name, e->warning);
		st = error_status(e);
		jpeg_abort_decompress(&jp->d);
		e->ctx = NULL;
		return st;
	}
	read_region(jp, data, len, hdr, plan, out, row, placed);
	/* Not jpeg_finish_decompress(): a region stops early, and the rest of
	 * the file is of no interest even when the whole image was read. */
	jpeg_abort_decompress(&jp->d);
	e->ctx = NULL;
	return aug__warnings(ctx, e->warnings, e->warning);
}
