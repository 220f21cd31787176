/* Inverted dropout (Srivastava et al. 2014, in the form torch.nn.Dropout
 * uses): in training each unit is kept with probability 1 - p and kept
 * units are scaled by 1/(1-p), so evaluation is the identity.
 *
 * The mask of sample j in training step `step` comes from the stream
 * aug_rng_stream(seed, step, layer, j); unit f = c*H*W + h*W + w (its index
 * in the sample, NCHW order) is kept when draw number f of that stream,
 * uniform on [0, 1), is below 1 - p. A counter-based stream can jump to any
 * draw, so the mask does not depend on the layout, the thread count or the
 * order of work, and tests/gen/make-nn-fixtures.py can rebuild it.
 */
#include <string.h>

#include "internal.h"

/* in (C,N,S) -> out (C,N,S), keep (C,N,S) */
void NN(dropout_forward)(int c, int n, size_t s, double p, uint64_t seed, uint64_t step,
			 uint64_t layer, real *out, uint8_t *keep, const real *in)
{
	const double keep_p = 1.0 - p;
	const real scale = (real)(1.0 / keep_p);

	/* Sample by sample: the stream is made once per sample (making it
	 * is most of the cost of one draw), then positioned at each channel. */
#pragma omp parallel for schedule(static)
	for (int j = 0; j < n; j++) {
		const aug_rng stream = aug_rng_stream(seed, step, layer, (uint64_t)j);

		for (int ch = 0; ch < c; ch++) {
			aug_rng rng = stream;
			const size_t base = ((size_t)ch * n + j) * s;

			rng.counter = (uint64_t)ch * s;
			for (size_t i = 0; i < s; i++) {
				const bool k = aug_rng_bernoulli(&rng, keep_p);

				keep[base + i] = k;
				out[base + i] = k ? in[base + i] * scale : 0;
			}
		}
	}
}

/* dout, keep -> din (same layout) = */
void NN(dropout_backward)(size_t len, double p, real *din, const real *dout, const uint8_t *keep)
{
	const real scale = (real)(1.0 / (1.0 - p));

#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < len; i++)
		din[i] = keep[i] ? dout[i] * scale : 0;
}

/* ---- the layer: dropout [p=0.5] ---- */

static aug_status dropout_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	l->out = l->in;
	l->p = d->arg[AUG__DROPOUT_P];
	return AUG_OK;
}

static void dropout_plan(struct nn_model *m, NN(layer) *l, int n, aug__arena *a)
{
	l->keep = aug__arena_take(a, l->out_size * n);
}

static void dropout_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	const size_t len = l->out_size * n;

	l->live = m->training && l->p > 0;
	if (l->live) {
		NN(dropout_forward)(l->in.c, n, (size_t)l->in.h * l->in.w, l->p, m->rng_seed,
				    m->fwd_step, (uint64_t)l->index, out, l->keep, in);
	} else if (out != in) {
		memcpy(out, in, sizeof(real) * len);
	}
}

static void dropout_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			     const real *dout, real *din, int n)
{
	const size_t len = l->out_size * n;

	if (!din)
		return;
	if (l->live)
		NN(dropout_backward)(len, l->p, din, dout, l->keep);
	else
		memcpy(din, dout, sizeof(real) * len);
}

const NN(layer_ops) NN(dropout_ops) = {
	.setup = dropout_setup,
	.plan = dropout_plan,
	.forward = dropout_forward,
	.backward = dropout_backward,
	.flags = AUG__INPLACE_OK,
};
