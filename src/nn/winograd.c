/* 3x3 stride-1 convolution as Winograd F(2x2, 3x3) (Lavin & Gray 2016).
 *
 * Each 2x2 block of outputs ("tile") of a plane comes from a 4x4 block d of
 * the (zero-padded) input, and for every pair of channels
 *
 *     y = A^T [ (G g G^T) o (B^T d B) ] A
 *
 * with the matrices below; summed over the input channels, the 16 products
 * o become 16 GEMMs, one per position xi of the 4x4 transformed tile:
 *
 *     M[xi] (K, T) = U[xi] (K, C) x V[xi] (C, T)
 *
 * U = G g G^T the transformed filters, V = B^T d B the transformed input
 * tiles, T the tiles of a slice of images. That is 16 * K * C * T
 * multiply-adds where im2col + GEMM does 36 * K * C * T: 2.25x fewer.
 *
 * Everything is linear, so the backward pass is the adjoint of each step:
 * dM = A dY A^T, dU[xi] = dM[xi] V[xi]^T, dV[xi] = U[xi]^T dM[xi],
 * din += B dV B^T (tiles overlap: added), dweight += G^T dU G. These are the
 * exact gradients of the computation above, which equals the convolution
 * up to rounding (float32 differs from im2col by ~1e-6 relative).
 *
 * The work is cut by images (see "groups and slices" below): a thread
 * takes a group of images and runs them a slice at a time through the
 * input transform, the 16 GEMMs and the output transform, so a slice's V
 * and M (AUG__WINO_SLICE elements at most) are written and read in the
 * same core's cache; cut by GEMMs instead, each thread read back what the
 * other had just written, and the transforms did not speed up at all from
 * one thread to two. Workspace (aug__wino_cols): U, then per group a
 * slice's V and M and the group's dU, in that order (the vector reads of
 * the transforms rely on V being followed by M, and M by dU). Backward
 * transforms the input again rather than keep V from forward: kept, V would
 * be 4x the layer's input (12.8 MB for the reference model's second
 * convolution at batch 128) and leave the cache; transformed again, it
 * costs a few percent of a step. im2col's columns are rebuilt for the same
 * reason.
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 */
#include <string.h>

#include "vec.h"

#define XI 16 /* positions of a transformed tile */

/* One column or row of a filter through G, and its adjoint. */
static inline void g3(const real g[3], real u[4])
{
	u[0] = g[0];
	u[1] = (g[0] + g[1] + g[2]) * (real)0.5;
	u[2] = (g[0] - g[1] + g[2]) * (real)0.5;
	u[3] = g[2];
}

static inline void g3_adj(const real u[4], real g[3])
{
	g[0] = u[0] + (u[1] + u[2]) * (real)0.5;
	g[1] = (u[1] - u[2]) * (real)0.5;
	g[2] = (u[1] + u[2]) * (real)0.5 + u[3];
}

/* A chunk of nb images cut into 2x2 output tiles: th x tw a plane, tc in
 * the chunk; the transformed planes (C of V, K of M) are rows of tc, and
 * position xi of them starts at xi * xstride. */
struct tiling {
	int th, tw;
	size_t tc, xstride;
};

static struct tiling tiling_of(const aug__conv_geom *g, int nb, int planes)
{
	struct tiling tl = { (g->p + 1) / 2, (g->q + 1) / 2, 0, 0 };

	tl.tc = (size_t)nb * tl.th * tl.tw;
	tl.xstride = (size_t)planes * tl.tc;
	return tl;
}

/* U[xi] (K, C) from weight (K, C, 3, 3). */
static void filter_transform(const aug__conv_geom *g, const real *weight, real *u)
{
	const size_t kc = (size_t)g->k * g->c;

#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < kc; i++) {
		const real *w = weight + i * 9;
		real t[4][3], r[4][4];

		/* G g: columns first */
		for (int s = 0; s < 3; s++) {
			real col[3] = { w[s], w[3 + s], w[6 + s] }, o[4];

			g3(col, o);
			for (int a = 0; a < 4; a++)
				t[a][s] = o[a];
		}
		/* then (G g) G^T along rows */
		for (int a = 0; a < 4; a++)
			g3(t[a], r[a]);
		for (int a = 0; a < 4; a++)
			for (int b = 0; b < 4; b++)
				u[(size_t)(a * 4 + b) * kc + i] = r[a][b];
	}
}

