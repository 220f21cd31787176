/* EXIF orientation: from the stored pixel grid to the displayed one.
 *
 * The eight values (EXIF 2.3, tag 0x0112; the same table as PIL's
 * ImageOps.exif_transpose):
 *   1 as stored            5 transpose (mirror about the main diagonal)
 *   2 mirror left-right    6 rotate 90 degrees clockwise
 *   3 rotate 180           7 transverse (mirror about the other diagonal)
 *   4 mirror top-bottom    8 rotate 90 degrees anticlockwise
 */
#include <string.h>

#include "internal.h"

aug__orient aug__orient_of(int orientation)
{
	static const aug__orient table[9] = {
		[1] = { false, false, false },
		[2] = { false, true, false },
		[3] = { false, true, true },
		[4] = { false, false, true },
		[5] = { true, false, false },
		[6] = { true, false, true },
		[7] = { true, true, true },
		[8] = { true, true, false },
	};

	if (orientation < 1 || orientation > 8)
		orientation = 1;
	return table[orientation];
}

/* Stored pixel (sx, sy) goes to displayed (x, y) with (u, v) from the flips
 * and (x, y) = transpose ? (v, u) : (u, v). Each stored row is walked once;
 * the destination pointer moves by a fixed step per pixel. */
void aug__orient_apply(aug__orient o, const uint8_t *src, size_t sstride, int w, int h,
		       int c, uint8_t *dst, size_t dstride)
{
	ptrdiff_t step_u, step_v;
	uint8_t *base;

	/* Displayed address of (u, v): u steps along displayed x (or y when
	 * transposed), v along the other. */
	if (o.transpose) {
		step_u = (ptrdiff_t)dstride;
		step_v = c;
	} else {
		step_u = c;
		step_v = (ptrdiff_t)dstride;
	}
	base = dst;
	if (o.flip_x) {
		base += (ptrdiff_t)(w - 1) * step_u;
		step_u = -step_u;
	}
	if (o.flip_y) {
		base += (ptrdiff_t)(h - 1) * step_v;
		step_v = -step_v;
	}
	for (int sy = 0; sy < h; sy++) {
		const uint8_t *s = src + (size_t)sy * sstride;
		uint8_t *d = base + (ptrdiff_t)sy * step_v;

		if (step_u == c) {
			memcpy(d, s, (size_t)w * (size_t)c);
			continue;
		}
		if (c == 1) {
			for (int sx = 0; sx < w; sx++, d += step_u)
				*d = s[sx];
		} else {
			for (int sx = 0; sx < w; sx++, d += step_u, s += 3) {
				d[0] = s[0];
				d[1] = s[1];
				d[2] = s[2];
			}
		}
	}
}
