/* Training: optimizers against updates worked out by hand on a quadratic,
 * schedules at their landmarks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

/* The four adaptive methods once more, in double, written from their papers
 * (Duchi et al. 2011; Tieleman & Hinton 2012; Kingma & Ba 2015 with ε outside
 * the root as torch.optim does; Loshchilov & Hutter 2019), on the same
 * quadratic: θ after each of `steps` updates. */
static void reference_steps(aug_optim_kind k, double lr, double l2, int steps, double *theta)
{
	double th = 1, s = 0, m = 0, v = 0;

	for (int t = 1; t <= steps; t++) {
		double g = 2 * th;

		switch (k) {
		case AUG_OPTIM_ADAGRAD:
			s += g * g;
			th -= lr * g / (sqrt(s) + 1e-10);
			break;
		case AUG_OPTIM_RMSPROP:
			s = 0.99 * s + 0.01 * g * g;
			th -= lr * g / (sqrt(s) + 1e-8);
			break;
		default: /* Adam, AdamW */
			if (k == AUG_OPTIM_ADAMW)
				th -= lr * l2 * th;
			m = 0.9 * m + 0.1 * g;
			v = 0.999 * v + 0.001 * g * g;
			th -= lr * (m / (1 - pow(0.9, t))) / (sqrt(v / (1 - pow(0.999, t))) + 1e-8);
			break;
		}
		theta[t - 1] = th;
	}
}

CTest(optim, adaptive_methods_over_six_steps)
{
	static const struct {
		aug_optim_kind kind;
		float lr, l2;
	} cases[] = {
		{ AUG_OPTIM_ADAGRAD, 0.1f, 0 },
		{ AUG_OPTIM_RMSPROP, 0.01f, 0 },
		{ AUG_OPTIM_ADAM, 0.1f, 0 },
		{ AUG_OPTIM_ADAMW, 0.1f, 0.1f },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		aug_optim_options o;
		double got[6], want[6];

		aug_optim_options_init(&o);
		o.kind = cases[c].kind;
		o.l2 = cases[c].l2;
		run_quadratic(&o, cases[c].lr, 6, got);
		reference_steps(cases[c].kind, cases[c].lr, cases[c].l2, 6, want);
		for (int i = 0; i < 6; i++)
			cr_assert_float_eq(got[i], want[i], 1e-5, "%s step %d: %.8f, want %.8f",
					   aug_optim_name(cases[c].kind), i + 1, got[i], want[i]);
	}
	/* The reference against the steps worked by hand above. */
	{
		double th[2];

		reference_steps(AUG_OPTIM_ADAGRAD, 0.1, 0, 2, th);
		cr_assert_float_eq(th[1], 0.8331035, 1e-7);
		reference_steps(AUG_OPTIM_RMSPROP, 0.01, 0, 2, th);
		cr_assert_float_eq(th[1], 0.832918, 1e-6);
		reference_steps(AUG_OPTIM_ADAM, 0.1, 0, 2, th);
		cr_assert_float_eq(th[1], 0.8004122, 1e-7);
		reference_steps(AUG_OPTIM_ADAMW, 0.1, 0.1, 1, th);
		cr_assert_float_eq(th[0], 0.89, 1e-8);
	}
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

CTest(schedule, every_kind_at_start_warmup_end_middle_and_end)
{
	/* α0 = 0.1, α_min = 0.001 (cosine), step 30 with γ = 0.5. With W = 10,
	 * T = 110 the landmarks are t = 0, W, W + (T − W)/2 = 60 and T; without
	 * warm-up, T = 100: t = 0, 50, 100. */
	const struct {
		aug_sched_kind kind;
		double w[4];  /* W = 10, T = 110: t = 0, 10, 60, 110 */
		double n[3];  /* W = 0, T = 100: t = 0, 50, 100 */
	} cases[] = {
		{ AUG_SCHED_CONSTANT, { 0, 0.1, 0.1, 0.1 }, { 0.1, 0.1, 0.1 } },
		/* ⌊50/30⌋ = 1, ⌊100/30⌋ = 3 steps of γ after warm-up */
		{ AUG_SCHED_STEP, { 0, 0.1, 0.05, 0.0125 }, { 0.1, 0.05, 0.0125 } },
		/* α_min + ½(α0 − α_min)(1 + cos πτ): τ = ½ gives 0.0505 */
		{ AUG_SCHED_COSINE, { 0, 0.1, 0.0505, 0.001 }, { 0.1, 0.0505, 0.001 } },
		{ AUG_SCHED_LINEAR, { 0, 0.1, 0.05, 0 }, { 0.1, 0.05, 0 } },
		/* α0 √(W/t): √(10/60), √(10/110); without warm-up α0/√t */
		{ AUG_SCHED_INVSQRT, { 0, 0.1, 0.1 / sqrt(6.0), 0.1 / sqrt(11.0) }, { 0.1, 0.1 / sqrt(50.0), 0.01 } },
	};
	static const uint64_t tw[4] = { 0, 10, 60, 110 }, tn[3] = { 0, 50, 100 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int i = 0; i < 4; i++)
			cr_assert_float_eq(lr_at(cases[c].kind, 10, 110, tw[i]), cases[c].w[i], 1e-12,
					   "%s, warm-up 10, t = %d", aug_sched_name(cases[c].kind), (int)tw[i]);
		for (int i = 0; i < 3; i++)
			cr_assert_float_eq(lr_at(cases[c].kind, 0, 100, tn[i]), cases[c].n[i], 1e-12,
					   "%s, no warm-up, t = %d", aug_sched_name(cases[c].kind), (int)tn[i]);
		/* half-way through warm-up: half of α0, whatever the kind */
		cr_assert_float_eq(lr_at(cases[c].kind, 10, 110, 5), 0.05, 1e-12);
	}
}