/* dweight (K, C, 3, 3) += G^T dU[xi] G. */
static void filter_transform_adj(const aug__conv_geom *g, const real *du, real *dweight)
{
	const size_t kc = (size_t)g->k * g->c;

#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < kc; i++) {
		real t[4][3], r[3][3];

		for (int a = 0; a < 4; a++) {
			real row[4];

			for (int b = 0; b < 4; b++)
				row[b] = du[(size_t)(a * 4 + b) * kc + i];
			g3_adj(row, t[a]);
		}
		for (int s = 0; s < 3; s++) {
			real col[4] = { t[0][s], t[1][s], t[2][s], t[3][s] }, o[3];

			g3_adj(col, o);
			for (int rr = 0; rr < 3; rr++)
				r[rr][s] = o[rr];
		}
		for (int rr = 0; rr < 3; rr++)
			for (int s = 0; s < 3; s++)
				dweight[i * 9 + (size_t)rr * 3 + s] += r[rr][s];
	}
}

/* ---- the tile transforms, eight tiles of a row at a time ---------------
 *
 * Tiles along a row are the lanes of GCC vectors (VL of them): a plane is
 * first copied into a zero-padded band buffer (edges and padding become
 * plain zeros, no bounds checks per element), the 4x4 inputs of VL
 * neighbouring tiles come out of it as even and odd columns, and the
 * results go to the VL consecutive tiles of each position's row of V or
 * M. A vector that runs past the last tile of a row spills into the next
 * row's first tiles, which are written after it; only the plane's last
 * tiles (and the tiles of a row cut into segments) are stored lane by lane.
 * Lane for lane the arithmetic is the scalar formula's, so every clone
 * gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__)
/* Rows here are a few dozen elements: GCC would turn the copy and zero
 * loops into memcpy and memset calls, which cost more than the loops
 * (4% of a step on two threads). */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* The band buffer, in elements; a tile row's segment is at most SEG tiles
 * wide, so that a band holds at least one tile row (4 rows of 2 SEG + 2;
 * see each_band()). */
#define BAND 4096
#define SEG 504

/* The columns [lo, hi) of [0, ncols) that fall inside a row of w
 * starting at x0. */
static inline void cols_inside(int x0, int ncols, int w, int *lo, int *hi)
{
	*lo = x0 < 0 ? (-x0 < ncols ? -x0 : ncols) : 0;
	*hi = w - x0 < ncols ? w - x0 : ncols;
	*hi = *hi < *lo ? *lo : *hi;
}

/* rows [y0, y0 + nrows) x columns [x0, x0 + ncols) of the (h, w) plane
 * src into buf (row stride ncols), zero outside the plane. */
static inline void band_get(const real *src, int h, int w, int y0, int nrows, int x0, int ncols, real *buf)
{
	int lo, hi;

	cols_inside(x0, ncols, w, &lo, &hi);
	for (int r = 0; r < nrows; r++) {
		const int y = y0 + r;
		real *row = buf + (size_t)r * ncols;

		if (y < 0 || y >= h) {
			for (int c = 0; c < ncols; c++)
				row[c] = 0;
			continue;
		}
		/* index from the row's start: x0 may be negative, and a
		 * pointer before the plane is undefined even unread */
		const real *s = src + (size_t)y * w;

		for (int c = 0; c < lo; c++)
			row[c] = 0;
		for (int c = lo; c < hi; c++)
			row[c] = s[x0 + c];
		for (int c = hi; c < ncols; c++)
			row[c] = 0;
	}
}

/* The inverse: the part of buf (rows [y0, y0 + nrows), columns [x0, x0 +
 * ncols) of the plane) that lies inside the (h, w) plane dst, stored or
 * added. */
