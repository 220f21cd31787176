/* BatchNorm 2d + ReLU + max-pool, fused: the model runs `bn; relu;
 * maxpool K` (the stage every conv of the reference model ends with) as
 * one pass per channel. After the channel's statistics, each pooling
 * window's BatchNorm-then-ReLU values are computed in registers and only
 * the maximum and its index are written; the full-size outputs of bn and
 * relu (the largest tensors of the model) are never stored, and backward
 * goes from the pooled gradient straight to the BatchNorm input's.
 *
 * The arithmetic is batchnorm.c's, relu.c's and maxpool2d.c's (the same
 * expressions, the same tie rule), so the results equal running the three
 * layers in turn; tests/test_nn_layers.c compares the two ways and the
 * gradient checks run on models that fuse.
 *
 * Backward needs the ReLU's mask only at each window's maximum, where it is
 * the sign of the pooled output: out > 0 exactly when relu(bn(x[argmax]))
 * > 0.
 */
#include <string.h>

#include "internal.h"

static inline bool beats(real v, real best)
{
	return v > best || v != v;
}

/* One plane: x (H,W) -> out (P,Q), argmax (P,Q) of relu(x * scale + shift
 * after centring). */
static void pool_plane(const real *x, int h, int w, int k, int stride, int p, int q, real rmu,
		       real scale, real shift, real *out, int32_t *am)
{
	for (int y = 0; y < p; y++) {
		for (int xx = 0; xx < q; xx++) {
			const int base = y * stride * w + xx * stride;
			int best = base;
			real v = (x[base] - rmu) * scale + shift;

			v = v > 0 ? v : 0;
			for (int r = 0; r < k; r++) {
				for (int s = 0; s < k; s++) {
					const int i = base + r * w + s;
					real t = (x[i] - rmu) * scale + shift;

					t = t > 0 ? t : 0;
					if (beats(t, v)) {
						v = t;
						best = i;
					}
				}
			}
			out[y * q + xx] = v;
			am[y * q + xx] = best;
		}
	}
}

/* The 2x2, stride 2 window: normalise a row pair into `tmp` (vectorised,
 * as batchnorm.c and relu.c), then pool it as maxpool2d.c's fast path. */
#define ROW_MAX 2048

static void pool_plane_2x2(const real *x, int w, int p, int q, real rmu, real scale, real shift,
			   real *out, int32_t *am)
{
	real tmp[2 * ROW_MAX];

	for (int y = 0; y < p; y++) {
		const real *src = x + (size_t)2 * y * w;
		const real *r0 = tmp, *r1 = tmp + w;

#pragma omp simd
		for (int i = 0; i < 2 * w; i++) {
			const real t = (src[i] - rmu) * scale + shift;

			tmp[i] = t > 0 ? t : 0;
		}
		for (int xx = 0; xx < q; xx++) {
			const real a = r0[2 * xx], b = r0[2 * xx + 1];
			const real c = r1[2 * xx], d = r1[2 * xx + 1];
			real v = a;
			int i = 0;

			i = beats(b, v) ? 1 : i;
			v = beats(b, v) ? b : v;
			i = beats(c, v) ? w : i;
			v = beats(c, v) ? c : v;
			i = beats(d, v) ? w + 1 : i;
			v = beats(d, v) ? d : v;
			out[y * q + xx] = v;
			am[y * q + xx] = 2 * y * w + 2 * xx + i;
		}
	}
}

/* x (C,N,H,W) -> out (C,N,P,Q), argmax (C,N,P,Q); mean, invstd (C) */
void NN(bn_relu_pool_forward)(int c, int n, int h, int w, int k, int stride, int p, int q,
			      real *out, int32_t *argmax, real *mean, real *invstd, const real *x,
			      const real *gamma, const real *beta, real *run_mean, real *run_var,
			      bool batch_stats)
{
	const size_t hw = (size_t)h * w, pq = (size_t)p * q;

#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const real *xc = x + (size_t)ch * n * hw;
		real scale, shift, rmu;

		if (batch_stats) {
			NN(bn_channel_stats)(xc, (size_t)n * hw, &mean[ch], &invstd[ch], &run_mean[ch],
					     &run_var[ch]);
		} else {
			mean[ch] = run_mean[ch];
			invstd[ch] = (real)(1.0 / sqrt((double)run_var[ch] + AUG__BN_EPS));
		}
		scale = gamma[ch] * invstd[ch];
		shift = beta[ch];
		rmu = mean[ch];
		for (int j = 0; j < n; j++) {
			const size_t plane = (size_t)ch * n + j;

			if (k == 2 && stride == 2 && w <= ROW_MAX)
				pool_plane_2x2(x + plane * hw, w, p, q, rmu, scale, shift,
					       out + plane * pq, argmax + plane * pq);
			else
				pool_plane(x + plane * hw, h, w, k, stride, p, q, rmu, scale, shift,
					   out + plane * pq, argmax + plane * pq);
		}
	}
}

/* dout, out, argmax (C,N,P,Q) -> din (C,N,H,W) =, dgamma, dbeta (C) += */
void NN(bn_relu_pool_backward)(int c, int n, int h, int w, int p, int q, real *din,
			       real *dgamma, real *dbeta, const real *dout, const real *out,
			       const int32_t *argmax, const real *x, const real *mean,
			       const real *invstd, const real *gamma, bool batch_stats)
{
	const size_t hw = (size_t)h * w, pq = (size_t)p * q;

#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const double is = invstd[ch];
		const double m = (double)n * hw;
		const real rmu = mean[ch];
		double sdy = 0, sdyx = 0;

		/* the BatchNorm output's gradient is dout at each live maximum */
		for (int j = 0; j < n; j++) {
			const size_t plane = (size_t)ch * n + j;
			const real *xp = x + plane * hw;
			const real *gp = dout + plane * pq, *op = out + plane * pq;
			const int32_t *ap = argmax + plane * pq;

			for (size_t o = 0; o < pq; o++) {
				const real gv = op[o] > 0 ? gp[o] : 0;

				sdy += gv;
				sdyx += gv * (xp[ap[o]] - rmu);
			}
		}
		sdyx *= is;
		dgamma[ch] += (real)sdyx;
		dbeta[ch] += (real)sdy;
		if (!din)
			continue;

		/* din = a * dy + b * (x - mean) + k (batchnorm.c), dy sparse;
		 * with running statistics b = k = 0 */
		const double g = gamma[ch] * is;
		const real ra = (real)g;
		const real rb = (real)(-g * is * sdyx / m);
		const real rk = (real)(-g * sdy / m);

		for (int j = 0; j < n; j++) {
			const size_t plane = (size_t)ch * n + j;
			const real *xp = x + plane * hw;
			real *dp = din + plane * hw;
			const real *gp = dout + plane * pq, *op = out + plane * pq;
			const int32_t *ap = argmax + plane * pq;

			if (batch_stats) {
#pragma omp simd
				for (size_t i = 0; i < hw; i++)
					dp[i] = (xp[i] - rmu) * rb + rk;
			} else {
				memset(dp, 0, sizeof(real) * hw);
			}
			for (size_t o = 0; o < pq; o++)
				if (op[o] > 0)
					dp[ap[o]] += gp[o] * ra;
		}
	}
}
