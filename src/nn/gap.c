/* Global average pooling: the mean of each channel's plane. The output is
 * flat, (C,N), ready for a linear layer (PyTorch writes
 * AdaptiveAvgPool2d(1) + Flatten). */
#include "internal.h"

/* in (C,N,H,W) = planes of hw -> out (C,N) */
void NN(gap_forward)(int planes, size_t hw, real *out, const real *in)
{
#pragma omp parallel for schedule(static)
	for (int pl = 0; pl < planes; pl++) {
		const real *src = in + (size_t)pl * hw;
		double acc = 0;

		for (size_t i = 0; i < hw; i++)
			acc += src[i];
		out[pl] = (real)(acc / (double)hw);
	}
}

/* dout (C,N) -> din (C,N,H,W) = */
void NN(gap_backward)(int planes, size_t hw, real *din, const real *dout)
{
#pragma omp parallel for schedule(static)
	for (int pl = 0; pl < planes; pl++) {
		real *dst = din + (size_t)pl * hw;
		const real g = (real)(dout[pl] / (double)hw);

		for (size_t i = 0; i < hw; i++)
			dst[i] = g;
	}
}

/* ---- the layer: gap ---- */

static aug_status gap_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	if (l->in.flat)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: gap needs an image-shaped input, got %d flat features",
				 d->line, d->col, l->in.c);
	l->out = (aug__shape){ l->in.c, 1, 1, true };
	return AUG_OK;
}

static void gap_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	NN(gap_forward)(l->in.c * n, (size_t)l->in.h * l->in.w, out, in);
}

static void gap_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			 const real *dout, real *din, int n)
{
	if (din)
		NN(gap_backward)(l->in.c * n, (size_t)l->in.h * l->in.w, din, dout);
}

const NN(layer_ops) NN(gap_ops) = {
	.setup = gap_setup,
	.forward = gap_forward,
	.backward = gap_backward,
};
