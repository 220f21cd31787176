/* What each layer means, pinned where frameworks disagree: inverted
 * dropout's scale and rate, stochastic depth's survival rate and
 * expectation, BatchNorm's biased/unbiased variances and evaluation with
 * running statistics, label smoothing against a value worked by hand, the
 * convolution and linear layers against direct loops, max-pool ties, and
 * the float build against the same sums in double. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "augment.h"
#include "nn/internal.h"

static aug_model *parse(const char *spec, int c, int h, int w, int classes)
{
	aug_model *m = NULL;

	cr_assert_eq(aug_model_parse(&m, spec, c, h, w, classes), AUG_OK, "%s: %s", spec,
		     aug_error_message());
	return m;
}

static float *fill(size_t n, uint64_t seed, double lo, double hi)
{
	float *x = malloc(sizeof(float) * n);
	aug_rng r = aug_rng_stream(seed, 1, 2, 3);

	for (size_t i = 0; i < n; i++)
		x[i] = (float)aug_rng_range(&r, lo, hi);
	return x;
}

/* ---- dropout ---- */

Test(dropout, inverted_scale_rate_and_stream)
{
	const int n = 64, c = 4, h = 16, w = 16;
	const size_t len = (size_t)n * c * h * w;
	aug_model *m = parse("dropout p=0.3", c, h, w, 0);
	float *x = fill(len, 1, 0.5, 1.5);
	const float *y;
	size_t kept = 0;
	double sum_in = 0, sum_out = 0;

	aug_model_set_rng(m, 99, 5);
	cr_assert_eq(aug_model_forward(m, x, n, &y), AUG_OK);
	for (size_t i = 0; i < len; i++) {
		sum_in += x[i];
		sum_out += y[i];
		if (y[i] != 0) {
			kept++;
			cr_assert_float_eq(y[i], x[i] / 0.7f, 1e-6, "kept unit %zu not scaled by 1/(1-p)", i);
		}
	}
	/* 65536 units, keep 0.7: sd 0.0018 */
	cr_assert_lt(fabs((double)kept / len - 0.7), 0.01, "kept %zu of %zu", kept, len);
	cr_assert_lt(fabs(sum_out / sum_in - 1), 0.02, "not unbiased: %g", sum_out / sum_in);

	/* the documented stream: sample j, unit f = c*H*W + h*W + w */
	for (int j = 0; j < n; j += 7) {
		for (int f = 0; f < c * h * w; f += 37) {
			aug_rng r = aug_rng_stream(99, 5, 0, (uint64_t)j);

			r.counter = (uint64_t)f;
			cr_assert_eq(aug_rng_bernoulli(&r, 0.7), y[(size_t)j * c * h * w + f] != 0,
				     "sample %d unit %d", j, f);
		}
	}
	/* evaluation: identity */
	aug_model_set_training(m, false);
	cr_assert_eq(aug_model_forward(m, x, n, &y), AUG_OK);
	cr_assert_eq(memcmp(x, y, sizeof(float) * len), 0);
	free(x);
	aug_model_free(m);
}

Test(dropout, masks_differ_by_step_not_by_threads)
{
	const int n = 8;
	aug_model *m = parse("flatten; dropout", 3, 5, 5, 0);
	float *x = fill((size_t)n * 75, 2, 1, 2);
	float *a = malloc(sizeof(float) * n * 75), *b = malloc(sizeof(float) * n * 75);
	const float *y;

	omp_set_num_threads(1);
	aug_model_set_rng(m, 1, 10);
	aug_model_forward(m, x, n, &y);
	memcpy(a, y, sizeof(float) * n * 75);
	omp_set_num_threads(2);
	aug_model_set_rng(m, 1, 10);
	aug_model_forward(m, x, n, &y);
	cr_assert_eq(memcmp(a, y, sizeof(float) * n * 75), 0, "mask depends on the thread count");
	memcpy(b, y, sizeof(float) * n * 75);
	aug_model_forward(m, x, n, &y); /* step 11 */
	cr_assert_neq(memcmp(b, y, sizeof(float) * n * 75), 0, "two steps, one mask");
	free(a);
	free(b);
	free(x);
	aug_model_free(m);
}

