/* A model: the layer list, its flat buffers and tensor tables, the
 * per-batch workspace, and the forward and backward walks.
 *
 * Buffers. Parameters, gradients and BatchNorm running statistics are three
 * flat arrays, each tensor a range of one of them (llm.c's
 * malloc_and_point_parameters). Everything sized by the batch (activations,
 * saved state, the backward ping-pong pair, im2col columns) is one arena,
 * laid out for `cap` samples by a sizing pass and a real pass over the same
 * plan functions, and reallocated only when a larger batch arrives.
 *
 * A layer may write its output over its input (relu, dropout) when the
 * layer that made the input does not read its own output in backward. A
 * 2d `bn; relu; maxpool` runs as one fused layer (bn_relu_pool.c): the bn
 * does all three and the other two are skipped both ways.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Largest activation, in elements per batch, that the int-sized GEMM
 * arguments can address. */
#define MAX_BATCH_ELEMS ((size_t)1 << 31)
#define MAX_PARAMS ((size_t)1 << 30)

const NN(layer_ops) *const NN(layer_ops_table)[AUG__L_COUNT] = {
	[AUG__L_CONV] = &NN(conv_ops),
	[AUG__L_BN] = &NN(bn_ops),
	[AUG__L_RELU] = &NN(relu_ops),
	[AUG__L_MAXPOOL] = &NN(maxpool_ops),
	[AUG__L_AVGPOOL] = &NN(avgpool_ops),
	[AUG__L_GAP] = &NN(gap_ops),
	[AUG__L_LINEAR] = &NN(linear_ops),
	[AUG__L_FLATTEN] = &NN(flatten_ops),
	[AUG__L_DROPOUT] = &NN(dropout_ops),
	[AUG__L_RESBLOCK] = &NN(resblock_ops),
};

static aug_status add_tensor(aug_tensor_info **table, int *count, size_t *total, const NN(layer) *l,
			     const char *what, aug_tensor_kind kind, int ndim, const int *shape,
			     size_t *offset)
{
	aug_tensor_info *t, *grown;
	size_t n = 1;
	char *name;

	for (int i = 0; i < ndim; i++)
		if (!aug__mul(n, (size_t)shape[i], &n))
			n = MAX_PARAMS + 1;
	if (n > MAX_PARAMS || *total + n > MAX_PARAMS)
		return aug__fail(AUG_ELIMIT, "aug_model_parse",
				 "layer %d (%s) takes the model over %zu parameters", l->index, what,
				 MAX_PARAMS);
	grown = realloc(*table, sizeof(**table) * (*count + 1));
	if (!grown)
		return aug__fail(AUG_ENOMEM, "aug_model_parse", "no memory for the tensor table");
	*table = grown;
	if (asprintf(&name, "%d.%s", l->index, what) < 0)
		return aug__fail(AUG_ENOMEM, "aug_model_parse", "no memory for a tensor name");
	t = &grown[(*count)++];
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->kind = kind;
	t->layer = l->index;
	t->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		t->shape[i] = shape[i];
	t->offset = *total;
	t->count = n;
	*offset = *total;
	*total += n;
	return AUG_OK;
}

aug_status NN(model_add_param)(struct nn_model *m, const NN(layer) *l, const char *what,
			       aug_tensor_kind kind, int ndim, const int *shape, size_t *offset)
{
	return add_tensor(&m->tensors, &m->ntensors, &m->nparams, l, what, kind, ndim, shape, offset);
}

aug_status NN(model_add_bn)(struct nn_model *m, const NN(layer) *l, const char *prefix, int c,
			    size_t *gamma, size_t *stat)
{
	char what[96];
	size_t off;
	aug_status st;

	snprintf(what, sizeof(what), "%s.gamma", prefix);
	st = NN(model_add_param)(m, l, what, AUG_TENSOR_BN_GAMMA, 1, &c, gamma);
	snprintf(what, sizeof(what), "%s.beta", prefix);
	if (!st)
		st = NN(model_add_param)(m, l, what, AUG_TENSOR_BN_BETA, 1, &c, &off);
	snprintf(what, sizeof(what), "%s.running_mean", prefix);
	if (!st)
		st = add_tensor(&m->stat_tensors, &m->nstat_tensors, &m->nstats, l, what,
				AUG_TENSOR_BN_MEAN, 1, &c, stat);
	snprintf(what, sizeof(what), "%s.running_var", prefix);
	if (!st)
		st = add_tensor(&m->stat_tensors, &m->nstat_tensors, &m->nstats, l, what,
				AUG_TENSOR_BN_VAR, 1, &c, &off);
	return st;
}

