/* Residual block (He et al. 2016, the "basic block" of ResNet-18/34 and of
 * the CIFAR ResNets) with stochastic depth (Huang et al. 2016):
 *
 *   branch   b = bn2(conv3x3(relu(bn1(conv3x3(x, stride)))))
 *   shortcut s = x, or bnp(conv1x1(x, stride)) when the stride or the
 *                channel count changes (projection, "option B")
 *   out        = relu(s + scale * b)
 *
 * Stochastic depth. Block l of L (counting resblocks from 1) survives a
 * training step with probability p_l = 1 - (l/L)(1 - p_L), the linear
 * decay rule, where p_L is the block's survive= value (default 1: never
 * dropped). Like Huang et al. the whole branch is dropped for the whole
 * mini-batch, which skips its forward and backward work. We use
 * train-time rescaling: a surviving branch is scaled by 1/p_l in training
 * and by 1 in evaluation, so evaluation is the plain network, the same
 * convention as inverted dropout (Huang et al. instead scale by p_l at test
 * time; the two agree in expectation). The choice for step `step` is
 * draw 1 of aug_rng_stream(seed, step, layer, 0).
 */
#include "internal.h"

/* Per-batch buffers: conv1 out, bn1/relu out, conv2 out, bn2 out, the
 * projection's conv and bn outputs, then backward's scratch. */
enum { RB_A1, RB_R1, RB_A2, RB_B2, RB_AP, RB_BP, RB_G0, RB_G1, RB_G2, RB_GIN, RB_NBUF };
/* Parameter slots: weight, gamma and beta of conv1/bn1, conv2/bn2, projection. */
enum { RB_W1, RB_G1W, RB_B1W, RB_W2, RB_G2W, RB_B2W, RB_WP, RB_GPW, RB_BPW, RB_NPARAM };
_Static_assert(RB_NBUF <= AUG__LAYER_BUFS, "layer buffers");
_Static_assert(RB_NPARAM <= AUG__LAYER_PARAMS, "layer parameter slots");

/* ---- the layer: resblock N [stride=1] [survive=1] ---- */

static aug_status resblock_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	const int cout = (int)d->arg[AUG__RES_OUT];
	const int stride = (int)d->arg[AUG__RES_STRIDE];
	const double survive_last = d->arg[AUG__RES_SURVIVE];
	int shape[4];
	int idx;
	aug_status st;

	if (l->in.flat)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: resblock needs an image-shaped input, "
				 "got %d flat features",
				 d->line, d->col, l->in.c);
	l->g[0] = (aug__conv_geom){ l->in.c, l->in.h, l->in.w, cout,
				    aug__out_size(l->in.h, 3, stride, 1),
				    aug__out_size(l->in.w, 3, stride, 1), 3, stride, 1, false };
	l->g[1] = (aug__conv_geom){ cout, l->g[0].p, l->g[0].q, cout, l->g[0].p, l->g[0].q, 3, 1, 1, false };
	l->proj = stride != 1 || cout != l->in.c;
	l->g[2] = (aug__conv_geom){ l->in.c, l->in.h, l->in.w, cout,
				    aug__out_size(l->in.h, 1, stride, 0),
				    aug__out_size(l->in.w, 1, stride, 0), 1, stride, 0, false };
	l->out = (aug__shape){ cout, l->g[0].p, l->g[0].q, false };
	for (int i = 0; i < 3; i++)
		aug__conv_choose(&l->g[i]);

	/* p_l = 1 - (l/L)(1 - p_L) */
	idx = ++m->nresblocks;
	l->p = 1.0 - (double)idx / (double)m->total_resblocks * (1.0 - survive_last);

	shape[0] = cout;
	shape[1] = l->in.c;
	shape[2] = 3;
	shape[3] = 3;
	st = NN(model_add_param)(m, l, "resblock.conv1.weight", AUG_TENSOR_WEIGHT, 4, shape,
				 &l->poff[RB_W1]);
	if (!st)
		st = NN(model_add_bn)(m, l, "resblock.bn1", cout, &l->poff[RB_G1W], &l->soff[0]);
	shape[1] = cout;
	if (!st)
		st = NN(model_add_param)(m, l, "resblock.conv2.weight", AUG_TENSOR_WEIGHT, 4, shape,
					 &l->poff[RB_W2]);
	if (!st)
		st = NN(model_add_bn)(m, l, "resblock.bn2", cout, &l->poff[RB_G2W], &l->soff[1]);
	if (!st && l->proj) {
		shape[1] = l->in.c;
		shape[2] = 1;
		shape[3] = 1;
		st = NN(model_add_param)(m, l, "resblock.proj.weight", AUG_TENSOR_WEIGHT, 4, shape,
					 &l->poff[RB_WP]);
		if (!st)
			st = NN(model_add_bn)(m, l, "resblock.projbn", cout, &l->poff[RB_GPW],
					      &l->soff[2]);
	}
	return st;
}