/* ---- The loop: resume, early stopping, end to end -------------------------------- */

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <omp.h>
#include <unistd.h>

/* 3 classes of 16x16 grey images: a bright square in a class-specific
 * quadrant on noise, 30 each. */
static char *make_shapes(void)
{
	char *d = make_tmpdir();
	aug_rng r = aug_rng_stream(1, 2, 3, 4);

	for (int c = 0; c < 3; c++) {
		char dir[4300];

		snprintf(dir, sizeof(dir), "%s/c%d", d, c);
		cr_assert_eq(mkdir(dir, 0755), 0);
		for (int k = 0; k < 30; k++) {
			aug_image *img = NULL;
			char p[4400];
			int x0 = c == 1 ? 8 : 1, y0 = c == 2 ? 8 : 1;

			cr_assert_eq(aug_image_new(&img, 16, 16, 1), AUG_OK);
			for (int i = 0; i < 256; i++)
				img->data[i] = (uint8_t)aug_rng_below(&r, 80);
			for (int y = y0; y < y0 + 6; y++)
				for (int x = x0; x < x0 + 6; x++)
					img->data[y * 16 + x] = 230;
			snprintf(p, sizeof(p), "%s/%02d.png", dir, k);
			cr_assert_eq(aug_encode_file(img, p, NULL), AUG_OK);
			aug_image_free(img);
		}
	}
	return d;
}

static const char *small_model = "conv 8 k=3 pad=1 bias=no; bn; relu; maxpool 2; flatten; linear 16; relu; "
				 "dropout p=0.2; linear classes";

struct fixture {
	aug_dataset *ds;
	aug_pipeline *tp;
	aug_pipeline *ep;
	size_t *tr, *va, ntr, nva;
};

static void fixture_open(struct fixture *f, const char *dir)
{
	cr_assert_eq(aug_dataset_scan(dir, NULL, &f->ds), AUG_OK);
	cr_assert_eq(aug_pipeline_parse("crop 16 pad=2; hflip", NULL, &f->tp), AUG_OK);
	cr_assert_eq(aug_pipeline_parse("center_crop 16", NULL, &f->ep), AUG_OK);
	cr_assert_eq(aug_dataset_split(f->ds, 0.2, 3, &f->tr, &f->ntr, &f->va, &f->nva), AUG_OK);
}

static void fixture_close(struct fixture *f)
{
	aug_free(f->tr);
	aug_free(f->va);
	aug_pipeline_free(f->tp);
	aug_pipeline_free(f->ep);
	aug_dataset_free(f->ds);
}

static void train_options(aug_train_options *o, const char *ckpt)
{
	aug_train_options_init(o);
	o->epochs = 4;
	o->batch_size = 16;
	o->seed = 11;
	o->optim.kind = AUG_OPTIM_ADAM;
	o->optim.l2 = 1e-4f;
	o->schedule.kind = AUG_SCHED_COSINE;
	o->schedule.lr = 0.01;
	o->warmup_epochs = 0.5;
	o->patience = 10;
	o->checkpoint = ckpt;
}