/* ---- stochastic depth ---- */

Test(stochastic_depth, linear_decay_and_survival_rate)
{
	aug_model *m = parse("resblock 2 survive=0.4; resblock 2 survive=0.4; resblock 2 survive=0.4",
			     2, 3, 3, 0);
	const double want[3] = { 0.8, 0.6, 0.4 };
	int survived[3] = { 0 };
	const int trials = 600;
	float *x = fill(2 * 18, 3, -1, 1);

	omp_set_num_threads(1); /* hundreds of tiny passes: threads only add wake-ups */
	for (int b = 0; b < 3; b++)
		cr_assert_float_eq(m->layers[b].p, want[b], 1e-12, "p_l of block %d", b + 1);
	aug_model_set_rng(m, 5, 0);
	for (int t = 0; t < trials; t++) {
		cr_assert_eq(aug_model_forward(m, x, 2, NULL), AUG_OK);
		for (int b = 0; b < 3; b++)
			survived[b] += !m->layers[b].dropped;
	}
	for (int b = 0; b < 3; b++) {
		double rate = (double)survived[b] / trials;
		double sd = sqrt(want[b] * (1 - want[b]) / trials);

		cr_assert_lt(fabs(rate - want[b]), 4 * sd, "block %d survived %.3f, want %.2f", b + 1,
			     rate, want[b]);
	}
	aug_model_set_training(m, false);
	aug_model_forward(m, x, 2, NULL);
	for (int b = 0; b < 3; b++)
		cr_assert(!m->layers[b].dropped, "evaluation dropped a block");
	free(x);
	aug_model_free(m);
}

/* Train-time rescaling: a surviving branch is scaled by 1/p_l, so the
 * expected training output equals the output with the block always on,
 * and evaluation needs no scaling. The inputs are large and positive so
 * that the final ReLU is the identity and expectations pass through it. */
Test(stochastic_depth, rescaled_branch_has_the_right_expectation)
{
	const int n = 4, c = 3, hw = 16;
	const size_t len = (size_t)n * c * hw;
	aug_model *on = parse("resblock 3", c, 4, 4, 0);
	aug_model *sd = parse("resblock 3 survive=0.25", c, 4, 4, 0);
	float *x = fill(len, 4, 10, 12);
	float *ref = malloc(sizeof(float) * len), *branch = malloc(sizeof(float) * len);
	double *mean = calloc(len, sizeof(double));
	const float *y;
	const int trials = 800;
	int kept = 0;

	omp_set_num_threads(1); /* hundreds of tiny passes: threads only add wake-ups */
	/* the same parameters; a small bn2 gamma keeps |branch| below 1 */
	aug_model_init(on, 3);
	for (int t = 0; t < aug_model_num_tensors(on); t++)
		if (strstr(aug_model_tensor(on, t)->name, "bn2.gamma"))
			for (size_t i = 0; i < 3; i++)
				aug_model_params(on)[aug_model_tensor(on, t)->offset + i] = 0.3f;
	memcpy(aug_model_params(sd), aug_model_params(on), sizeof(float) * aug_model_num_params(on));
	cr_assert_eq(aug_model_forward(on, x, n, &y), AUG_OK);
	memcpy(ref, y, sizeof(float) * len);
	for (size_t i = 0; i < len; i++) {
		branch[i] = ref[i] - x[i];
		cr_assert_gt(ref[i], 0);
	}
	aug_model_set_rng(sd, 8, 0);
	for (int t = 0; t < trials; t++) {
		cr_assert_eq(aug_model_forward(sd, x, n, &y), AUG_OK);
		kept += !sd->layers[0].dropped;
		for (size_t i = 0; i < len; i++) {
			/* each draw is x or x + branch / 0.25 */
			double want = sd->layers[0].dropped ? x[i] : x[i] + branch[i] / 0.25;

			cr_assert_float_eq(y[i], want, 1e-4, "trial %d unit %zu", t, i);
			mean[i] += y[i];
		}
	}
	cr_assert_gt(kept, 0);
	for (size_t i = 0; i < len; i++) {
		/* sd of the mean: |branch| * sqrt((1-p)/p / trials) */
		double sd_mean = fabs(branch[i]) * sqrt(3.0 / trials) + 1e-6;

		cr_assert_lt(fabs(mean[i] / trials - ref[i]), 5 * sd_mean, "unit %zu: %g vs %g", i,
			     mean[i] / trials, ref[i]);
	}
	/* evaluation: the plain block, no scale */
	aug_model_set_training(sd, false);
	aug_model_set_training(on, false);
	memcpy(aug_model_stats(sd), aug_model_stats(on), sizeof(float) * aug_model_num_stats(on));
	aug_model_forward(on, x, n, &y);
	memcpy(ref, y, sizeof(float) * len);
	aug_model_forward(sd, x, n, &y);
	cr_assert_eq(memcmp(ref, y, sizeof(float) * len), 0);
	free(mean);
	free(ref);
	free(branch);
	free(x);
	aug_model_free(on);
	aug_model_free(sd);
}

