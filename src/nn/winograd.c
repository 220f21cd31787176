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
 * tiles, T the tiles of a chunk of images. That is 16 * K * C * T
 * multiply-adds where im2col + GEMM does 36 * K * C * T: 2.25x fewer.
 *
 * Everything is linear, so the backward pass is the adjoint of each step:
 * dM = A dY A^T, dU[xi] = dM[xi] V[xi]^T, dV[xi] = U[xi]^T dM[xi],
 * din += B dV B^T (tiles overlap: added), dweight += G^T dU G. These are the
 * exact gradients of the computation above, which equals the convolution
 * up to rounding (float32 differs from im2col by ~1e-6 relative).
 *
 * The 16 GEMMs of a step run one per thread (a GEMM called inside a
 * parallel region is single-threaded, see gemm.c), so every product is
 * made by one thread whatever the thread count, and the weight gradient is
 * summed over chunks in chunk order: results do not depend on the number of
 * threads. Workspace (aug__wino_cols): V and M for a chunk of images, then
 * U and dU. Backward transforms the input again rather than keep V from
 * forward: V is 4x the layer's input (12.8 MB for the reference model's
 * second convolution at batch 128, per layer), and transforming it twice
 * costs about a tenth of a step; im2col's columns are rebuilt for the same
 * reason.
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 */
#include <string.h>

#include "internal.h"

#define XI 16 /* positions of a transformed tile */

/* One tile row or column through B^T, G, A^T and their adjoints. */
static inline void bt4(const real d[4], real v[4])
{
	v[0] = d[0] - d[2];
	v[1] = d[1] + d[2];
	v[2] = d[2] - d[1];
	v[3] = d[1] - d[3];
}

static inline void bt4_adj(const real v[4], real d[4])
{
	d[0] = v[0];
	d[1] = v[1] - v[2] + v[3];
	d[2] = v[1] + v[2] - v[0];
	d[3] = -v[3];
}

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

static inline void at2(const real m[4], real y[2])
{
	y[0] = m[0] + m[1] + m[2];
	y[1] = m[1] - m[2] - m[3];
}

static inline void at2_adj(const real y[2], real m[4])
{
	m[0] = y[0];
	m[1] = y[0] + y[1];
	m[2] = y[0] - y[1];
	m[3] = -y[1];
}

/* The 16 values of tile `at` in the transformed layout, position xi at
 * xi * xstride. (The 4x4 arrays below are read-only where they are inputs;
 * ISO C before C23 cannot pass a real[4][4] as a const one.) */
static inline void tile_get(const real *s, size_t xstride, size_t at, real r[4][4])
{
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			r[a][b] = s[(size_t)(a * 4 + b) * xstride + at];
}

static inline void tile_put(real *d, size_t xstride, size_t at, real r[4][4])
{
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			d[(size_t)(a * 4 + b) * xstride + at] = r[a][b];
}

/* r = B^T d B: down the columns, then along the rows. */
static inline void bt_tile(real d[4][4], real r[4][4])
{
	real t[4][4];

	for (int b = 0; b < 4; b++) {
		real col[4] = { d[0][b], d[1][b], d[2][b], d[3][b] }, o[4];

		bt4(col, o);
		for (int a = 0; a < 4; a++)
			t[a][b] = o[a];
	}
	for (int a = 0; a < 4; a++)
		bt4(t[a], r[a]);
}

/* d = B r B^T, the adjoint: along the rows, then down the columns. */
static inline void bt_tile_adj(real r[4][4], real d[4][4])
{
	real t[4][4];

	for (int a = 0; a < 4; a++)
		bt4_adj(r[a], t[a]);
	for (int b = 0; b < 4; b++) {
		real col[4] = { t[0][b], t[1][b], t[2][b], t[3][b] }, o[4];

		bt4_adj(col, o);
		for (int a = 0; a < 4; a++)
			d[a][b] = o[a];
	}
}

/* y = A^T m A: along the rows, then down the columns. */
static inline void at_tile(real m[4][4], real y[2][2])
{
	real t[4][2];

	for (int a = 0; a < 4; a++)
		at2(m[a], t[a]);
	for (int b = 0; b < 2; b++) {
		real col[4] = { t[0][b], t[1][b], t[2][b], t[3][b] }, o[2];

		at2(col, o);
		y[0][b] = o[0];
		y[1][b] = o[1];
	}
}

