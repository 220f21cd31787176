/* The public face of the model (augment/nn.h): the float build of model.c
 * behind an opaque handle, plus the summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_SIDE 65536
#define MAX_INPUT ((size_t)1 << 28)

aug_status aug_model_parse(aug_model **out, const char *spec, int channels, int height, int width,
			   int num_classes)
{
	return aug_model_parse_limited(out, spec, channels, height, width, num_classes, 0);
}

aug_status aug_model_parse_limited(aug_model **out, const char *spec, int channels, int height, int width,
				   int num_classes, size_t max_params)
{
	aug__spec parsed;
	aug_model *m = NULL;
	aug_status st;

	if (!out)
		return aug__fail(AUG_EINVAL, __func__, "out is NULL");
	*out = NULL;
	if (!spec)
		return aug__fail(AUG_EINVAL, __func__, "spec is NULL");
	if (channels < 1 || height < 1 || width < 1 || channels > MAX_SIDE || height > MAX_SIDE ||
	    width > MAX_SIDE)
		return aug__fail(AUG_EINVAL, __func__, "input shape %dx%dx%d is not valid", channels,
				 height, width);
	if ((size_t)channels * height * width > MAX_INPUT)
		return aug__fail(AUG_ELIMIT, __func__, "input shape %dx%dx%d is over %zu values",
				 channels, height, width, MAX_INPUT);
	if (num_classes < 0 || num_classes > (1 << 20))
		return aug__fail(AUG_EINVAL, __func__, "%d classes", num_classes);
	st = aug__spec_parse(spec, &parsed);
	if (st)
		return st;
	parsed.max_params = max_params;
	st = aug__nn_model_build(&m, &parsed, channels, height, width, num_classes);
	aug__spec_free(&parsed);
	if (st)
		return st;
	m->spec_text = strdup(spec);
	if (!m->spec_text) {
		aug__nn_model_free(m);
		return aug__fail(AUG_ENOMEM, __func__, "no memory for the spec text");
	}
	*out = m;
	return AUG_OK;
}

void aug_model_free(aug_model *m)
{
	aug__nn_model_free(m);
}

const char *aug_model_spec(const aug_model *m)
{
	return m->spec_text;
}

void aug_model_input_shape(const aug_model *m, int *channels, int *height, int *width)
{
	if (channels)
		*channels = m->in.c;
	if (height)
		*height = m->in.h;
	if (width)
		*width = m->in.w;
}

int aug_model_num_outputs(const aug_model *m)
{
	return (int)m->out_size;
}

static size_t layer_params(const aug_model *m, int layer)
{
	size_t count = 0;

	for (int t = 0; t < m->ntensors; t++)
		if (m->tensors[t].layer == layer)
			count += m->tensors[t].count;
	return count;
}

static void shape_text(aug__shape s, char *buf, size_t len)
{
	if (s.flat)
		snprintf(buf, len, "%d", s.c);
	else
		snprintf(buf, len, "%dx%dx%d", s.c, s.h, s.w);
}

aug_status aug_model_summary(const aug_model *m, char **out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	char shape[48], desc[160];

	if (!out)
		return aug__fail(AUG_EINVAL, __func__, "out is NULL");
	*out = NULL;
	f = open_memstream(&text, &len);
	if (!f)
		return aug__fail(AUG_ENOMEM, __func__, "no memory for the summary");
	fprintf(f, "%-4s %-48s %-12s %10s\n", "#", "layer", "output", "params");
	shape_text(m->in, shape, sizeof(shape));
	fprintf(f, "%-4s %-48s %-12s %10s\n", "", "input", shape, "");
	for (int i = 0; i < m->nlayers; i++) {
		const aug__nn_layer *l = &m->layers[i];
		const size_t np = layer_params(m, i);

		aug__layer_describe(&m->spec.layers[i], desc, sizeof(desc));
		if (l->kind == AUG__L_RESBLOCK && l->p < 1) {
			size_t used = strlen(desc);

			snprintf(desc + used, sizeof(desc) - used, " (p_l=%.3g)", l->p);
		}
		shape_text(l->out, shape, sizeof(shape));
		fprintf(f, "%-4d %-48s %-12s %10zu\n", i, desc, shape, np);
	}
	fprintf(f, "total %zu parameters (%.2f MB), %zu running statistics\n", m->nparams,
		(double)m->nparams * sizeof(float) / 1e6, m->nstats);
	if (fclose(f) != 0 || !text) {
		free(text);
		return aug__fail(AUG_ENOMEM, __func__, "no memory for the summary");
	}
	*out = text;
	return AUG_OK;
}

aug_status aug_model_init(aug_model *m, uint64_t seed)
{
	return aug__nn_model_init(m, seed);
}

size_t aug_model_num_params(const aug_model *m)
{
	return m->nparams;
}

float *aug_model_params(aug_model *m)
{
	return m->params;
}

float *aug_model_grads(aug_model *m)
{
	return m->grads;
}

int aug_model_num_tensors(const aug_model *m)
{
	return m->ntensors;
}

const aug_tensor_info *aug_model_tensor(const aug_model *m, int i)
{
	return i >= 0 && i < m->ntensors ? &m->tensors[i] : NULL;
}

size_t aug_model_num_stats(const aug_model *m)
{
	return m->nstats;
}

float *aug_model_stats(aug_model *m)
{
	return m->stats;
}

int aug_model_num_stat_tensors(const aug_model *m)
{
	return m->nstat_tensors;
}

const aug_tensor_info *aug_model_stat_tensor(const aug_model *m, int i)
{
	return i >= 0 && i < m->nstat_tensors ? &m->stat_tensors[i] : NULL;
}

void aug_model_set_training(aug_model *m, bool training)
{
	m->training = training;
}

bool aug_model_is_training(const aug_model *m)
{
	return m->training;
}

void aug_model_set_rng(aug_model *m, uint64_t seed, uint64_t step)
{
	m->rng_seed = seed;
	m->rng_step = step;
}

uint64_t aug_model_rng_step(const aug_model *m)
{
	return m->rng_step;
}

aug_status aug_model_reserve(aug_model *m, int max_batch)
{
	return aug__nn_model_reserve(m, max_batch);
}

aug_status aug_model_forward(aug_model *m, const float *input, int n, const float **logits)
{
	return aug__nn_model_forward(m, input, n, logits);
}

aug_status aug_model_loss(aug_model *m, const int32_t *labels, float smoothing, float *loss)
{
	double l = 0;
	aug_status st = aug__nn_model_loss(m, labels, smoothing, &l, false);

	if (!st && loss)
		*loss = (float)l;
	return st;
}

aug_status aug_model_backward(aug_model *m, const int32_t *labels, float smoothing, float *loss)
{
	double l = 0;
	aug_status st = aug__nn_model_loss(m, labels, smoothing, &l, true);

	if (!st && loss)
		*loss = (float)l;
	return st;
}

void aug_model_zero_grad(aug_model *m)
{
	memset(m->grads, 0, sizeof(float) * m->nparams);
}
