/* Colour stages: color_jitter (torchvision's formulas), hsl_jitter,
 * grayscale, and the colour-space conversions they need.
 *
 * Both execution paths call these on the image after geometry, so they are
 * written once. Arithmetic is in double on 0..255 values, clamped after each
 * operation as torchvision's tensor ops clamp, and rounded to the nearest
 * integer once at the end of the stage. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"

static inline double clamp255(double v)
{
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

static inline uint8_t to_u8(double v)
{
	return (uint8_t)lrint(clamp255(v));
}

/* HSV, as torchvision's _rgb2hsv/_hsv2rgb and Python's colorsys: h in [0,1). */
void aug__rgb_to_hsv(double r, double g, double b, double *h, double *s, double *v)
{
	double mx = fmax(r, fmax(g, b)), mn = fmin(r, fmin(g, b)), d = mx - mn;

	*v = mx;
	*s = mx > 0 ? d / mx : 0;
	if (d <= 0) {
		*h = 0;
		return;
	}
	if (mx == r)
		*h = (g - b) / d;
	else if (mx == g)
		*h = 2.0 + (b - r) / d;
	else
		*h = 4.0 + (r - g) / d;
	*h /= 6.0;
	*h -= floor(*h);
}

void aug__hsv_to_rgb(double h, double s, double v, double *r, double *g, double *b)
{
	double hh = (h - floor(h)) * 6.0;
	int i = (int)hh;
	double f = hh - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));

	switch (i % 6) {
	case 0: *r = v; *g = t; *b = p; break;
	case 1: *r = q; *g = v; *b = p; break;
	case 2: *r = p; *g = v; *b = t; break;
	case 3: *r = p; *g = q; *b = v; break;
	case 4: *r = t; *g = p; *b = v; break;
	default: *r = v; *g = p; *b = q; break;
	}
}

/* HSL (Foley & van Dam; the CSS Color 3 algorithm). */
void aug__rgb_to_hsl(double r, double g, double b, double *h, double *s, double *l)
{
	double mx = fmax(r, fmax(g, b)), mn = fmin(r, fmin(g, b)), d = mx - mn;

	*l = (mx + mn) / 2;
	if (d <= 0) {
		*h = 0;
		*s = 0;
		return;
	}
	*s = *l <= 0.5 ? d / (mx + mn) : d / (2 - mx - mn);
	if (mx == r)
		*h = (g - b) / d;
	else if (mx == g)
		*h = 2.0 + (b - r) / d;
	else
		*h = 4.0 + (r - g) / d;
	*h /= 6.0;
	*h -= floor(*h);
}

static double hue_to_rgb(double m1, double m2, double h)
{
	h -= floor(h);
	if (h * 6 < 1)
		return m1 + (m2 - m1) * h * 6;
	if (h * 2 < 1)
		return m2;
	if (h * 3 < 2)
		return m1 + (m2 - m1) * (2.0 / 3 - h) * 6;
	return m1;
}

void aug__hsl_to_rgb(double h, double s, double l, double *r, double *g, double *b)
{
	double m2 = l <= 0.5 ? l * (s + 1) : l + s - l * s, m1 = l * 2 - m2;

	if (s <= 0) {
		*r = *g = *b = l;
		return;
	}
	*r = hue_to_rgb(m1, m2, h + 1.0 / 3);
	*g = hue_to_rgb(m1, m2, h);
	*b = hue_to_rgb(m1, m2, h - 1.0 / 3);
}

/* The mean grey level of a float image (contrast blends towards it). */
static double mean_grey(const double *px, size_t n, int c)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += c == 3 ? aug__luma(px[3 * i], px[3 * i + 1], px[3 * i + 2]) : px[i];
	return n ? sum / (double)n : 0;
}

/* color_jitter on a w*h*c buffer of doubles, in place. torchvision
 * (functional_tensor.py): brightness blends with black, contrast with the
 * mean grey level, saturation with the grey image, each clamped to 0..255;
 * hue rotates the HSV hue by a fraction of a turn. Grey images skip
 * saturation and hue, as torchvision does. */