static inline void band_out(real *dst, int h, int w, int y0, int nrows, int x0, int ncols, const real *buf,
			    bool add)
{
	int lo, hi;

	cols_inside(x0, ncols, w, &lo, &hi);
	for (int r = 0; r < nrows; r++) {
		const int y = y0 + r;
		const real *row = buf + (size_t)r * ncols;
		real *d;

		if (y < 0 || y >= h)
			continue;
		d = dst + (size_t)y * w; /* as in band_get */
		if (add) {
			for (int c = lo; c < hi; c++)
				d[x0 + c] += row[c];
		} else {
			for (int c = lo; c < hi; c++)
				d[x0 + c] = row[c];
		}
	}
}

/* The 16 positions of VL tiles from/to the transformed layout: position xi
 * at xi * xstride, the tiles at `at` of a plane of `tiles`. Whole vectors
 * where they stay inside the plane's tiles (and may spill, see above),
 * lane by lane for the last `nl` otherwise. */
static inline void tiles_put(real *d, size_t xstride, int at, int nl, bool spill, int tiles, vreal r[4][4])
{
	if (spill && at + VL <= tiles) {
		for (int xi = 0; xi < XI; xi++)
			vstore(d + (size_t)xi * xstride + at, r[xi / 4][xi % 4]);
		return;
	}
	for (int xi = 0; xi < XI; xi++)
		for (int l = 0; l < nl; l++)
			d[(size_t)xi * xstride + at + l] = r[xi / 4][xi % 4][l];
}

/* Lanes past the last `nl` read as zeros. The vectors are read whole:
 * past a plane's last tile lie the next plane's, or the next position's,
 * and past the last position's of V (or dV) lies M, past M's the group's
 * dU (see the top of the file), so a read stays inside the workspace; a
 * load made of lane-by-lane writes would stall on store forwarding every
 * time. */
static inline void tiles_get(const real *s, size_t xstride, int at, int nl, vreal r[4][4])
{
	const vbits keep = lanes_below(nl);

	for (int xi = 0; xi < XI; xi++)
		r[xi / 4][xi % 4] = (vreal)((vbits)vload(s + (size_t)xi * xstride + at) & keep);
}

/* r = B^T d B: down the columns, then along the rows. */
static inline void bt_tile(vreal d[4][4], vreal r[4][4])
{
	vreal t[4][4];

	for (int b = 0; b < 4; b++) {
		t[0][b] = d[0][b] - d[2][b];
		t[1][b] = d[1][b] + d[2][b];
		t[2][b] = d[2][b] - d[1][b];
		t[3][b] = d[1][b] - d[3][b];
	}
	for (int a = 0; a < 4; a++) {
		r[a][0] = t[a][0] - t[a][2];
		r[a][1] = t[a][1] + t[a][2];
		r[a][2] = t[a][2] - t[a][1];
		r[a][3] = t[a][1] - t[a][3];
	}
}

/* d = B r B^T, the adjoint: along the rows, then down the columns. */
static inline void bt_tile_adj(vreal r[4][4], vreal d[4][4])
{
	vreal t[4][4];

	for (int a = 0; a < 4; a++) {
		t[a][0] = r[a][0];
		t[a][1] = r[a][1] - r[a][2] + r[a][3];
		t[a][2] = r[a][1] + r[a][2] - r[a][0];
		t[a][3] = -r[a][3];
	}
	for (int b = 0; b < 4; b++) {
		d[0][b] = t[0][b];
		d[1][b] = t[1][b] - t[2][b] + t[3][b];
		d[2][b] = t[1][b] + t[2][b] - t[0][b];
		d[3][b] = -t[3][b];
	}
}

/* y = A^T m A: along the rows, then down the columns. */
static inline void at_tile(vreal m[4][4], vreal y[2][2])
{
	vreal t[4][2];

	for (int a = 0; a < 4; a++) {
		t[a][0] = m[a][0] + m[a][1] + m[a][2];
		t[a][1] = m[a][1] - m[a][2] - m[a][3];
	}
	for (int b = 0; b < 2; b++) {
		y[0][b] = t[0][b] + t[1][b] + t[2][b];
		y[1][b] = t[1][b] - t[2][b] - t[3][b];
	}
}

