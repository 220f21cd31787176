/* The model through the public API: spec parsing and its errors, the
 * tensor tables, initialisation, modes, workspace, and parity with PyTorch
 * on the reference model (tests/fixtures/nn/fmnist-parity.bin, written by
 * tests/gen/make-nn-fixtures.py). */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "nn/internal.h"
#include "support.h"

static char *read_text(const char *rel)
{
	size_t len;
	uint8_t *b = slurp(src_path(rel), &len);

	cr_assert_not_null(b, "cannot read %s", rel);
	b[len] = '\0';
	return (char *)b;
}

static aug_model *fmnist(void)
{
	char *spec = read_text("samples/models/fmnist.model");
	aug_model *m = NULL;

	cr_assert_eq(aug_model_parse(&m, spec, 1, 28, 28, 10), AUG_OK, "%s", aug_error_message());
	free(spec);
	return m;
}

/* ---- spec errors: each names line:column ---- */

static void expect_error(const char *spec, int c, int h, int w, int classes, aug_status want,
			 const char *needle)
{
	aug_model *m = (aug_model *)1;
	aug_status st = aug_model_parse(&m, spec, c, h, w, classes);

	cr_assert_eq(st, want, "spec %s: status %d (%s)", spec, st, aug_error_message());
	cr_assert_null(m);
	cr_assert(strstr(aug_error_message(), needle), "spec %s: message '%s' lacks '%s'", spec,
		  aug_error_message(), needle);
}

