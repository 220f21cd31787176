/* Cutout and random erasing: fill rectangles (DeVries & Taylor 2017,
 * "Improved Regularization of Convolutional Neural Networks with Cutout";
 * Zhong et al. 2017, "Random Erasing Data Augmentation"). Where the holes
 * are was drawn by sampling; this fills them. */
#include <math.h>
#include <string.h>

#include "../internal.h"

void aug__cutout_apply(aug_image *img, const struct stage *st, const struct draw *d, aug_key key, int stage_index)
{
	int c = img->channels;
	uint8_t value[3];

	if (st->fill.mode == FILL_MEAN) {
		/* The image's own mean colour at this point, rounded. */
		double sum[3] = { 0, 0, 0 };
		double n = (double)img->width * img->height;

		for (int y = 0; y < img->height; y++) {
			const uint8_t *r = aug_image_row(img, y);

			for (int x = 0; x < img->width; x++)
				for (int ch = 0; ch < c; ch++)
					sum[ch] += r[(size_t)x * (size_t)c + (size_t)ch];
		}
		for (int ch = 0; ch < c; ch++)
			value[ch] = (uint8_t)lrint(sum[ch] / n);
	} else if (c == 1) {
		value[0] = (uint8_t)lrint(aug__luma(st->fill.rgb[0], st->fill.rgb[1], st->fill.rgb[2]));
	} else {
		memcpy(value, st->fill.rgb, 3);
	}
	for (int k = 0; k < d->nholes; k++) {
		const struct hole *h = &d->holes[k];
		int x0 = h->x < 0 ? 0 : h->x, y0 = h->y < 0 ? 0 : h->y;
		int x1 = h->x + h->w > img->width ? img->width : h->x + h->w;
		int y1 = h->y + h->h > img->height ? img->height : h->y + h->h;
		/* Random fills draw from their own stream per hole, in row-major
		 * order over the hole as drawn (clipped or not), so the values
		 * of a pixel do not depend on the image size. */
		aug_rng r = aug_rng_stream(key.seed, key.epoch, key.index,
					   ((uint64_t)(stage_index + 1) << 32) | (uint64_t)k);

		for (int y = h->y; y < h->y + h->h; y++) {
			for (int x = h->x; x < h->x + h->w; x++) {
				uint8_t *p;

				if (st->fill.mode == FILL_RANDOM) {
					uint64_t bits = aug_rng_next(&r);

					if (y < y0 || y >= y1 || x < x0 || x >= x1)
						continue;
					p = aug_image_row(img, y) + (size_t)x * (size_t)c;
					for (int ch = 0; ch < c; ch++)
						p[ch] = (uint8_t)(bits >> (8 * ch));
					continue;
				}
				if (y < y0 || y >= y1 || x < x0 || x >= x1)
					continue;
				p = aug_image_row(img, y) + (size_t)x * (size_t)c;
				memcpy(p, value, (size_t)c);
			}
		}
	}
}