/* m = A y A^T, the adjoint: down the columns, then along the rows. */
static inline void at_tile_adj(vreal y[2][2], vreal m[4][4])
{
	vreal t[4][2];

	for (int b = 0; b < 2; b++) {
		t[0][b] = y[0][b];
		t[1][b] = y[0][b] + y[1][b];
		t[2][b] = y[0][b] - y[1][b];
		t[3][b] = -y[1][b];
	}
	for (int a = 0; a < 4; a++) {
		m[a][0] = t[a][0];
		m[a][1] = t[a][0] + t[a][1];
		m[a][2] = t[a][0] - t[a][1];
		m[a][3] = -t[a][1];
	}
}

/* A band of one plane's tiles: tile rows [t0, t0 + nr) of the segment of
 * tiles [ts, ts + ns) of a row of tw (ns8: ns rounded up to whole
 * vectors), th x tw tiles in all; its buffer rows are `width` long. */
struct band {
	int th, tw;
	int ts, ns, ns8;
	int t0, nr;
	int width;
};

/* Lanes of the vector at tile tj of the band that are real tiles. */
static inline int band_lanes(struct band b, int tj)
{
	return b.ns - tj < VL ? b.ns - tj : VL;
}

/* Where tile (ti, tj) of the band sits in the plane's transformed row. */
static inline int band_at(struct band b, int ti, int tj)
{
	return (b.t0 + ti) * b.tw + b.ts + tj;
}

/* (The band, eight ints, goes by value: nothing a store to the buffers
 * does can then touch its bounds.) */
typedef void band_fn(const aug__conv_geom *g, struct band b, size_t xstride, const real *src, real *dst,
		     real *buf);

/* fn on every band of a plane of th x tw tiles, segment by segment (SEG
 * tiles at most) and band by band (as many tile rows as fit BAND). A tile
 * row takes two buffer rows of two columns per tile, plus `extra` rows and
 * columns: 2 on the input side (a tile reads 4 x 4 values), 0 on the
 * output side (2 x 2). Inlined with fn into each transform. */
#if defined(__GNUC__)
/* into the clone that calls it: left to itself, GCC made one baseline
 * copy per transform, outside the clones, and the transforms ran 1.6x
 * slower */
__attribute__((always_inline))
#endif
static inline void each_band(const aug__conv_geom *g, int th, int tw, int extra, size_t xstride, const real *src,
			     real *dst, band_fn *fn)
{
	real buf[BAND];

	for (int ts = 0; ts < tw; ts += SEG) {
		struct band b = { th, tw, ts, tw - ts < SEG ? tw - ts : SEG, 0, 0, 0, 0 };
		int per;

		b.ns8 = (b.ns + VL - 1) / VL * VL;
		b.width = 2 * b.ns8 + extra;
		per = (BAND / b.width - extra) / 2;
		per = per < 1 ? 1 : per;
		for (b.t0 = 0; b.t0 < th; b.t0 += per) {
			b.nr = th - b.t0 < per ? th - b.t0 : per;
			fn(g, b, xstride, src, dst, buf);
		}
	}
}

/* The even and odd columns of row[0, 2 VL): column 2l + c of VL tiles
 * side by side, c = 0 in *e and 1 in *o. */
static inline void even_odd(const real *row, vreal *e, vreal *o)
{
	const vreal lo = vload(row), hi = vload(row + VL);

	*e = EVEN(lo, hi);
	*o = ODD(lo, hi);
}

/* V: B^T d B of the band's tiles, position xi of tile t at
 * dst[xi * xstride + t]. */
static inline void input_band(const aug__conv_geom *g, struct band b, size_t xstride, const real *src,
			      real *dst, real *buf)
{
	band_get(src, g->h, g->w, 2 * b.t0 - g->pad, 2 * b.nr + 2, 2 * b.ts - g->pad, b.width, buf);
	for (int ti = 0; ti < b.nr; ti++) {
		for (int tj = 0; tj < b.ns; tj += VL) {
			vreal d[4][4], r[4][4];

			for (int a = 0; a < 4; a++) {
				const real *row = buf + (size_t)(2 * ti + a) * b.width + 2 * tj;

				even_odd(row, &d[a][0], &d[a][1]);
				even_odd(row + 2, &d[a][2], &d[a][3]);
			}
			bt_tile(d, r);
			tiles_put(dst, xstride, band_at(b, ti, tj), band_lanes(b, tj), b.ns == b.tw, b.th * b.tw,
				  r);
		}
	}
}