static void resblock_plan(struct nn_model *m, NN(layer) *l, int n, aug__arena *a)
{
	const size_t on = sizeof(real) * l->out_size * n;
	const int c = l->out.c;

	for (int b = RB_A1; b <= RB_G2; b++)
		l->buf[b] = (b == RB_AP || b == RB_BP) && !l->proj ? NULL : aug__arena_take(a, on);
	l->buf[RB_GIN] = l->proj ? aug__arena_take(a, sizeof(real) * l->in_size * n) : NULL;
	for (int i = 0; i < 3; i++) {
		l->mean[i] = aug__arena_take(a, sizeof(real) * c);
		l->invstd[i] = aug__arena_take(a, sizeof(real) * c);
	}
}

static size_t resblock_col_size(const struct nn_model *m, const NN(layer) *l, int n)
{
	size_t c = aug__conv_col_size(&l->g[0], n, m->col_budget, m->dw_small);
	size_t c1 = aug__conv_col_size(&l->g[1], n, m->col_budget, m->dw_small);
	size_t c2 = l->proj ? aug__conv_col_size(&l->g[2], n, m->col_budget, m->dw_small) : 0;

	if (c1 > c)
		c = c1;
	return c2 > c ? c2 : c;
}

#define CHUNK(i) aug__conv_chunk(&l->g[i], n, m->col_budget)
#define PART(i) NN(conv_part)(m, &l->g[i], n)

/* x -> BatchNorm number `i` of the block, whose gamma is at poff[slot] */
static void bn_fwd(struct nn_model *m, NN(layer) *l, int i, int slot, size_t per, real *out,
		   const real *x)
{
	const int c = l->out.c;
	real *gamma = NN(param)(m, l->poff[slot]);
	real *stat = m->stats + l->soff[i];

	if (m->training)
		NN(batchnorm_forward_train)(c, per, out, l->mean[i], l->invstd[i], x, gamma, gamma + c,
					    stat, stat + c);
	else
		NN(batchnorm_forward_eval)(c, per, out, l->mean[i], l->invstd[i], x, gamma, gamma + c,
					   stat, stat + c);
}

static void bn_bwd(struct nn_model *m, NN(layer) *l, int i, int slot, size_t per, real *din,
		   const real *dout, const real *x)
{
	const int c = l->out.c;
	real *dgamma = NN(grad)(m, l->poff[slot]);

	NN(batchnorm_backward)(c, per, din, dgamma, dgamma + c, dout, x, l->mean[i], l->invstd[i],
			       NN(param)(m, l->poff[slot]), l->batch_stats);
}

