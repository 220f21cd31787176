/* The planned path's pixel work, on float planes.
 *
 * After the one resampling pass the image lives as C planes of H x W floats
 * on the 0..255 scale, so the colour stages, cutout and the final store are
 * straight loops over contiguous floats that the compiler vectorises, with
 * no rounding between stages. Hot loops are built three times, for
 * x86-64-v4 (AVX-512: 16 floats a vector; measured 9% faster end to end than
 * AVX2 on the Zen 5 benchmark machine), for AVX2 and for the baseline, and
 * the right one is picked at load time (target_clones), so the library
 * stays portable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define HOT AUG__HOT

/* min and max as plain comparisons: fminf/fmaxf must honour NaN and are
 * library calls that stop vectorisation; these become minps/maxps (with
 * this file's -ffinite-math-only, see meson.build). */
static inline float fmin2(float a, float b)
{
	return a < b ? a : b;
}

static inline float fmax2(float a, float b)
{
	return a > b ? a : b;
}

static inline float clamp255(float v)
{
	return fmin2(fmax2(v, 0.0f), 255.0f);
}

/* ---- Resampling into planes --------------------------------------------- */

/* The resample is separable: a vertical pass (source rows blended into one
 * row) and a horizontal pass (a row resampled along x), in whichever order
 * costs less. Both work on planar float rows: bytes are converted, and RGB
 * split into three planes, as they are read (the compiler vectorises that
 * with shuffles), so that every later loop runs over contiguous floats.
 *
 * The horizontal pass is the awkward one, a different window of the source
 * for every output pixel. With AVX-512 it computes 16 outputs at once: the
 * block's source window (up to 64 floats) sits in four registers, and each
 * tap is one permute that picks every lane's source pixel, and one
 * multiply-add (the taps' blocked form, struct taps). Elsewhere, or when a
 * block's window is wider (shrinking by more than about 3.5), it is a scalar
 * loop over the taps. Both add the same terms in the same order, so they
 * give the same floats. */

/* Floats of slack after a planar row: a block loads AUG__BLOCK_SPAN floats
 * from its first source pixel. */
#define ROW_PAD AUG__BLOCK_SPAN

/* The span [lo, hi] of source indices the taps touch; false when none. */
static bool tap_span(const struct taps *t, int *lo, int *hi)
{
	*lo = 1 << 30;
	*hi = -1;
	for (int j = 0; j < t->n; j++) {
		if (!t->count[j])
			continue;
		*lo = t->first[j] < *lo ? t->first[j] : *lo;
		*hi = t->first[j] + t->count[j] - 1 > *hi ? t->first[j] + t->count[j] - 1 : *hi;
	}
	return *hi >= *lo;
}

static size_t tap_total(const struct taps *t)
{
	size_t n = 0;

	for (int j = 0; j < t->n; j++)
		n += (size_t)t->count[j];
	return n;
}

/* Identity horizontal taps (a crop or flip without scaling): one tap of
 * weight 1 per output pixel; a gather without multiplies. */
static bool taps_are_identity(const struct taps *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->count[i] > 1 || (t->count[i] == 1 && t->w[(size_t)i * (size_t)t->max_taps] != 1.0f))
			return false;
	return true;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_BLOCKED 1
#include <immintrin.h>

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

/* The blocked horizontal pass (see above) over `c` planar rows at once,
 * which share the taps: three independent sums hide the latency of each.
 * s[ch] is a planar row starting at source pixel x0, readable (and
 * initialised) ROW_PAD floats past the last pixel the taps touch. `wide`
 * (a constant in each instance, like `c`, so that everything stays in
 * registers): the blocks' windows need 64 floats, not 32. */
