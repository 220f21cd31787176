/* Max pooling, no padding, floor mode (torch.nn.MaxPool2d(k, stride)).
 * Forward keeps the flat index of each window's maximum in its input plane;
 * on ties the first in scan order wins and a NaN wins over numbers (the
 * last NaN over earlier ones), as in PyTorch's CPU kernel
 * (aten/src/ATen/native/cpu/MaxPoolKernel.cpp), so gradients route to the
 * same element. */
#include <string.h>

#include "internal.h"

/* x takes over as the maximum: greater, or NaN (PyTorch's rule) */
static inline bool beats(real x, real best)
{
	return x > best || x != x;
}

/* in (planes,H,W) -> out (planes,P,Q), argmax (planes,P,Q) */
void NN(maxpool_forward)(int planes, int h, int w, int k, int stride, int p, int q, real *out,
			 int32_t *argmax, const real *in)
{
#pragma omp parallel for schedule(static)
	for (int pl = 0; pl < planes; pl++) {
		const real *src = in + (size_t)pl * h * w;
		real *dst = out + (size_t)pl * p * q;
		int32_t *am = argmax + (size_t)pl * p * q;

		if (k == 2 && stride == 2) {
			/* the common case, without the inner loops */
			for (int y = 0; y < p; y++) {
				const real *r0 = src + (size_t)2 * y * w, *r1 = r0 + w;

				for (int x = 0; x < q; x++) {
					const real a = r0[2 * x], b = r0[2 * x + 1];
					const real c = r1[2 * x], d = r1[2 * x + 1];
					real v = a;
					int i = 0;

					i = beats(b, v) ? 1 : i;
					v = beats(b, v) ? b : v;
					i = beats(c, v) ? w : i;
					v = beats(c, v) ? c : v;
					i = beats(d, v) ? w + 1 : i;
					v = beats(d, v) ? d : v;
					dst[y * q + x] = v;
					am[y * q + x] = 2 * y * w + 2 * x + i;
				}
			}
			continue;
		}
		for (int y = 0; y < p; y++) {
			for (int x = 0; x < q; x++) {
				int best = y * stride * w + x * stride;
				real v = src[best];

				for (int r = 0; r < k; r++) {
					for (int s = 0; s < k; s++) {
						int i = (y * stride + r) * w + x * stride + s;

						if (beats(src[i], v)) {
							v = src[i];
							best = i;
						}
					}
				}
				dst[y * q + x] = v;
				am[y * q + x] = best;
			}
		}
	}
}

/* dout (planes,P,Q), argmax -> din (planes,H,W) = */
void NN(maxpool_backward)(int planes, int h, int w, int p, int q, real *din,
			  const real *dout, const int32_t *argmax)
{
#pragma omp parallel for schedule(static)
	for (int pl = 0; pl < planes; pl++) {
		real *dst = din + (size_t)pl * h * w;
		const real *src = dout + (size_t)pl * p * q;
		const int32_t *am = argmax + (size_t)pl * p * q;

		memset(dst, 0, sizeof(real) * h * w);
		for (int i = 0; i < p * q; i++)
			dst[am[i]] += src[i];
	}
}

/* ---- the layers: maxpool K [stride=K], avgpool K [stride=K] ---- */


aug_status NN(pool_setup)(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d)
{
	const char *name = aug__layer_name(d->kind);

	if (l->in.flat)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: %s needs an image-shaped input, got %d flat features",
				 d->line, d->col, name, l->in.c);
	l->ks = (int)d->arg[AUG__POOL_K];
	l->stride = d->arg[AUG__POOL_STRIDE] > 0 ? (int)d->arg[AUG__POOL_STRIDE] : l->ks;
	l->out.c = l->in.c;
	l->out.h = aug__out_size(l->in.h, l->ks, l->stride, 0);
	l->out.w = aug__out_size(l->in.w, l->ks, l->stride, 0);
	l->out.flat = false;
	if (l->out.h < 1 || l->out.w < 1)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: %s %d needs an input of at least %dx%d, got %dx%d",
				 d->line, d->col, name, l->ks, l->ks, l->ks, l->in.h, l->in.w);
	return AUG_OK;
}

static void maxpool_plan(struct nn_model *m, NN(layer) *l, int n, aug__arena *a)
{
	l->argmax = aug__arena_take(a, sizeof(int32_t) * l->out_size * n);
}

static void maxpool_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	NN(maxpool_forward)(l->in.c * n, l->in.h, l->in.w, l->ks, l->stride, l->out.h, l->out.w, out,
			    l->argmax, in);
}

static void maxpool_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			     const real *dout, real *din, int n)
{
	if (din)
		NN(maxpool_backward)(l->in.c * n, l->in.h, l->in.w, l->out.h, l->out.w, din, dout,
				     l->argmax);
}

const NN(layer_ops) NN(maxpool_ops) = {
	.setup = NN(pool_setup),
	.plan = maxpool_plan,
	.forward = maxpool_forward,
	.backward = maxpool_backward,
};