void NN(model_free)(struct nn_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->ntensors; i++)
		free((char *)m->tensors[i].name);
	for (int i = 0; i < m->nstat_tensors; i++)
		free((char *)m->stat_tensors[i].name);
	free(m->tensors);
	free(m->stat_tensors);
	free(m->layers);
	free(m->spec.layers);
	free(m->spec_text);
	free(m->params);
	free(m->grads);
	free(m->stats);
	free(m->arena);
	free(m);
}

aug_status NN(model_build)(struct nn_model **out, const aug__spec *spec, int c, int h, int w,
			   int classes)
{
	return NN(model_build_fused)(out, spec, c, h, w, classes, true);
}

/* Which layers run fused, and which write over their input. */
static void plan_fusion(struct nn_model *m, bool fuse)
{
	for (int i = 0; fuse && i + 2 < m->nlayers; i++) {
		NN(layer) *l = &m->layers[i];

		if (l->kind == AUG__L_BN && !l->in.flat && l[1].kind == AUG__L_RELU &&
		    l[2].kind == AUG__L_MAXPOOL) {
			l->fused = true;
			l[1].fused_away = true;
			l[2].fused_away = true;
			i += 2;
		}
	}
	for (int i = 1; i < m->nlayers; i++) {
		NN(layer) *l = &m->layers[i];
		const NN(layer) *prev = &m->layers[i - 1];

		/* in place when the input's maker does not read its output in
		 * backward; a fused max-pool's output is the ReLU mask */
		l->inplace = (l->ops->flags & AUG__INPLACE_OK) && !prev->fused_away &&
			     !(prev->ops->flags & AUG__NEEDS_OUTPUT);
	}
}

aug_status NN(model_build_fused)(struct nn_model **out, const aug__spec *spec, int c, int h,
				 int w, int classes, bool fuse)
{
	struct nn_model *m;
	aug__shape cur = { c, h, w, false };
	aug_status st = AUG_OK;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return aug__fail(AUG_ENOMEM, "aug_model_parse", "no memory for a model");
	m->in = cur;
	m->in_size = aug__shape_size(cur);
	m->classes = classes;
	m->training = true;
	m->col_budget = AUG__COL_BUDGET;
	m->dw_small = AUG__DW_SMALL;
	m->spec.count = spec->count;
	m->spec.layers = malloc(sizeof(*spec->layers) * spec->count);
	m->layers = calloc((size_t)spec->count, sizeof(*m->layers));
	if (!m->spec.layers || !m->layers) {
		st = aug__fail(AUG_ENOMEM, "aug_model_parse", "no memory for %d layers", spec->count);
		goto fail;
	}
	memcpy(m->spec.layers, spec->layers, sizeof(*spec->layers) * spec->count);
	m->nlayers = spec->count;
	for (int i = 0; i < spec->count; i++)
		m->total_resblocks += spec->layers[i].kind == AUG__L_RESBLOCK;

	for (int i = 0; i < m->nlayers; i++) {
		NN(layer) *l = &m->layers[i];
		const aug__layer_desc *d = &spec->layers[i];

		l->kind = d->kind;
		l->index = i;
		l->ops = NN(layer_ops_table)[d->kind];
		l->in = cur;
		l->in_size = aug__shape_size(cur);
		for (int k = 0; k < AUG__LAYER_PARAMS; k++)
			l->poff[k] = (size_t)-1;
		for (int k = 0; k < 3; k++)
			l->soff[k] = (size_t)-1;
		st = l->ops->setup(m, l, d);
		if (st)
			goto fail;
		l->out_size = aug__shape_size(l->out);
		if (l->out.c < 1 || l->out_size > ((size_t)1 << 28)) {
			st = aug__fail(AUG_ELIMIT, "aug_model_parse",
				       "line %d:%d: %s gives %dx%dx%d values per sample, too many",
				       d->line, d->col, aug__layer_name(d->kind), l->out.c, l->out.h,
				       l->out.w);
			goto fail;
		}
		cur = l->out;
	}
	plan_fusion(m, fuse);
	m->out = cur;
	m->out_size = aug__shape_size(cur);
	if (classes > 0 && (!cur.flat || cur.c != classes)) {
		const aug__layer_desc *d = &spec->layers[spec->count - 1];

		if (cur.flat)
			st = aug__fail(AUG_ESPEC, "aug_model_parse",
				       "line %d:%d: the model ends with %d outputs, but there are %d "
				       "classes; end with 'linear classes'",
				       d->line, d->col, cur.c, classes);
		else
			st = aug__fail(AUG_ESPEC, "aug_model_parse",
				       "line %d:%d: the model ends with a %dx%dx%d image, but a "
				       "classifier needs %d flat outputs; end with 'gap' or 'flatten' "
				       "and 'linear classes'",
				       d->line, d->col, cur.c, cur.h, cur.w, classes);
		goto fail;
	}
	if (spec->max_params && m->nparams > spec->max_params) {
		st = aug__fail(AUG_ELIMIT, "aug_model_parse", "the model has %zu parameters, over the limit of %zu",
			       m->nparams, spec->max_params);
		goto fail;
	}
	m->params = calloc(m->nparams ? m->nparams : 1, sizeof(real));
	m->grads = calloc(m->nparams ? m->nparams : 1, sizeof(real));
	m->stats = calloc(m->nstats ? m->nstats : 1, sizeof(real));
	if (!m->params || !m->grads || !m->stats) {
		st = aug__fail(AUG_ENOMEM, "aug_model_parse", "no memory for %zu parameters",
			       m->nparams);
		goto fail;
	}
	st = NN(model_init)(m, 0);
	if (st)
		goto fail;
	*out = m;
	return AUG_OK;
fail:
	NN(model_free)(m);
	return st;
}

