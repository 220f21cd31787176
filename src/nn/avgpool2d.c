/* Average pooling, no padding, floor mode (torch.nn.AvgPool2d(k, stride)):
 * every window has k*k inputs. */
#include <string.h>

#include "internal.h"


/* in (planes,H,W) -> out (planes,P,Q) */
void NN(avgpool_forward)(int planes, int h, int w, int k, int stride, int p, int q, real *out,
			 const real *in)
{
	const double inv = 1.0 / ((double)k * k);

#pragma omp parallel for schedule(static)
	for (int pl = 0; pl < planes; pl++) {
		const real *src = in + (size_t)pl * h * w;
		real *dst = out + (size_t)pl * p * q;

		for (int y = 0; y < p; y++) {
			for (int x = 0; x < q; x++) {
				double acc = 0;

				for (int r = 0; r < k; r++)
					for (int s = 0; s < k; s++)
						acc += src[(y * stride + r) * w + x * stride + s];
				dst[y * q + x] = (real)(acc * inv);
			}
		}
	}
}

/* dout (planes,P,Q) -> din (planes,H,W) = */
void NN(avgpool_backward)(int planes, int h, int w, int k, int stride, int p, int q, real *din,
			  const real *dout)
{
	const real inv = (real)(1.0 / ((double)k * k));

#pragma omp parallel for schedule(static)
	for (int pl = 0; pl < planes; pl++) {
		real *dst = din + (size_t)pl * h * w;
		const real *src = dout + (size_t)pl * p * q;

		memset(dst, 0, sizeof(real) * h * w);
		for (int y = 0; y < p; y++) {
			for (int x = 0; x < q; x++) {
				const real g = src[y * q + x] * inv;

				for (int r = 0; r < k; r++)
					for (int s = 0; s < k; s++)
						dst[(y * stride + r) * w + x * stride + s] += g;
			}
		}
	}
}

/* ---- the layer: avgpool K [stride=K] ---- */

static void avgpool_forward(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n)
{
	NN(avgpool_forward)(l->in.c * n, l->in.h, l->in.w, l->ks, l->stride, l->out.h, l->out.w, out,
			    in);
}

static void avgpool_backward(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			     const real *dout, real *din, int n)
{
	if (din)
		NN(avgpool_backward)(l->in.c * n, l->in.h, l->in.w, l->ks, l->stride, l->out.h,
				     l->out.w, din, dout);
}

const NN(layer_ops) NN(avgpool_ops) = {
	.setup = NN(pool_setup),
	.forward = avgpool_forward,
	.backward = avgpool_backward,
};