static void die_after_two(void *ctx, const aug_epoch_stats *s)
{
	(void)ctx;
	if (s->epoch == 2)
		raise(SIGKILL);
}

/* Train 4 epochs straight; then 2 epochs killed by SIGKILL and resumed
 * to 4: the parameters must be the same bits. */
static void resume_equals_uninterrupted(int threads)
{
	char *d = make_shapes(), ck_a[4400], ck_b[4400];
	struct fixture f;
	aug_train_options o;
	aug_model *a = NULL, *b = NULL;
	aug_trainer *t = NULL;
	pid_t pid;
	int status;

	snprintf(ck_a, sizeof(ck_a), "%s/a.ckpt", d);
	snprintf(ck_b, sizeof(ck_b), "%s/b.ckpt", d);
	fixture_open(&f, d);
	/* The killed run goes first, in a child forked before this process
	 * has started any OpenMP threads (libgomp does not survive a fork
	 * with its pool running). */
	pid = fork();
	if (pid == 0) {
		aug_model *m = NULL;

		omp_set_num_threads(threads);
		aug_model_parse(&m, small_model, 1, 16, 16, 3);
		aug_model_init(m, 5);
		train_options(&o, ck_b);
		o.on_epoch = die_after_two;
		if (aug_trainer_new(m, f.ds, f.tr, f.ntr, f.va, f.nva, f.tp, f.ep, &o, &t) == AUG_OK)
			aug_trainer_run(t);
		_exit(3);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the run was not killed");

	omp_set_num_threads(threads);
	cr_assert_eq(aug_model_parse(&a, small_model, 1, 16, 16, 3), AUG_OK);
	aug_model_init(a, 5);
	train_options(&o, ck_a);
	cr_assert_eq(aug_trainer_new(a, f.ds, f.tr, f.ntr, f.va, f.nva, f.tp, f.ep, &o, &t), AUG_OK);
	cr_assert_eq(aug_trainer_run(t), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(aug_trainer_epochs_done(t), 4);
	aug_trainer_free(t);

	cr_assert_eq(aug_model_parse(&b, small_model, 1, 16, 16, 3), AUG_OK);
	aug_model_init(b, 999); /* the checkpoint must overwrite everything */
	train_options(&o, ck_b);
	cr_assert_eq(aug_trainer_new(b, f.ds, f.tr, f.ntr, f.va, f.nva, f.tp, f.ep, &o, &t), AUG_OK);
	cr_assert_eq(aug_trainer_resume(t, ck_b), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(aug_trainer_epochs_done(t), 2);
	cr_assert_eq(aug_trainer_run(t), AUG_OK);
	cr_assert_eq(aug_trainer_epochs_done(t), 4);
	for (int e = 0; e < 4; e++)
		cr_assert(aug_trainer_history(t, e) != NULL);
	aug_trainer_free(t);
	cr_assert_eq(memcmp(aug_model_params(a), aug_model_params(b), aug_model_num_params(a) * sizeof(float)), 0,
		     "resumed parameters differ (%d threads)", threads);
	cr_assert_eq(memcmp(aug_model_stats(a), aug_model_stats(b), aug_model_num_stats(a) * sizeof(float)), 0,
		     "resumed BatchNorm statistics differ");
	aug_model_free(a);
	aug_model_free(b);
	fixture_close(&f);
	rm_rf(d);
	free(d);
}

Test(trainer, resume_is_bit_identical_on_1_thread, .timeout = 300)
{
	resume_equals_uninterrupted(1);
}

Test(trainer, resume_is_bit_identical_on_2_threads, .timeout = 300)
{
	resume_equals_uninterrupted(2);
}

static int best_epoch_seen;
static void remember(void *ctx, const aug_epoch_stats *s)
{
	(void)ctx;
	if (s->best)
		best_epoch_seen = s->epoch;
}

CTest(trainer, early_stopping_restores_best_weights_and_statistics)
{
	char *d = make_shapes(), ck[4400];
	struct fixture f;
	aug_train_options o;
	aug_model *m = NULL, *best = NULL;
	aug_trainer *t = NULL;
	aug_checkpoint_info info;

	snprintf(ck, sizeof(ck), "%s/e.ckpt", d);
	fixture_open(&f, d);
	cr_assert_eq(aug_model_parse(&m, small_model, 1, 16, 16, 3), AUG_OK);
	train_options(&o, NULL);
	o.epochs = 30;
	/* A rate this high makes the validation loss wander: stopping comes. */
	o.schedule.kind = AUG_SCHED_CONSTANT;
	o.schedule.lr = 0.05;
	o.warmup_epochs = 0;
	o.patience = 2;
	o.min_delta = 0.5; /* demand big improvements, so it stops early */
	o.on_epoch = remember;
	cr_assert_eq(aug_trainer_new(m, f.ds, f.tr, f.ntr, f.va, f.nva, f.tp, f.ep, &o, &t), AUG_OK);
	cr_assert_eq(aug_trainer_run(t), AUG_OK);
	cr_assert(aug_trainer_stopped_early(t));
	cr_assert_lt(aug_trainer_epochs_done(t), 30);
	cr_assert_eq(aug_trainer_best_epoch(t), best_epoch_seen);
	cr_assert_eq(aug_trainer_epochs_done(t), best_epoch_seen + 2, "stops patience epochs after the best");
	/* The model now holds the best epoch's weights: a checkpoint of it,
	 * evaluated, gives that epoch's validation loss exactly. */
	cr_assert_eq(aug_trainer_save(t, ck), AUG_OK);
	cr_assert_eq(aug_checkpoint_load_model(ck, &best, &info), AUG_OK);
	{
		aug_eval_result r;
		aug_eval_options eo;
		const aug_pipeline *views[1] = { f.ep };

		aug_eval_options_init(&eo);
		eo.batch_size = 16;
		cr_assert_eq(aug_evaluate(best, f.ds, f.va, f.nva, views, 1, &eo, &r), AUG_OK);
		cr_assert_float_eq(r.loss, aug_trainer_history(t, best_epoch_seen - 1)->val_loss, 1e-4,
				   "loss %f, best epoch's %f", r.loss, aug_trainer_history(t, best_epoch_seen - 1)->val_loss);
		aug_eval_result_free(&r);
	}
	cr_assert_eq(info.classes, 3);
	cr_assert_str_eq(info.class_names[2], "c2");
	aug_checkpoint_info_free(&info);
	aug_model_free(best);
	aug_trainer_free(t);
	aug_model_free(m);
	fixture_close(&f);
	rm_rf(d);
	free(d);
}

CTest(checkpoint, damage_is_detected)
{
	char *d = make_shapes(), ck[4400];
	struct fixture f;
	aug_train_options o;
	aug_model *m = NULL, *back = NULL;
	aug_trainer *t = NULL;
	uint8_t *buf;
	size_t len;

	snprintf(ck, sizeof(ck), "%s/x.ckpt", d);
	fixture_open(&f, d);
	cr_assert_eq(aug_model_parse(&m, small_model, 1, 16, 16, 3), AUG_OK);
	train_options(&o, ck);
	o.epochs = 1;
	cr_assert_eq(aug_trainer_new(m, f.ds, f.tr, f.ntr, f.va, f.nva, f.tp, f.ep, &o, &t), AUG_OK);
	cr_assert_eq(aug_trainer_run(t), AUG_OK);
	buf = slurp(ck, &len);
	cr_assert_not_null(buf);
	/* Every single flipped byte, and every cut, is refused. */
	for (size_t i = 0; i < len; i += len / 97 + 1) {
		buf[i] ^= 0x40;
		cr_assert_eq(spit(ck, buf, len), 0);
		cr_assert_neq(aug_checkpoint_load_model(ck, &back, NULL), AUG_OK, "byte %zu", i);
		cr_assert_null(back);
		cr_assert(strstr(aug_error_message(), "x.ckpt"));
		buf[i] ^= 0x40;
	}
	for (size_t cut = 0; cut < len; cut += len / 31 + 1) {
		cr_assert_eq(spit(ck, buf, cut), 0);
		cr_assert_neq(aug_checkpoint_load_model(ck, &back, NULL), AUG_OK, "cut at %zu", cut);
	}
	cr_assert_eq(spit(ck, buf, len), 0);
	cr_assert_eq(aug_checkpoint_load_model(ck, &back, NULL), AUG_OK);
	cr_assert_eq(memcmp(aug_model_params(back), aug_model_params(m), aug_model_num_params(m) * sizeof(float)), 0);
	aug_model_free(back);
	free(buf);
	aug_trainer_free(t);
	aug_model_free(m);
	fixture_close(&f);
	rm_rf(d);
	free(d);
}

/* The offset of a section's bytes in a checkpoint held in memory. */
static size_t section_at(const uint8_t *buf, size_t len, const char *tag)
{
	for (size_t off = 12; off + 12 <= len - 16;) {
		uint64_t l = 0;

		for (int i = 7; i >= 0; i--)
			l = l << 8 | buf[off + 4 + (size_t)i];
		if (memcmp(buf + off, tag, 4) == 0)
			return off + 12;
		off += 12 + (size_t)l;
	}
	cr_assert_fail("no section %s", tag);
	return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Write the right CRC-32 at the end, as a crafted file would. */
static void fix_crc(uint8_t *buf, size_t len)
{
	put_u32(buf + len - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(len - 4)));
}

/* Train small_model one epoch on the fixture, checkpointing to `ck`, and
 * return the checkpoint's bytes. */
static uint8_t *one_epoch_checkpoint(struct fixture *f, const char *ck, size_t *len)
{
	aug_train_options o;
	aug_model *m = NULL;
	aug_trainer *t = NULL;
	uint8_t *buf;

	cr_assert_eq(aug_model_parse(&m, small_model, 1, 16, 16, 3), AUG_OK);
	train_options(&o, ck);
	o.epochs = 1;
	cr_assert_eq(aug_trainer_new(m, f->ds, f->tr, f->ntr, f->va, f->nva, f->tp, f->ep, &o, &t), AUG_OK);
	cr_assert_eq(aug_trainer_run(t), AUG_OK);
	aug_trainer_free(t);
	aug_model_free(m);
	buf = slurp(ck, len);
	cr_assert_not_null(buf);
	return buf;
}

/* A small checkpoint whose declared input shape makes its model huge is
 * refused before the model is allocated. Found by fuzz_checkpoint: a 2 KB
 * file declaring 524,290 classes made the loader build a 285-million
 * parameter model (2.3 GB) and only then see that the file held 88. */
CTest(checkpoint, a_shape_that_asks_for_gigabytes_is_refused_before_allocation)
{
	char *d = make_shapes(), ck[4400];
	struct fixture f;
	aug_model *m = NULL, *back = NULL;
	uint8_t *buf;
	size_t len, shap;

	snprintf(ck, sizeof(ck), "%s/x.ckpt", d);
	fixture_open(&f, d);
	buf = one_epoch_checkpoint(&f, ck, &len);
	shap = section_at(buf, len, "SHAP");
	/* 1 x 4096 x 4096: conv 8, max-pool 2, flatten gives 8·2048·2048
	 * features, and linear 16 on them 537 million weights (2 GB, twice
	 * with the gradients). */
	put_u32(buf + shap + 4, 4096);
	put_u32(buf + shap + 8, 4096);
	fix_crc(buf, len);
	cr_assert_eq(spit(ck, buf, len), 0);
	cr_assert_eq(aug_checkpoint_load_model(ck, &back, NULL), AUG_ECORRUPT);
	cr_assert_null(back);
	cr_assert(strstr(aug_error_message(), "x.ckpt"), "%s", aug_error_message());
	cr_assert(strstr(aug_error_message(), "do not fit"), "%s", aug_error_message());
	/* the check that comes before allocation said so */
	cr_assert(strstr(aug_error_message(), "over the limit of"), "%s", aug_error_message());
	/* and a model spec at its own limit is refused the same way */
	cr_assert_eq(aug_model_parse_limited(&m, small_model, 1, 16, 16, 3, 100), AUG_ELIMIT);
	cr_assert_null(m);
	cr_assert_eq(aug_model_parse_limited(&m, small_model, 1, 16, 16, 3, 0), AUG_OK);
	cr_assert_eq(aug_model_parse_limited(&back, small_model, 1, 16, 16, 3, aug_model_num_params(m)), AUG_OK);
	aug_model_free(back);
	aug_model_free(m);
	free(buf);
	fixture_close(&f);
	rm_rf(d);
	free(d);
}

/* A checkpoint with a right CRC whose training progress does not add up:
 * resuming from it must fail and leave the trainer as it was. Found by
 * fuzz_checkpoint: epochs done of 0xffffffff read as -1 were kept after the
 * failure (the next run then wrote history[-1]), and best epochs beyond
 * the epochs done were accepted. */
CTest(checkpoint, resume_that_does_not_add_up_changes_nothing)
{
	char *d = make_shapes(), ck[4400], bad[4400];
	struct fixture f;
	aug_train_options o;
	aug_model *m = NULL;
	aug_trainer *t = NULL;
	uint8_t *buf, *copy;
	size_t len, prog, hist, np;
	float *before;
	struct {
		size_t at;
		uint32_t value;
	} cases[5];

	snprintf(ck, sizeof(ck), "%s/x.ckpt", d);
	snprintf(bad, sizeof(bad), "%s/bad.ckpt", d);
	fixture_open(&f, d);
	buf = one_epoch_checkpoint(&f, ck, &len);
	train_options(&o, ck);
	prog = section_at(buf, len, "PROG");
	hist = section_at(buf, len, "HIST");
	cases[0].at = prog, cases[0].value = 0xffffffffu;     /* epochs done: -1 */
	cases[1].at = prog + 4, cases[1].value = 7;           /* best epoch 7 of 1 */
	cases[2].at = prog + 8, cases[2].value = 0x80000000u; /* bad epochs */
	cases[3].at = prog + 12, cases[3].value = 2;          /* stopped: neither 0 nor 1 */
	cases[4].at = hist + 4, cases[4].value = 0x7ff00000u; /* history's epoch 1 is +inf */

	cr_assert_eq(aug_model_parse(&m, small_model, 1, 16, 16, 3), AUG_OK);
	aug_model_init(m, 5);
	np = aug_model_num_params(m);
	before = malloc(np * sizeof(float));
	cr_assert_not_null(before);
	memcpy(before, aug_model_params(m), np * sizeof(float));
	o.epochs = 2;
	cr_assert_eq(aug_trainer_new(m, f.ds, f.tr, f.ntr, f.va, f.nva, f.tp, f.ep, &o, &t), AUG_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		copy = malloc(len);
		cr_assert_not_null(copy);
		memcpy(copy, buf, len);
		put_u32(copy + cases[i].at, cases[i].value);
		fix_crc(copy, len);
		cr_assert_eq(spit(bad, copy, len), 0);
		cr_assert_neq(aug_trainer_resume(t, bad), AUG_OK, "case %zu resumed", i);
		cr_assert(strstr(aug_error_message(), "bad.ckpt"), "%s", aug_error_message());
		cr_assert_eq(aug_trainer_epochs_done(t), 0, "case %zu", i);
		cr_assert_eq(aug_trainer_best_epoch(t), 0, "case %zu", i);
		cr_assert_eq(memcmp(aug_model_params(m), before, np * sizeof(float)), 0, "case %zu: weights changed", i);
		free(copy);
	}
	/* The trainer is still whole: it trains from the start. */
	cr_assert_eq(aug_trainer_run(t), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(aug_trainer_epochs_done(t), 2);
	/* And the untouched checkpoint still resumes. */
	cr_assert_eq(spit(bad, buf, len), 0);
	aug_trainer_free(t);
	cr_assert_eq(aug_trainer_new(m, f.ds, f.tr, f.ntr, f.va, f.nva, f.tp, f.ep, &o, &t), AUG_OK);
	cr_assert_eq(aug_trainer_resume(t, bad), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(aug_trainer_epochs_done(t), 1);
	aug_trainer_free(t);
	free(before);
	free(buf);
	aug_model_free(m);
	fixture_close(&f);
	rm_rf(d);
	free(d);
}

/* The CLI end to end on a real subset of Fashion-MNIST: import the first
 * 3,000 training and 3,000 test images, train 3 epochs (2,700 images after
 * the validation split), evaluate on the 3,000 test images. */
Test(trainer, fashion_mnist_subset_end_to_end, .timeout = 300)
{
	char *d, *out = NULL, cmd[8192];
	double acc = 0;
	const char *src = "/usr/share/datasets/fashion-mnist";
	struct stat sb;

	if (stat(src, &sb) != 0)
		cr_skip_test("dataset-fashion-mnist is not installed");
	d = make_tmpdir();
	snprintf(cmd, sizeof(cmd), "'%s' import fashion-mnist %s -o '%s/fm' --limit 3000 --quiet", AUG_CLI, src, d);
	cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "'%s' train '%s/fm/train' -m '%s' -p 'crop 28 pad=2' --epochs 3 --batch 64 --lr 0.05 "
		 "-o '%s/m.ckpt' --quiet && '%s' eval '%s/m.ckpt' '%s/fm/test' --json",
		 AUG_CLI, d, src_path("samples/models/fmnist.model"), d, AUG_CLI, d, d);
	cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "\"accuracy\":"), "%s", out);
	acc = atof(strstr(out, "\"accuracy\":") + 11);
	/* Chance is 10%; 3 epochs on 2,700 images reach about 80%. */
	cr_assert_gt(acc, 0.65, "test accuracy %f\n%s", acc, out);
	free(out);
	rm_rf(d);
	free(d);
}