/* Hand out the per-batch buffers for n samples (a->base NULL: just count). */
static void lay_out(struct nn_model *m, int n, aug__arena *a, size_t *col_size)
{
	size_t biggest = m->in_size;
	real *prev;

	m->input = aug__arena_take(a, sizeof(real) * m->in_size * n);
	prev = m->input;
	*col_size = 0;
	for (int i = 0; i < m->nlayers; i++) {
		NN(layer) *l = &m->layers[i];

		if (l->fused || (l->fused_away && l->kind == AUG__L_RELU))
			l->out_buf = NULL; /* never stored: see bn_relu_pool.c */
		else
			l->out_buf = l->inplace ? prev
						: aug__arena_take(a, sizeof(real) * l->out_size * n);
		if (l->ops->plan)
			l->ops->plan(m, l, n, a);
		if (l->ops->col_size) {
			size_t cs = l->ops->col_size(m, l, n);

			if (cs > *col_size)
				*col_size = cs;
		}
		if (l->out_size > biggest)
			biggest = l->out_size;
		prev = l->out_buf;
	}
	m->gbuf[0] = aug__arena_take(a, sizeof(real) * biggest * n);
	m->gbuf[1] = aug__arena_take(a, sizeof(real) * biggest * n);
	m->col = aug__arena_take(a, sizeof(real) * *col_size);
	m->output = aug__arena_take(a, sizeof(real) * m->out_size * n);
	m->probs = aug__arena_take(a, sizeof(real) * m->out_size * n);
	m->dinput = aug__arena_take(a, sizeof(real) * m->in_size * n);
}