static void jitter_buffer(double *px, size_t n, int c, const struct draw *d)
{
	for (int k = 0; k < 4; k++) {
		int op = d->order[k];

		if (op == 0 && d->f_bright != 1) {
			for (size_t i = 0; i < n * (size_t)c; i++)
				px[i] = clamp255(px[i] * d->f_bright);
		} else if (op == 1 && d->f_contrast != 1) {
			double m = mean_grey(px, n, c), f = d->f_contrast;

			for (size_t i = 0; i < n * (size_t)c; i++)
				px[i] = clamp255(f * px[i] + (1 - f) * m);
		} else if (op == 2 && d->f_sat != 1 && c == 3) {
			double f = d->f_sat;

			for (size_t i = 0; i < n; i++) {
				double *p = px + 3 * i, g = aug__luma(p[0], p[1], p[2]);

				for (int ch = 0; ch < 3; ch++)
					p[ch] = clamp255(f * p[ch] + (1 - f) * g);
			}
		} else if (op == 3 && d->f_hue != 0 && c == 3) {
			for (size_t i = 0; i < n; i++) {
				double *p = px + 3 * i, h, s, v, r, g, b;

				aug__rgb_to_hsv(p[0] / 255, p[1] / 255, p[2] / 255, &h, &s, &v);
				aug__hsv_to_rgb(h + d->f_hue, s, v, &r, &g, &b);
				p[0] = r * 255;
				p[1] = g * 255;
				p[2] = b * 255;
			}
		}
	}
}

static double *to_doubles(const aug_image *img, size_t *n)
{
	size_t np = (size_t)img->width * (size_t)img->height;
	double *px = malloc(np * (size_t)img->channels * sizeof(double));

	if (!px)
		return NULL;
	for (int y = 0; y < img->height; y++) {
		const uint8_t *r = aug_image_row(img, y);

		for (size_t x = 0; x < (size_t)img->width * (size_t)img->channels; x++)
			px[(size_t)y * (size_t)img->width * (size_t)img->channels + x] = r[x];
	}
	*n = np;
	return px;
}

static void from_doubles(aug_image *img, const double *px)
{
	for (int y = 0; y < img->height; y++) {
		uint8_t *r = aug_image_row(img, y);

		for (size_t x = 0; x < (size_t)img->width * (size_t)img->channels; x++)
			r[x] = to_u8(px[(size_t)y * (size_t)img->width * (size_t)img->channels + x]);
	}
}

void aug__color_jitter_apply(aug_image *img, const struct draw *d)
{
	size_t n;
	double *px = to_doubles(img, &n);

	if (!px)
		return;
	jitter_buffer(px, n, img->channels, d);
	from_doubles(img, px);
	free(px);
}

/* hsl_jitter: hue rotated by d->hsl_hue degrees, saturation and lightness
 * multiplied and clamped to [0, 1]. A grey pixel has no hue or saturation,
 * so only its lightness changes. */
void aug__hsl_jitter_apply(aug_image *img, const struct draw *d)
{
	double dh = d->hsl_hue / 360.0;

	for (int y = 0; y < img->height; y++) {
		uint8_t *row = aug_image_row(img, y);

		for (int x = 0; x < img->width; x++) {
			uint8_t *p = row + (size_t)x * (size_t)img->channels;
			double h, s, l, r, g, b;

			if (img->channels == 1) {
				l = fmin(1, p[0] / 255.0 * d->hsl_light);
				p[0] = to_u8(l * 255);
				continue;
			}
			aug__rgb_to_hsl(p[0] / 255.0, p[1] / 255.0, p[2] / 255.0, &h, &s, &l);
			s = fmin(1, s * d->hsl_sat);
			l = fmin(1, l * d->hsl_light);
			aug__hsl_to_rgb(h + dh, s, l, &r, &g, &b);
			p[0] = to_u8(r * 255);
			p[1] = to_u8(g * 255);
			p[2] = to_u8(b * 255);
		}
	}
}

aug_status aug__grayscale(const aug_image *src, int channels, aug_image **out)
{
	aug_status st = aug__image_alloc(out, src->width, src->height, channels, UINT64_MAX);

	if (st)
		return st;
	for (int y = 0; y < src->height; y++) {
		const uint8_t *s = aug_image_row(src, y);
		uint8_t *d = aug_image_row(*out, y);

		for (int x = 0; x < src->width; x++) {
			uint8_t g = src->channels == 1 ? s[x]
						       : to_u8(aug__luma(s[3 * x], s[3 * x + 1], s[3 * x + 2]));

			for (int ch = 0; ch < channels; ch++)
				d[(size_t)x * (size_t)channels + (size_t)ch] = g;
		}
	}
	return AUG_OK;
}
