/* Fully connected layer, weight (out, in) as torch.nn.Linear. Activations
 * are feature-major, (features, N), so all three products are plain GEMMs
 * with the batch as the inner dimension. */
#include "internal.h"

/* in (I,N), weight (O,I), bias (O) -> out (O,N) */
void NN(linear_forward)(int in_f, int out_f, int n, real *out, const real *in,
			const real *weight, const real *bias)
{
	nn_gemm(false, false, out_f, n, in_f, 1, weight, in_f, in, n, 0, out, n);
	if (bias) {
		for (int o = 0; o < out_f; o++)
			for (int j = 0; j < n; j++)
				out[(size_t)o * n + j] += bias[o];
	}
}

/* dout (O,N) -> dweight (O,I) +=, dbias (O) +=, din (I,N) = */
void NN(linear_backward)(int in_f, int out_f, int n, real *din, real *dweight, real *dbias,
			 const real *dout, const real *in, const real *weight)
{
	/* dweight (O,I) += dout (O,N) x in^T (N,I) */
	nn_gemm(false, true, out_f, in_f, n, 1, dout, n, in, n, 1, dweight, in_f);
	if (dbias) {
		for (int o = 0; o < out_f; o++) {
			double acc = 0;

			for (int j = 0; j < n; j++)
				acc += dout[(size_t)o * n + j];
			dbias[o] += (real)acc;
		}
	}
	/* din (I,N) = weight^T (I,O) x dout (O,N) */
	if (din)
		nn_gemm(true, false, in_f, n, out_f, 1, weight, in_f, dout, n, 0, din, n);
}

/* ---- the layer: linear N|classes [bias=yes] ---- */

static aug_status linear_setup(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	int shape[2];
	int units;
	aug_status st;

	if (!l->in.flat)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: linear needs a flat input, got %dx%dx%d; "
				 "add 'flatten' or 'gap' before it",
				 d->line, d->col, l->in.c, l->in.h, l->in.w);
	if (d->arg[AUG__LINEAR_OUT] == AUG__CLASSES) {
		if (m->classes <= 0)
			return aug__fail(AUG_ESPEC, "aug_model_parse",
					 "line %d:%d: 'linear classes' needs the number of classes, "
					 "and none was given",
					 d->arg_line[AUG__LINEAR_OUT], d->arg_col[AUG__LINEAR_OUT]);
		units = m->classes;
	} else {
		units = (int)d->arg[AUG__LINEAR_OUT];
	}
	l->bias = d->arg[AUG__LINEAR_BIAS] != 0;
	l->out = (aug__shape){ units, 1, 1, true };
	shape[0] = units;
	shape[1] = l->in.c;
	st = NN(model_add_param)(m, l, "linear.weight", AUG_TENSOR_WEIGHT, 2, shape, &l->poff[0]);
	if (!st && l->bias)
		st = NN(model_add_param)(m, l, "linear.bias", AUG_TENSOR_BIAS, 1, shape, &l->poff[1]);
	return st;
}

static void linear_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	NN(linear_forward)(l->in.c, l->out.c, n, out, in, NN(param)(m, l->poff[0]),
			   NN(param)(m, l->poff[1]));
}

static void linear_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			    const real *dout, real *din, int n)
{
	NN(linear_backward)(l->in.c, l->out.c, n, din, NN(grad)(m, l->poff[0]),
			    NN(grad)(m, l->poff[1]), dout, in, NN(param)(m, l->poff[0]));
}

const NN(layer_ops) NN(linear_ops) = {
	.setup = linear_setup,
	.forward = linear_forward,
	.backward = linear_backward,
};