aug_status NN(model_reserve)(struct nn_model *m, int n)
{
	aug__arena a = { NULL, 0 };
	size_t col_size, need, biggest = m->in_size;
	void *mem;

	if (n < 1)
		return aug__fail(AUG_EINVAL, "aug_model_reserve", "batch of %d", n);
	if (n <= m->cap)
		return AUG_OK;
	for (int i = 0; i < m->nlayers; i++)
		if (m->layers[i].out_size > biggest)
			biggest = m->layers[i].out_size;
	if (biggest * (size_t)n >= MAX_BATCH_ELEMS)
		return aug__fail(AUG_ELIMIT, "aug_model_reserve",
				 "a batch of %d needs %zu values in one layer, over the limit of %zu",
				 n, biggest * (size_t)n, MAX_BATCH_ELEMS);
	lay_out(m, n, &a, &col_size);
	need = a.used;
	mem = aligned_alloc(64, need);
	if (!mem) {
		/* the sizing pass pointed the buffers nowhere: point them back */
		a.base = m->arena;
		a.used = 0;
		if (m->arena)
			lay_out(m, m->cap, &a, &col_size);
		return aug__fail(AUG_ENOMEM, "aug_model_reserve",
				 "no memory for the workspace of a batch of %d (%zu bytes)", n, need);
	}
	free(m->arena);
	m->arena = mem;
	a.base = mem;
	a.used = 0;
	lay_out(m, n, &a, &col_size);
	m->col_size = col_size;
	m->cap = n;
	m->batch = 0; /* saved state of an earlier pass is gone */
	return AUG_OK;
}

/* Box-Muller: pairs of standard normals from a stream. */
static void fill_normal(real *x, size_t n, double std, aug_rng *rng)
{
	for (size_t i = 0; i < n; i += 2) {
		double u1 = 1.0 - aug_rng_uniform(rng); /* (0, 1]: log is finite */
		double u2 = aug_rng_uniform(rng);
		double r = sqrt(-2.0 * log(u1));

		x[i] = (real)(std * r * cos(2 * M_PI * u2));
		if (i + 1 < n)
			x[i + 1] = (real)(std * r * sin(2 * M_PI * u2));
	}
}

aug_status NN(model_init)(struct nn_model *m, uint64_t seed)
{
	for (int t = 0; t < m->ntensors; t++) {
		const aug_tensor_info *ti = &m->tensors[t];
		real *x = m->params + ti->offset;
		/* epoch UINT64_MAX: apart from every training step's streams */
		aug_rng rng = aug_rng_stream(seed, UINT64_MAX, (uint64_t)t, 0);

		switch (ti->kind) {
		case AUG_TENSOR_WEIGHT:
			/* He et al. 2015: std sqrt(2 / fan_in), fan_in = C*R*S or in */
			fill_normal(x, ti->count, sqrt(2.0 / (double)(ti->count / ti->shape[0])), &rng);
			break;
		case AUG_TENSOR_BN_GAMMA:
			for (size_t i = 0; i < ti->count; i++)
				x[i] = 1;
			break;
		default:
			memset(x, 0, sizeof(real) * ti->count);
			break;
		}
	}
	for (int t = 0; t < m->nstat_tensors; t++) {
		const aug_tensor_info *ti = &m->stat_tensors[t];

		for (size_t i = 0; i < ti->count; i++)
			m->stats[ti->offset + i] = ti->kind == AUG_TENSOR_BN_VAR ? 1 : 0;
	}
	memset(m->grads, 0, sizeof(real) * m->nparams);
	return AUG_OK;
}

/* (N,C,S) -> (C,N,S) */
static void to_channel_major(int n, int c, size_t s, real *dst, const real *src)
{
#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < c; ch++)
		for (int j = 0; j < n; j++)
			memcpy(dst + ((size_t)ch * n + j) * s, src + ((size_t)j * c + ch) * s,
			       sizeof(real) * s);
}

/* (C,N,S) -> (N,C,S) */
static void to_sample_major(int n, int c, size_t s, real *dst, const real *src)
{
#pragma omp parallel for schedule(static)
	for (int j = 0; j < n; j++)
		for (int ch = 0; ch < c; ch++)
			memcpy(dst + ((size_t)j * c + ch) * s, src + ((size_t)ch * n + j) * s,
			       sizeof(real) * s);
}

/* Training BatchNorm needs two values per channel at least (PyTorch refuses
 * one: the variance is undefined). */
