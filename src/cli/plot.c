/* Training curves as a picture: loss and accuracy per epoch, training and
 * validation, side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PW 420   /* panel width */
#define PH 300   /* panel height */
#define ML 56    /* margins inside a panel: left, right, top, bottom */
#define MR 14
#define MT 28
#define MB 34

static const uint8_t c_train[3] = { 31, 119, 180 };
static const uint8_t c_val[3] = { 255, 127, 14 };
static const uint8_t c_axis[3] = { 60, 60, 60 };
static const uint8_t c_grid[3] = { 225, 225, 225 };

static void dot(aug_image *img, int x, int y, int r, const uint8_t rgb[3])
{
	for (int dy = -r; dy <= r; dy++)
		for (int dx = -r; dx <= r; dx++) {
			int px = x + dx, py = y + dy;

			if (px >= 0 && py >= 0 && px < img->width && py < img->height)
				memcpy(aug_image_row(img, py) + (size_t)px * 3, rgb, 3);
		}
}

/* A line two pixels thick (Bresenham). */
static void line(aug_image *img, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
	int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;

	for (;;) {
		dot(img, x0, y0, 1, rgb);
		if (x0 == x1 && y0 == y1)
			break;
		int e2 = 2 * err;

		if (e2 >= dy) {
			err += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			err += dx;
			y0 += sy;
		}
	}
}

/* A "nice" tick step for a range (1, 2 or 5 times a power of ten). */
static double nice_step(double range, int want)
{
	double raw = range / want, p = pow(10, floor(log10(raw))), f = raw / p;

	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void panel(aug_image *img, int x0, const char *title, const double *a, const double *b, int n,
		  bool percent)
{
	double lo = INFINITY, hi = -INFINITY, step;
	int pl = x0 + ML, pr = x0 + PW - MR, pt = MT, pb = PH - MB;

	for (int i = 0; i < n; i++) {
		if (isfinite(a[i])) {
			lo = fmin(lo, a[i]);
			hi = fmax(hi, a[i]);
		}
		if (isfinite(b[i])) {
			lo = fmin(lo, b[i]);
			hi = fmax(hi, b[i]);
		}
	}
	if (!isfinite(lo)) {
		lo = 0;
		hi = 1;
	}
	if (hi - lo < 1e-9) {
		lo -= 0.5;
		hi += 0.5;
	}
	step = nice_step(hi - lo, 5);
	lo = floor(lo / step) * step;
	hi = ceil(hi / step) * step;
	cli_text(img, x0 + ML, 8, title, 0, c_axis);
	/* Horizontal grid lines with their values. */
	for (double v = lo; v <= hi + step / 2; v += step) {
		int y = pb - (int)lround((v - lo) / (hi - lo) * (pb - pt));
		char lab[32];

		for (int x = pl; x <= pr; x++)
			memcpy(aug_image_row(img, y) + (size_t)x * 3, c_grid, 3);
		if (percent)
			snprintf(lab, sizeof(lab), "%.*f%%", step * 100 < 1 ? 1 : 0, v * 100);
		else
			snprintf(lab, sizeof(lab), "%.*f", step < 0.01 ? 3 : step < 0.1 ? 2 : 1, v);
		cli_text(img, pl - 6 - 8 * (int)strlen(lab), y - 5, lab, 0, c_axis);
	}
	/* Axes, and the epochs along the bottom. */
	for (int y = pt; y <= pb; y++)
		memcpy(aug_image_row(img, y) + (size_t)pl * 3, c_axis, 3);
	for (int x = pl; x <= pr; x++)
		memcpy(aug_image_row(img, pb) + (size_t)x * 3, c_axis, 3);
	{
		int estep = n <= 10 ? 1 : (int)nice_step(n, 8);

		for (int e = 1; e <= n; e += estep) {
			int x = n > 1 ? pl + (int)lround((double)(e - 1) / (n - 1) * (pr - pl)) : (pl + pr) / 2;
			char lab[16];

			snprintf(lab, sizeof(lab), "%d", e);
			cli_text(img, x - 4 * (int)strlen(lab), pb + 6, lab, 0, c_axis);
		}
		cli_text(img, (pl + pr) / 2 - 20, pb + 20, "epoch", 0, c_axis);
	}
	for (int s = 0; s < 2; s++) {
		const double *v = s ? b : a;
		const uint8_t *col = s ? c_val : c_train;
		int px = -1, py = -1;

		for (int i = 0; i < n; i++) {
			int x, y;

			if (!isfinite(v[i]))
				continue;
			x = n > 1 ? pl + (int)lround((double)i / (n - 1) * (pr - pl)) : (pl + pr) / 2;
			y = pb - (int)lround((v[i] - lo) / (hi - lo) * (pb - pt));
			if (px >= 0)
				line(img, px, py, x, y, col);
			dot(img, x, y, 2, col);
			px = x;
			py = y;
		}
	}
	/* Legend. */
	dot(img, pr - 120, 13, 3, c_train);
	cli_text(img, pr - 110, 8, "train", 0, c_train);
	dot(img, pr - 54, 13, 3, c_val);
	cli_text(img, pr - 44, 8, "val", 0, c_val);
}

int cli_plot_curves(const char *path, const aug_epoch_stats *h, int n)
{
	aug_image *img = NULL;
	double *v = malloc((size_t)(n > 0 ? n : 1) * 4 * sizeof(double));
	aug_status st;

	if (!v)
		return 1;
	for (int i = 0; i < n; i++) {
		v[i] = h[i].train_loss;
		v[n + i] = h[i].val_loss;
		v[2 * n + i] = h[i].train_acc;
		v[3 * n + i] = h[i].val_acc;
	}
	st = aug_image_new(&img, 2 * PW, PH, 3);
	if (!st) {
		memset(img->data, 255, img->stride * (size_t)img->height);
		panel(img, 0, "loss", v, v + n, n, false);
		panel(img, PW, "accuracy", v + 2 * n, v + 3 * n, n, true);
		st = aug_encode_file(img, path, NULL);
	}
	aug_image_free(img);
	free(v);
	if (st) {
		cli_fail(st);
		return 1;
	}
	return 0;
}
