/* 2-D convolution as im2col + one GEMM per chunk of images (3x3 stride-1
 * convolutions with 16+ channels each side go to winograd.c instead).
 *
 * Activations are channel-major, (C,N,H,W), so the columns of a chunk of
 * nb images form a (C*R*S, nb*P*Q) matrix and
 *
 *     out (K, nb*P*Q) = weight (K, C*R*S) x col (C*R*S, nb*P*Q)
 *
 * lands directly in the (K,N,P,Q) output with leading dimension N*P*Q. One
 * large GEMM over the batch runs OpenBLAS at ~75 GFLOP/s a core here,
 * against ~45 for one GEMM per image (measured, see bench/nn_bench.md). The
 * columns are rebuilt in backward rather than kept: rebuilding is a copy
 * and keeping them would cost C*R*S*P*Q floats per image per layer.
 */
#include <string.h>

#include "internal.h"

/* The q range whose input column x = q*stride + s - pad falls in [0, w). */
static void valid_q(const aug__conv_geom *g, int s, int *lo, int *hi)
{
	int a = g->pad - s;          /* need q*stride >= a */
	int b = g->w - 1 + g->pad - s; /* need q*stride <= b */

	*lo = a <= 0 ? 0 : (a + g->stride - 1) / g->stride;
	*hi = b < 0 ? 0 : b / g->stride + 1;
	if (*hi > g->q)
		*hi = g->q;
	if (*lo > *hi)
		*lo = *hi;
}

/* in (C,N,H,W), images [n0, n0+nb) -> col (C*R*S, nb*P*Q). */
void NN(im2col)(const aug__conv_geom *g, int n, int n0, int nb, const real *in, real *col)
{
	const int rs = g->ks * g->ks;
	const int rows = g->c * rs;
	const size_t pq = (size_t)g->p * g->q;
	const size_t plane = (size_t)g->h * g->w;

#pragma omp parallel for collapse(2) schedule(static)
	for (int row = 0; row < rows; row++) {
		for (int j = 0; j < nb; j++) {
			const int c = row / rs;
			const int r = row % rs / g->ks;
			const int s = row % g->ks;
			const real *src = in + ((size_t)c * n + n0 + j) * plane;
			real *dst = col + (size_t)row * nb * pq + (size_t)j * pq;
			int lo, hi;

			valid_q(g, s, &lo, &hi);
			for (int p = 0; p < g->p; p++, dst += g->q) {
				const int y = p * g->stride + r - g->pad;
				/* Output column q reads input column x0 + q * stride, which
				 * is inside the row for lo <= q < hi only: index from the
				 * row's start, never form a pointer before it (that is
				 * undefined even unread). */
				const int x0 = s - g->pad;
				const real *srow;

				/* plain loops: rows are short, a memcpy call per row costs more */
				if (y < 0 || y >= g->h) {
					for (int q = 0; q < g->q; q++)
						dst[q] = 0;
					continue;
				}
				srow = src + (size_t)y * g->w;
				for (int q = 0; q < lo; q++)
					dst[q] = 0;
				if (g->stride == 1) {
					for (int q = lo; q < hi; q++)
						dst[q] = srow[x0 + q];
				} else {
					for (int q = lo; q < hi; q++)
						dst[q] = srow[x0 + q * g->stride];
				}
				for (int q = hi; q < g->q; q++)
					dst[q] = 0;
			}
		}
	}
}

/* col (C*R*S, nb*P*Q) -> in (C,N,H,W) images [n0, n0+nb), overwritten.
 * Parallel over planes (c, j): each writes its own plane only. */
void NN(col2im)(const aug__conv_geom *g, int n, int n0, int nb, const real *col, real *in)
{
	const int rs = g->ks * g->ks;
	const size_t pq = (size_t)g->p * g->q;
	const size_t plane = (size_t)g->h * g->w;

#pragma omp parallel for collapse(2) schedule(static)
	for (int c = 0; c < g->c; c++) {
		for (int j = 0; j < nb; j++) {
			real *dst = in + ((size_t)c * n + n0 + j) * plane;

			memset(dst, 0, sizeof(real) * plane);
			for (int r = 0; r < g->ks; r++) {
				for (int s = 0; s < g->ks; s++) {
					const int row = c * rs + r * g->ks + s;
					const real *src = col + (size_t)row * nb * pq + (size_t)j * pq;
					int lo, hi;

					valid_q(g, s, &lo, &hi);
					for (int p = 0; p < g->p; p++, src += g->q) {
						const int y = p * g->stride + r - g->pad;
						const int x0 = s - g->pad; /* as in im2col */
						real *drow;

						if (y < 0 || y >= g->h)
							continue;
						drow = dst + (size_t)y * g->w;
						if (g->stride == 1) {
							for (int q = lo; q < hi; q++)
								drow[x0 + q] += src[q];
						} else {
							for (int q = lo; q < hi; q++)
								drow[x0 + q * g->stride] += src[q];
						}
					}
				}
			}
		}
	}
}

