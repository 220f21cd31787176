/* Batch normalisation, 1d and 2d (Ioffe and Szegedy 2015), as PyTorch
 * defines it (torch.nn.BatchNorm2d, torch/nn/modules/batchnorm.py):
 *
 *   training:   y = (x - mean) / sqrt(var + eps) * gamma + beta, with the
 *               batch mean and the *biased* batch variance (divide by M);
 *               running_mean = (1 - 0.1) running_mean + 0.1 mean,
 *               running_var  = (1 - 0.1) running_var  + 0.1 var * M/(M-1)
 *               (the *unbiased* variance), eps = 1e-5, momentum 0.1;
 *   evaluation: the same with the running statistics.
 *
 * M is the number of values per channel: N*H*W for 2d, N for 1d. Both are
 * one kernel because activations are channel-major: each channel is one
 * contiguous run of M values. Sums are taken in double.
 */
#include "internal.h"

/* Eight partial sums per variable (one AVX-512 vector of doubles), the
 * same lanes in every clone, so the bits do not depend on the machine. */
#define LANES 8

AUG__HOT void NN(bn_grad_sums)(const real *d, const real *x, double mu, size_t m, double *sdy, double *sdyx)
{
	double s[LANES] = { 0 }, t[LANES] = { 0 }, ts = 0, tt = 0;
	size_t i = 0;

	for (; i + LANES <= m; i += LANES) {
		for (int l = 0; l < LANES; l++) {
			const double dv = d[i + l];

			s[l] += dv;
			t[l] += dv * (x[i + l] - mu);
		}
	}
	for (int l = 0; i < m; i++, l++) {
		s[l] += d[i];
		t[l] += d[i] * (x[i] - mu);
	}
	for (int l = 0; l < LANES; l++) {
		ts += s[l];
		tt += t[l];
	}
	*sdy = ts;
	*sdyx = tt;
}

/* sum(x) and sum(x^2): the sums above with d = x and mu = 0, exactly (x -
 * 0 is x) */
void NN(bn_sums)(const real *x, size_t m, double *sum, double *sq)
{
	NN(bn_grad_sums)(x, x, 0, m, sum, sq);
}

/* x (C,M) -> out (C,M); saves mean, invstd (C); updates run_mean, run_var */
void NN(batchnorm_forward_train)(int c, size_t m, real *out, real *mean, real *invstd,
				 const real *x, const real *gamma, const real *beta,
				 real *run_mean, real *run_var)
{
#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const real *xc = x + (size_t)ch * m;
		real *oc = out + (size_t)ch * m;
		real scale, shift, rmu;

		/* one channel at a time: its values stay in cache for the last pass */
		NN(bn_channel_stats)(xc, m, &mean[ch], &invstd[ch], &run_mean[ch], &run_var[ch]);
		/* (x - mean) first: x * scale + shift would cancel when |mean| >> std */
		scale = gamma[ch] * invstd[ch];
		shift = beta[ch];
		rmu = mean[ch];
#pragma omp simd
		for (size_t i = 0; i < m; i++)
			oc[i] = (xc[i] - rmu) * scale + shift;
	}
}

void NN(batchnorm_forward_eval)(int c, size_t m, real *out, real *mean, real *invstd,
				const real *x, const real *gamma, const real *beta,
				const real *run_mean, const real *run_var)
{
#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const real *xc = x + (size_t)ch * m;
		real *oc = out + (size_t)ch * m;
		double is = 1.0 / sqrt((double)run_var[ch] + AUG__BN_EPS);
		const real rmu = run_mean[ch];
		real scale, shift;

		mean[ch] = rmu;
		invstd[ch] = (real)is;
		scale = gamma[ch] * invstd[ch];
		shift = beta[ch];
		for (size_t i = 0; i < m; i++)
			oc[i] = (xc[i] - rmu) * scale + shift;
	}
}

/* dout (C,M) -> din (C,M) =, dgamma, dbeta (C) +=.
 * With batch statistics, xhat = (x - mean) * invstd and
 *   din = gamma * invstd / M * (M * dout - sum(dout) - xhat * sum(dout * xhat));
 * with running statistics the normalisation is a constant affine map. */