/* din += the sum over the band's tiles of B dV B^T. Tiles overlap by two
 * rows and columns: the band's sums are added into the plane, and along a
 * row each tile's right half meets its right neighbour's left half in the
 * same vector (FROM_LEFT). */
static inline void input_adj_band(const aug__conv_geom *g, struct band b, size_t xstride, const real *src,
				  real *dst, real *buf)
{
	for (size_t i = 0; i < (size_t)(2 * b.nr + 2) * b.width; i++)
		buf[i] = 0;
	for (int ti = 0; ti < b.nr; ti++) {
		vreal left2[4] = { { 0 } }, left3[4] = { { 0 } };

		for (int tj = 0; tj < b.ns; tj += VL) {
			vreal r[4][4], d[4][4];

			tiles_get(src, xstride, band_at(b, ti, tj), band_lanes(b, tj), r);
			bt_tile_adj(r, d);
			for (int a = 0; a < 4; a++) {
				real *row = buf + (size_t)(2 * ti + a) * b.width + 2 * tj;
				const vreal e = d[a][0] + FROM_LEFT(left2[a], d[a][2]);
				const vreal o = d[a][1] + FROM_LEFT(left3[a], d[a][3]);

				vstore(row, vload(row) + ZIP_LO(e, o));
				vstore(row + VL, vload(row + VL) + ZIP_HI(e, o));
				left2[a] = d[a][2];
				left3[a] = d[a][3];
			}
		}
		for (int a = 0; a < 4; a++) {
			real *row = buf + (size_t)(2 * ti + a) * b.width + 2 * b.ns8;

			row[0] += left2[a][VL - 1];
			row[1] += left3[a][VL - 1];
		}
	}
	band_out(dst, g->h, g->w, 2 * b.t0 - g->pad, 2 * b.nr + 2, 2 * b.ts - g->pad, b.width, buf, true);
}

/* out (p, q) = A^T M A of the band's tiles. */
static inline void output_band(const aug__conv_geom *g, struct band b, size_t xstride, const real *src,
			       real *dst, real *buf)
{
	for (int ti = 0; ti < b.nr; ti++) {
		for (int tj = 0; tj < b.ns; tj += VL) {
			vreal r[4][4], y[2][2];

			tiles_get(src, xstride, band_at(b, ti, tj), band_lanes(b, tj), r);
			at_tile(r, y);
			for (int a = 0; a < 2; a++) {
				real *row = buf + (size_t)(2 * ti + a) * b.width + 2 * tj;

				vstore(row, ZIP_LO(y[a][0], y[a][1]));
				vstore(row + VL, ZIP_HI(y[a][0], y[a][1]));
			}
		}
	}
	band_out(dst, g->p, g->q, 2 * b.t0, 2 * b.nr, 2 * b.ts, b.width, buf, false);
}

/* dM: A dY A^T of the band's tiles from dout (p, q), outputs past a
 * partial tile's edge counting as zero. */
static inline void output_adj_band(const aug__conv_geom *g, struct band b, size_t xstride, const real *src,
				   real *dst, real *buf)
{
	band_get(src, g->p, g->q, 2 * b.t0, 2 * b.nr, 2 * b.ts, b.width, buf);
	for (int ti = 0; ti < b.nr; ti++) {
		for (int tj = 0; tj < b.ns; tj += VL) {
			vreal y[2][2], r[4][4];

			for (int a = 0; a < 2; a++) {
				even_odd(buf + (size_t)(2 * ti + a) * b.width + 2 * tj, &y[a][0], &y[a][1]);
			}
			at_tile_adj(y, r);
			tiles_put(dst, xstride, band_at(b, ti, tj), band_lanes(b, tj), b.ns == b.tw, b.th * b.tw,
				  r);
		}
	}
}