/* in (C,N,H,W) -> out (K,N,P,Q) */
static void resblock_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	const size_t on = l->out_size * n;
	const size_t per = (size_t)n * l->out.h * l->out.w;
	real **b = l->buf;
	const real *s = in;

	l->batch_stats = m->training;
	l->dropped = false;
	l->branch_scale = 1;
	if (m->training && l->p < 1) {
		aug_rng rng = aug_rng_stream(m->rng_seed, m->fwd_step, (uint64_t)l->index, 0);

		l->dropped = !aug_rng_bernoulli(&rng, l->p);
		l->branch_scale = 1 / l->p;
	}
	if (l->proj) {
		NN(conv2d_forward)(&l->g[2], n, CHUNK(2), b[RB_AP], in, NN(param)(m, l->poff[RB_WP]),
				   NULL, m->col);
		bn_fwd(m, l, 2, RB_GPW, per, b[RB_BP], b[RB_AP]);
		s = b[RB_BP];
	}
	if (l->dropped) {
		NN(relu_forward)(on, out, s);
		return;
	}
	NN(conv2d_forward)(&l->g[0], n, CHUNK(0), b[RB_A1], in, NN(param)(m, l->poff[RB_W1]), NULL,
			   m->col);
	bn_fwd(m, l, 0, RB_G1W, per, b[RB_R1], b[RB_A1]);
	NN(relu_forward)(on, b[RB_R1], b[RB_R1]);
	NN(conv2d_forward)(&l->g[1], n, CHUNK(1), b[RB_A2], b[RB_R1], NN(param)(m, l->poff[RB_W2]),
			   NULL, m->col);
	bn_fwd(m, l, 1, RB_G2W, per, b[RB_B2], b[RB_A2]);
	{
		const real scale = (real)l->branch_scale;
		const real *br = b[RB_B2];

#pragma omp parallel for schedule(static)
		for (size_t i = 0; i < on; i++) {
			real z = s[i] + scale * br[i];

			out[i] = z > 0 ? z : 0;
		}
	}
}

static void resblock_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			      const real *dout, real *din, int n)
{
	const size_t on = l->out_size * n;
	const size_t inn = l->in_size * n;
	const size_t per = (size_t)n * l->out.h * l->out.w;
	real **b = l->buf;
	real *g0 = b[RB_G0], *g1 = b[RB_G1], *g2 = b[RB_G2];

	/* dz = dout where out > 0 */
	NN(relu_backward)(on, g0, dout, out);
	if (!l->dropped) {
		const real scale = (real)l->branch_scale;

#pragma omp parallel for schedule(static)
		for (size_t i = 0; i < on; i++)
			g1[i] = g0[i] * scale;
		bn_bwd(m, l, 1, RB_G2W, per, g1, g1, b[RB_A2]);
		NN(conv2d_backward)(&l->g[1], n, CHUNK(1), g2, NN(grad)(m, l->poff[RB_W2]), NULL, g1,
				    b[RB_R1], NN(param)(m, l->poff[RB_W2]), m->col, PART(1));
		NN(relu_backward)(on, g2, g2, b[RB_R1]);
		bn_bwd(m, l, 0, RB_G1W, per, g2, g2, b[RB_A1]);
		NN(conv2d_backward)(&l->g[0], n, CHUNK(0), din, NN(grad)(m, l->poff[RB_W1]), NULL,
				    g2, in, NN(param)(m, l->poff[RB_W1]), m->col, PART(0));
	}
	if (l->proj) {
		/* the shortcut's input gradient goes straight to din when the
		 * branch wrote nothing there */
		real *dsc = din && !l->dropped ? b[RB_GIN] : din;

		bn_bwd(m, l, 2, RB_GPW, per, g0, g0, b[RB_AP]);
		NN(conv2d_backward)(&l->g[2], n, CHUNK(2), dsc, NN(grad)(m, l->poff[RB_WP]), NULL,
				    g0, in, NN(param)(m, l->poff[RB_WP]), m->col, PART(2));
		if (din && !l->dropped) {
#pragma omp parallel for schedule(static)
			for (size_t i = 0; i < inn; i++)
				din[i] += dsc[i];
		}
	} else if (din) {
		if (l->dropped) {
#pragma omp parallel for schedule(static)
			for (size_t i = 0; i < inn; i++)
				din[i] = g0[i];
		} else {
#pragma omp parallel for schedule(static)
			for (size_t i = 0; i < inn; i++)
				din[i] += g0[i];
		}
	}
}

const NN(layer_ops) NN(resblock_ops) = {
	.setup = resblock_setup,
	.plan = resblock_plan,
	.col_size = resblock_col_size,
	.forward = resblock_forward,
	.backward = resblock_backward,
	.flags = AUG__NEEDS_OUTPUT,
};