static aug_status check_batch(struct nn_model *m, int n)
{
	if (!m->training)
		return AUG_OK;
	for (int i = 0; i < m->nlayers; i++) {
		const NN(layer) *l = &m->layers[i];
		size_t per;

		if (l->kind == AUG__L_BN)
			per = (size_t)n * l->in.h * l->in.w;
		else if (l->kind == AUG__L_RESBLOCK)
			per = (size_t)n * l->out.h * l->out.w;
		else
			continue;
		if (per < 2) {
			const aug__layer_desc *d = &m->spec.layers[i];

			return aug__fail(AUG_EINVAL, "aug_model_forward",
					 "the %s at line %d:%d sees 1 value per channel in a batch of "
					 "%d; training BatchNorm needs at least 2",
					 aug__layer_name(l->kind), d->line, d->col, n);
		}
	}
	return AUG_OK;
}

aug_status NN(model_forward)(struct nn_model *m, const real *input, int n, const real **output)
{
	const real *cur;
	aug_status st;

	if (output)
		*output = NULL;
	if (!input || n < 1)
		return aug__fail(AUG_EINVAL, "aug_model_forward", "%s",
				 !input ? "input is NULL" : "batch < 1");
	st = check_batch(m, n);
	if (!st)
		st = NN(model_reserve)(m, n);
	if (st)
		return st;
	m->batch = 0;
	to_channel_major(n, m->in.c, (size_t)m->in.h * m->in.w, m->input, input);
	m->fwd_step = m->rng_step;
	cur = m->input;
	for (int i = 0; i < m->nlayers; i++) {
		NN(layer) *l = &m->layers[i];

		if (!l->fused_away)
			l->ops->forward(m, l, cur, l->out_buf, n);
		cur = l->out_buf;
	}
	to_sample_major(n, m->out.c, (size_t)m->out.h * m->out.w, m->output, cur);
	if (m->training)
		m->rng_step++;
	m->batch = n;
	if (output)
		*output = m->output;
	return AUG_OK;
}

aug_status NN(model_backward_output)(struct nn_model *m, const real *doutput)
{
	const int n = m->batch;
	int which = 0;
	real *g;

	if (!n)
		return aug__fail(AUG_ESTATE, "aug_model_backward",
				 "no forward pass to go back through");
	g = m->gbuf[0];
	to_channel_major(n, m->out.c, (size_t)m->out.h * m->out.w, g, doutput);
	for (int i = m->nlayers - 1; i >= 0; i--) {
		NN(layer) *l = &m->layers[i];
		const real *in = i ? m->layers[i - 1].out_buf : m->input;
		real *din = i == 0 && !m->want_input_grad ? NULL : m->gbuf[!which];

		if (l->fused_away)
			continue; /* the fused bn before it takes this gradient */
		l->ops->backward(m, l, in, l->out_buf, g, din, n);
		g = din;
		which = !which;
	}
	if (m->want_input_grad)
		to_sample_major(n, m->in.c, (size_t)m->in.h * m->in.w, m->dinput, g);
	return AUG_OK;
}

aug_status NN(model_loss)(struct nn_model *m, const int32_t *labels, double smoothing, double *loss,
			  bool backward)
{
	const int n = m->batch;
	const int k = (int)m->out_size;
	double l;

	if (!n)
		return aug__fail(AUG_ESTATE, backward ? "aug_model_backward" : "aug_model_loss",
				 "no forward pass to take the loss of");
	if (!labels)
		return aug__fail(AUG_EINVAL, backward ? "aug_model_backward" : "aug_model_loss",
				 "labels is NULL");
	if (!(smoothing >= 0 && smoothing <= 1))
		return aug__fail(AUG_EINVAL, backward ? "aug_model_backward" : "aug_model_loss",
				 "label smoothing %g is outside [0, 1]", smoothing);
	for (int i = 0; i < n; i++) {
		if (labels[i] < 0 || labels[i] >= k)
			return aug__fail(AUG_EINVAL, backward ? "aug_model_backward" : "aug_model_loss",
					 "label %d of sample %d is outside [0, %d)", (int)labels[i], i,
					 k);
	}
	l = NN(xent_forward)(n, k, m->output, labels, smoothing, m->probs);
	if (loss)
		*loss = l;
	if (!backward)
		return AUG_OK;
	NN(xent_backward)(n, k, m->probs, m->probs, labels, smoothing);
	return NN(model_backward_output)(m, m->probs);
}
