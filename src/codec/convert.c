/* Rows of decoded samples to 8-bit grey or RGB.
 *
 * The formulas, pinned by the tests:
 *
 *   alpha     composited onto the background at the source precision,
 *             rounded: out = (c*a + bg*(M - a) + M/2) / M, M = 255 or
 *             65535, bg scaled to M by *257 for 16-bit sources. A grey
 *             output composites onto the luma of the background.
 *   16 -> 8   after compositing: v8 = (v16*255 + 32767) / 65535, i.e.
 *             v16*255/65535 rounded half up (v16 = v8*257 maps back exactly).
 *   grey->RGB replicates.
 *   RGB->grey ITU-R BT.601 luma in 16-bit fixed point, rounded
 *             (aug__luma(): PIL's convert("L") and libjpeg's RGB->grey).
 *   CMYK->RGB for Adobe (inverted) CMYK as libjpeg delivers it, where 255
 *             means no ink: R = round(C*K/255), likewise G from M and B
 *             from Y; the formula of libjpeg-turbo's djpeg (cmyk.h) and,
 *             in the uninverted terms it uses, PIL's CMYK->RGB.
 */
#include <string.h>

#include "internal.h"

static inline unsigned composite(unsigned c, unsigned a, unsigned bg, unsigned m)
{
	return (unsigned)(((uint64_t)c * a + (uint64_t)bg * (m - a) + m / 2) / m);
}

static inline unsigned to8(unsigned v, int depth)
{
	return depth == 16 ? (v * 255u + 32767u) / 65535u : v;
}

static inline unsigned sample(const uint8_t *p, int i, int depth)
{
	return depth == 16 ? (unsigned)p[2 * i] << 8 | p[2 * i + 1] : p[i];
}

static void cmyk_row(const uint8_t *s, int n, uint8_t *d, int oc)
{
	for (int i = 0; i < n; i++, s += 4) {
		unsigned k = s[3];
		unsigned r = (s[0] * k + 127u) / 255u;
		unsigned g = (s[1] * k + 127u) / 255u;
		unsigned b = (s[2] * k + 127u) / 255u;

		if (oc == 1) {
			*d++ = aug__luma(r, g, b);
		} else {
			d[0] = (uint8_t)r;
			d[1] = (uint8_t)g;
			d[2] = (uint8_t)b;
			d += 3;
		}
	}
}

/* The general case: any channel count, 8 or 16 bits, alpha or not. */
static void general_row(const uint8_t *s, aug__rowfmt f, int n, uint8_t *d, int oc,
			const uint8_t bg[3])
{
	unsigned m = f.depth == 16 ? 65535u : 255u;
	unsigned scale = f.depth == 16 ? 257u : 1u;
	unsigned bgl = aug__luma(bg[0], bg[1], bg[2]) * scale;
	unsigned bgs[3] = { bg[0] * scale, bg[1] * scale, bg[2] * scale };
	int nc = f.channels;
	bool alpha = nc == 2 || nc == 4;

	for (int i = 0; i < n; i++) {
		unsigned v[3], a = alpha ? sample(s, i * nc + nc - 1, f.depth) : m;

		if (nc <= 2) {
			unsigned g = sample(s, i * nc, f.depth);

			if (oc == 1) {
				*d++ = (uint8_t)to8(alpha ? composite(g, a, bgl, m) : g, f.depth);
				continue;
			}
			for (int k = 0; k < 3; k++)
				v[k] = to8(alpha ? composite(g, a, bgs[k], m) : g, f.depth);
		} else {
			for (int k = 0; k < 3; k++) {
				unsigned c = sample(s, i * nc + k, f.depth);

				v[k] = to8(alpha ? composite(c, a, bgs[k], m) : c, f.depth);
			}
		}
		if (oc == 1) {
			*d++ = aug__luma(v[0], v[1], v[2]);
		} else {
			d[0] = (uint8_t)v[0];
			d[1] = (uint8_t)v[1];
			d[2] = (uint8_t)v[2];
			d += 3;
		}
	}
}

void aug__convert_row(const uint8_t *s, aug__rowfmt f, int n, uint8_t *d, int oc,
		      const uint8_t bg[3])
{
	if (f.cmyk) {
		cmyk_row(s, n, d, oc);
		return;
	}
	if (f.depth == 8) {
		/* The common cases, without the per-pixel branches. */
		if (f.channels == oc) {
			memcpy(d, s, (size_t)n * (size_t)oc);
			return;
		}
		if (f.channels == 1 && oc == 3) {
			for (int i = 0; i < n; i++, d += 3)
				d[0] = d[1] = d[2] = s[i];
			return;
		}
		if (f.channels == 3 && oc == 1) {
			for (int i = 0; i < n; i++, s += 3)
				d[i] = aug__luma(s[0], s[1], s[2]);
			return;
		}
		if (f.channels == 4 && oc == 3) {
			for (int i = 0; i < n; i++, s += 4, d += 3) {
				unsigned a = s[3];

				d[0] = (uint8_t)((s[0] * a + bg[0] * (255u - a) + 127u) / 255u);
				d[1] = (uint8_t)((s[1] * a + bg[1] * (255u - a) + 127u) / 255u);
				d[2] = (uint8_t)((s[2] * a + bg[2] * (255u - a) + 127u) / 255u);
			}
			return;
		}
	}
	general_row(s, f, n, d, oc, bg);
}
