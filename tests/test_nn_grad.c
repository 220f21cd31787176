/* Gradient checks: every layer type, the loss and a small whole model, on
 * the double-precision build of src/nn (the same code as the library,
 * compiled with real = double), against central differences
 *
 *     dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h,
 *
 * with the relative error |a - n| / (|a| + |n|) (cs231n, "Gradient
 * checks"). Bounds: 1e-6 for smooth layers, 1e-4 where the function has
 * kinks (ReLU, max-pool; a step can cross one). Components whose analytic
 * and numeric values are both below 1e-9 in size are compared absolutely
 * instead: their relative error is rounding noise over noise.
 *
 * The loss is L = sum(out * R) for a fixed random R, which checks the
 * backward pass for an arbitrary upstream gradient, or the softmax
 * cross-entropy for the models that end in classes. Dropout and stochastic
 * depth draw from the stream of a fixed (seed, step), reset before every
 * evaluation, so the function being differentiated is fixed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

/* The checks evaluate the model thousands of times on tiny tensors: one
 * thread, so that OpenMP's wake-ups do not dominate (and Criterion runs
 * two tests at once). The float suites cover the threaded paths. */
static void one_thread(void)
{
	omp_set_num_threads(1);
}

TestSuite(gradcheck, .init = one_thread);

#define SMOOTH 1e-6
#define KINK 1e-4
#define TINY 1e-9

typedef struct gc {
	const char *spec;
	int c, h, w, n;
	int classes;       /* > 0: the loss is cross-entropy with these labels */
	double smoothing;
	bool eval;         /* evaluation mode (BatchNorm running statistics) */
	uint64_t step;     /* the step whose dropout/stochastic-depth draws are used */
	size_t col_budget; /* 0: the default */
	bool unsliced;     /* one weight-gradient GEMM even for small weights */
} gc;

typedef struct gc_out {
	double worst;      /* max relative error over parameters and inputs */
	const char *where;
	size_t index;
	double analytic, numeric;
	size_t checked;
	bool dropped;      /* some resblock dropped its branch */
} gc_out;

static uint64_t rng_state;

static double urand(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) * 0x1.0p-53;
}

static double grand(void)
{
	return sqrt(-2 * log(1 - urand())) * cos(2 * M_PI * urand());
}

static struct aug__nnd_model *build(const gc *g)
{
	aug__spec spec;
	struct aug__nnd_model *m = NULL;

	cr_assert_eq(aug__spec_parse(g->spec, &spec), AUG_OK, "%s: %s", g->spec, aug_error_message());
	cr_assert_eq(aug__nnd_model_build(&m, &spec, g->c, g->h, g->w, g->classes), AUG_OK, "%s: %s",
		     g->spec, aug_error_message());
	aug__spec_free(&spec);
	if (g->col_budget)
		m->col_budget = g->col_budget;
	if (g->unsliced)
		m->dw_small = 0;
	return m;
}

/* L at the current parameters and input. */
static double loss_at(struct aug__nnd_model *m, const gc *g, const double *x, const double *r,
		      const int32_t *labels)
{
	const double *out;
	double l = 0;

	m->rng_seed = 7;
	m->rng_step = g->step;
	cr_assert_eq(aug__nnd_model_forward(m, x, g->n, &out), AUG_OK, "%s", aug_error_message());
	if (g->classes) {
		cr_assert_eq(aug__nnd_model_loss(m, labels, g->smoothing, &l, false), AUG_OK);
		return l;
	}
	for (size_t i = 0; i < m->out_size * g->n; i++)
		l += out[i] * r[i];
	return l;
}

static void consider(gc_out *o, const char *where, size_t i, double a, double num)
{
	double rel;

	if (fabs(a) < TINY && fabs(num) < TINY)
		rel = fabs(a - num) / TINY * 1e-3; /* absolute: |a - n| < 1e-12 passes 1e-6 */
	else
		rel = fabs(a - num) / (fabs(a) + fabs(num));
	o->checked++;
	if (rel > o->worst) {
		o->worst = rel;
		o->where = where;
		o->index = i;
		o->analytic = a;
		o->numeric = num;
	}
}