/* ---- BatchNorm ---- */

Test(batchnorm, training_uses_biased_variance_and_updates_with_unbiased)
{
	/* one channel, 2 samples of 2x1: values 1, 2, 3, 6; mean 3,
	 * biased var (4 + 1 + 0 + 9)/4 = 3.5, unbiased 14/3 */
	const float x[4] = { 1, 2, 3, 6 };
	aug_model *m = parse("bn", 1, 2, 1, 0);
	float *p = aug_model_params(m), *s = aug_model_stats(m);
	const float *y;

	p[0] = 2;   /* gamma */
	p[1] = 0.5f; /* beta */
	s[0] = 1;   /* running mean */
	s[1] = 2;   /* running var */
	cr_assert_eq(aug_model_forward(m, x, 2, &y), AUG_OK);
	for (int i = 0; i < 4; i++)
		cr_assert_float_eq(y[i], (x[i] - 3) / sqrt(3.5 + 1e-5) * 2 + 0.5, 1e-6, "y[%d]", i);
	cr_assert_float_eq(s[0], 0.9 * 1 + 0.1 * 3, 1e-6);
	cr_assert_float_eq(s[1], 0.9 * 2 + 0.1 * (14.0 / 3), 1e-6);
	aug_model_free(m);
}

Test(batchnorm, evaluation_uses_running_statistics)
{
	const int n = 5;
	aug_model *m = parse("flatten; bn", 3, 1, 1, 0);
	float *p = aug_model_params(m), *s = aug_model_stats(m);
	float *x = fill((size_t)n * 3, 5, -2, 2);
	const float *y;
	const float rm[3] = { 0.5f, -1, 2 }, rv[3] = { 4, 0.25f, 1 };

	for (int c = 0; c < 3; c++) {
		p[c] = 1.5f + c;      /* gamma */
		p[3 + c] = -0.5f * c; /* beta */
		s[c] = rm[c];
		s[3 + c] = rv[c];
	}
	aug_model_set_training(m, false);
	cr_assert_eq(aug_model_forward(m, x, n, &y), AUG_OK);
	for (int j = 0; j < n; j++)
		for (int c = 0; c < 3; c++)
			cr_assert_float_eq(y[j * 3 + c],
					   (x[j * 3 + c] - rm[c]) / sqrt(rv[c] + 1e-5) * (1.5 + c) - 0.5 * c,
					   1e-5, "sample %d feature %d", j, c);
	for (int c = 0; c < 3; c++) {
		cr_assert_eq(s[c], rm[c], "evaluation moved the running mean");
		cr_assert_eq(s[3 + c], rv[c]);
	}
	/* a batch of one is fine in evaluation */
	cr_assert_eq(aug_model_forward(m, x, 1, &y), AUG_OK);
	free(x);
	aug_model_free(m);
}

/* ---- loss ---- */

