/* The executor: the planned path from encoded bytes, one per thread.
 *
 * header -> sample -> plan -> decode only the region the plan needs (at a
 * DCT scale when it shrinks by 2, 4 or 8 or more) -> one resample pass ->
 * pixel stages on the output grid -> store. The decoder, the taps and the
 * scratch buffers live as long as the executor and are reused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct aug_executor {
	const aug_pipeline *p;
	aug_executor_options o;
	aug_decoder *dec;
	aug_sample *sample;
	struct plan plan;
	struct taps tx;
	struct taps ty;
	aug_image *out;
	struct fplanes planes;
	size_t planes_cap;
	bool fell_back;      /* the last sample ran on the reference path */
	float *scratch;
	size_t scratch_cap;
	double times[AUG_PHASE_COUNT];
};

static const char *const phase_names[AUG_PHASE_COUNT] = {
	"probe", "decode", "resample", "color", "cutout", "store",
};

const char *aug_phase_name(aug_phase phase)
{
	return (unsigned)phase < AUG_PHASE_COUNT ? phase_names[phase] : "?";
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void aug_executor_options_init(aug_executor_options *opts)
{
	aug_decode_options_init(&opts->decode);
	opts->region_decode = true;
	opts->dct_scaling = true;
	opts->timing = false;
}

aug_status aug_executor_new(const aug_pipeline *p, const aug_executor_options *opts, aug_executor **out)
{
	aug_executor *ex;
	aug_status st;

	*out = NULL;
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return aug__fail(AUG_ENOMEM, __func__, "no memory");
	ex->p = p;
	if (opts)
		ex->o = *opts;
	else
		aug_executor_options_init(&ex->o);
	st = aug_decoder_new(&ex->dec);
	if (!st)
		st = aug_sample_new(&ex->sample);
	if (st) {
		aug_executor_free(ex);
		return st;
	}
	*out = ex;
	return AUG_OK;
}

void aug_executor_free(aug_executor *ex)
{
	if (!ex)
		return;
	aug_decoder_free(ex->dec);
	aug_sample_free(ex->sample);
	aug__taps_free(&ex->tx);
	aug__taps_free(&ex->ty);
	aug_image_free(ex->out);
	free(ex->planes.p);
	free(ex->scratch);
	free(ex);
}

const aug_sample *aug_executor_last_sample(const aug_executor *ex)
{
	return ex->sample;
}

void aug_executor_timings(const aug_executor *ex, double seconds[AUG_PHASE_COUNT])
{
	memcpy(seconds, ex->times, sizeof(ex->times));
}

/* An output image of the given size, reusing the last one when it fits. */
static aug_status output_image(aug_executor *ex, int w, int h, int c)
{
	if (ex->out && ex->out->width == w && ex->out->height == h && ex->out->channels == c)
		return AUG_OK;
	aug_image_free(ex->out);
	ex->out = NULL;
	return aug__image_alloc(&ex->out, w, h, c, UINT64_MAX);
}

/* The channel count the executor decodes an image with that header to. */
static int decode_channels(const aug_executor *ex, const aug_header *h)
{
	if (ex->o.decode.channels == AUG_CHANNELS_GREY)
		return 1;
	if (ex->o.decode.channels == AUG_CHANNELS_RGB)
		return 3;
	return (h->channels <= 2 && !h->palette) ? 1 : 3;
}

/* The full decode + reference path, for samples a plan cannot express. */
static aug_status run_fallback(aug_executor *ex, const void *buf, size_t len, const char *name,
			       const aug_decode_options *dopt)
{
	aug_image *src = NULL, *res = NULL;
	aug_status st = aug__sample_check_size(ex->sample, dopt->max_pixels, true, "aug_executor_run", name);

	if (!st)
		st = aug_decode(buf, len, name, dopt, &src);
	if (!st)
		st = aug__reference_apply(ex->p, ex->sample, src, dopt->max_pixels, &res);
	aug_image_free(src);
	if (st)
		return st;
	aug_image_free(ex->out);
	ex->out = res;
	return AUG_OK;
}

/* Grow a float buffer to n floats. */
static aug_status reserve(float **buf, size_t *cap, size_t n)
{
	float *p;

	if (n <= *cap)
		return AUG_OK;
	p = realloc(*buf, n * sizeof(float));
	if (!p)
		return aug__fail(AUG_ENOMEM, "aug_executor_run", "no memory for %zu floats", n);
	*buf = p;
	*cap = n;
	return AUG_OK;
}

/* Everything up to the pixel stages: leaves the result in ex->planes, or in
 * ex->out when the sample ran on the reference path (ex->fell_back). */
static aug_status run_planes(aug_executor *ex, const void *buf, size_t len, const char *name, aug_key key,
			     const aug_sample *given)
{
	struct plan *pl = &ex->plan;
	aug_decode_options dopt = ex->o.decode;
	aug_header hdr;
	const aug_image *src = NULL;
	aug_region got;
	aug_rect want;
	struct grid gx, gy;
	int w, h, c, scale = 1;
	int xlo = 0, xhi = 1, ylo = 0, yhi = 1;
	bool any;
	aug_status st;
	double t0 = ex->o.timing ? now() : 0, t1;

	ex->fell_back = false;
	st = aug_probe(buf, len, name, &hdr);
	if (st)
		return st;
	if (dopt.ignore_orientation) {
		w = hdr.width;
		h = hdr.height;
	} else {
		aug_header_display_size(&hdr, &w, &h);
	}
	if ((uint64_t)w * (uint64_t)h > dopt.max_pixels)
		return aug__fail(AUG_ELIMIT, __func__, "%s: %dx%d is over the limit of %llu pixels", aug__name(name),
				 w, h, (unsigned long long)dopt.max_pixels);
	c = decode_channels(ex, &hdr);
	dopt.channels = c == 1 ? AUG_CHANNELS_GREY : AUG_CHANNELS_RGB;
	if (given) {
		if (given->in_w != w || given->in_h != h || given->in_c != c || given->count != ex->p->count)
			return aug__fail(AUG_EINVAL, __func__,
					 "%s: the sample was drawn for a %dx%dx%d image, this one is %dx%dx%d",
					 aug__name(name), given->in_w, given->in_h, given->in_c, w, h, c);
		*ex->sample = *given;
		key = given->key;
	} else {
		st = aug_pipeline_sample(ex->p, w, h, c, key, ex->sample);
		if (st)
			return st;
	}
	/* Every stage's output within the limit, before the plan reserves
	 * 3 floats per output pixel (a spec may say resize 65536x65536). */
	st = aug__sample_check_size(ex->sample, dopt.max_pixels, false, "aug_executor_run", name);
	if (st)
		return st;
	aug__plan_build(ex->p, ex->sample, pl);
	if (ex->o.timing) {
		t1 = now();
		ex->times[AUG_PHASE_PROBE] += t1 - t0;
		t0 = t1;
	}
	if (pl->fallback) {
		st = run_fallback(ex, buf, len, name, &dopt);
		ex->fell_back = true;
		if (ex->o.timing)
			ex->times[AUG_PHASE_DECODE] += now() - t0;
		return st;
	}

	/* The region the taps touch, widened by a margin when decoding at a
	 * DCT scale (the scaled grid's taps differ slightly from full size). */
	any = aug__plan_source_range(&pl->x, pl->filter, w, &ex->tx, &xlo, &xhi) &&
	      aug__plan_source_range(&pl->y, pl->filter, h, &ex->ty, &ylo, &yhi);
	if (!any) {
		xlo = ylo = 0;
		xhi = yhi = 1;
	}
	if (ex->o.dct_scaling && hdr.format == AUG_FORMAT_JPEG && pl->x.resampled && pl->y.resampled) {
		double shrink = fmin(fabs(pl->x.a), fabs(pl->y.a));

		/* Scale s only when the plan shrinks by 2 s or more, so the
		 * resample after it still shrinks by 2 and smooths what the
		 * scaled IDCT leaves. Measured on hubble_deep_field.jpg (a star
		 * field, the worst case), random_resized_crop 224 + jitter
		 * against the reference: with s at the bare shrink factor, mean
		 * difference 1.46; at 1.5 s, 0.79 but single pixels off by up to
		 * 75 (resize short=128); at 2 s, 0.54 and none off by more than 8. */
		scale = shrink >= 16 ? 8 : shrink >= 8 ? 4 : shrink >= 4 ? 2 : 1;
	}
	if (!ex->o.region_decode) {
		want = (aug_rect){ 0, 0, w, h };
	} else {
		int m = scale > 1 ? 2 * scale : 0;

		xlo = xlo - m < 0 ? 0 : xlo - m;
		ylo = ylo - m < 0 ? 0 : ylo - m;
		xhi = xhi + m > w ? w : xhi + m;
		yhi = yhi + m > h ? h : yhi + m;
		want = (aug_rect){ xlo, ylo, xhi - xlo, yhi - ylo };
	}
	st = aug_decoder_decode_region(ex->dec, buf, len, name, &dopt, want, scale, &src, &got);
	if (st)
		return st;
	if (src->channels != c)
		return aug__fail(AUG_ECORRUPT, __func__, "%s: decoded %d channels, expected %d", aug__name(name),
				 src->channels, c);
	if (ex->o.timing) {
		t1 = now();
		ex->times[AUG_PHASE_DECODE] += t1 - t0;
		t0 = t1;
	}

	if (any && got.scale == 1 && got.origin_x == want.x && got.origin_y == want.y && ex->tx.n == pl->x.n_out &&
	    ex->ty.n == pl->y.n_out) {
		/* The taps that found the region, moved onto it: the region
		 * holds every pixel they touch. */
		aug__taps_shift(&ex->tx, got.origin_x);
		aug__taps_shift(&ex->ty, got.origin_y);
	} else {
		gx = (struct grid){ src->width, got.origin_x, got.scale, w };
		gy = (struct grid){ src->height, got.origin_y, got.scale, h };
		st = aug__taps_build(&ex->tx, &pl->x, pl->filter, &gx);
		if (!st)
			st = aug__taps_build(&ex->ty, &pl->y, pl->filter, &gy);
	}
	if (!st)
		st = aug__taps_blocks(&ex->tx);
	if (!st)
		st = reserve(&ex->planes.p, &ex->planes_cap, (size_t)3 * (size_t)pl->out_w * (size_t)pl->out_h);
	if (!st)
		st = reserve(&ex->scratch, &ex->scratch_cap, aug__fplanes_scratch(src, &ex->tx, &ex->ty));
	if (st)
		return st;
	aug__resample_planes(src, &ex->planes, &ex->tx, &ex->ty, pl->fill_before, pl->fill_after, ex->scratch);
	if (ex->o.timing) {
		t1 = now();
		ex->times[AUG_PHASE_RESAMPLE] += t1 - t0;
		t0 = t1;
	}
	aug__planes_post(ex->p, pl, key, &ex->planes, ex->o.timing ? ex->times : NULL);
	return AUG_OK;
}

static aug_status run(aug_executor *ex, const void *buf, size_t len, const char *name, aug_key key,
		      const aug_sample *given, const aug_image **out)
{
	aug_status st = run_planes(ex, buf, len, name, key, given);
	double t0 = ex->o.timing ? now() : 0;

	*out = NULL;
	if (st)
		return st;
	if (!ex->fell_back) {
		st = output_image(ex, ex->planes.w, ex->planes.h, ex->planes.c);
		if (st)
			return st;
		aug__planes_to_image(&ex->planes, ex->out);
	}
	if (ex->o.timing)
		ex->times[AUG_PHASE_STORE] += now() - t0;
	*out = ex->out;
	return AUG_OK;
}

aug_status aug_executor_run(aug_executor *ex, const void *buf, size_t len, const char *name, aug_key key,
			    const aug_image **out)
{
	return run(ex, buf, len, name, key, NULL, out);
}

aug_status aug_executor_run_sample(aug_executor *ex, const void *buf, size_t len, const char *name,
				   const aug_sample *sample, const aug_image **out)
{
	return run(ex, buf, len, name, sample->key, sample, out);
}

aug_status aug_executor_run_f32(aug_executor *ex, const void *buf, size_t len, const char *name, aug_key key,
				float *dst, int channels, int height, int width)
{
	aug_status st = run_planes(ex, buf, len, name, key, NULL);
	int w, h, c;
	double t0;

	if (st)
		return st;
	w = ex->fell_back ? ex->out->width : ex->planes.w;
	h = ex->fell_back ? ex->out->height : ex->planes.h;
	c = ex->fell_back ? ex->out->channels : ex->planes.c;
	if (w != width || h != height || c != channels)
		return aug__fail(AUG_EINVAL, __func__,
				 "%s: the pipeline made %dx%dx%d, the batch slot is %dx%dx%d (end the pipeline "
				 "with a fixed size, and decode to the batch's channels)",
				 aug__name(name), w, h, c, width, height, channels);
	t0 = ex->o.timing ? now() : 0;
	if (ex->fell_back)
		aug__store_f32(ex->out, ex->p, dst);
	else
		aug__planes_store_f32(&ex->planes, ex->p, dst);
	if (ex->o.timing)
		ex->times[AUG_PHASE_STORE] += now() - t0;
	return AUG_OK;
}