static gc_out gradcheck(const gc *g, double step)
{
	struct aug__nnd_model *m = build(g);
	const size_t xin = m->in_size * g->n;
	double *x = malloc(sizeof(double) * xin);
	double *r = malloc(sizeof(double) * m->out_size * g->n);
	double *ga, *gx;
	int32_t labels[64];
	gc_out o = { 0 };

	rng_state = 0x5eed ^ (uint64_t)g->n * 7919 ^ strlen(g->spec);
	/* parameters away from their tidy initial values: gamma != 1, beta != 0 */
	for (size_t i = 0; i < m->nparams; i++)
		m->params[i] = grand() * 0.5;
	for (size_t i = 0; i < m->nstats; i++)
		m->stats[i] = 0.5 + urand(); /* running var > 0 (means are harmless too) */
	for (size_t i = 0; i < xin; i++)
		x[i] = grand();
	for (size_t i = 0; i < m->out_size * g->n; i++)
		r[i] = grand();
	for (int i = 0; i < g->n; i++)
		labels[i] = g->classes ? (int32_t)(urand() * g->classes) : 0;
	m->training = !g->eval;
	m->want_input_grad = true;

	/* analytic */
	memset(m->grads, 0, sizeof(double) * m->nparams);
	loss_at(m, g, x, r, labels);
	for (int i = 0; i < m->nlayers; i++)
		o.dropped |= m->layers[i].dropped;
	if (g->classes) {
		double l;

		cr_assert_eq(aug__nnd_model_loss(m, labels, g->smoothing, &l, true), AUG_OK);
	} else {
		cr_assert_eq(aug__nnd_model_backward_output(m, r), AUG_OK);
	}
	ga = malloc(sizeof(double) * (m->nparams + 1));
	gx = malloc(sizeof(double) * xin);
	memcpy(ga, m->grads, sizeof(double) * m->nparams);
	memcpy(gx, m->dinput, sizeof(double) * xin);

	/* numeric; BatchNorm running statistics move with every training
	 * forward but do not enter a training-mode output */
	for (size_t i = 0; i < m->nparams; i++) {
		double keep = m->params[i], lp, lm;

		m->params[i] = keep + step;
		lp = loss_at(m, g, x, r, labels);
		m->params[i] = keep - step;
		lm = loss_at(m, g, x, r, labels);
		m->params[i] = keep;
		consider(&o, "param", i, ga[i], (lp - lm) / (2 * step));
	}
	for (size_t i = 0; i < xin; i++) {
		double keep = x[i], lp, lm;

		x[i] = keep + step;
		lp = loss_at(m, g, x, r, labels);
		x[i] = keep - step;
		lm = loss_at(m, g, x, r, labels);
		x[i] = keep;
		consider(&o, "input", i, gx[i], (lp - lm) / (2 * step));
	}
	free(x);
	free(r);
	free(ga);
	free(gx);
	aug__nnd_model_free(m);
	return o;
}

static void assert_gradient_below(const gc *g, double bound)
{
	gc_out o = gradcheck(g, 1e-5);

	cr_log_info("%-60s checked %5zu, worst %.2e", g->spec, o.checked, o.worst);
	cr_assert_gt(o.checked, 0);
	cr_assert_lt(o.worst, bound, "%s: %s %zu analytic %.12g numeric %.12g (rel %.3g)", g->spec,
		     o.where, o.index, o.analytic, o.numeric, o.worst);
}

Test(gradcheck, conv_bias_stride_pad)
{
	assert_gradient_below(&(gc){ .spec = "conv 3 k=3 pad=1", .c = 2, .h = 5, .w = 5, .n = 2 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "conv 4 k=3 stride=2 pad=1 bias=no", .c = 2, .h = 7, .w = 6, .n = 2 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "conv 2 k=2 stride=2", .c = 3, .h = 5, .w = 5, .n = 2 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "conv 3 k=1", .c = 2, .h = 3, .w = 4, .n = 2 }, SMOOTH);       /* pointwise: no im2col */
	assert_gradient_below(&(gc){ .spec = "conv 2 k=1 stride=2", .c = 2, .h = 5, .w = 5, .n = 2 }, SMOOTH); /* strided 1x1 */
	assert_gradient_below(&(gc){ .spec = "conv 2 k=5 pad=3", .c = 1, .h = 4, .w = 4, .n = 2 }, SMOOTH);  /* padding wider than half */
}

