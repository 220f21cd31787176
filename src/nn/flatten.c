/* Flatten: (C,N,H,W) -> (C*H*W, N), feature f = c*H*W + h*W + w as in
 * torch.flatten, so a linear layer's weight columns mean the same in both.
 * In our channel-major layout this is a transpose of each channel's
 * (N, H*W) block; on a flat input it is a copy. */
#include <string.h>

#include "internal.h"

/* in (C,N,S) -> out (C*S,N) */
void NN(flatten_forward)(int c, int n, size_t s, real *out, const real *in)
{
	if (s == 1) {
		memcpy(out, in, sizeof(real) * c * n);
		return;
	}
#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const real *src = in + (size_t)ch * n * s;
		real *dst = out + (size_t)ch * s * n;

		for (int j = 0; j < n; j++)
			for (size_t i = 0; i < s; i++)
				dst[i * n + j] = src[(size_t)j * s + i];
	}
}

/* dout (C*S,N) -> din (C,N,S) = */
void NN(flatten_backward)(int c, int n, size_t s, real *din, const real *dout)
{
	if (s == 1) {
		memcpy(din, dout, sizeof(real) * c * n);
		return;
	}
#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++) {
		const real *src = dout + (size_t)ch * s * n;
		real *dst = din + (size_t)ch * n * s;

		for (int j = 0; j < n; j++)
			for (size_t i = 0; i < s; i++)
				dst[(size_t)j * s + i] = src[i * n + j];
	}
}

/* ---- the layer: flatten ---- */

static aug_status flatten_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	l->out = (aug__shape){ (int)aug__shape_size(l->in), 1, 1, true };
	return AUG_OK;
}

static void flatten_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	NN(flatten_forward)(l->in.c, n, (size_t)l->in.h * l->in.w, out, in);
}

static void flatten_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			     const real *dout, real *din, int n)
{
	if (din)
		NN(flatten_backward)(l->in.c, n, (size_t)l->in.h * l->in.w, din, dout);
}

const NN(layer_ops) NN(flatten_ops) = {
	.setup = flatten_setup,
	.forward = flatten_forward,
	.backward = flatten_backward,
};
