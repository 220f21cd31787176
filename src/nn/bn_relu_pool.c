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

#include "vec.h"

#if defined(__GNUC__) && !defined(__clang__)
/* short rows: keep the copy loops as loops, not libc calls */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

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

/* The 2x2, stride 2 window on an even width, a block of row pairs at a
 * time: normalise the rows into `t` (vectorised, as batchnorm.c and
 * relu.c), then VL windows of a row pair at a time: their four corners as
 * the even and odd columns of the two rows, the better of each horizontal
 * pair, then of the two rows. The first maximum in the order a b / c d
 * wins, as in maxpool2d.c.
 *
 * After the ReLU every value is +0 or positive (a NaN becomes 0 too), and
 * such floats order as their bit patterns do as integers: the comparisons
 * and selects are integer ones, with no branch (a branch here would be a
 * coin toss). A vector past the end of a row spills into the next row's
 * outputs, written after it; the plane's last vector is stored lane by
 * lane. */
#define POOL_TMP 4096

#ifdef AUG_NN_DOUBLE
typedef int64_t rbits;
#else
typedef int32_t rbits;
#endif

AUG__HOT static void pool_plane_2x2(const real *x, int w, int p, int q, real rmu, real scale,
				    real shift, real *out, int32_t *am)
{
	real t[POOL_TMP + 2 * VL];
	const int per = POOL_TMP / (2 * w); /* row pairs per block */
	const vbits lane2 = { 0, 2, 4, 6, 8, 10, 12, 14 };

	for (int i = POOL_TMP; i < POOL_TMP + 2 * VL; i++)
		t[i] = 0;
	for (int y0 = 0; y0 < p; y0 += per) {
		const int nr = p - y0 < per ? p - y0 : per, len = 2 * nr * w;
		const real *src = x + (size_t)2 * y0 * w;

#pragma omp simd
		for (int i = 0; i < len; i++) {
			const real v = (src[i] - rmu) * scale + shift;

			t[i] = v > 0 ? v : 0;
		}
		for (int r = 0; r < nr; r++) {
			const real *top = t + (size_t)2 * r * w, *bot = top + w;
			const int o0 = (y0 + r) * q;

			for (int xx = 0; xx < q; xx += VL) {
				const vreal lt = vload(top + 2 * xx), ht = vload(top + 2 * xx + VL);
				const vreal lb = vload(bot + 2 * xx), hb = vload(bot + 2 * xx + VL);
				const vbits a = (vbits)EVEN(lt, ht), b = (vbits)ODD(lt, ht);
				const vbits c = (vbits)EVEN(lb, hb), d = (vbits)ODD(lb, hb);
				const vbits right0 = b > a, right1 = d > c;
				const vbits v0 = vselect(right0, a, b), v1 = vselect(right1, c, d);
				const vbits down = v1 > v0;
				/* the winner's offset in its window: 0, 1, w or w + 1 */
				const vbits off = vselect(down, right0 & 1, (right1 & 1) + w);
				const vbits idx = 2 * (y0 + r) * w + 2 * xx + lane2 + off;
				const vreal v = (vreal)vselect(down, v0, v1);
				const vi32 i32 = __builtin_convertvector(idx, vi32);

				if (o0 + xx + VL <= p * q) {
					vstore(out + o0 + xx, v);
					memcpy(am + o0 + xx, &i32, sizeof(i32));
				} else {
					vstore_part(out + o0 + xx, v, p * q - o0 - xx);
					for (int l = 0; l < p * q - o0 - xx; l++)
						am[o0 + xx + l] = i32[l];
				}
			}
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

			if (k == 2 && stride == 2 && w % 2 == 0 && 2 * w <= POOL_TMP)
				pool_plane_2x2(x + plane * hw, w, p, q, rmu, scale, shift,
					       out + plane * pq, argmax + plane * pq);
			else
				pool_plane(x + plane * hw, h, w, k, stride, p, q, rmu, scale, shift,
					   out + plane * pq, argmax + plane * pq);
		}
	}
}

/* sum(dy) and sum(dy * (x - mean)) over one channel's n planes, where dy
 * is the gradient at the BatchNorm's output: dout at each window's live
 * maximum, zero elsewhere. Eight lanes of partial sums, the same in every
 * clone (the bits do not depend on the machine), written with GCC's vector
 * types: as plain loops the compiler left them scalar and branching. */
#define LANES VL

AUG__HOT static void pooled_grad_sums(const real *x, size_t hw, const real *dout, const real *out,
				      const int32_t *argmax, int n, size_t pq, real rmu, double *sdy,
				      double *sdyx)
{
	vdouble s = { 0 }, t = { 0 };
	double ts = 0, tt = 0;

	for (int j = 0; j < n; j++) {
		const real *xp = x + (size_t)j * hw;
		const real *gp = dout + (size_t)j * pq, *op = out + (size_t)j * pq;
		const int32_t *ap = argmax + (size_t)j * pq;
		size_t o = 0;

		for (; o + LANES <= pq; o += LANES) {
			vreal g, ov, xm;

			memcpy(&g, gp + o, sizeof(g));
			memcpy(&ov, op + o, sizeof(ov));
			for (int l = 0; l < LANES; l++)
				xm[l] = xp[ap[o + l]] - rmu;
			g = (vreal)((vbits)g & (ov > 0));
			s += __builtin_convertvector(g, vdouble);
			t += __builtin_convertvector(g * xm, vdouble);
		}
		for (int l = 0; o < pq; o++, l++) {
			const real gv = op[o] > 0 ? gp[o] : 0;

			s[l] += gv;
			t[l] += gv * (xp[ap[o]] - rmu);
		}
	}
	for (int l = 0; l < LANES; l++) {
		ts += s[l];
		tt += t[l];
	}
	*sdy = ts;
	*sdyx = tt;
}

/* din for one channel's n planes: the BatchNorm terms b (x - mean) + k
 * everywhere (zero with running statistics), then a * dout added at each
 * live maximum. The windows do not overlap, and the liveness is applied
 * as a mask: a branch on it would be a coin toss. */
AUG__HOT static void channel_din(real *din, const real *x, size_t hw, const real *dout, const real *out,
				 const int32_t *argmax, int n, size_t pq, real rmu, real ra, real rb, real rk,
				 bool batch_stats)
{
	const size_t len = (size_t)n * hw;

	if (batch_stats) {
		for (size_t i = 0; i < len; i++)
			din[i] = (x[i] - rmu) * rb + rk;
	} else {
		memset(din, 0, sizeof(real) * len);
	}
	for (int j = 0; j < n; j++) {
		real *dp = din + (size_t)j * hw;
		const real *gp = dout + (size_t)j * pq, *op = out + (size_t)j * pq;
		const int32_t *ap = argmax + (size_t)j * pq;

		for (size_t o = 0; o < pq; o++) {
			union {
				real f;
				rbits b;
			} g = { gp[o] * ra };

			g.b &= -(rbits)(op[o] > 0);
			dp[ap[o]] += g.f;
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
		double sdy, sdyx;

		/* the BatchNorm output's gradient is dout at each live maximum */
		pooled_grad_sums(x + (size_t)ch * n * hw, hw, dout + (size_t)ch * n * pq,
				 out + (size_t)ch * n * pq, argmax + (size_t)ch * n * pq, n, pq, rmu, &sdy, &sdyx);
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

		channel_din(din + (size_t)ch * n * hw, x + (size_t)ch * n * hw, hw, dout + (size_t)ch * n * pq,
			    out + (size_t)ch * n * pq, argmax + (size_t)ch * n * pq, n, pq, rmu, ra, rb, rk,
			    batch_stats);
	}
}