Test(gradcheck, conv_weight_gradient_sliced_or_not)
{
	/* weights this small are sliced (AUG__DW_SMALL); check the one-GEMM
	 * path too, on a 1x1 and a 3x3 convolution and through a resblock */
	assert_gradient_below(&(gc){ .spec = "conv 3 k=3 pad=1", .c = 2, .h = 5, .w = 5, .n = 2, .unsliced = true },
	       SMOOTH);
	assert_gradient_below(&(gc){ .spec = "conv 3 k=1", .c = 2, .h = 3, .w = 4, .n = 2, .unsliced = true }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "resblock 3 stride=2", .c = 2, .h = 5, .w = 5, .n = 2, .unsliced = true },
	       KINK);
	assert_gradient_below(&(gc){ .spec = "conv 2 k=3 pad=1", .c = 2, .h = 5, .w = 5, .n = 3, .col_budget = 1,
		      .unsliced = true },
	       SMOOTH);
}

/* The gradients of a model whose 3x3 convolutions run as Winograd
 * F(2x2,3x3) (winograd.c: 16 channels or more each side) against the same
 * model forced onto im2col, in double: the adjoint transforms must give the
 * convolution's gradients, not only their own. */
static void winograd_agrees_with_im2col(const gc *g)
{
	double *gw[2], *gx[2], *x, *r;
	size_t np = 0, xin = 0;
	int wino = 0;

	for (int v = 0; v < 2; v++) {
		struct aug__nnd_model *m = build(g);

		for (int i = 0; i < m->nlayers; i++)
			for (int j = 0; j < 3; j++) {
				wino += v == 0 && m->layers[i].g[j].wino;
				if (v == 1)
					m->layers[i].g[j].wino = false;
			}
		np = m->nparams;
		xin = m->in_size * g->n;
		rng_state = 0xa11ce;
		for (size_t i = 0; i < np; i++)
			m->params[i] = grand() * 0.5;
		x = malloc(sizeof(double) * xin);
		r = malloc(sizeof(double) * m->out_size * g->n);
		for (size_t i = 0; i < xin; i++)
			x[i] = grand();
		for (size_t i = 0; i < m->out_size * g->n; i++)
			r[i] = grand();
		m->training = true;
		m->want_input_grad = true;
		memset(m->grads, 0, sizeof(double) * np);
		loss_at(m, g, x, r, NULL);
		cr_assert_eq(aug__nnd_model_backward_output(m, r), AUG_OK);
		gw[v] = malloc(sizeof(double) * np);
		gx[v] = malloc(sizeof(double) * xin);
		memcpy(gw[v], m->grads, sizeof(double) * np);
		memcpy(gx[v], m->dinput, sizeof(double) * xin);
		free(x);
		free(r);
		aug__nnd_model_free(m);
	}
	cr_assert_gt(wino, 0, "%s: no convolution took the Winograd path", g->spec);
	for (size_t i = 0; i < np; i++)
		cr_assert_leq(fabs(gw[0][i] - gw[1][i]), 1e-11 * (fabs(gw[1][i]) + 1), "%s: param %zu: %.15g vs %.15g",
			      g->spec, i, gw[0][i], gw[1][i]);
	for (size_t i = 0; i < xin; i++)
		cr_assert_leq(fabs(gx[0][i] - gx[1][i]), 1e-11 * (fabs(gx[1][i]) + 1), "%s: input %zu: %.15g vs %.15g",
			      g->spec, i, gx[0][i], gx[1][i]);
	for (int v = 0; v < 2; v++) {
		free(gw[v]);
		free(gx[v]);
	}
}