/* in (C,N,H,W), weight (K,C,R,S), bias (K) or NULL -> out (K,N,P,Q) */
void NN(conv2d_forward)(const aug__conv_geom *g, int n, int nb, real *out, const real *in,
			const real *weight, const real *bias, real *col)
{
	const int crs = g->c * g->ks * g->ks;
	const size_t pq = (size_t)g->p * g->q;
	const int ldo = (int)(pq * n);

	if (aug__conv_is_pointwise(g)) {
		nn_gemm(false, false, g->k, ldo, g->c, 1, weight, crs, in, ldo, 0, out, ldo);
	} else if (aug__conv_is_winograd(g)) {
		NN(wino_forward)(g, n, nb, out, in, weight, col);
	} else {
		for (int n0 = 0; n0 < n; n0 += nb) {
			const int cur = n - n0 < nb ? n - n0 : nb;
			const int cols = (int)(pq * cur);

			NN(im2col)(g, n, n0, cur, in, col);
			nn_gemm(false, false, g->k, cols, crs, 1, weight, crs, col, cols, 0,
				out + (size_t)n0 * pq, ldo);
		}
	}
	if (bias) {
#pragma omp parallel for schedule(static)
		for (int k = 0; k < g->k; k++) {
			real *o = out + (size_t)k * ldo;
			const real b = bias[k];

			for (int i = 0; i < ldo; i++)
				o[i] += b;
		}
	}
}

/* dweight (K, CRS) += dout (K, cols) x colm^T (cols, CRS); part: NULL, or
 * room for AUG__DW_SLICES partial sums (see AUG__DW_SMALL) */
static void dweight_gemm(int k, int crs, int cols, const real *dout, int ldd, const real *colm,
			 int ldc, real *dweight, real *part)
{
	const int per = (cols + AUG__DW_SLICES - 1) / AUG__DW_SLICES;
	const size_t kc = (size_t)k * crs;

	if (!part) {
		nn_gemm(false, true, k, crs, cols, 1, dout, ldd, colm, ldc, 1, dweight, crs);
		return;
	}
	/* inside a parallel region each GEMM runs on its own thread */
#pragma omp parallel for schedule(static)
	for (int s = 0; s < AUG__DW_SLICES; s++) {
		const int c0 = s * per;
		const int len = cols - c0 < per ? cols - c0 : per;

		if (len <= 0) {
			memset(part + s * kc, 0, sizeof(real) * kc);
			continue;
		}
		nn_gemm(false, true, k, crs, len, 1, dout + c0, ldd, colm + c0, ldc, 0, part + s * kc,
			crs);
	}
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < kc; i++) {
		real acc = 0;

		for (int s = 0; s < AUG__DW_SLICES; s++)
			acc += part[s * kc + i];
		dweight[i] += acc;
	}
}