/* `flatten` on 3x1x1 passes the input through: the input is the logits. */
Test(loss, label_smoothing_matches_a_hand_worked_value)
{
	/* logits (0, ln 2, ln 4): softmax (1, 2, 4)/7. Label 2, eps 0.3:
	 * q = (0.1, 0.1, 0.8), loss = -sum q log p = ln 7 - 1.7 ln 2 */
	const float z[3] = { 0, (float)M_LN2, (float)(2 * M_LN2) };
	const int32_t y = 2;
	aug_model *m = parse("flatten", 3, 1, 1, 3);
	float loss;
	const float *lo;

	aug_model_set_training(m, false);
	cr_assert_eq(aug_model_forward(m, z, 1, &lo), AUG_OK);
	cr_assert_eq(aug_model_loss(m, &y, 0.3f, &loss), AUG_OK);
	cr_assert_float_eq(loss, log(7) - 1.7 * M_LN2, 1e-6, "got %.8f", loss);
	cr_assert_float_eq(loss, 0.76755990, 1e-6);
	cr_assert_eq(aug_model_loss(m, &y, 0, &loss), AUG_OK);
	cr_assert_float_eq(loss, log(7.0 / 4), 1e-6);
	/* the gradient is softmax - q */
	m->want_input_grad = true;
	cr_assert_eq(aug_model_backward(m, &y, 0.3f, &loss), AUG_OK);
	cr_assert_float_eq(m->dinput[0], 1.0 / 7 - 0.1, 1e-6);
	cr_assert_float_eq(m->dinput[1], 2.0 / 7 - 0.1, 1e-6);
	cr_assert_float_eq(m->dinput[2], 4.0 / 7 - 0.8, 1e-6);
	aug_model_free(m);
}

Test(loss, stable_for_huge_logits_and_averaged_over_the_batch)
{
	const float z[6] = { 1000, 0, -1000, 3, 3, 3 };
	const int32_t y[2] = { 2, 1 };
	aug_model *m = parse("flatten", 3, 1, 1, 3);
	float loss;

	aug_model_set_training(m, false);
	cr_assert_eq(aug_model_forward(m, z, 2, NULL), AUG_OK);
	cr_assert_eq(aug_model_loss(m, y, 0, &loss), AUG_OK);
	cr_assert(isfinite(loss));
	/* (2000 + ln 3) / 2 */
	cr_assert_float_eq(loss, (2000 + log(3)) / 2, 1e-3, "got %.6f", loss);
	aug_model_free(m);
}

/* ---- conv, linear, pools against direct loops in double ---- */

/* One output of a convolution by its definition, in double: image j, output
 * channel o, position (yy, xx); x is NCHW, wt is (K, C, ks, ks). */
static double direct_conv_at(const float *x, const float *wt, double bias, int c, int h, int w, int ks, int st,
			     int pad, int j, int o, int yy, int xx)
{
	double acc = bias;

	for (int ci = 0; ci < c; ci++)
		for (int r = 0; r < ks; r++)
			for (int s = 0; s < ks; s++) {
				int iy = yy * st + r - pad, ix = xx * st + s - pad;

				if (iy < 0 || iy >= h || ix < 0 || ix >= w)
					continue;
				acc += (double)wt[((o * c + ci) * ks + r) * ks + s] * x[((j * c + ci) * h + iy) * w + ix];
			}
	return acc;
}

Test(conv, matches_direct_convolution_nchw)
{
	const int n = 5, c = 3, h = 9, w = 7, k = 4, ks = 3, st = 2, pad = 1;
	const int p = (h + 2 * pad - ks) / st + 1, q = (w + 2 * pad - ks) / st + 1;
	aug_model *m = parse("conv 4 k=3 stride=2 pad=1", c, h, w, 0);
	float *x = fill((size_t)n * c * h * w, 6, -1, 1);
	float *wt = aug_model_params(m), *b = wt + k * c * ks * ks;
	const float *y;

	for (int i = 0; i < k; i++)
		b[i] = 0.1f * (i + 1);
	m->col_budget = (size_t)c * ks * ks * p * q * 2; /* chunks of 2 images */
	cr_assert_eq(aug_model_forward(m, x, n, &y), AUG_OK);
	for (int j = 0; j < n; j++)
		for (int o = 0; o < k; o++)
			for (int yy = 0; yy < p; yy++)
				for (int xx = 0; xx < q; xx++) {
					double acc = direct_conv_at(x, wt, b[o], c, h, w, ks, st, pad, j, o, yy, xx);

					cr_assert_float_eq(y[((j * k + o) * p + yy) * q + xx], acc, 1e-5,
							   "n%d k%d (%d,%d)", j, o, yy, xx);
				}
	free(x);
	aug_model_free(m);
}