__attribute__((target("avx512f"), always_inline)) static inline void
hrow_blocked_c(float *const *s, const int c, const bool wide, const int fixed_nt, int x0, const struct taps *tx,
	       float *const *out, const float *fill)
{
	size_t stride = (size_t)tx->max_taps * AUG__LANES;
	v16f r0[3], r1[3], r2[3], r3[3], acc[3];

	for (int b = 0; b < tx->nblk; b++) {
		size_t off = (size_t)(tx->bbase[b] - x0), at = (size_t)b * AUG__LANES;
		const int32_t *idx = tx->bidx + (size_t)b * stride;
		const float *w = tx->bw + (size_t)b * stride;
		int left = tx->n - b * AUG__LANES, nt = fixed_nt ? fixed_nt : tx->bntaps[b];
		v16f fw, wv;
		v16i k, m;

		memcpy(&fw, tx->bwfill + at, sizeof(fw));
		for (int ch = 0; ch < c; ch++) {
			memcpy(&r0[ch], s[ch] + off, sizeof(v16f));
			memcpy(&r1[ch], s[ch] + off + 16, sizeof(v16f));
			if (wide) {
				memcpy(&r2[ch], s[ch] + off + 32, sizeof(v16f));
				memcpy(&r3[ch], s[ch] + off + 48, sizeof(v16f));
			}
			acc[ch] = fw * fill[ch];
		}
		for (int t = 0; t < nt; t++) {
			memcpy(&k, idx + (size_t)t * AUG__LANES, sizeof(k));
			memcpy(&wv, w + (size_t)t * AUG__LANES, sizeof(wv));
			m = k < 32;
			for (int ch = 0; ch < c; ch++) {
				/* A 32-float table (indices taken mod 32); when
				 * wide, a second one and each lane from the one
				 * its index points into. */
				v16f v = __builtin_shuffle(r0[ch], r1[ch], k);

				if (wide) {
					v16f hi = __builtin_shuffle(r2[ch], r3[ch], k);

					v = (v16f)(((v16i)v & m) | ((v16i)hi & ~m));
				}
				acc[ch] += v * wv;
			}
		}
		for (int ch = 0; ch < c; ch++) {
			if (left >= AUG__LANES)
				memcpy(out[ch] + at, &acc[ch], sizeof(v16f));
			else
				_mm512_mask_storeu_ps(out[ch] + at, (__mmask16)((1u << left) - 1), (__m512)acc[ch]);
		}
	}
}

#define HROW_BLOCKED(name, c, wide, nt)                                                                      \
	__attribute__((target("avx512f"))) static void name(float *const *s, int x0, const struct taps *tx,   \
							    float *const *out, const float *fill)             \
	{                                                                                                      \
		hrow_blocked_c(s, c, wide, nt, x0, tx, out, fill);                                             \
	}
HROW_BLOCKED(hrow_blocked1, 1, false, 0)
HROW_BLOCKED(hrow_blocked1w, 1, true, 0)
HROW_BLOCKED(hrow_blocked3, 3, false, 0)
HROW_BLOCKED(hrow_blocked3w, 3, true, 0)
/* Every block of a row has the same tap count (aug__taps_blocks pads
 * them): the common counts get a loop the compiler unrolls. */
HROW_BLOCKED(hrow_blocked3_2, 3, false, 2)
HROW_BLOCKED(hrow_blocked3_3, 3, false, 3)
HROW_BLOCKED(hrow_blocked3_4, 3, false, 4)
HROW_BLOCKED(hrow_blocked3_5, 3, false, 5)
#endif

/* Whether the blocked pass can run these taps on this CPU. */
static bool blocked_ok(const struct taps *tx)
{
#ifdef HAVE_BLOCKED
	return tx->blocked && __builtin_cpu_supports("avx512f");
#else
	(void)tx;
	return false;
#endif
}

/* The scalar horizontal pass: out[i] = wfill[i] * fill + the taps. */
static void hrow_scalar(const float *restrict s, int x0, const struct taps *tx, float *restrict out, float fill)
{
	for (int i = 0; i < tx->n; i++) {
		const float *w = tx->w + (size_t)i * (size_t)tx->max_taps;
		float acc = tx->wfill[i] * fill;

		for (int t = 0; t < tx->count[i]; t++)
			acc += w[t] * s[tx->first[i] - x0 + t];
		out[i] = acc;
	}
}

/* Resample `c` planar rows along x into out[ch]. */
static void hrow(float *const *s, int c, int x0, const struct taps *tx, float *const *out, const float *fill,
		 bool blocked)
{
#ifdef HAVE_BLOCKED
	if (blocked) {
		int nt = tx->nblk ? tx->bntaps[0] : 0;

		if (c == 3 && !tx->wide && nt >= 2 && nt <= 5)
			(nt == 2 ? hrow_blocked3_2 : nt == 3 ? hrow_blocked3_3 : nt == 4 ? hrow_blocked3_4 : hrow_blocked3_5)(
				s, x0, tx, out, fill);
		else if (c == 3)
			(tx->wide ? hrow_blocked3w : hrow_blocked3)(s, x0, tx, out, fill);
		else
			(tx->wide ? hrow_blocked1w : hrow_blocked1)(s, x0, tx, out, fill);
		return;
	}
#endif
	for (int ch = 0; ch < c; ch++)
		hrow_scalar(s[ch], x0, tx, out[ch], fill[ch]);
}

