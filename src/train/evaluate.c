/* Evaluation with test-time augmentation: each view is a pass of the
 * streaming loader with its own pipeline (view v keyed (seed, v, item)); the
 * softmax outputs of the views are averaged, or the views vote. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void aug_eval_result_free(aug_eval_result *r)
{
	if (!r)
		return;
	free(r->class_accuracy);
	free(r->confusion);
	free(r->predicted);
	free(r->probabilities);
	memset(r, 0, sizeof(*r));
}

static void softmax(const float *z, int k, double *p)
{
	double mx = z[0], sum = 0;

	for (int i = 1; i < k; i++)
		mx = z[i] > mx ? z[i] : mx;
	for (int i = 0; i < k; i++) {
		p[i] = exp(z[i] - mx);
		sum += p[i];
	}
	for (int i = 0; i < k; i++)
		p[i] /= sum;
}

void aug_eval_options_init(aug_eval_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->reduce = AUG_TTA_MEAN;
	opts->batch_size = 128;
	opts->threads = 1;
	opts->max_pixels = AUG_DEFAULT_MAX_PIXELS;
}

aug_status aug_evaluate(aug_model *m, const aug_dataset *ds, const size_t *items, size_t nitems,
			const aug_pipeline *const *views, int nviews, const aug_eval_options *opts,
			aug_eval_result *out)
{
	aug_eval_options o;
	int k = aug_model_num_outputs(m), c, h, w;
	size_t nd = aug_dataset_count(ds);
	size_t *pos = NULL;
	double *prob = NULL, *tmp = NULL;
	uint32_t *votes = NULL;
	uint8_t *seen = NULL;
	aug_loader_options lo;
	aug_status st = AUG_OK;

	memset(out, 0, sizeof(*out));
	if (opts)
		o = *opts;
	else
		aug_eval_options_init(&o);
	if (nviews < 1 || nitems == 0)
		return aug__fail(AUG_EINVAL, __func__, "nothing to evaluate");
	aug_model_input_shape(m, &c, &h, &w);
	pos = malloc(nd * sizeof(size_t));
	prob = calloc(nitems * (size_t)k, sizeof(double));
	votes = calloc(nitems * (size_t)k, sizeof(uint32_t));
	seen = calloc(nitems, 1);
	tmp = malloc((size_t)k * sizeof(double));
	if (!pos || !prob || !votes || !seen || !tmp) {
		st = aug__fail(AUG_ENOMEM, __func__, "no memory");
		goto out;
	}
	for (size_t i = 0; i < nd; i++)
		pos[i] = SIZE_MAX;
	for (size_t i = 0; i < nitems; i++)
		pos[items[i]] = i;
	aug_loader_options_init(&lo);
	lo.batch_size = o.batch_size > 0 ? o.batch_size : 128;
	lo.threads = o.threads > 0 ? o.threads : 1;
	lo.seed = o.seed;
	lo.decode.max_pixels = o.max_pixels;
	lo.shuffle = false;
	lo.channels = c;
	aug_model_set_training(m, false);
	for (int v = 0; v < nviews && !st; v++) {
		aug_loader *l = NULL;
		const aug_batch *b;

		st = aug_loader_new(ds, items, nitems, views[v], &lo, &l);
		if (!st)
			st = aug_loader_start(l, (uint64_t)v);
		while (!st && !(st = aug_loader_next(l, &b)) && b) {
			const float *logits;

			if (b->n == 0)
				continue;
			st = aug_model_forward(m, b->data, b->n, &logits);
			if (st)
				break;
			for (int i = 0; i < b->n; i++) {
				size_t at = pos[b->items[i]];
				int best = 0;

				softmax(logits + (size_t)i * (size_t)k, k, tmp);
				for (int j = 0; j < k; j++) {
					prob[at * (size_t)k + (size_t)j] += tmp[j] / nviews;
					if (tmp[j] > tmp[best])
						best = j;
				}
				votes[at * (size_t)k + (size_t)best]++;
				seen[at]++;
			}
		}
		aug_loader_free(l);
	}
	if (st)
		goto out;
	out->classes = k;
	out->class_accuracy = malloc((size_t)k * sizeof(double));
	out->confusion = calloc((size_t)k * (size_t)k, sizeof(size_t));
	out->predicted = malloc(nitems * sizeof(int));
	out->probabilities = malloc(nitems * (size_t)k * sizeof(float));
	if (!out->class_accuracy || !out->confusion || !out->predicted || !out->probabilities) {
		st = aug__fail(AUG_ENOMEM, __func__, "no memory");
		goto out;
	}
	{
		double loss = 0;
		size_t right = 0, n = 0, *per = calloc((size_t)k, sizeof(size_t)), *ok = calloc((size_t)k, sizeof(size_t));

		if (!per || !ok) {
			free(per);
			free(ok);
			st = aug__fail(AUG_ENOMEM, __func__, "no memory");
			goto out;
		}
		for (size_t i = 0; i < nitems; i++) {
			const double *p = prob + i * (size_t)k;
			int label = aug_dataset_item_at(ds, items[i])->label;
			int pred = 0;

			for (int j = 0; j < k; j++)
				out->probabilities[i * (size_t)k + (size_t)j] = (float)p[j];
			if (o.reduce == AUG_TTA_VOTE) {
				const uint32_t *vt = votes + i * (size_t)k;

				for (int j = 1; j < k; j++)
					if (vt[j] > vt[pred])
						pred = j;
			} else {
				for (int j = 1; j < k; j++)
					if (p[j] > p[pred])
						pred = j;
			}
			out->predicted[i] = seen[i] == nviews ? pred : -1;
			if (seen[i] != nviews || label < 0 || label >= k)
				continue;
			n++;
			loss -= log(fmax(p[label], 1e-300));
			right += pred == label;
			per[label]++;
			ok[label] += pred == label;
			out->confusion[(size_t)label * (size_t)k + (size_t)pred]++;
		}
		out->n = n;
		out->loss = n ? loss / (double)n : NAN;
		out->accuracy = n ? (double)right / (double)n : NAN;
		for (int j = 0; j < k; j++)
			out->class_accuracy[j] = per[j] ? (double)ok[j] / (double)per[j] : NAN;
		free(per);
		free(ok);
	}
out:
	if (st)
		aug_eval_result_free(out);
	free(pos);
	free(prob);
	free(votes);
	free(seen);
	free(tmp);
	return st;
}
