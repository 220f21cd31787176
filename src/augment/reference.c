/* The reference path: each stage applied in turn to a materialised image.
 * Written for clarity; it is the oracle the planned path is tested against. */
#include <math.h>
#include <string.h>

#include "internal.h"

static aug_status check_sample(const aug_pipeline *p, const aug_sample *s, const aug_image *src)
{
	if (!p || !s || !src)
		return aug__fail(AUG_EINVAL, "aug_reference_apply", "NULL argument");
	if (s->count != p->count)
		return aug__fail(AUG_EINVAL, "aug_reference_apply", "the sample was drawn for another pipeline");
	if (s->in_w != src->width || s->in_h != src->height || s->in_c != src->channels)
		return aug__fail(AUG_EINVAL, "aug_reference_apply",
				 "the sample was drawn for a %dx%dx%d image, not %dx%dx%d", s->in_w, s->in_h, s->in_c,
				 src->width, src->height, src->channels);
	return AUG_OK;
}

aug_status aug_reference_apply(const aug_pipeline *p, const aug_sample *s, const aug_image *src, aug_image **out)
{
	return aug__reference_apply(p, s, src, AUG_DEFAULT_MAX_PIXELS, out);
}

aug_status aug__reference_apply(const aug_pipeline *p, const aug_sample *s, const aug_image *src,
				uint64_t max_pixels, aug_image **out)
{
	aug_image *cur = NULL;
	aug_status st;

	*out = NULL;
	st = check_sample(p, s, src);
	if (!st)
		st = aug__sample_check_size(s, max_pixels, true, "aug_reference_apply", NULL);
	if (st)
		return st;
	st = aug_image_copy(&cur, src);
	if (st)
		return st;
	for (int i = 0; i < p->count && !st; i++) {
		const struct stage *sg = &p->stages[i];
		const struct draw *d = &s->draws[i];
		aug_image *next = NULL, *tmp = NULL;
		static const struct fill zero = { FILL_CONSTANT, { 0, 0, 0 } };

		if (!d->applied)
			continue;
		switch (sg->kind) {
		case ST_HFLIP:
		case ST_VFLIP:
			st = aug__flip_reference(cur, sg->kind == ST_HFLIP, &next);
			break;
		case ST_CROP:
			st = aug__crop_reference(cur, d->bx, d->by, d->bw, d->bh, &sg->fill, &next);
			break;
		case ST_CENTER_CROP:
			st = aug__crop_reference(cur, d->bx, d->by, d->bw, d->bh, &zero, &next);
			break;
		case ST_RANDOM_RESIZED_CROP:
			/* torchvision resized_crop: crop, then resize the crop alone. */
			st = aug__crop_reference(cur, d->bx, d->by, d->bw, d->bh, &zero, &tmp);
			if (!st)
				st = aug__resize_reference(tmp, d->out_w, d->out_h, sg->filter, &next);
			aug_image_free(tmp);
			break;
		case ST_RESIZE:
			st = aug__resize_reference(cur, d->out_w, d->out_h, sg->filter, &next);
			break;
		case ST_CUTOUT:
			aug__cutout_apply(cur, sg, d, s->key, i);
			break;
		case ST_COLOR_JITTER:
			aug__color_jitter_apply(cur, d);
			break;
		case ST_HSL_JITTER:
			aug__hsl_jitter_apply(cur, d);
			break;
		case ST_GRAYSCALE:
			st = aug__grayscale(cur, d->out_c, &next);
			break;
		case ST_NORMALIZE:
		case ST_COUNT:
			break;
		}
		if (next) {
			aug_image_free(cur);
			cur = next;
		}
	}
	if (st) {
		aug_image_free(cur);
		return st;
	}
	*out = cur;
	return AUG_OK;
}

void aug__store_f32(const aug_image *img, const aug_pipeline *p, float *dst)
{
	const struct stage *norm = aug_pipeline_normalizes(p) ? &p->stages[p->count - 1] : NULL;
	size_t plane = (size_t)img->width * (size_t)img->height;

	for (int ch = 0; ch < img->channels; ch++) {
		/* (v/255 - mean) / std, as scale * v + shift. */
		float scale = 1.0f / 255.0f, shift = 0.0f;

		if (norm) {
			scale = 1.0f / (255.0f * norm->std[ch]);
			shift = -norm->mean[ch] / norm->std[ch];
		}
		for (int y = 0; y < img->height; y++) {
			const uint8_t *r = aug_image_row(img, y);
			float *d = dst + (size_t)ch * plane + (size_t)y * (size_t)img->width;

			for (int x = 0; x < img->width; x++)
				d[x] = (float)r[(size_t)x * (size_t)img->channels + (size_t)ch] * scale + shift;
		}
	}
}

aug_status aug_reference_apply_f32(const aug_pipeline *p, const aug_sample *s, const aug_image *src, float *dst)
{
	aug_image *img = NULL;
	aug_status st = aug_reference_apply(p, s, src, &img);

	if (st)
		return st;
	aug__store_f32(img, p, dst);
	aug_image_free(img);
	return AUG_OK;
}