bool aug__hrow_run(float *const *rows, int c, int x0, const struct taps *tx, float *const *out, const float *fill,
		   bool blocked)
{
	if (blocked && !blocked_ok(tx))
		return false;
	hrow(rows, c, x0, tx, out, fill, blocked);
	return true;
}

/* Which pass goes first, by a rough count of vector operations. Vertical
 * first blends out_h rows over the needed columns (converting bytes each
 * time), splits and resamples out_h rows; horizontal first converts and
 * resamples every needed source row, then blends out_h rows of out_w floats.
 * Shrinking vertically favours vertical first. */
static bool vertical_first(const struct taps *tx, const struct taps *ty, int c, bool blocked)
{
	int rlo, rhi, clo, chi;
	double span, rows, hrow_ops = 0, v_first, h_first;

	if (taps_are_identity(tx))
		return false; /* a gather: horizontal first costs nothing */
	if (!tap_span(ty, &rlo, &rhi) || !tap_span(tx, &clo, &chi))
		return false;
	if (blocked) {
		for (int b = 0; b < tx->nblk; b++)
			hrow_ops += tx->bntaps[b] * (tx->wide ? 4.0 : 2.0);
	} else {
		hrow_ops = 2.0 * (double)tap_total(tx);
	}
	span = (double)(chi - clo + 1) * c;
	rows = rhi - rlo + 1;
	v_first = (double)tap_total(ty) * span / 16 * 2.5 + (double)ty->n * (span / 16 + c * hrow_ops);
	h_first = rows * span / 16 * 2 + rows * c * hrow_ops + (double)tap_total(ty) * c * tx->n / 16 * 2;
	return v_first < h_first;
}

size_t aug__fplanes_scratch(const aug_image *src, const struct taps *tx, const struct taps *ty)
{
	int rmin = 0, rmax = -1, cmin = 0, cmax = -1, c = src->channels;
	size_t rows_f;

	tap_span(ty, &rmin, &rmax);
	if (!tap_span(tx, &cmin, &cmax))
		cmin = 0, cmax = -1;
	rows_f = (size_t)c * ((size_t)(cmax - cmin + 1) + ROW_PAD);
	if (vertical_first(tx, ty, c, blocked_ok(tx)))
		return rows_f + (c == 3 ? (size_t)3 * (size_t)(cmax - cmin + 1) : 0); /* + the blended row */
	if (rmax < rmin)
		return rows_f;
	return (size_t)(rmax - rmin + 1) * (size_t)tx->n * (size_t)c + rows_f;
}

HOT static void vset(float *restrict d, float v, int n)
{
	for (int x = 0; x < n; x++)
		d[x] = v;
}

/* d[x] += w * s[x]; with `set`, d[x] = init + w * s[x]. */
HOT static void vaxpy(float *restrict d, const float *restrict s, float w, int n, bool set, float init)
{
	for (int x = 0; x < n; x++) {
		float a = set ? init : d[x];

		a += w * s[x];
		d[x] = a;
	}
}

/* d[x] += w * s[x] for a row of bytes; with `set`, d[x] = init + w * s[x]
 * (d's old values are not read: the first group of taps needs no pass that
 * fills d first). */
HOT static void vaxpy_u8(float *restrict d, const uint8_t *restrict s, float w, int n, bool set, float init)
{
	for (int x = 0; x < n; x++) {
		float a = set ? init : d[x];

		a += w * (float)s[x];
		d[x] = a;
	}
}

/* Two, three and four rows at once: d is read and written once, not once a
 * row. The sums are made in the same order as by vaxpy_u8() row after row
 * (and floating-point contraction is off), so the result is the same to
 * the bit. */
HOT static void vaxpy2_u8(float *restrict d, const uint8_t *restrict s0, const uint8_t *restrict s1, float w0,
			  float w1, int n, bool set, float init)
{
	for (int x = 0; x < n; x++) {
		float a = set ? init : d[x];

		a += w0 * (float)s0[x];
		a += w1 * (float)s1[x];
		d[x] = a;
	}
}