/* m = A y A^T, the adjoint: down the columns, then along the rows. */
static inline void at_tile_adj(real y[2][2], real m[4][4])
{
	real t[4][2];

	for (int b = 0; b < 2; b++) {
		real col[2] = { y[0][b], y[1][b] }, o[4];

		at2_adj(col, o);
		for (int a = 0; a < 4; a++)
			t[a][b] = o[a];
	}
	for (int a = 0; a < 4; a++)
		at2_adj(t[a], m[a]);
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

/* V[xi] (C, T) for images [n0, n0 + nb) of in (C, N, H, W). */
static void input_transform(const aug__conv_geom *g, int n, int n0, int nb, const real *in, real *v)
{
	const struct tiling tl = tiling_of(g, nb, g->c);
	const int th = tl.th, tw = tl.tw;
	const size_t tc = tl.tc, xstride = tl.xstride, plane = (size_t)g->h * g->w;

#pragma omp parallel for collapse(2) schedule(static)
	for (int c = 0; c < g->c; c++) {
		for (int j = 0; j < nb; j++) {
			const real *src = in + ((size_t)c * n + n0 + j) * plane;
			real *dst = v + (size_t)c * tc + (size_t)j * th * tw;

			for (int ti = 0; ti < th; ti++) {
				for (int tj = 0; tj < tw; tj++) {
					const int y0 = 2 * ti - g->pad, x0 = 2 * tj - g->pad;
					real d[4][4], r[4][4];

					for (int a = 0; a < 4; a++) {
						const int y = y0 + a;

						for (int b = 0; b < 4; b++) {
							const int x = x0 + b;

							d[a][b] = y >= 0 && y < g->h && x >= 0 && x < g->w
									  ? src[(size_t)y * g->w + x]
									  : 0;
						}
					}
					bt_tile(d, r);
					tile_put(dst, xstride, (size_t)ti * tw + tj, r);
				}
			}
		}
	}
}

/* din (C, N, H, W) images [n0, n0 + nb) = sum of B dV[xi] B^T over the
 * tiles (overwritten). One plane per task: overlapping tiles add within it. */
static void input_transform_adj(const aug__conv_geom *g, int n, int n0, int nb, const real *dv, real *din)
{
	const struct tiling tl = tiling_of(g, nb, g->c);
	const int th = tl.th, tw = tl.tw;
	const size_t tc = tl.tc, xstride = tl.xstride, plane = (size_t)g->h * g->w;

#pragma omp parallel for collapse(2) schedule(static)
	for (int c = 0; c < g->c; c++) {
		for (int j = 0; j < nb; j++) {
			real *dst = din + ((size_t)c * n + n0 + j) * plane;
			const real *src = dv + (size_t)c * tc + (size_t)j * th * tw;

			memset(dst, 0, sizeof(real) * plane);
			for (int ti = 0; ti < th; ti++) {
				for (int tj = 0; tj < tw; tj++) {
					const int y0 = 2 * ti - g->pad, x0 = 2 * tj - g->pad;
					real r[4][4], d[4][4];

					tile_get(src, xstride, (size_t)ti * tw + tj, r);
					bt_tile_adj(r, d);
					for (int a = 0; a < 4; a++) {
						const int y = y0 + a;

						if (y < 0 || y >= g->h)
							continue;
						for (int b = 0; b < 4; b++) {
							const int x = x0 + b;

							if (x >= 0 && x < g->w)
								dst[(size_t)y * g->w + x] += d[a][b];
						}
					}
				}
			}
		}
	}
}

/* out (K, N, P, Q) images [n0, n0 + nb) = A^T M[xi] A, overwritten. */
static void output_transform(const aug__conv_geom *g, int n, int n0, int nb, const real *m, real *out)
{
	const struct tiling tl = tiling_of(g, nb, g->k);
	const int th = tl.th, tw = tl.tw;
	const size_t tc = tl.tc, xstride = tl.xstride, pq = (size_t)g->p * g->q;

#pragma omp parallel for collapse(2) schedule(static)
	for (int k = 0; k < g->k; k++) {
		for (int j = 0; j < nb; j++) {
			real *dst = out + ((size_t)k * n + n0 + j) * pq;
			const real *src = m + (size_t)k * tc + (size_t)j * th * tw;

			for (int ti = 0; ti < th; ti++) {
				for (int tj = 0; tj < tw; tj++) {
					real r[4][4], y[2][2];

					tile_get(src, xstride, (size_t)ti * tw + tj, r);
					at_tile(r, y);
					for (int a = 0; a < 2; a++) {
						const int py = 2 * ti + a;

						if (py >= g->p)
							continue;
						for (int b = 0; b < 2; b++) {
							const int px = 2 * tj + b;

							if (px < g->q)
								dst[(size_t)py * g->q + px] = y[a][b];
						}
					}
				}
			}
		}
	}
}

/* dM[xi] (K, T) = A dY A^T for images [n0, n0 + nb) of dout (K, N, P, Q);
 * outputs past the edge of a partial tile count as zero. */
static void output_transform_adj(const aug__conv_geom *g, int n, int n0, int nb, const real *dout, real *dm)
{
	const struct tiling tl = tiling_of(g, nb, g->k);
	const int th = tl.th, tw = tl.tw;
	const size_t tc = tl.tc, xstride = tl.xstride, pq = (size_t)g->p * g->q;

#pragma omp parallel for collapse(2) schedule(static)
	for (int k = 0; k < g->k; k++) {
		for (int j = 0; j < nb; j++) {
			const real *src = dout + ((size_t)k * n + n0 + j) * pq;
			real *dst = dm + (size_t)k * tc + (size_t)j * th * tw;

			for (int ti = 0; ti < th; ti++) {
				for (int tj = 0; tj < tw; tj++) {
					real y[2][2], r[4][4];

					for (int a = 0; a < 2; a++) {
						const int py = 2 * ti + a;

						for (int b = 0; b < 2; b++) {
							const int px = 2 * tj + b;

							y[a][b] = py < g->p && px < g->q ? src[(size_t)py * g->q + px] : 0;
						}
					}
					at_tile_adj(y, r);
					tile_put(dst, xstride, (size_t)ti * tw + tj, r);
				}
			}
		}
	}
}

void NN(wino_forward)(const aug__conv_geom *g, int n, int nb, real *out, const real *in, const real *weight,
		      real *work)
{
	const struct tiling one = tiling_of(g, 1, 0);
	const size_t kc = (size_t)g->k * g->c;
	real *u = work + aug__wino_cols(g, nb) - 2 * XI * kc;

	filter_transform(g, weight, u);
	for (int n0 = 0; n0 < n; n0 += nb) {
		const int cur = n - n0 < nb ? n - n0 : nb;
		const int tc = (int)(one.tc * cur);
		real *v = work, *m = work + (size_t)XI * g->c * tc;

		input_transform(g, n, n0, cur, in, v);
		/* one single-threaded GEMM per thread (see the top) */
#pragma omp parallel for schedule(static)
		for (int xi = 0; xi < XI; xi++)
			nn_gemm(false, false, g->k, tc, g->c, 1, u + (size_t)xi * kc, g->c,
				v + (size_t)xi * g->c * tc, tc, 0, m + (size_t)xi * g->k * tc, tc);
		output_transform(g, n, n0, cur, m, out);
	}
}

void NN(wino_backward)(const aug__conv_geom *g, int n, int nb, real *din, real *dweight, const real *dout,
		       const real *in, const real *weight, real *work)
{
	const struct tiling one = tiling_of(g, 1, 0);
	const size_t kc = (size_t)g->k * g->c;
	real *u = work + aug__wino_cols(g, nb) - 2 * XI * kc, *du = u + XI * kc;

	filter_transform(g, weight, u);
	for (int n0 = 0; n0 < n; n0 += nb) {
		const int cur = n - n0 < nb ? n - n0 : nb;
		const int tc = (int)(one.tc * cur);
		real *v = work, *dm = work + (size_t)XI * g->c * tc;
		const real beta = n0 == 0 ? 0 : 1;

		input_transform(g, n, n0, cur, in, v);
		output_transform_adj(g, n, n0, cur, dout, dm);
#pragma omp parallel for schedule(static)
		for (int xi = 0; xi < XI; xi++) {
			real *vx = v + (size_t)xi * g->c * tc;
			const real *dmx = dm + (size_t)xi * g->k * tc;

			/* dU[xi] (K, C) (+)= dM[xi] (K, T) x V[xi]^T (T, C) */
			nn_gemm(false, true, g->k, g->c, tc, 1, dmx, tc, vx, tc, beta, du + (size_t)xi * kc,
				g->c);
			/* dV[xi] (C, T) = U[xi]^T (C, K) x dM[xi] (K, T), over V[xi] */
			if (din)
				nn_gemm(true, false, g->c, tc, g->k, 1, u + (size_t)xi * kc, g->c, dmx, tc, 0, vx,
					tc);
		}
		if (din)
			input_transform_adj(g, n, n0, cur, v, din);
	}
	filter_transform_adj(g, du, dweight);
}