Test(conv, winograd_matches_direct_convolution)
{
	/* 3x3 stride 1 with 16+ channels each side runs as Winograd
	 * F(2x2,3x3): against the definition, with partial tiles (odd
	 * sizes), pads 0, 1 and 2, chunks of 2 images, a wide row (133
	 * columns: 67 tiles), a plane taller than one band of winograd.c's
	 * buffer (40 x 133: two bands), and a row cut into two segments
	 * (1100 columns: 550 tiles). */
	static const struct {
		int h, w, pad;
	} cases[] = { { 7, 5, 1 }, { 6, 6, 0 }, { 5, 4, 2 }, { 14, 14, 1 }, { 3, 133, 1 }, { 40, 133, 1 }, { 3, 1100, 1 } };
	const int n = 5, c = 16, k = 18, ks = 3;

	for (size_t ci_ = 0; ci_ < sizeof(cases) / sizeof(cases[0]); ci_++) {
		const int h = cases[ci_].h, w = cases[ci_].w, pad = cases[ci_].pad;
		const int p = h + 2 * pad - 2, q = w + 2 * pad - 2;
		char spec[64];
		aug_model *m;
		float *x = fill((size_t)n * c * h * w, 16 + ci_, -1, 1), *wt, *b;
		const float *y;

		snprintf(spec, sizeof(spec), "conv %d k=3 pad=%d", k, pad);
		m = parse(spec, c, h, w, 0);
		wt = aug_model_params(m);
		b = wt + k * c * ks * ks;
		for (int i = 0; i < k; i++)
			b[i] = 0.1f * (i + 1);
		m->col_budget = (size_t)16 * ((p + 1) / 2) * ((q + 1) / 2) * (c + k) * 2; /* 2 images */
		cr_assert_eq(aug_model_forward(m, x, n, &y), AUG_OK);
		for (int j = 0; j < n; j++)
			for (int o = 0; o < k; o++)
				for (int yy = 0; yy < p; yy++)
					for (int xx = 0; xx < q; xx++) {
						double acc = direct_conv_at(x, wt, b[o], c, h, w, ks, 1, pad, j, o, yy, xx);

						cr_assert_float_eq(y[((j * k + o) * p + yy) * q + xx], acc, 2e-5,
								   "%dx%d pad %d: n%d k%d (%d,%d)", h, w, pad, j, o, yy,
								   xx);
					}
		free(x);
		aug_model_free(m);
	}
}

Test(linear, matches_direct_product_and_flatten_order)
{
	const int n = 3, c = 2, h = 2, w = 3, o = 4, f = c * h * w;
	aug_model *m = parse("flatten; linear 4", c, h, w, 0);
	float *x = fill((size_t)n * f, 7, -1, 1);
	const float *wt = aug_model_params(m), *b = wt + o * f;
	const float *y;

	aug_model_params(m)[o * f + 2] = 0.75f;
	cr_assert_eq(aug_model_forward(m, x, n, &y), AUG_OK);
	for (int j = 0; j < n; j++)
		for (int i = 0; i < o; i++) {
			double acc = b[i];

			for (int k = 0; k < f; k++) /* feature k = c*H*W + h*W + w */
				acc += (double)wt[i * f + k] * x[j * f + k];
			cr_assert_float_eq(y[j * o + i], acc, 1e-5);
		}
	free(x);
	aug_model_free(m);
}