HOT static void vaxpy3_u8(float *restrict d, const uint8_t *restrict s0, const uint8_t *restrict s1,
			  const uint8_t *restrict s2, float w0, float w1, float w2, int n, bool set, float init)
{
	for (int x = 0; x < n; x++) {
		float a = set ? init : d[x];

		a += w0 * (float)s0[x];
		a += w1 * (float)s1[x];
		a += w2 * (float)s2[x];
		d[x] = a;
	}
}

HOT static void vaxpy4_u8(float *restrict d, const uint8_t *restrict s0, const uint8_t *restrict s1,
			  const uint8_t *restrict s2, const uint8_t *restrict s3, const float *w, int n, bool set,
			  float init)
{
	const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];

	for (int x = 0; x < n; x++) {
		float a = set ? init : d[x];

		a += w0 * (float)s0[x];
		a += w1 * (float)s1[x];
		a += w2 * (float)s2[x];
		a += w3 * (float)s3[x];
		d[x] = a;
	}
}

/* d[x] += sum over t of w[t] * row(first + t)[off + x], in the order of t;
 * with `set`, d[x] = init + that sum, whatever d held (n floats of d are
 * written even when count is 0). */
static void vblend_u8(float *d, const aug_image *src, int first, size_t off, const float *w, int count, int n,
		      bool set, float init)
{
	int t = 0;

	for (; t + 4 <= count; t += 4, set = false)
		vaxpy4_u8(d, aug_image_row(src, first + t) + off, aug_image_row(src, first + t + 1) + off,
			  aug_image_row(src, first + t + 2) + off, aug_image_row(src, first + t + 3) + off, w + t, n,
			  set, init);
	switch (count - t) {
	case 3:
		vaxpy3_u8(d, aug_image_row(src, first + t) + off, aug_image_row(src, first + t + 1) + off,
			  aug_image_row(src, first + t + 2) + off, w[t], w[t + 1], w[t + 2], n, set, init);
		break;
	case 2:
		vaxpy2_u8(d, aug_image_row(src, first + t) + off, aug_image_row(src, first + t + 1) + off, w[t],
			  w[t + 1], n, set, init);
		break;
	case 1:
		vaxpy_u8(d, aug_image_row(src, first + t) + off, w[t], n, set, init);
		break;
	default:
		if (set)
			vset(d, init, n);
		break;
	}
}

HOT static void to_float(float *restrict d, const uint8_t *restrict s, int n)
{
	for (int x = 0; x < n; x++)
		d[x] = s[x];
}

/* A row of RGB bytes as three planar float rows. */
HOT static void to_float3(float *restrict r, float *restrict g, float *restrict b, const uint8_t *restrict s, int n)
{
	for (int x = 0; x < n; x++) {
		r[x] = s[3 * x];
		g[x] = s[3 * x + 1];
		b[x] = s[3 * x + 2];
	}
}

/* An RGB float row as three planar rows. */
HOT static void split3(float *restrict r, float *restrict g, float *restrict b, const float *restrict s, int n)
{
	for (int x = 0; x < n; x++) {
		r[x] = s[3 * x];
		g[x] = s[3 * x + 1];
		b[x] = s[3 * x + 2];
	}
}

/* The outputs wholly in padding, [0, fill_lo) and [fill_hi, n). */
static void fill_columns(float *row, const struct taps *tx, float v)
{
	vset(row, v, tx->fill_lo);
	vset(row + tx->fill_hi, v, tx->n - tx->fill_hi);
}

