/* Reference geometry: crops with padding, flips and resizing, each on a
 * materialised image, written for clarity rather than speed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"

/* numpy's "reflect": mirror about the edge pixel without repeating it. */
static int reflect_index(int i, int n)
{
	int period;

	if (n == 1)
		return 0;
	period = 2 * (n - 1);
	i %= period;
	if (i < 0)
		i += period;
	return i < n ? i : period - i;
}

static int clamp_index(int i, int n)
{
	return i < 0 ? 0 : i >= n ? n - 1 : i;
}

aug_status aug__crop_reference(const aug_image *src, int x, int y, int w, int h, const struct fill *fill,
			       aug_image **out)
{
	int c = src->channels;
	aug_status st = aug__image_alloc(out, w, h, c, UINT64_MAX);

	if (st)
		return st;
	for (int j = 0; j < h; j++) {
		uint8_t *drow = aug_image_row(*out, j);
		int sy = y + j;

		for (int i = 0; i < w; i++) {
			int sx = x + i;
			uint8_t *d = drow + (size_t)i * (size_t)c;
			bool inside = sx >= 0 && sx < src->width && sy >= 0 && sy < src->height;

			if (!inside && fill->mode == FILL_CONSTANT) {
				if (c == 1)
					d[0] = (uint8_t)lround(aug__luma(fill->rgb[0], fill->rgb[1], fill->rgb[2]));
				else
					memcpy(d, fill->rgb, 3);
				continue;
			}
			if (!inside && fill->mode == FILL_REFLECT) {
				sx = reflect_index(sx, src->width);
				sy = reflect_index(sy, src->height);
			} else {
				sx = clamp_index(sx, src->width);
				sy = clamp_index(sy, src->height);
			}
			memcpy(d, aug_image_row(src, sy) + (size_t)sx * (size_t)c, (size_t)c);
		}
	}
	return AUG_OK;
}

aug_status aug__flip_reference(const aug_image *src, bool horizontal, aug_image **out)
{
	int c = src->channels;
	aug_status st = aug__image_alloc(out, src->width, src->height, c, UINT64_MAX);

	if (st)
		return st;
	for (int j = 0; j < src->height; j++) {
		const uint8_t *s = aug_image_row(src, horizontal ? j : src->height - 1 - j);
		uint8_t *d = aug_image_row(*out, j);

		if (!horizontal) {
			memcpy(d, s, (size_t)src->width * (size_t)c);
			continue;
		}
		for (int i = 0; i < src->width; i++)
			memcpy(d + (size_t)i * (size_t)c, s + (size_t)(src->width - 1 - i) * (size_t)c, (size_t)c);
	}
	return AUG_OK;
}

/* The filter kernels, as Pillow's Resample.c defines them: the triangle
 * (bilinear) of support 1 and the box (area) of support 1/2. When shrinking
 * by s the kernel is stretched by s, which is what antialiases. */
static double kernel(enum filter f, double x)
{
	x = fabs(x);
	if (f == FILTER_AREA)
		return x < 0.5 ? 1.0 : (x == 0.5 ? 0.5 : 0.0);
	return x < 1.0 ? 1.0 - x : 0.0;
}

/* Resize along one axis: n_in -> n_out samples of `count` interleaved
 * channels; in[k * in_step] for k < n_in. Output pixel i has its centre at
 * (i + 0.5) * n_in / n_out in input coordinates (half-pixel centres, as
 * Pillow, OpenCV and torchvision with align_corners=False). Taps outside the
 * input are dropped and the weights renormalised, as Pillow does. */
static void resize_axis(const double *in, size_t in_step, int n_in, double *out, size_t out_step, int n_out,
			int channels, enum filter f)
{
	double scale = (double)n_in / n_out;
	double fscale = scale > 1 ? scale : 1;
	double support = (f == FILTER_AREA ? 0.5 : 1.0) * fscale;

	for (int i = 0; i < n_out; i++) {
		double center = (i + 0.5) * scale;
		double acc[3] = { 0, 0, 0 }, wsum = 0;

		if (f == FILTER_NEAREST) {
			int k = clamp_index((int)floor(center), n_in);

			for (int ch = 0; ch < channels; ch++)
				out[(size_t)i * out_step + (size_t)ch] = in[(size_t)k * in_step + (size_t)ch];
			continue;
		}
		for (int k = (int)floor(center - support); k <= (int)ceil(center + support); k++) {
			double wgt;

			if (k < 0 || k >= n_in)
				continue;
			wgt = kernel(f, (k + 0.5 - center) / fscale);
			if (wgt == 0)
				continue;
			wsum += wgt;
			for (int ch = 0; ch < channels; ch++)
				acc[ch] += wgt * in[(size_t)k * in_step + (size_t)ch];
		}
		for (int ch = 0; ch < channels; ch++)
			out[(size_t)i * out_step + (size_t)ch] = wsum > 0 ? acc[ch] / wsum : 0;
	}
}

aug_status aug__resize_reference(const aug_image *src, int w, int h, enum filter filter, aug_image **out)
{
	int c = src->channels, sw = src->width, sh = src->height;
	double *a = NULL, *b = NULL;
	aug_status st;
	size_t na, nb;

	*out = NULL;
	if (!aug__mul3((size_t)sw, (size_t)sh, (size_t)c, &na) || !aug__mul3((size_t)w, (size_t)sh, (size_t)c, &nb))
		return aug__fail(AUG_ELIMIT, __func__, "resize %dx%d -> %dx%d is too large", sw, sh, w, h);
	a = malloc(na * sizeof(double));
	b = malloc(nb * sizeof(double));
	if (!a || !b) {
		st = aug__fail(AUG_ENOMEM, __func__, "no memory to resize %dx%d -> %dx%d", sw, sh, w, h);
		goto out;
	}
	for (int y = 0; y < sh; y++)
		for (int x = 0; x < sw * c; x++)
			a[(size_t)y * (size_t)sw * (size_t)c + (size_t)x] = aug_image_row(src, y)[x];
	/* Horizontal pass, row by row; then vertical, column by column. */
	for (int y = 0; y < sh; y++)
		resize_axis(a + (size_t)y * (size_t)sw * (size_t)c, (size_t)c, sw, b + (size_t)y * (size_t)w * (size_t)c,
			    (size_t)c, w, c, filter);
	st = aug__image_alloc(out, w, h, c, UINT64_MAX);
	if (st)
		goto out;
	{
		double *col = malloc((size_t)h * (size_t)c * sizeof(double));
		double *tmp = malloc((size_t)sh * (size_t)c * sizeof(double));

		if (!col || !tmp) {
			free(col);
			free(tmp);
			aug_image_free(*out);
			*out = NULL;
			st = aug__fail(AUG_ENOMEM, __func__, "no memory");
			goto out;
		}
		for (int x = 0; x < w; x++) {
			for (int y = 0; y < sh; y++)
				for (int ch = 0; ch < c; ch++)
					tmp[(size_t)y * (size_t)c + (size_t)ch] =
						b[((size_t)y * (size_t)w + (size_t)x) * (size_t)c + (size_t)ch];
			resize_axis(tmp, (size_t)c, sh, col, (size_t)c, h, c, filter);
			for (int y = 0; y < h; y++)
				for (int ch = 0; ch < c; ch++) {
					double v = col[(size_t)y * (size_t)c + (size_t)ch];

					aug_image_row(*out, y)[(size_t)x * (size_t)c + (size_t)ch] =
						(uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lround(v));
				}
		}
		free(col);
		free(tmp);
	}
out:
	free(a);
	free(b);
	return st;
}