Test(pool, maxpool_ties_go_to_the_first_and_avg_gap_average)
{
	/* one 2x4 plane: windows [1 3; 3 2] (tie) and [0 0; 0 0] */
	const float x[8] = { 1, 3, 0, 0, 3, 2, 0, 0 };
	aug_model *m = parse("maxpool 2", 1, 2, 4, 0);
	aug_model *a = parse("avgpool 2; gap", 1, 2, 4, 0);
	const float *y;
	float dy[2] = { 1, 1 };

	cr_assert_eq(aug_model_forward(m, x, 1, &y), AUG_OK);
	cr_assert_eq(y[0], 3);
	cr_assert_eq(y[1], 0);
	cr_assert_eq(m->layers[0].argmax[0], 1, "tie went to index %d", m->layers[0].argmax[0]);
	cr_assert_eq(m->layers[0].argmax[1], 2);
	m->want_input_grad = true;
	cr_assert_eq(aug__nn_model_backward_output(m, dy), AUG_OK);
	cr_assert_eq(m->dinput[1], 1);
	cr_assert_eq(m->dinput[4], 0, "the second of a tie got gradient");
	cr_assert_eq(m->dinput[2], 1);
	cr_assert_eq(aug_model_forward(a, x, 1, &y), AUG_OK);
	cr_assert_float_eq(y[0], (9.0 / 4 + 0) / 2, 1e-7);
	aug_model_free(m);
	aug_model_free(a);
}

/* The threaded float build gives the same bits on every run with the same
 * thread count, and agrees with one thread to float rounding. */
Test(threads, one_and_two_threads_agree)
{
	const int n = 24;
	float *x = fill((size_t)n * 3 * 12 * 12, 8, -1, 1);
	int32_t y[24];
	float *g[3];
	size_t np = 0;

	for (int i = 0; i < n; i++)
		y[i] = i % 5;
	for (int r = 0; r < 3; r++) {
		aug_model *m = parse("conv 8 k=3 pad=1; bn; relu; maxpool 2; resblock 16 stride=2 "
				     "survive=0.7; gap; linear classes", 3, 12, 12, 5);

		omp_set_num_threads(r == 2 ? 1 : 2);
		aug_model_set_rng(m, 3, 1);
		cr_assert_eq(aug_model_forward(m, x, n, NULL), AUG_OK);
		cr_assert_eq(aug_model_backward(m, y, 0, NULL), AUG_OK);
		np = aug_model_num_params(m);
		g[r] = malloc(sizeof(float) * np);
		memcpy(g[r], aug_model_grads(m), sizeof(float) * np);
		aug_model_free(m);
	}
	cr_assert_eq(memcmp(g[0], g[1], sizeof(float) * np), 0, "two runs on 2 threads differ");
	for (size_t i = 0; i < np; i++)
		cr_assert_float_eq(g[0][i], g[2][i], 1e-5 + 1e-4 * fabs(g[2][i]), "param %zu", i);
	for (int r = 0; r < 3; r++)
		free(g[r]);
	free(x);
}

/* ---- bn; relu; maxpool fused (bn_relu_pool.c) against the three layers ---- */

static void compare_fused(const char *spec, int c, int h, int w, int n, bool training)
{
	aug__spec parsed;
	aug_model *f = NULL, *u = NULL;
	float *x = fill((size_t)n * c * h * w, 11, -2, 2);
	int32_t y[16];
	const float *yf, *yu;
	size_t np;

	cr_assert_eq(aug__spec_parse(spec, &parsed), AUG_OK);
	cr_assert_eq(aug__nn_model_build_fused(&f, &parsed, c, h, w, 3, true), AUG_OK);
	cr_assert_eq(aug__nn_model_build_fused(&u, &parsed, c, h, w, 3, false), AUG_OK);
	aug__spec_free(&parsed);
	cr_assert(f->layers[1].fused && f->layers[3].fused_away, "%s did not fuse", spec);
	cr_assert(!u->layers[1].fused);
	aug_model_init(f, 5);
	np = aug_model_num_params(f);
	for (size_t i = 0; i < np; i++) /* gamma and beta away from 1 and 0 */
		aug_model_params(f)[i] += 0.1f * (float)((int)(i * 7 % 5) - 2);
	memcpy(aug_model_params(u), aug_model_params(f), sizeof(float) * np);
	for (int i = 0; i < n; i++)
		y[i] = i % 3;
	aug_model_set_training(f, training);
	aug_model_set_training(u, training);
	cr_assert_eq(aug_model_forward(f, x, n, &yf), AUG_OK);
	cr_assert_eq(aug_model_forward(u, x, n, &yu), AUG_OK);
	for (int i = 0; i < n * 3; i++)
		cr_assert_float_eq(yf[i], yu[i], 1e-6 * (1 + fabs(yu[i])), "%s: logit %d", spec, i);
	cr_assert_eq(aug_model_backward(f, y, 0.1f, NULL), AUG_OK);
	cr_assert_eq(aug_model_backward(u, y, 0.1f, NULL), AUG_OK);
	for (size_t i = 0; i < np; i++)
		cr_assert_float_eq(aug_model_grads(f)[i], aug_model_grads(u)[i],
				   1e-7 + 1e-5 * fabs(aug_model_grads(u)[i]), "%s: grad %zu: %.9g vs %.9g", spec, i,
				   aug_model_grads(f)[i], aug_model_grads(u)[i]);
	for (size_t i = 0; i < aug_model_num_stats(f); i++)
		cr_assert_eq(aug_model_stats(f)[i], aug_model_stats(u)[i], "%s: stat %zu", spec, i);
	free(x);
	aug_model_free(f);
	aug_model_free(u);
}