void aug__resample_planes(const aug_image *src, struct fplanes *dst, const struct taps *tx, const struct taps *ty,
			  const uint8_t fill_before[3], const uint8_t fill_after[3], float *scratch)
{
	int c = src->channels, ow = tx->n, oh = ty->n, rmin = 0, rmax = -1, cmin = 0, cmax = -1, span;
	size_t plane_in, plane_out = (size_t)ow * (size_t)oh, row_f;
	float fb[3], fa[3], *P[3], *hbuf;
	bool blocked = blocked_ok(tx), ident = taps_are_identity(tx);

	for (int ch = 0; ch < 3; ch++) {
		fb[ch] = fill_before[ch];
		fa[ch] = fill_after[ch];
	}
	if (c == 1) {
		fb[0] = (float)lrint(aug__luma(fill_before[0], fill_before[1], fill_before[2]));
		fa[0] = (float)lrint(aug__luma(fill_after[0], fill_after[1], fill_after[2]));
	}
	dst->w = ow;
	dst->h = oh;
	dst->c = c;
	tap_span(ty, &rmin, &rmax);
	if (!tap_span(tx, &cmin, &cmax))
		cmin = 0, cmax = -1;
	span = cmax - cmin + 1;
	row_f = (size_t)span + ROW_PAD;
	plane_in = rmax >= rmin ? (size_t)(rmax - rmin + 1) * (size_t)ow : 0;
	hbuf = scratch;
	if (vertical_first(tx, ty, c, blocked))
		plane_in = 0;
	for (int ch = 0; ch < c; ch++) {
		P[ch] = scratch + plane_in * (size_t)c + (size_t)ch * row_f;
		vset(P[ch] + span, 0.0f, ROW_PAD);
	}

	if (!plane_in && rmax >= rmin) {
		/* Vertical first: each output row is a blend of source rows
		 * over the needed columns (interleaved, as the bytes come),
		 * split into planes, then resampled along x. */
		float *blend = c == 3 ? P[2] + row_f : P[0];

		for (int j = 0; j < oh; j++) {
			const float *w = ty->w + (size_t)j * (size_t)ty->max_taps;
			float *d[3];
			bool set;

			for (int ch = 0; ch < c; ch++)
				d[ch] = dst->p + (size_t)ch * plane_out + (size_t)j * (size_t)ow;
			if (ty->fill_all[j]) {
				for (int ch = 0; ch < c; ch++)
					vset(d[ch], fa[ch], ow);
				continue;
			}
			set = ty->wfill[j] == 0.0f || c == 1;
			if (!set) {
				for (int x = 0; x < span * c; x++)
					blend[x] = ty->wfill[j] * fb[x % 3];
			}
			vblend_u8(blend, src, ty->first[j], (size_t)cmin * (size_t)c, w, ty->count[j], span * c, set,
				  ty->wfill[j] * fb[0]);
			if (c == 3)
				split3(P[0], P[1], P[2], blend, span);
			hrow(P, c, cmin, tx, d, fb, blocked);
			for (int ch = 0; ch < c; ch++)
				fill_columns(d[ch], tx, fa[ch]);
		}
		return;
	}

	/* Horizontal first: the source rows the vertical taps need, into
	 * planes of out_w floats. */
	for (int r = rmin; r <= rmax; r++) {
		const uint8_t *s = aug_image_row(src, r);
		float *h = hbuf + (size_t)(r - rmin) * (size_t)ow, *hp[3];

		if (ident) {
			for (int i = 0; i < ow; i++) {
				const uint8_t *sp = s + (size_t)tx->first[i] * (size_t)c;

				for (int ch = 0; ch < c; ch++)
					h[(size_t)ch * plane_in + (size_t)i] = tx->count[i] ? sp[ch] : fb[ch];
			}
			continue;
		}
		s += (size_t)cmin * (size_t)c;
		if (c == 3)
			to_float3(P[0], P[1], P[2], s, span);
		else
			to_float(P[0], s, span);
		for (int ch = 0; ch < c; ch++)
			hp[ch] = h + (size_t)ch * plane_in;
		hrow(P, c, cmin, tx, hp, fb, blocked);
	}
	/* Vertical, plane by plane, row by row: contiguous multiply-adds. */
	for (int ch = 0; ch < c; ch++) {
		float *out = dst->p + (size_t)ch * plane_out;
		const float *hin = hbuf + (size_t)ch * plane_in;

		for (int j = 0; j < oh; j++) {
			float *d = out + (size_t)j * (size_t)ow;
			const float *w = ty->w + (size_t)j * (size_t)ty->max_taps;

			if (ty->fill_all[j]) {
				vset(d, fa[ch], ow);
				continue;
			}
			if (!ty->count[j])
				vset(d, ty->wfill[j] * fb[ch], ow);
			for (int t = 0; t < ty->count[j]; t++)
				vaxpy(d, hin + (size_t)(ty->first[j] + t - rmin) * (size_t)ow, w[t], ow, t == 0,
				      ty->wfill[j] * fb[ch]);
			fill_columns(d, tx, fa[ch]);
		}
	}
}

/* ---- Colour on planes --------------------------------------------------- */

HOT static void scale_clamp(float *restrict p, size_t n, float f, float add)
{
	for (size_t i = 0; i < n; i++) {
		float v = p[i] * f + add;

		p[i] = clamp255(v);
	}
}