Test(spec_errors, unknown_layer_with_suggestion)
{
	expect_error("conv 8 k=3\nrelu\n  cnov 16", 1, 8, 8, 0, AUG_ESPEC,
		     "line 3:3: unknown layer 'cnov'; did you mean 'conv'?");
	expect_error("bn; relu; maxpol 2", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:11: unknown layer 'maxpol'; did you mean 'maxpool'?");
	expect_error("transformer 4", 1, 8, 8, 0, AUG_ESPEC, "line 1:1: expected a layer (conv,");
}

Test(spec_errors, unknown_parameter_with_suggestion)
{
	expect_error("conv 8 strid=2", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:8: unknown parameter 'strid' for conv; did you mean 'stride'?");
	expect_error("relu\ndropout q=0.5", 1, 8, 8, 0, AUG_ESPEC,
		     "line 2:9: unknown parameter 'q' for dropout; did you mean 'p'?");
	expect_error("relu slope=0.1", 1, 8, 8, 0, AUG_ESPEC, "line 1:6: relu takes no parameters");
}

Test(spec_errors, bad_numbers)
{
	expect_error("conv 8 k=3x", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:10: expected a whole number for conv k, got '3x'");
	expect_error("conv 8 k=2.5", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:10: expected a whole number for conv k, got '2.5'");
	expect_error("# a comment\n\ndropout p=half", 1, 8, 8, 0, AUG_ESPEC,
		     "line 3:11: expected a number for dropout p, got 'half'");
	expect_error("conv 8 bias=maybe", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:13: expected yes or no for conv bias, got 'maybe'");
	expect_error("dropout nan", 1, 8, 8, 0, AUG_ESPEC, "line 1:9: expected a number");
}

Test(spec_errors, values_out_of_range)
{
	expect_error("dropout p=1", 1, 8, 8, 0, AUG_ESPEC, "line 1:11: dropout p must be in [0, 1), got 1");
	expect_error("conv 0", 1, 8, 8, 0, AUG_ESPEC, "line 1:6: conv out must be between 1 and 65536, got 0");
	expect_error("resblock 8 survive=1.5", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:20: resblock survive must be in [0, 1], got 1.5");
}

Test(spec_errors, missing_values)
{
	expect_error("conv 8 k=", 1, 8, 8, 0, AUG_ESPEC, "line 1:10: expected a value after 'k='");
	expect_error("bn\n conv k=3", 1, 8, 8, 0, AUG_ESPEC,
		     "line 2:2: conv needs the number of output channels, as in 'conv 32'");
	expect_error("maxpool", 1, 8, 8, 0, AUG_ESPEC, "line 1:1: maxpool needs the window size");
	expect_error("conv 8 =3", 1, 8, 8, 0, AUG_ESPEC, "line 1:8: expected a parameter name before '='");
	expect_error("  # nothing here\n ; \n", 1, 8, 8, 0, AUG_ESPEC, "expected a layer; the spec is empty");
}

Test(spec_errors, too_many_or_repeated_values)
{
	expect_error("conv 8 16", 1, 8, 8, 0, AUG_ESPEC, "line 1:8: conv takes no more values; got '16'");
	expect_error("conv 8 k=3 k=5", 1, 8, 8, 0, AUG_ESPEC, "line 1:12: conv k is given twice");
}

Test(spec_errors, shapes_that_do_not_fit)
{
	expect_error("conv 8 k=3; linear 10", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:13: linear needs a flat input, got 8x6x6; add 'flatten' or 'gap'");
	expect_error("flatten; conv 4", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:10: conv needs an image-shaped input, got 64 flat features");
	expect_error("maxpool 2; maxpool 2; maxpool 2; maxpool 2", 1, 8, 8, 0, AUG_ESPEC,
		     "line 1:34: maxpool 2 needs an input of at least 2x2, got 1x1");
	expect_error("conv 4 k=9", 1, 8, 8, 0, AUG_ESPEC, "line 1:1: conv k=9 pad=0 does not fit its 8x8 input");
	expect_error("gap; linear 7", 3, 8, 8, 10, AUG_ESPEC,
		     "line 1:6: the model ends with 7 outputs, but there are 10 classes");
	expect_error("conv 4", 3, 8, 8, 10, AUG_ESPEC, "the model ends with a 4x6x6 image");
	expect_error("gap; linear classes", 3, 8, 8, 0, AUG_ESPEC,
		     "line 1:13: 'linear classes' needs the number of classes");
}

Test(spec_errors, bad_arguments)
{
	aug_model *m = NULL;

	cr_assert_eq(aug_model_parse(&m, NULL, 1, 8, 8, 0), AUG_EINVAL);
	cr_assert_eq(aug_model_parse(&m, "relu", 0, 8, 8, 0), AUG_EINVAL);
	cr_assert_eq(aug_model_parse(&m, "relu", 1, 8, 8, -1), AUG_EINVAL);
	cr_assert_eq(aug_model_parse(&m, "relu", 65536, 65536, 65536, 0), AUG_ELIMIT);
	cr_assert_eq(aug_model_parse(NULL, "relu", 1, 8, 8, 0), AUG_EINVAL);
}

/* ---- parsing what is right ---- */

Test(spec, separators_comments_and_canonical_summary)
{
	aug_model *m = NULL;
	char *s = NULL;
	const char *spec = "conv 4 k=3 pad=1 bias=no # the stem\n"
			   "bn ; relu;maxpool 2 stride=2\r\n"
			   "\n"
			   "dropout 0.25; flatten; linear classes";

	cr_assert_eq(aug_model_parse(&m, spec, 2, 6, 6, 3), AUG_OK, "%s", aug_error_message());
	cr_assert_str_eq(aug_model_spec(m), spec);
	cr_assert_eq(aug_model_num_outputs(m), 3);
	cr_assert_eq(aug_model_summary(m, &s), AUG_OK);
	cr_assert(strstr(s, "conv 4 k=3 pad=1 bias=no"), "%s", s);
	cr_assert(strstr(s, "maxpool 2 stride=2"), "%s", s);
	cr_assert(strstr(s, "dropout 0.25"), "%s", s);
	cr_assert(strstr(s, "4x3x3"), "%s", s);
	cr_assert(strstr(s, "linear classes"), "%s", s);
	/* conv 4*2*9 = 72, bn 8, linear 3*36 + 3 = 111 */
	cr_assert(strstr(s, "total 191 parameters"), "%s", s);
	aug_free(s);
	aug_model_free(m);
	aug_model_free(NULL);
}

Test(spec, sample_models_parse)
{
	char *spec = read_text("samples/models/resnet8.model");
	aug_model *m = NULL;
	const aug__nn_layer *l;

	cr_assert_eq(aug_model_parse(&m, spec, 3, 32, 32, 10), AUG_OK, "%s", aug_error_message());
	/* p_l = 1 - (l/L)(1 - 0.8) for l = 1, 2, 3 */
	l = &m->layers[3];
	cr_assert_eq(l->kind, AUG__L_RESBLOCK);
	cr_assert_float_eq(l->p, 1 - 0.2 / 3, 1e-12);
	cr_assert_float_eq(m->layers[4].p, 1 - 0.4 / 3, 1e-12);
	cr_assert_float_eq(m->layers[5].p, 0.8, 1e-12);
	cr_assert(!m->layers[3].proj);
	cr_assert(m->layers[4].proj);
	cr_assert_eq(m->layers[5].out.h, 8);
	aug_model_free(m);
	free(spec);
}

Test(spec, edit_distance)
{
	cr_assert_eq(aug__edit_distance("kitten", 6, "sitting", 7), 3);
	cr_assert_eq(aug__edit_distance("", 0, "abc", 3), 3);
	cr_assert_eq(aug__edit_distance("abc", 3, "", 0), 3);
	cr_assert_eq(aug__edit_distance("conv", 4, "conv", 4), 0);
	cr_assert_eq(aug__edit_distance("cnov", 4, "conv", 4), 1); /* a swap is one edit */
	cr_assert_eq(aug__edit_distance("maxpol", 6, "maxpool", 7), 1);
	cr_assert_eq(aug__edit_distance("ca", 2, "abc", 3), 3);    /* OSA, not full Damerau */
}

/* ---- tables, buffers, initialisation ---- */

Test(model, reference_model_tensor_tables)
{
	aug_model *m = fmnist();
	static const struct {
		const char *name;
		aug_tensor_kind kind;
		int ndim, shape[4];
	} want[] = {
		{ "0.conv.weight", AUG_TENSOR_WEIGHT, 4, { 32, 1, 3, 3 } },
		{ "1.bn.gamma", AUG_TENSOR_BN_GAMMA, 1, { 32 } },
		{ "1.bn.beta", AUG_TENSOR_BN_BETA, 1, { 32 } },
		{ "4.conv.weight", AUG_TENSOR_WEIGHT, 4, { 64, 32, 3, 3 } },
		{ "5.bn.gamma", AUG_TENSOR_BN_GAMMA, 1, { 64 } },
		{ "5.bn.beta", AUG_TENSOR_BN_BETA, 1, { 64 } },
		{ "9.linear.weight", AUG_TENSOR_WEIGHT, 2, { 128, 3136 } },
		{ "10.bn.gamma", AUG_TENSOR_BN_GAMMA, 1, { 128 } },
		{ "10.bn.beta", AUG_TENSOR_BN_BETA, 1, { 128 } },
		{ "13.linear.weight", AUG_TENSOR_WEIGHT, 2, { 10, 128 } },
		{ "13.linear.bias", AUG_TENSOR_BIAS, 1, { 10 } },
	};
	size_t off = 0;

	cr_assert_eq(aug_model_num_tensors(m), 11);
	for (int i = 0; i < 11; i++) {
		const aug_tensor_info *t = aug_model_tensor(m, i);
		size_t count = 1;

		cr_assert_str_eq(t->name, want[i].name);
		cr_assert_eq(t->kind, want[i].kind, "%s", t->name);
		cr_assert_eq(t->ndim, want[i].ndim, "%s", t->name);
		for (int d = 0; d < t->ndim; d++) {
			cr_assert_eq(t->shape[d], want[i].shape[d], "%s dim %d", t->name, d);
			count *= (size_t)t->shape[d];
		}
		cr_assert_eq(t->offset, off, "%s is not packed", t->name);
		cr_assert_eq(t->count, count);
		off += count;
	}
	cr_assert_null(aug_model_tensor(m, 11));
	cr_assert_null(aug_model_tensor(m, -1));
	cr_assert_eq(aug_model_num_params(m), 421866);
	cr_assert_eq(off, 421866);
	cr_assert_eq(aug_model_num_stats(m), 2 * (32 + 64 + 128));
	cr_assert_eq(aug_model_num_stat_tensors(m), 6);
	cr_assert_str_eq(aug_model_stat_tensor(m, 0)->name, "1.bn.running_mean");
	cr_assert_eq(aug_model_stat_tensor(m, 1)->kind, AUG_TENSOR_BN_VAR);
	cr_assert_eq(aug_model_stat_tensor(m, 1)->offset, 32);
	cr_assert_str_eq(aug_model_stat_tensor(m, 5)->name, "10.bn.running_var");
	aug_model_free(m);
}

Test(model, he_init_is_seeded_and_scaled)
{
	aug_model *m = fmnist();
	const aug_tensor_info *fc = aug_model_tensor(m, 6);
	size_t np = aug_model_num_params(m);
	float *a = malloc(sizeof(float) * np);
	float *p = aug_model_params(m);
	double s = 0, s2 = 0;

	cr_assert_eq(aug_model_init(m, 42), AUG_OK);
	memcpy(a, p, sizeof(float) * np);
	cr_assert_eq(aug_model_init(m, 43), AUG_OK);
	cr_assert_neq(memcmp(a, p, sizeof(float) * np), 0, "seed does not matter");
	cr_assert_eq(aug_model_init(m, 42), AUG_OK);
	cr_assert_eq(memcmp(a, p, sizeof(float) * np), 0, "same seed, other values");
	for (size_t i = 0; i < fc->count; i++) {
		s += p[fc->offset + i];
		s2 += (double)p[fc->offset + i] * p[fc->offset + i];
	}
	/* std sqrt(2/3136) = 0.02525; 401408 draws pin it within 0.5% */
	cr_assert_lt(fabs(sqrt(s2 / fc->count) / sqrt(2.0 / 3136) - 1), 0.005);
	cr_assert_lt(fabs(s / fc->count), 1e-4);
	cr_assert_eq(p[aug_model_tensor(m, 1)->offset], 1.0f);  /* gamma */
	cr_assert_eq(p[aug_model_tensor(m, 2)->offset], 0.0f);  /* beta */
	cr_assert_eq(p[aug_model_tensor(m, 10)->offset], 0.0f); /* bias */
	cr_assert_eq(aug_model_stats(m)[32], 1.0f);              /* running var */
	free(a);
	aug_model_free(m);
}

static float *random_batch(int n, size_t per, uint64_t seed)
{
	float *x = malloc(sizeof(float) * n * per);
	aug_rng r = aug_rng_stream(seed, 0, 0, 0);

	for (size_t i = 0; i < n * per; i++)
		x[i] = (float)aug_rng_range(&r, -1, 1);
	return x;
}

Test(model, workspace_is_kept_and_steps_advance_in_training_only)
{
	aug_model *m = fmnist();
	float *x = random_batch(17, 784, 1);
	int32_t y[16] = { 0 };
	const float *lo;
	void *arena;

	cr_assert_eq(aug_model_reserve(m, 16), AUG_OK);
	arena = m->arena;
	aug_model_set_rng(m, 5, 100);
	cr_assert_eq(aug_model_forward(m, x, 16, &lo), AUG_OK);
	cr_assert_eq(aug_model_backward(m, y, 0, NULL), AUG_OK);
	cr_assert_eq(aug_model_forward(m, x, 7, &lo), AUG_OK);
	cr_assert_eq(m->arena, arena, "a smaller batch reallocated");
	cr_assert_eq(aug_model_rng_step(m), 102);
	aug_model_set_training(m, false);
	cr_assert(!aug_model_is_training(m));
	cr_assert_eq(aug_model_forward(m, x, 16, &lo), AUG_OK);
	cr_assert_eq(aug_model_rng_step(m), 102, "evaluation advanced the step");
	cr_assert_eq(m->arena, arena);
	aug_model_set_training(m, true);
	cr_assert_eq(aug_model_forward(m, x, 17, &lo), AUG_OK); /* grows */
	cr_assert_eq(m->cap, 17);
	free(x);
	aug_model_free(m);
}

Test(model, a_failed_reserve_leaves_the_model_usable)
{
	aug_model *m = fmnist();
	float *x = random_batch(4, 784, 5);
	const float *lo;
	aug_status st;

	cr_assert_eq(aug_model_reserve(m, 8), AUG_OK);
	/* 80000 samples pass the size limit but need ~30 GB */
	st = aug_model_reserve(m, 80000);
	if (st == AUG_OK)
		cr_skip_test("the machine had 30 GB to give");
	cr_assert_eq(st, AUG_ENOMEM, "%s", aug_error_message());
	cr_assert(strstr(aug_error_message(), "batch of 80000"));
	cr_assert_eq(aug_model_reserve(m, 1 << 30), AUG_ELIMIT);
	cr_assert_eq(m->cap, 8);
	cr_assert_eq(aug_model_forward(m, x, 4, &lo), AUG_OK);
	cr_assert(isfinite(lo[0]));
	free(x);
	aug_model_free(m);
}

Test(model, wrong_order_and_bad_input_are_refused)
{
	aug_model *m = fmnist();
	float *x = random_batch(2, 784, 2);
	int32_t y[2] = { 3, 10 };
	aug_model *flat = NULL;

	cr_assert_eq(aug_model_backward(m, y, 0, NULL), AUG_ESTATE);
	cr_assert_eq(aug_model_loss(m, y, 0, NULL), AUG_ESTATE);
	cr_assert_eq(aug_model_forward(m, x, 0, NULL), AUG_EINVAL);
	cr_assert_eq(aug_model_forward(m, NULL, 2, NULL), AUG_EINVAL);
	cr_assert_eq(aug_model_forward(m, x, 2, NULL), AUG_OK);
	cr_assert_eq(aug_model_backward(m, y, 0, NULL), AUG_EINVAL);
	cr_assert(strstr(aug_error_message(), "label 10 of sample 1 is outside [0, 10)"));
	y[1] = 9;
	cr_assert_eq(aug_model_backward(m, y, 1.5f, NULL), AUG_EINVAL);
	cr_assert_eq(aug_model_backward(m, y, 0.2f, NULL), AUG_OK);
	/* one sample through a 1d BatchNorm: no variance to train with */
	cr_assert_eq(aug_model_parse(&flat, "flatten; linear 4; bn; linear classes", 1, 2, 2, 3), AUG_OK);
	cr_assert_eq(aug_model_forward(flat, x, 1, NULL), AUG_EINVAL);
	cr_assert(strstr(aug_error_message(), "the bn at line 1:20 sees 1 value per channel"),
		  "%s", aug_error_message());
	aug_model_set_training(flat, false);
	cr_assert_eq(aug_model_forward(flat, x, 1, NULL), AUG_OK);
	aug_model_free(flat);
	free(x);
	aug_model_free(m);
}

/* Same thread count, same seed and step: the same bits. */
Test(model, runs_are_reproducible)
{
	float *x = random_batch(32, 784, 3);
	int32_t y[32];
	float *g[2];
	float loss[2];

	for (int i = 0; i < 32; i++)
		y[i] = i % 10;
	for (int r = 0; r < 2; r++) {
		aug_model *m = fmnist();

		aug_model_init(m, 9);
		aug_model_set_rng(m, 77, 3);
		cr_assert_eq(aug_model_forward(m, x, 32, NULL), AUG_OK);
		cr_assert_eq(aug_model_backward(m, y, 0.1f, &loss[r]), AUG_OK);
		g[r] = malloc(sizeof(float) * aug_model_num_params(m));
		memcpy(g[r], aug_model_grads(m), sizeof(float) * aug_model_num_params(m));
		aug_model_free(m);
	}
	cr_assert_eq(loss[0], loss[1]);
	cr_assert_eq(memcmp(g[0], g[1], sizeof(float) * 421866), 0);
	free(g[0]);
	free(g[1]);
	free(x);
}

/* ---- PyTorch parity ---- */

typedef struct fx_rec {
	char name[64];
	int type, ndim, dims[4];
	size_t count;
	const void *data; /* an aligned copy: records start at any byte */
} fx_rec;

typedef struct fixture {
	uint8_t *buf;
	fx_rec rec[64];
	int n;
} fixture;

static void fx_load(fixture *f, const char *rel)
{
	size_t len, pos = 8;

	f->buf = slurp(src_path(rel), &len);
	f->n = 0;
	cr_assert_not_null(f->buf, "missing %s: run tests/gen/make-nn-fixtures.py", rel);
	cr_assert_eq(memcmp(f->buf, "AUGNNFX1", 8), 0);
	while (pos < len) {
		fx_rec *r = &f->rec[f->n++];
		uint32_t u[2], nl;

		cr_assert_lt(f->n, 64);
		memcpy(&nl, f->buf + pos, 4);
		cr_assert_lt(nl, sizeof(r->name));
		memcpy(r->name, f->buf + pos + 4, nl);
		r->name[nl] = '\0';
		pos += 4 + nl;
		memcpy(u, f->buf + pos, 8);
		r->type = (int)u[0];
		r->ndim = (int)u[1];
		pos += 8;
		r->count = 1;
		for (int d = 0; d < r->ndim; d++) {
			uint32_t v;

			memcpy(&v, f->buf + pos, 4);
			r->dims[d] = (int)v;
			r->count *= v;
			pos += 4;
		}
		cr_assert_leq(pos + 4 * r->count, len, "record %s runs past the end", r->name);
		r->data = malloc(4 * r->count + 4);
		memcpy((void *)r->data, f->buf + pos, 4 * r->count);
		pos += 4 * r->count;
	}
}

static void fx_free(fixture *f)
{
	for (int i = 0; i < f->n; i++)
		free((void *)f->rec[i].data);
	free(f->buf);
}

static const fx_rec *fx_get(const fixture *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->rec[i].name, name) == 0)
			return &f->rec[i];
	cr_assert_fail("fixture has no %s", name);
	return NULL;
}

/* max |a - b| / max |b|: the error relative to the tensor's scale */
static double rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;

	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);

		if (d > num || isnan(d))
			num = isnan(d) ? INFINITY : d;
		if (fabs(b[i]) > den)
			den = fabs(b[i]);
	}
	return num / den;
}

/* The fixture's initial values (see make-nn-fixtures.py). */
static void parity_init(aug_model *m)
{
	float *p = aug_model_params(m);

	for (int t = 0; t < aug_model_num_tensors(m); t++) {
		const aug_tensor_info *ti = aug_model_tensor(m, t);
		aug_rng r = aug_rng_stream(1234, 0, (uint64_t)t, 0);
		const double fan_in = (double)(ti->count / ti->shape[0]);

		for (size_t i = 0; i < ti->count; i++) {
			double u = 2 * aug_rng_uniform(&r) - 1, v;

			switch (ti->kind) {
			case AUG_TENSOR_WEIGHT:
				v = sqrt(6.0 / fan_in) * u;
				break;
			case AUG_TENSOR_BN_GAMMA:
				v = 1 + 0.25 * u;
				break;
			default:
				v = 0.1 * u;
				break;
			}
			p[ti->offset + i] = (float)v;
		}
	}
}

static double worst_parity;

static void parity_check(const char *what, const float *got, const fx_rec *want, size_t count)
{
	double e;

	cr_assert_eq(want->count, count, "%s: %zu values in the fixture, %zu here", what, want->count,
		     count);
	e = rel_err(got, want->data, count);
	cr_log_info("parity %-28s rel err %.2e", what, e);
	if (e > worst_parity)
		worst_parity = e;
	cr_assert_lt(e, 1e-4, "%s differs from PyTorch: relative error %.3g", what, e);
}

Test(parity, reference_model_matches_pytorch)
{
	fixture f;
	aug_model *m = fmnist();
	const fx_rec *in, *lab;
	const int32_t *meta;
	const float *logits;
	float loss;
	int n;

	fx_load(&f, "tests/fixtures/nn/fmnist-parity.bin");
	meta = fx_get(&f, "meta")->data;
	n = meta[0];
	in = fx_get(&f, "input");
	lab = fx_get(&f, "labels");
	cr_assert_eq(in->count, (size_t)n * 784);
	parity_init(m);
	for (int t = 0; t < aug_model_num_tensors(m); t++) {
		const aug_tensor_info *ti = aug_model_tensor(m, t);
		char key[96];
		const fx_rec *r;

		snprintf(key, sizeof(key), "init.%s", ti->name);
		r = fx_get(&f, key);
		cr_assert_eq(memcmp(aug_model_params(m) + ti->offset, r->data, 4 * r->count), 0,
			     "%s: initial values differ from the generator's", ti->name);
	}
	aug_model_set_rng(m, (uint64_t)meta[2], 0);

	/* step 0: outputs, loss, every gradient */
	aug_model_zero_grad(m);
	cr_assert_eq(aug_model_forward(m, in->data, n, &logits), AUG_OK, "%s", aug_error_message());
	parity_check("logits", logits, fx_get(&f, "logits"), (size_t)n * 10);
	cr_assert_eq(aug_model_backward(m, lab->data, 0.1f, &loss), AUG_OK);
	parity_check("loss", &loss, fx_get(&f, "loss"), 1);
	for (int t = 0; t < aug_model_num_tensors(m); t++) {
		const aug_tensor_info *ti = aug_model_tensor(m, t);
		const float *g = aug_model_grads(m) + ti->offset;
		char key[96];

		if (strcmp(ti->name, "9.linear.weight") == 0) {
			/* torch's gradient is dout^T x in (asserted by the generator) */
			const fx_rec *dy = fx_get(&f, "grad.9.linear.weight.dout");
			const fx_rec *xi = fx_get(&f, "grad.9.linear.weight.in");
			const float *a = dy->data, *b = xi->data;
			float *want = malloc(sizeof(float) * ti->count);
			fx_rec r = { .count = ti->count, .data = want };

			for (int o = 0; o < 128; o++) {
				for (int i = 0; i < 3136; i++) {
					double acc = 0;

					for (int j = 0; j < n; j++)
						acc += (double)a[j * 128 + o] * b[j * 3136 + i];
					want[o * 3136 + i] = (float)acc;
				}
			}
			parity_check("grad 9.linear.weight", g, &r, ti->count);
			free(want);
			continue;
		}
		snprintf(key, sizeof(key), "grad.%s", ti->name);
		parity_check(key, g, fx_get(&f, key), ti->count);
	}

	/* three SGD steps, then the running statistics and evaluation logits */
	for (int step = 0; step < meta[3]; step++) {
		float *p = aug_model_params(m);
		const float *g = aug_model_grads(m);

		if (step > 0) {
			aug_model_zero_grad(m);
			cr_assert_eq(aug_model_forward(m, in->data, n, NULL), AUG_OK);
			cr_assert_eq(aug_model_backward(m, lab->data, 0.1f, NULL), AUG_OK);
		}
		for (size_t i = 0; i < aug_model_num_params(m); i++)
			p[i] -= 0.1f * g[i];
	}
	for (int t = 0; t < aug_model_num_stat_tensors(m); t++) {
		const aug_tensor_info *ti = aug_model_stat_tensor(m, t);
		char key[96];

		snprintf(key, sizeof(key), "stats.%s", ti->name);
		parity_check(key, aug_model_stats(m) + ti->offset, fx_get(&f, key), ti->count);
	}
	aug_model_set_training(m, false);
	cr_assert_eq(aug_model_forward(m, in->data, n, &logits), AUG_OK);
	parity_check("eval logits after 3 steps", logits, fx_get(&f, "eval_logits"), (size_t)n * 10);
	cr_log_info("PyTorch parity: worst relative error %.3g", worst_parity);
	fx_free(&f);
	aug_model_free(m);
}