Test(gradcheck, conv_winograd)
{
	/* Odd sizes leave partial tiles; pad 0 and 2 shift the tiles; a small
	 * budget makes chunks of images that the weight gradient sums over;
	 * a resblock's two 3x3 convolutions take the path too. */
	static const gc cases[] = {
		{ .spec = "conv 16 k=3 pad=1", .c = 16, .h = 5, .w = 4, .n = 2 },
		{ .spec = "conv 16 k=3 bias=no", .c = 16, .h = 5, .w = 6, .n = 2 },
		{ .spec = "conv 17 k=3 pad=2", .c = 16, .h = 3, .w = 3, .n = 2 },
		{ .spec = "conv 16 k=3 pad=1", .c = 16, .h = 3, .w = 5, .n = 3, .col_budget = 1 },
		{ .spec = "resblock 16", .c = 16, .h = 4, .w = 3, .n = 2 },
		{ .spec = "conv 16 k=3 pad=1", .c = 16, .h = 3, .w = 133, .n = 1 }, /* 67 tiles a row */
		{ .spec = "conv 16 k=3 pad=1", .c = 16, .h = 40, .w = 133, .n = 1 }, /* two bands */
		{ .spec = "conv 16 k=3 pad=0", .c = 16, .h = 6, .w = 1101, .n = 1 }, /* two segments */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		winograd_agrees_with_im2col(&cases[i]);
	/* and against central differences (ReLU in the resblock: a kink) */
	assert_gradient_below(&cases[3], 2e-6);
	assert_gradient_below(&cases[4], KINK);
}

Test(gradcheck, conv_in_chunks_of_images)
{
	/* a column budget of one image: im2col and col2im per image */
	assert_gradient_below(&(gc){ .spec = "conv 3 k=3 pad=1", .c = 2, .h = 4, .w = 4, .n = 3 , .col_budget = 1 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "conv 2 k=3 stride=2", .c = 2, .h = 5, .w = 5, .n = 3 , .col_budget = 2 * 9 * 2 * 2 * 2 }, SMOOTH);
}

Test(gradcheck, batchnorm_2d_and_1d)
{
	assert_gradient_below(&(gc){ .spec = "bn", .c = 3, .h = 3, .w = 4, .n = 3 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "flatten; bn", .c = 2, .h = 2, .w = 2, .n = 4 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "bn", .c = 2, .h = 3, .w = 3, .n = 2 , .eval = true }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "flatten; bn", .c = 3, .h = 1, .w = 1, .n = 5 , .eval = true }, SMOOTH);
}

Test(gradcheck, relu)
{
	assert_gradient_below(&(gc){ .spec = "relu", .c = 2, .h = 4, .w = 4, .n = 3 }, KINK);
}

Test(gradcheck, maxpool)
{
	assert_gradient_below(&(gc){ .spec = "maxpool 2", .c = 2, .h = 4, .w = 5, .n = 2 }, KINK);
	assert_gradient_below(&(gc){ .spec = "maxpool 3 stride=2", .c = 2, .h = 7, .w = 7, .n = 2 }, KINK); /* overlapping windows */
}

Test(gradcheck, avgpool_and_gap)
{
	assert_gradient_below(&(gc){ .spec = "avgpool 2", .c = 2, .h = 4, .w = 5, .n = 2 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "avgpool 3 stride=2", .c = 2, .h = 7, .w = 7, .n = 2 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "gap", .c = 3, .h = 3, .w = 5, .n = 2 }, SMOOTH);
}

Test(gradcheck, linear_and_flatten)
{
	assert_gradient_below(&(gc){ .spec = "flatten", .c = 3, .h = 2, .w = 3, .n = 2 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "flatten; linear 5", .c = 2, .h = 3, .w = 3, .n = 3 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "flatten; linear 4 bias=no; linear 3", .c = 3, .h = 2, .w = 2, .n = 2 }, SMOOTH);
}