HOT static double luma_sum(const float *restrict r, const float *restrict g, const float *restrict b, size_t n)
{
	float acc[16] = { 0 };
	double sum = 0;
	size_t i = 0;

	/* Sixteen partial sums (one AVX-512 vector) keep the float additions
	 * exact enough and vectorisable. */
	for (; i + 16 <= n; i += 16)
		for (int k = 0; k < 16; k++)
			acc[k] += 0.299f * r[i + k] + 0.587f * g[i + k] + 0.114f * b[i + k];
	for (; i < n; i++)
		sum += 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
	for (int k = 0; k < 16; k++)
		sum += acc[k];
	return sum;
}

static double plane_sum(const float *p, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return sum;
}

HOT static void saturate(float *restrict r, float *restrict g, float *restrict b, size_t n, float f)
{
	for (size_t i = 0; i < n; i++) {
		float grey = (1.0f - f) * (0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i]);
		float vr = f * r[i] + grey, vg = f * g[i] + grey, vb = f * b[i] + grey;

		r[i] = clamp255(vr);
		g[i] = clamp255(vg);
		b[i] = clamp255(vb);
	}
}

/* HSV hue rotation, branch-free so it vectorises. A rotation keeps each
 * pixel's max (V) and min (V(1-S)), so with d = max - min and the hue h in
 * sextants [0, 6), HSV->RGB gives channel n (5 for R, 3 for G, 1 for B)
 *   max - d * max(0, min(k, 4 - k, 1)),   k = (n + h) mod 6
 * (the closed form of the sextant table; Wikipedia "HSL and HSV", "HSV to
 * RGB alternative"). That weight is clamp(e - 1, 0, 1), e being the
 * circular distance from h to the channel's own hue (0, 2 or 4 sextants),
 * which costs fewer operations: the channel is
 *   (max + d) - d * clamp(e, 1, 2).
 * The hue comes from the same cases as rgb_to_hsv, written as selects.
 * Everything is worked in units of d/6 of a turn, H = d * h, which needs
 * no division: d * clamp(e, 1, 2) = clamp(d * e, d, 2 d), and the hue is
 * brought into [0, 6 d) by adding or taking 6 d once (the shift is first
 * brought within half a turn, 3 sextants, so H starts in [-4 d, 8 d]). A
 * grey pixel (d = 0) keeps its value. */

/* clamp(circular distance from H to c on [0, six), d, 2 d) */
static inline float hue_distance(float H, float c, float d, float six)
{
	float e = H - c;

	e = e < 0.0f ? -e : e;
	e = fmin2(e, six - e);
	return fmin2(fmax2(e, d), d + d);
}

HOT static void hue_rotate(float *restrict r, float *restrict g, float *restrict b, size_t n, float shift)
{
	float s6;

	/* The same turn within half a turn either way, whatever the caller
	 * passed (color_jitter's shifts are within it already). */
	shift -= floorf(shift + 0.5f);
	s6 = shift * 6.0f;

	for (size_t i = 0; i < n; i++) {
		float R = r[i], G = g[i], B = b[i];
		float mx = fmax2(R, fmax2(G, B)), mn = fmin2(R, fmin2(G, B)), d = mx - mn;
		float H0 = G - B, H1 = 2.0f * d + (B - R), H2 = 4.0f * d + (R - G);
		float H = mx == R ? H0 : mx == G ? H1 : H2;
		float top = mx + d, six = 6.0f * d;

		H += s6 * d;
		H = H < 0.0f ? H + six : H;
		H = H >= six ? H - six : H;
		r[i] = top - hue_distance(H, 0.0f, d, six);
		g[i] = top - hue_distance(H, 2.0f * d, d, six);
		b[i] = top - hue_distance(H, 4.0f * d, d, six);
	}
}

/* Pixels per chunk of the colour stages: three planes of it (12 KiB) stay
 * in L1 while every operation of a stage runs over them in turn. */
#define CHUNK 1024

/* One of color_jitter's operations (0 brightness, 2 saturation, 3 hue) on
 * n pixels of the planes, or contrast (1) with the blend's `add` term. */
static void jitter_op(int op, float *const *pl, int c, size_t n, const struct draw *d, float add)
{
	switch (op) {
	case 0:
		for (int ch = 0; ch < c; ch++)
			scale_clamp(pl[ch], n, (float)d->f_bright, 0.0f);
		break;
	case 1:
		for (int ch = 0; ch < c; ch++)
			scale_clamp(pl[ch], n, (float)d->f_contrast, add);
		break;
	case 2:
		saturate(pl[0], pl[1], pl[2], n, (float)d->f_sat);
		break;
	default:
		hue_rotate(pl[0], pl[1], pl[2], n, (float)d->f_hue);
		break;
	}
}