/* dout (K,N,P,Q) -> dweight (K,C,R,S) +=, dbias (K) +=, din (C,N,H,W) = */
void NN(conv2d_backward)(const aug__conv_geom *g, int n, int nb, real *din, real *dweight,
			 real *dbias, const real *dout, const real *in, const real *weight,
			 real *col, real *part)
{
	const int crs = g->c * g->ks * g->ks;
	const size_t pq = (size_t)g->p * g->q;
	const int ldo = (int)(pq * n);

	if (dbias) {
#pragma omp parallel for schedule(static)
		for (int k = 0; k < g->k; k++) {
			const real *d = dout + (size_t)k * ldo;
			double acc = 0;

#pragma omp simd reduction(+ : acc)
			for (int i = 0; i < ldo; i++)
				acc += d[i];
			dbias[k] += (real)acc;
		}
	}
	if (aug__conv_is_pointwise(g)) {
		/* dweight (K,C) += dout (K, NPQ) x in^T (NPQ, C) */
		dweight_gemm(g->k, crs, ldo, dout, ldo, in, ldo, dweight, part);
		if (din)
			nn_gemm(true, false, g->c, ldo, g->k, 1, weight, crs, dout, ldo, 0, din, ldo);
		return;
	}
	if (aug__conv_is_winograd(g)) {
		NN(wino_backward)(g, n, nb, din, dweight, dout, in, weight, col);
		return;
	}
	for (int n0 = 0; n0 < n; n0 += nb) {
		const int cur = n - n0 < nb ? n - n0 : nb;
		const int cols = (int)(pq * cur);
		const real *dchunk = dout + (size_t)n0 * pq;

		NN(im2col)(g, n, n0, cur, in, col);
		dweight_gemm(g->k, crs, cols, dchunk, ldo, col, cols, dweight, part);
		if (din) {
			/* col (CRS, cols) = weight^T (CRS, K) x dout (K, cols) */
			nn_gemm(true, false, crs, cols, g->k, 1, weight, crs, dchunk, ldo, 0, col,
				cols);
			NN(col2im)(g, n, n0, cur, col, din);
		}
	}
}

/* ---- the layer: conv N [k=3] [stride=1] [pad=0] [bias=yes] ---- */

static aug_status conv_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	aug__conv_geom *g = &l->g[0];
	int shape[4];
	aug_status st;

	if (l->in.flat)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: conv needs an image-shaped input, got %d flat features",
				 d->line, d->col, l->in.c);
	g->c = l->in.c;
	g->h = l->in.h;
	g->w = l->in.w;
	g->k = (int)d->arg[AUG__CONV_OUT];
	g->ks = (int)d->arg[AUG__CONV_K];
	g->stride = (int)d->arg[AUG__CONV_STRIDE];
	g->pad = (int)d->arg[AUG__CONV_PAD];
	g->p = aug__out_size(g->h, g->ks, g->stride, g->pad);
	g->q = aug__out_size(g->w, g->ks, g->stride, g->pad);
	aug__conv_choose(g);
	if (g->p < 1 || g->q < 1)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: conv k=%d pad=%d does not fit its %dx%d input",
				 d->line, d->col, g->ks, g->pad, g->h, g->w);
	l->bias = d->arg[AUG__CONV_BIAS] != 0;
	l->out = (aug__shape){ g->k, g->p, g->q, false };
	shape[0] = g->k;
	shape[1] = g->c;
	shape[2] = g->ks;
	shape[3] = g->ks;
	st = NN(model_add_param)(m, l, "conv.weight", AUG_TENSOR_WEIGHT, 4, shape, &l->poff[0]);
	if (!st && l->bias)
		st = NN(model_add_param)(m, l, "conv.bias", AUG_TENSOR_BIAS, 1, shape, &l->poff[1]);
	return st;
}

real *NN(conv_part)(const struct nn_model *m, const aug__conv_geom *g, int n)
{
	const size_t kcrs = (size_t)g->k * g->c * g->ks * g->ks;

	return kcrs <= m->dw_small ? m->col + aug__conv_cols(g, n, m->col_budget) : NULL;
}

static size_t conv_col_size(const struct nn_model *m, const NN(layer) *l, int n)
{
	return aug__conv_col_size(&l->g[0], n, m->col_budget, m->dw_small);
}

static void conv_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	const int nb = aug__conv_chunk(&l->g[0], n, m->col_budget);

	NN(conv2d_forward)(&l->g[0], n, nb, out, in, NN(param)(m, l->poff[0]),
			   NN(param)(m, l->poff[1]), m->col);
}

static void conv_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			  const real *dout, real *din, int n)
{
	const int nb = aug__conv_chunk(&l->g[0], n, m->col_budget);

	NN(conv2d_backward)(&l->g[0], n, nb, din, NN(grad)(m, l->poff[0]), NN(grad)(m, l->poff[1]),
			    dout, in, NN(param)(m, l->poff[0]), m->col,
			    NN(conv_part)(m, &l->g[0], n));
}

const NN(layer_ops) NN(conv_ops) = {
	.setup = conv_setup,
	.col_size = conv_col_size,
	.forward = conv_forward,
	.backward = conv_backward,
};