void NN(batchnorm_backward)(int c, size_t m, real *din, real *dgamma, real *dbeta,
			    const real *dout, const real *x, const real *mean, const real *invstd,
			    const real *gamma, bool batch_stats)
{
#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const real *xc = x + (size_t)ch * m;
		const real *dc = dout + (size_t)ch * m;
		const double mu = mean[ch], is = invstd[ch];
		double sdy, sdyx;

		NN(bn_grad_sums)(dc, xc, mu, m, &sdy, &sdyx);
		sdyx *= is;
		dgamma[ch] += (real)sdyx;
		dbeta[ch] += (real)sdy;
		if (!din)
			continue;
		real *ic = din + (size_t)ch * m;

		if (batch_stats) {
			/* din = a * dout + b * (x - mean) + k */
			const double g = gamma[ch] * is;
			const real ra = (real)g;
			const real rb = (real)(-g * is * sdyx / (double)m);
			const real rk = (real)(-g * sdy / (double)m);
			const real rmu = (real)mu;

#pragma omp simd
			for (size_t i = 0; i < m; i++)
				ic[i] = dc[i] * ra + (xc[i] - rmu) * rb + rk;
		} else {
			const real a = (real)(gamma[ch] * is);

			for (size_t i = 0; i < m; i++)
				ic[i] = dc[i] * a;
		}
	}
}

/* ---- the layer: bn (1d on flat inputs, 2d on images) ---- */

static aug_status bn_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	l->out = l->in;
	return NN(model_add_bn)(m, l, "bn", l->in.c, &l->poff[0], &l->soff[0]);
}

static void bn_plan(struct nn_model *m, NN(layer) *l, int n, aug__arena *a)
{
	l->mean[0] = aug__arena_take(a, sizeof(real) * l->in.c);
	l->invstd[0] = aug__arena_take(a, sizeof(real) * l->in.c);
}

static void bn_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	const int c = l->in.c;
	const size_t per = (size_t)n * l->in.h * l->in.w;
	real *gamma = NN(param)(m, l->poff[0]);
	real *stat = m->stats + l->soff[0];

	l->batch_stats = m->training;
	if (l->fused) {
		/* relu and maxpool follow (model.c): write the pooled output */
		NN(layer) *pool = l + 2;

		NN(bn_relu_pool_forward)(c, n, l->in.h, l->in.w, pool->ks, pool->stride, pool->out.h,
					 pool->out.w, pool->out_buf, pool->argmax, l->mean[0],
					 l->invstd[0], in, gamma, gamma + c, stat, stat + c,
					 m->training);
	} else if (m->training)
		NN(batchnorm_forward_train)(c, per, out, l->mean[0], l->invstd[0], in, gamma,
					    gamma + c, stat, stat + c);
	else
		NN(batchnorm_forward_eval)(c, per, out, l->mean[0], l->invstd[0], in, gamma,
					   gamma + c, stat, stat + c);
}

static void bn_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			const real *dout, real *din, int n)
{
	const int c = l->in.c;
	real *dgamma = NN(grad)(m, l->poff[0]);

	if (l->fused) {
		/* dout is the gradient of the pooled output */
		const NN(layer) *pool = l + 2;

		NN(bn_relu_pool_backward)(c, n, l->in.h, l->in.w, pool->out.h, pool->out.w, din,
					  dgamma, dgamma + c, dout, pool->out_buf, pool->argmax, in,
					  l->mean[0], l->invstd[0], NN(param)(m, l->poff[0]),
					  l->batch_stats);
		return;
	}
	NN(batchnorm_backward)(c, (size_t)n * l->in.h * l->in.w, din, dgamma, dgamma + c, dout, in,
			       l->mean[0], l->invstd[0], NN(param)(m, l->poff[0]), l->batch_stats);
}

const NN(layer_ops) NN(bn_ops) = {
	.setup = bn_setup,
	.plan = bn_plan,
	.forward = bn_forward,
	.backward = bn_backward,
};