/* color_jitter chunk by chunk: the operations before contrast and the sum
 * of the grey levels it needs in one sweep, contrast and the rest in a
 * second (one sweep when contrast is left out). */
static void jitter_planes(struct fplanes *im, const struct draw *d)
{
	size_t n = (size_t)im->w * (size_t)im->h;
	int ops[4], nops = 0, split = -1;
	double sum = 0;
	float add = 0;

	for (int k = 0; k < 4; k++) {
		int op = d->order[k];

		if ((op == 0 && d->f_bright != 1) || (op == 1 && d->f_contrast != 1) ||
		    (op == 2 && d->f_sat != 1 && im->c == 3) || (op == 3 && d->f_hue != 0 && im->c == 3)) {
			if (op == 1)
				split = nops;
			ops[nops++] = op;
		}
	}
	for (int sweep = split < 0 ? 1 : 0; sweep < 2; sweep++) {
		int from = sweep == 0 ? 0 : split < 0 ? 0 : split, to = sweep == 0 ? split : nops;

		for (size_t x = 0; x < n; x += CHUNK) {
			size_t len = n - x < CHUNK ? n - x : CHUNK;
			float *pl[3] = { im->p + x, im->p + n + x, im->p + 2 * n + x };

			for (int k = from; k < to; k++)
				jitter_op(ops[k], pl, im->c, len, d, add);
			if (sweep == 0)
				sum += im->c == 3 ? luma_sum(pl[0], pl[1], pl[2], len) : plane_sum(pl[0], len);
		}
		if (sweep == 0)
			add = (float)((1 - d->f_contrast) * (sum / (double)n));
	}
}

/* HSL jitter per pixel, on the 0..255 scale (see stages/color.c). */
static void hsl_planes(struct fplanes *im, const struct draw *d)
{
	size_t n = (size_t)im->w * (size_t)im->h;
	float *r = im->p, *g = im->p + n, *b = im->p + 2 * n;
	double dh = d->hsl_hue / 360.0;

	if (im->c == 1) {
		scale_clamp(r, n, (float)d->hsl_light, 0.0f);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double h, s, l, R, G, B;

		aug__rgb_to_hsl(r[i] / 255.0, g[i] / 255.0, b[i] / 255.0, &h, &s, &l);
		s = fmin(1, s * d->hsl_sat);
		l = fmin(1, l * d->hsl_light);
		aug__hsl_to_rgb(h + dh, s, l, &R, &G, &B);
		r[i] = (float)(R * 255);
		g[i] = (float)(G * 255);
		b[i] = (float)(B * 255);
	}
}

