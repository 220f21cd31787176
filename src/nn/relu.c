/* Rectified linear unit. Backward reads the output (out > 0 exactly where
 * in > 0), so the layer can overwrite its input. */
#include "internal.h"

/* in (any) -> out (same); out may be in */
void NN(relu_forward)(size_t len, real *out, const real *in)
{
#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < len; i++)
		out[i] = in[i] > 0 ? in[i] : 0;
}

/* dout, out -> din; din may be dout */
void NN(relu_backward)(size_t len, real *din, const real *dout, const real *out)
{
#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < len; i++) {
		const real d = dout[i]; /* loaded unconditionally: the select vectorises */

		din[i] = out[i] > 0 ? d : 0;
	}
}

/* ---- the layer: relu ---- */

static aug_status relu_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	l->out = l->in;
	return AUG_OK;
}

static void relu_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	NN(relu_forward)(l->out_size * n, out, in);
}

static void relu_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			  const real *dout, real *din, int n)
{
	if (din)
		NN(relu_backward)(l->out_size * n, din, dout, out);
}

const NN(layer_ops) NN(relu_ops) = {
	.setup = relu_setup,
	.forward = relu_forward,
	.backward = relu_backward,
	.flags = AUG__NEEDS_OUTPUT | AUG__INPLACE_OK,
};