/* One plane each, the clones' entry points: V from in, din from dV (the
 * plane zeroed first, the bands added), out from M, dM from dout. */
AUG__HOT static void input_plane(const aug__conv_geom *g, int th, int tw, size_t xstride, const real *src,
				 real *dst)
{
	each_band(g, th, tw, 2, xstride, src, dst, input_band);
}

AUG__HOT static void input_adj_plane(const aug__conv_geom *g, int th, int tw, size_t xstride, const real *src,
				     real *dst)
{
	for (size_t i = 0; i < (size_t)g->h * g->w; i++)
		dst[i] = 0;
	each_band(g, th, tw, 2, xstride, src, dst, input_adj_band);
}

AUG__HOT static void output_plane(const aug__conv_geom *g, int th, int tw, size_t xstride, const real *src,
				  real *dst)
{
	each_band(g, th, tw, 0, xstride, src, dst, output_band);
}

AUG__HOT static void output_adj_plane(const aug__conv_geom *g, int th, int tw, size_t xstride, const real *src,
				      real *dst)
{
	each_band(g, th, tw, 0, xstride, src, dst, output_adj_band);
}

/* The four transforms over a slice of nb images, [n0, n0 + nb) of n, one
 * plane after another (the slice is one task): `fn` on each (channel,
 * image) plane, between the layer's tensor (planes of `plane` elements:
 * in, din, out or dout) and the transformed layout (V, dV, M or dM: `planes`
 * channels of tc tiles, image j at j * th * tw). `from_tensor` says which
 * side fn reads. */
typedef void plane_fn(const aug__conv_geom *g, int th, int tw, size_t xstride, const real *src, real *dst);

static void each_plane(const aug__conv_geom *g, int n, int n0, int nb, int planes, size_t plane,
		       bool from_tensor, const real *src, real *dst, plane_fn *fn)
{
	const struct tiling tl = tiling_of(g, nb, planes);
	const size_t pt = (size_t)tl.th * tl.tw;

	for (int c = 0; c < planes; c++) {
		for (int j = 0; j < nb; j++) {
			const size_t at = ((size_t)c * n + n0 + j) * plane, tiles = (size_t)c * tl.tc + (size_t)j * pt;

			if (from_tensor)
				fn(g, tl.th, tl.tw, tl.xstride, src + at, dst + tiles);
			else
				fn(g, tl.th, tl.tw, tl.xstride, src + tiles, dst + at);
		}
	}
}

/* V (C, T) from in (C, N, H, W) */
static void input_transform(const aug__conv_geom *g, int n, int n0, int nb, const real *in, real *v)
{
	each_plane(g, n, n0, nb, g->c, (size_t)g->h * g->w, true, in, v, input_plane);
}

/* din from dV, overwritten */
static void input_transform_adj(const aug__conv_geom *g, int n, int n0, int nb, const real *dv, real *din)
{
	each_plane(g, n, n0, nb, g->c, (size_t)g->h * g->w, false, dv, din, input_adj_plane);
}

/* out (K, N, P, Q) from M (K, T) */
static void output_transform(const aug__conv_geom *g, int n, int n0, int nb, const real *m, real *out)
{
	each_plane(g, n, n0, nb, g->k, (size_t)g->p * g->q, false, m, out, output_plane);
}

/* dM from dout */
static void output_transform_adj(const aug__conv_geom *g, int n, int n0, int nb, const real *dout, real *dm)
{
	each_plane(g, n, n0, nb, g->k, (size_t)g->p * g->q, true, dout, dm, output_adj_plane);
}

/* ---- groups and slices ---------------------------------------------------
 *
 * The batch is cut into AUG__WINO_GROUPS groups of images (fewer for a
 * smaller batch), fixed by n alone; each group is one task that runs its
 * images slice by slice (nb at a time) through transform, 16 GEMMs and
 * transform back, in its own part of the workspace, so the data a thread
 * writes is the data it reads next, in its own cache. A GEMM called inside
 * the parallel region is single-threaded (gemm.c). The weight gradient is
 * summed per group over its slices in order, then over the groups in
 * order: the bits do not depend on the number of threads. */