static void gray_planes(struct fplanes *im, int channels)
{
	size_t n = (size_t)im->w * (size_t)im->h;
	float *r = im->p, *g = im->p + n, *b = im->p + 2 * n;

	if (im->c == 3) {
		for (size_t i = 0; i < n; i++)
			r[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
	}
	if (channels == 3) {
		memcpy(im->p + n, im->p, n * sizeof(float));
		memcpy(im->p + 2 * n, im->p, n * sizeof(float));
	}
	im->c = channels;
}

static void cutout_planes(struct fplanes *im, const struct stage *st, const struct draw *d, aug_key key, int stage)
{
	size_t n = (size_t)im->w * (size_t)im->h;
	float value[3];

	if (st->fill.mode == FILL_MEAN) {
		for (int ch = 0; ch < im->c; ch++)
			value[ch] = (float)lrint(plane_sum(im->p + (size_t)ch * n, n) / (double)n);
	} else if (im->c == 1) {
		value[0] = (float)lrint(aug__luma(st->fill.rgb[0], st->fill.rgb[1], st->fill.rgb[2]));
	} else {
		for (int ch = 0; ch < 3; ch++)
			value[ch] = st->fill.rgb[ch];
	}
	for (int k = 0; k < d->nholes; k++) {
		const struct hole *h = &d->holes[k];
		int x0 = h->x < 0 ? 0 : h->x, y0 = h->y < 0 ? 0 : h->y;
		int x1 = h->x + h->w > im->w ? im->w : h->x + h->w;
		int y1 = h->y + h->h > im->h ? im->h : h->y + h->h;
		aug_rng r = aug_rng_stream(key.seed, key.epoch, key.index, ((uint64_t)(stage + 1) << 32) | (uint64_t)k);

		for (int y = h->y; y < h->y + h->h; y++) {
			for (int x = h->x; x < h->x + h->w; x++) {
				uint64_t bits = st->fill.mode == FILL_RANDOM ? aug_rng_next(&r) : 0;

				if (y < y0 || y >= y1 || x < x0 || x >= x1)
					continue;
				for (int ch = 0; ch < im->c; ch++)
					im->p[(size_t)ch * n + (size_t)y * (size_t)im->w + (size_t)x] =
						st->fill.mode == FILL_RANDOM ? (float)(uint8_t)(bits >> (8 * ch)) : value[ch];
			}
		}
	}
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void aug__planes_post(const aug_pipeline *p, const struct plan *pl, aug_key key, struct fplanes *im, double *times)
{
	for (int k = 0; k < pl->npost; k++) {
		const struct post_op *op = &pl->post[k];
		const struct stage *st = &p->stages[op->stage];
		double t0 = times ? seconds() : 0;

		switch (st->kind) {
		case ST_COLOR_JITTER:
			jitter_planes(im, &op->draw);
			break;
		case ST_HSL_JITTER:
			hsl_planes(im, &op->draw);
			break;
		case ST_CUTOUT:
			cutout_planes(im, st, &op->draw, key, op->stage);
			break;
		case ST_GRAYSCALE:
			gray_planes(im, op->draw.out_c);
			break;
		default:
			break;
		}
		if (times)
			times[st->kind == ST_CUTOUT ? AUG_PHASE_CUTOUT : AUG_PHASE_COLOR] += seconds() - t0;
	}
}

/* ---- Store --------------------------------------------------------------- */

/* d = round(clamp(s, 0, 255)) * scale + shift: round to the 8-bit level
 * first, as the reference path and an image written to disk do. */
HOT static void quantise_store(float *restrict d, const float *restrict s, size_t n, float scale, float shift)
{
	for (size_t i = 0; i < n; i++) {
		float v = clamp255(s[i]);

		d[i] = nearbyintf(v) * scale + shift;
	}
}

void aug__planes_store_f32(const struct fplanes *im, const aug_pipeline *p, float *dst)
{
	const struct stage *norm = aug_pipeline_normalizes(p) ? &p->stages[p->count - 1] : NULL;
	size_t n = (size_t)im->w * (size_t)im->h;

	for (int ch = 0; ch < im->c; ch++) {
		/* (v/255 - mean)/std as scale * v + shift. */
		float scale = 1.0f / 255.0f, shift = 0.0f;
		float *d = dst + (size_t)ch * n;
		const float *s = im->p + (size_t)ch * n;

		if (norm) {
			scale = 1.0f / (255.0f * norm->std[ch]);
			shift = -norm->mean[ch] / norm->std[ch];
		}
		quantise_store(d, s, n, scale, shift);
	}
}

/* Round and clamp floats to bytes (vectorised). */
HOT static void to_bytes(uint8_t *restrict d, const float *restrict s, int n)
{
	for (int x = 0; x < n; x++) {
		float v = clamp255(s[x]);

		d[x] = (uint8_t)(int)(v + 0.5f);
	}
}

/* Three planar float rows as one row of interleaved RGB bytes, rounded and
 * clamped as to_bytes() does (the compiler interleaves with permutes). */
HOT static void to_bytes3(uint8_t *restrict d, const float *restrict r, const float *restrict g,
			  const float *restrict b, int n)
{
	for (int x = 0; x < n; x++) {
		d[3 * x] = (uint8_t)(int)(clamp255(r[x]) + 0.5f);
		d[3 * x + 1] = (uint8_t)(int)(clamp255(g[x]) + 0.5f);
		d[3 * x + 2] = (uint8_t)(int)(clamp255(b[x]) + 0.5f);
	}
}

void aug__planes_to_image(const struct fplanes *im, aug_image *out)
{
	size_t n = (size_t)im->w * (size_t)im->h;

	for (int y = 0; y < im->h; y++) {
		uint8_t *d = aug_image_row(out, y);
		size_t row = (size_t)y * (size_t)im->w;

		if (im->c == 1)
			to_bytes(d, im->p + row, im->w);
		else
			to_bytes3(d, im->p + row, im->p + n + row, im->p + 2 * n + row, im->w);
	}
}