Test(gradcheck, dropout_with_a_fixed_mask)
{
	assert_gradient_below(&(gc){ .spec = "dropout p=0.3", .c = 2, .h = 3, .w = 3, .n = 3 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "flatten; dropout p=0.6", .c = 4, .h = 1, .w = 1, .n = 5 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "dropout p=0.3", .c = 2, .h = 3, .w = 3, .n = 3 , .eval = true }, SMOOTH);
}

Test(gradcheck, resblock_identity_and_projection)
{
	assert_gradient_below(&(gc){ .spec = "resblock 2", .c = 2, .h = 4, .w = 4, .n = 2 }, KINK);
	assert_gradient_below(&(gc){ .spec = "resblock 3 stride=2", .c = 2, .h = 5, .w = 5, .n = 2 }, KINK);
	assert_gradient_below(&(gc){ .spec = "resblock 3", .c = 2, .h = 4, .w = 4, .n = 2 , .eval = true }, KINK);
}

Test(gradcheck, resblock_stochastic_depth_both_ways)
{
	/* survive=0.5 with one block: p_l = 0.5. Find a step where the
	 * branch survives (scaled by 2) and one where it is dropped. */
	bool seen[2] = { false, false };

	for (uint64_t step = 0; step < 16 && !(seen[0] && seen[1]); step++) {
		gc g = { .spec = "resblock 3 stride=2 survive=0.5", .c = 2, .h = 5, .w = 5, .n = 2,
			  .step = step };
		gc_out o = gradcheck(&g, 1e-5);

		cr_assert_lt(o.worst, KINK, "step %llu dropped=%d: %s %zu a %.12g n %.12g",
			     (unsigned long long)step, o.dropped, o.where, o.index, o.analytic,
			     o.numeric);
		seen[o.dropped] = true;
	}
	cr_assert(seen[0] && seen[1], "16 steps of p=0.5 never both kept and dropped");
}

Test(gradcheck, softmax_cross_entropy_with_smoothing)
{
	assert_gradient_below(&(gc){ .spec = "flatten; linear 4", .c = 2, .h = 2, .w = 2, .n = 5 , .classes = 4 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "flatten; linear 6", .c = 3, .h = 1, .w = 2, .n = 4 , .classes = 6, .smoothing = 0.1 }, SMOOTH);
	assert_gradient_below(&(gc){ .spec = "gap; linear classes", .c = 2, .h = 3, .w = 3, .n = 3 , .classes = 3, .smoothing = 1 }, SMOOTH);
}

Test(gradcheck, small_whole_model)
{
	assert_gradient_below(&(gc){ .spec = "conv 3 k=3 pad=1 bias=no; bn; relu; maxpool 2\n"
		      "resblock 4 stride=2 survive=0.9\n"
		      "flatten; linear 6 bias=no; bn; relu; dropout p=0.25; linear classes", .c = 2, .h = 8, .w = 8, .n = 4 , .classes = 5, .smoothing = 0.1 },
	       KINK);
}

Test(gradcheck, reference_model_shape_small)
{
	/* The reference model's layer sequence on a 1x8x8 input. */
	assert_gradient_below(&(gc){ .spec = "conv 4 k=3 pad=1 bias=no; bn; relu; maxpool 2\n"
		      "conv 5 k=3 pad=1 bias=no; bn; relu; maxpool 2\n"
		      "flatten; linear 6 bias=no; bn; relu; dropout p=0.5; linear classes", .c = 1, .h = 8, .w = 8, .n = 4 , .classes = 3 },
	       KINK);
}

Test(gradcheck, fused_bn_relu_maxpool)
{
	/* bn; relu; maxpool runs as one fused layer (bn_relu_pool.c) */
	assert_gradient_below(&(gc){ .spec = "bn; relu; maxpool 2", .c = 2, .h = 4, .w = 6, .n = 3 }, KINK);
	assert_gradient_below(&(gc){ .spec = "bn; relu; maxpool 2", .c = 2, .h = 4, .w = 4, .n = 2, .eval = true }, KINK);
	assert_gradient_below(&(gc){ .spec = "bn; relu; maxpool 3 stride=2", .c = 2, .h = 7, .w = 7, .n = 2 }, KINK);
}
