/* Training: optimizers against updates worked out by hand on a quadratic,
 * schedules at their landmarks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "support.h"

/* f(θ) = ½ a θ² with a = 2: the gradient is 2θ. Run `steps` updates from
 * θ0 = 1 and return θ after each. */
static void run_quadratic(const aug_optim_options *o, float lr, int steps, double *theta)
{
	aug_optimizer *opt = NULL;
	float p = 1.0f, g;

	cr_assert_eq(aug_optimizer_new(o, 1, NULL, &opt), AUG_OK);
	for (int t = 0; t < steps; t++) {
		g = 2.0f * p;
		aug_optimizer_step(opt, &p, &g, lr);
		theta[t] = p;
	}
	cr_assert_eq(aug_optimizer_steps(opt), (uint64_t)steps);
	aug_optimizer_free(opt);
}

static void expect(const double *got, const double *want, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		cr_assert_float_eq(got[i], want[i], 2e-6, "%s step %d: %.8f, want %.8f", what, i + 1, got[i], want[i]);
}

CTest(optim, sgd)
{
	aug_optim_options o;
	double th[3];

	aug_optim_options_init(&o);
	/* θ ← θ − 0.1·2θ = 0.8θ: 0.8, 0.64, 0.512. */
	run_quadratic(&o, 0.1f, 3, th);
	expect(th, (double[]){ 0.8, 0.64, 0.512 }, 3, "sgd");
}

CTest(optim, momentum_and_nesterov)
{
	aug_optim_options o;
	double th[3];

	aug_optim_options_init(&o);
	o.kind = AUG_OPTIM_MOMENTUM;
	/* v1 = 2, θ1 = 0.8; g = 1.6, v2 = 1.8 + 1.6 = 3.4, θ2 = 0.46;
	 * g = 0.92, v3 = 3.06 + 0.92 = 3.98, θ3 = 0.062. */
	run_quadratic(&o, 0.1f, 3, th);
	expect(th, (double[]){ 0.8, 0.46, 0.062 }, 3, "momentum");
	/* Nesterov: v1 = 2, θ1 = 1 − 0.1 (2 + 1.8) = 0.62; g = 1.24,
	 * v2 = 1.8 + 1.24 = 3.04, θ2 = 0.62 − 0.1 (1.24 + 2.736) = 0.2224. */
	o.nesterov = true;
	run_quadratic(&o, 0.1f, 2, th);
	expect(th, (double[]){ 0.62, 0.2224 }, 2, "nesterov");
}

CTest(optim, adagrad)
{
	aug_optim_options o;
	double th[2];

	aug_optim_options_init(&o);
	o.kind = AUG_OPTIM_ADAGRAD;
	/* G1 = 4: θ1 = 1 − 0.1·2/2 = 0.9; g = 1.8, G2 = 7.24:
	 * θ2 = 0.9 − 0.18/√7.24 = 0.9 − 0.0668965 = 0.8331035. */
	run_quadratic(&o, 0.1f, 2, th);
	expect(th, (double[]){ 0.9, 0.9 - 0.18 / sqrt(7.24) }, 2, "adagrad");
}

CTest(optim, rmsprop)
{
	aug_optim_options o;
	double th[2];

	aug_optim_options_init(&o);
	o.kind = AUG_OPTIM_RMSPROP;
	/* s1 = 0.01·4 = 0.04: θ1 = 1 − 0.01·2/0.2 = 0.9; g = 1.8,
	 * s2 = 0.0396 + 0.0324 = 0.072: θ2 = 0.9 − 0.018/√0.072 = 0.832918. */
	run_quadratic(&o, 0.01f, 2, th);
	expect(th, (double[]){ 0.9, 0.9 - 0.018 / sqrt(0.072) }, 2, "rmsprop");
}