static int groups_of(int n)
{
	return n < AUG__WINO_GROUPS ? n : AUG__WINO_GROUPS;
}

/* Group gi's part of the workspace: a slice's V and M, then its dU. */
static real *group_work(const aug__conv_geom *g, int nb, real *work, int gi)
{
	const size_t kc16 = (size_t)XI * g->k * g->c;

	return work + kc16 + (size_t)gi * (aug__wino_per_image(g) * (size_t)nb + kc16);
}

void NN(wino_forward)(const aug__conv_geom *g, int n, int nb, real *out, const real *in, const real *weight,
		      real *work)
{
	const size_t kc = (size_t)g->k * g->c;
	const int groups = groups_of(n);
	real *u = work;

	filter_transform(g, weight, u);
#pragma omp parallel for schedule(dynamic, 1)
	for (int gi = 0; gi < groups; gi++) {
		const int lo = (int)((long)n * gi / groups), hi = (int)((long)n * (gi + 1) / groups);
		real *v = group_work(g, nb, work, gi);

		for (int n0 = lo; n0 < hi; n0 += nb) {
			const int cur = hi - n0 < nb ? hi - n0 : nb;
			const int tc = (int)tiling_of(g, cur, 0).tc;
			real *m = v + (size_t)XI * g->c * tc;

			input_transform(g, n, n0, cur, in, v);
			for (int xi = 0; xi < XI; xi++)
				nn_gemm(false, false, g->k, tc, g->c, 1, u + (size_t)xi * kc, g->c,
					v + (size_t)xi * g->c * tc, tc, 0, m + (size_t)xi * g->k * tc, tc);
			output_transform(g, n, n0, cur, m, out);
		}
	}
}

void NN(wino_backward)(const aug__conv_geom *g, int n, int nb, real *din, real *dweight, const real *dout,
		       const real *in, const real *weight, real *work)
{
	const size_t kc = (size_t)g->k * g->c, per = aug__wino_per_image(g) * (size_t)nb;
	const int groups = groups_of(n);
	real *u = work, *du0 = group_work(g, nb, work, 0) + per;

	filter_transform(g, weight, u);
#pragma omp parallel for schedule(dynamic, 1)
	for (int gi = 0; gi < groups; gi++) {
		const int lo = (int)((long)n * gi / groups), hi = (int)((long)n * (gi + 1) / groups);
		real *v = group_work(g, nb, work, gi), *du = v + per;

		for (int n0 = lo; n0 < hi; n0 += nb) {
			const int cur = hi - n0 < nb ? hi - n0 : nb;
			const int tc = (int)tiling_of(g, cur, 0).tc;
			real *dm = v + (size_t)XI * g->c * tc;
			const real beta = n0 == lo ? 0 : 1;

			input_transform(g, n, n0, cur, in, v);
			output_transform_adj(g, n, n0, cur, dout, dm);
			for (int xi = 0; xi < XI; xi++) {
				real *vx = v + (size_t)xi * g->c * tc;
				const real *dmx = dm + (size_t)xi * g->k * tc;

				/* dU[xi] (K, C) (+)= dM[xi] (K, T) x V[xi]^T (T, C) */
				nn_gemm(false, true, g->k, g->c, tc, 1, dmx, tc, vx, tc, beta, du + (size_t)xi * kc,
					g->c);
				/* dV[xi] (C, T) = U[xi]^T (C, K) x dM[xi] (K, T), over V[xi] */
				if (din)
					nn_gemm(true, false, g->c, tc, g->k, 1, u + (size_t)xi * kc, g->c, dmx, tc, 0,
						vx, tc);
			}
			if (din)
				input_transform_adj(g, n, n0, cur, v, din);
		}
	}
	/* the groups' parts of dU, added in group order */
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < XI * kc; i++) {
		real acc = du0[i];

		for (int gi = 1; gi < groups; gi++)
			acc += group_work(g, nb, work, gi)[per + i];
		du0[i] = acc;
	}
	filter_transform_adj(g, du0, dweight);
}