Test(fusion, bn_relu_maxpool_equals_the_three_layers)
{
	compare_fused("conv 4 k=3 pad=1; bn; relu; maxpool 2; flatten; linear classes", 2, 8, 8, 6, true);
	compare_fused("conv 4 k=3 pad=1; bn; relu; maxpool 2; flatten; linear classes", 2, 8, 8, 6, false);
	/* odd sizes (floor mode) and the general window path */
	compare_fused("conv 5 k=3; bn; relu; maxpool 2; gap; linear classes", 3, 9, 7, 4, true);
	compare_fused("conv 3 k=3 pad=1; bn; relu; maxpool 3 stride=2; flatten; linear classes", 2, 9, 9, 5, true);
	/* an odd height (a last row in no window) on a narrow plane, both modes */
	compare_fused("conv 3 k=3 pad=1; bn; relu; maxpool 2; flatten; linear classes", 2, 7, 4, 5, true);
	compare_fused("conv 3 k=3 pad=1; bn; relu; maxpool 2; flatten; linear classes", 2, 7, 4, 5, false);
	/* rows too wide for one block of row pairs: one pair per block */
	compare_fused("conv 2 k=3 pad=1; bn; relu; maxpool 2; gap; linear classes", 1, 9, 1030, 2, true);
}

/* Small weight gradients are summed over column slices (AUG__DW_SMALL):
 * the same as one GEMM to rounding, and the same bits whatever the thread
 * count. */
Test(conv, sliced_weight_gradient_agrees_and_ignores_threads)
{
	const int n = 16;
	float *x = fill((size_t)n * 2 * 20 * 20, 12, -1, 1);
	float *g[3];
	const size_t np = 8 * 2 * 9 + 8;

	for (int r = 0; r < 3; r++) {
		aug_model *m = parse("conv 8 k=3 pad=1; gap; linear classes", 2, 20, 20, 8);
		int32_t y[16];

		for (int i = 0; i < n; i++)
			y[i] = i % 8;
		if (r == 2)
			m->dw_small = 0;
		omp_set_num_threads(r == 1 ? 1 : 2);
		aug_model_init(m, 4);
		cr_assert_eq(aug_model_forward(m, x, n, NULL), AUG_OK);
		cr_assert_eq(aug_model_backward(m, y, 0, NULL), AUG_OK);
		g[r] = malloc(sizeof(float) * np);
		memcpy(g[r], aug_model_grads(m), sizeof(float) * np);
		aug_model_free(m);
	}
	cr_assert_eq(memcmp(g[0], g[1], sizeof(float) * np), 0, "sliced sums depend on threads");
	for (size_t i = 0; i < np; i++)
		cr_assert_float_eq(g[0][i], g[2][i], 1e-6 + 1e-5 * fabs(g[2][i]), "param %zu", i);
	for (int r = 0; r < 3; r++)
		free(g[r]);
	free(x);
}