CTest(optim, adam_bias_corrected_eps_outside)
{
	aug_optim_options o;
	double th[2];
	double m2 = 0.9 * 0.2 + 0.1 * 1.8, v2 = 0.999 * 0.004 + 0.001 * 3.24;

	aug_optim_options_init(&o);
	o.kind = AUG_OPTIM_ADAM;
	/* t=1: m = 0.2, v = 0.004, m̂ = 2, v̂ = 4: θ1 = 1 − 0.1·2/2 = 0.9.
	 * t=2: m = 0.36, v = 0.007236, m̂ = 0.36/0.19, v̂ = 0.007236/0.001999:
	 * θ2 = 0.9 − 0.1 m̂ / (√v̂ + 1e-8) = 0.8004122. */
	run_quadratic(&o, 0.1f, 2, th);
	expect(th, (double[]){ 0.9, 0.9 - 0.1 * (m2 / 0.19) / (sqrt(v2 / (1 - 0.999 * 0.999)) + 1e-8) }, 2, "adam");
	cr_assert_float_eq(th[1], 0.8004122, 1e-6);
	/* ε outside the root matters when v̂ is tiny: with g = 1e-9 the step
	 * is γ m̂/(√v̂ + ε) = 0.1·1e-9/(1e-9 + 1e-8) = 0.00909; inside the root
	 * it would be ≈ 0.0010. */
	{
		aug_optimizer *opt = NULL;
		float p = 0, g = 1e-9f;

		cr_assert_eq(aug_optimizer_new(&o, 1, NULL, &opt), AUG_OK);
		aug_optimizer_step(opt, &p, &g, 0.1f);
		cr_assert_float_eq(p, -0.1 * 1e-9 / (1e-9 + 1e-8), 1e-6);
		aug_optimizer_free(opt);
	}
}

CTest(optim, adamw_decays_apart_from_the_gradient)
{
	aug_optim_options o;
	double th[1];

	aug_optim_options_init(&o);
	o.kind = AUG_OPTIM_ADAMW;
	o.l2 = 0.1f;
	/* θ ← θ − γλθ = 0.99, then the Adam step of g = 2 (from θ = 1): −0.1. */
	run_quadratic(&o, 0.1f, 1, th);
	expect(th, (double[]){ 0.89 }, 1, "adamw");
}

CTest(optim, l2_l1_elastic_and_the_mask)
{
	aug_optim_options o;
	aug_optimizer *opt = NULL;
	double th[2];
	float p[2] = { 1, 1 }, g[2];
	uint8_t mask[2] = { 1, 0 };

	aug_optim_options_init(&o);
	o.l2 = 0.5f;
	/* g = 2θ + 0.5θ: θ1 = 1 − 0.25 = 0.75. */
	run_quadratic(&o, 0.1f, 1, th);
	expect(th, (double[]){ 0.75 }, 1, "l2");
	o.l2 = 0;
	o.l1 = 0.5f;
	/* g = 2θ + 0.5 sign θ: θ1 = 0.75, θ2 = 0.75 − 0.1·2.0 = 0.55. */
	run_quadratic(&o, 0.1f, 2, th);
	expect(th, (double[]){ 0.75, 0.55 }, 2, "l1");
	o.l2 = 0.5f;
	/* Both: g = 2.5θ + 0.5: θ1 = 1 − 0.3 = 0.7. */
	run_quadratic(&o, 0.1f, 1, th);
	expect(th, (double[]){ 0.7 }, 1, "elastic net");
	/* The mask exempts element 1 (a bias, say). */
	cr_assert_eq(aug_optimizer_new(&o, 2, mask, &opt), AUG_OK);
	g[0] = 2 * p[0];
	g[1] = 2 * p[1];
	aug_optimizer_step(opt, p, g, 0.1f);
	cr_assert_float_eq(p[0], 0.7, 1e-6);
	cr_assert_float_eq(p[1], 0.8, 1e-6);
	aug_optimizer_free(opt);
}

CTest(optim, state_round_trips_for_checkpoints)
{
	aug_optim_options o;
	aug_optimizer *a = NULL, *b = NULL;
	float pa = 1, pb, g;

	aug_optim_options_init(&o);
	o.kind = AUG_OPTIM_ADAM;
	cr_assert_eq(aug_optimizer_new(&o, 1, NULL, &a), AUG_OK);
	for (int i = 0; i < 3; i++) {
		g = 2 * pa;
		aug_optimizer_step(a, &pa, &g, 0.05f);
	}
	cr_assert_eq(aug_optimizer_state_size(a), 2u);
	cr_assert_eq(aug_optimizer_new(&o, 1, NULL, &b), AUG_OK);
	memcpy(aug_optimizer_state(b), aug_optimizer_state(a), 2 * sizeof(float));
	aug_optimizer_set_steps(b, aug_optimizer_steps(a));
	pb = pa;
	for (int i = 0; i < 3; i++) {
		float ga = 2 * pa, gb = 2 * pb;

		aug_optimizer_step(a, &pa, &ga, 0.05f);
		aug_optimizer_step(b, &pb, &gb, 0.05f);
		cr_assert_eq(pa, pb);
	}
	aug_optimizer_free(a);
	aug_optimizer_free(b);
	cr_assert_eq(aug_optim_from_name("rmsprop"), AUG_OPTIM_RMSPROP);
	cr_assert_eq(aug_optim_from_name("lion"), AUG_OPTIM_COUNT);
}

/* ---- Schedules ------------------------------------------------------------------ */

static double lr_at(aug_sched_kind k, uint64_t warmup, uint64_t total, uint64_t t)
{
	aug_schedule s = { .kind = k, .lr = 0.1, .min_lr = 0.001, .warmup = warmup, .total = total,
			   .step_size = 30, .gamma = 0.5 };

	return aug_schedule_lr(&s, t);
}

CTest(schedule, landmarks)
{
	/* constant, 10 steps of warm-up: 0 at t = 0, α0 from t = 10 on. */
	cr_assert_float_eq(lr_at(AUG_SCHED_CONSTANT, 10, 110, 0), 0.0, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_CONSTANT, 10, 110, 5), 0.05, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_CONSTANT, 10, 110, 10), 0.1, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_CONSTANT, 10, 110, 110), 0.1, 1e-12);
	/* step, s = 30, γ = 0.5, T = 100: 0.1, 0.1·0.5^1 at 50, 0.1·0.5^3 at 100. */
	cr_assert_float_eq(lr_at(AUG_SCHED_STEP, 0, 100, 0), 0.1, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_STEP, 0, 100, 50), 0.05, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_STEP, 0, 100, 100), 0.0125, 1e-12);
	/* cosine, W = 10, T = 110: 0, α0 at 10, (α0 + α_min)/2 at 60, α_min at 110. */
	cr_assert_float_eq(lr_at(AUG_SCHED_COSINE, 10, 110, 0), 0.0, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_COSINE, 10, 110, 10), 0.1, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_COSINE, 10, 110, 60), 0.0505, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_COSINE, 10, 110, 110), 0.001, 1e-12);
	/* linear: α0 at the end of warm-up, half at the middle, 0 at T. */
	cr_assert_float_eq(lr_at(AUG_SCHED_LINEAR, 10, 110, 10), 0.1, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_LINEAR, 10, 110, 60), 0.05, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_LINEAR, 10, 110, 110), 0.0, 1e-12);
	/* inverse square root, W = 100: 0, α0 at 100, α0/2 at 400, α0/√2 at 200. */
	cr_assert_float_eq(lr_at(AUG_SCHED_INVSQRT, 100, 1000, 0), 0.0, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_INVSQRT, 100, 1000, 100), 0.1, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_INVSQRT, 100, 1000, 200), 0.1 / sqrt(2.0), 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_INVSQRT, 100, 1000, 400), 0.05, 1e-12);
	/* without warm-up: α0/√t, α0 at t = 0 and 1. */
	cr_assert_float_eq(lr_at(AUG_SCHED_INVSQRT, 0, 1000, 0), 0.1, 1e-12);
	cr_assert_float_eq(lr_at(AUG_SCHED_INVSQRT, 0, 1000, 4), 0.05, 1e-12);
	cr_assert_eq(aug_sched_from_name("cosine"), AUG_SCHED_COSINE);
	cr_assert_str_eq(aug_sched_name(AUG_SCHED_INVSQRT), "invsqrt");
}
