/* Forward + backward throughput of a model (default: the reference model,
 * samples/models/fmnist.model) on random batches, compute only: no data
 * loading, no optimizer step. Driven by bench/nn_bench.py, which runs it
 * next to PyTorch; also usable alone:
 *
 *   nn_bench [--model FILE] [--batch 128] [--threads T] [--input CxHxW]
 *            [--classes 10] [--steps K] [--rounds R] [--layers] [--serve]
 *            [--col-budget FLOATS]
 *
 * --serve reads commands from stdin ("run K": time K steps and print
 * "img/s X"; "quit"), so a driver can interleave rounds with another
 * process without paying start-up again. --layers prints the time of each
 * layer's forward and backward.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "nn/internal.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "nn_bench: %s: %s\n", what, aug_error_message());
	exit(1);
}

static void step(aug_model *m, const float *x, const int32_t *y, int n)
{
	aug_model_zero_grad(m);
	if (aug_model_forward(m, x, n, NULL))
		die("forward");
	if (aug_model_backward(m, y, 0, NULL))
		die("backward");
}

static double run(aug_model *m, const float *x, const int32_t *y, int n, int steps)
{
	double t0 = now();

	for (int i = 0; i < steps; i++)
		step(m, x, y, n);
	return (double)n * steps / (now() - t0);
}

/* The model's walk with a clock around each layer (model.c's loops); the
 * fastest of `steps` passes per layer, which shrugs off a busy machine. */
static void layer_times(aug_model *m, const float *x, const int32_t *y, int n, int steps)
{
	double *fw = malloc(sizeof(double) * m->nlayers);
	double *bw = malloc(sizeof(double) * m->nlayers);
	double total = 0, loss;

	for (int i = 0; i < m->nlayers; i++)
		fw[i] = bw[i] = 1e9;

	for (int s = 0; s < steps; s++) {
		const float *cur;
		int which = 0;
		float *g;

		step(m, x, y, n); /* sets up the batch, the loss gradient in probs */
		cur = m->input;
		for (int i = 0; i < m->nlayers; i++) {
			aug__nn_layer *l = &m->layers[i];
			double t0 = now();

			if (!l->fused_away)
				l->ops->forward(m, l, cur, l->out_buf, n);
			t0 = now() - t0;
			fw[i] = t0 < fw[i] ? t0 : fw[i];
			cur = l->out_buf;
		}
		aug__nn_model_loss(m, y, 0, &loss, false);
		aug__nn_xent_backward(n, (int)m->out_size, m->probs, m->probs, y, 0);
		g = m->gbuf[0];
		for (int i = m->nlayers - 1; i >= 0; i--) {
			aug__nn_layer *l = &m->layers[i];
			const float *in = i ? m->layers[i - 1].out_buf : m->input;
			float *din = i == 0 ? NULL : m->gbuf[!which];
			double t0 = now();

			if (l->fused_away) {
				bw[i] = 0;
				continue;
			}
			l->ops->backward(m, l, in, l->out_buf, g, din, n);
			t0 = now() - t0;
			bw[i] = t0 < bw[i] ? t0 : bw[i];
			g = din;
			which = !which;
		}
	}
	printf("%-4s %-30s %10s %10s\n", "#", "layer", "fwd ms", "bwd ms");
	for (int i = 0; i < m->nlayers; i++) {
		char d[128];

		aug__layer_describe(&m->spec.layers[i], d, sizeof(d));
		printf("%-4d %-30s %10.3f %10.3f\n", i, d, fw[i] * 1e3, bw[i] * 1e3);
		total += fw[i] + bw[i];
	}
	printf("total %.3f ms per batch of %d: %.0f img/s (layers only, fastest of %d)\n",
	       total * 1e3, n, n / total, steps);
	free(fw);
	free(bw);
}

int main(int argc, char **argv)
{
	const char *model = "samples/models/fmnist.model";
	int batch = 128, threads = 0, c = 1, h = 28, w = 28, classes = 10, steps = 20, rounds = 3;
	long col_budget = 0;
	bool serve = false, layers = false;
	aug_model *m = NULL;
	uint8_t *spec;
	size_t len;
	float *x;
	int32_t *y;
	aug_rng r = aug_rng_stream(1, 2, 3, 4);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--serve")) {
			serve = true;
		} else if (!strcmp(a, "--layers")) {
			layers = true;
		} else if (v && !strcmp(a, "--model")) {
			model = v, i++;
		} else if (v && !strcmp(a, "--batch")) {
			batch = atoi(v), i++;
		} else if (v && !strcmp(a, "--threads")) {
			threads = atoi(v), i++;
		} else if (v && !strcmp(a, "--classes")) {
			classes = atoi(v), i++;
		} else if (v && !strcmp(a, "--steps")) {
			steps = atoi(v), i++;
		} else if (v && !strcmp(a, "--col-budget")) {
			col_budget = atol(v), i++;
		} else if (v && !strcmp(a, "--rounds")) {
			rounds = atoi(v), i++;
		} else if (v && !strcmp(a, "--input") && sscanf(v, "%dx%dx%d", &c, &h, &w) == 3) {
			i++;
		} else {
			fprintf(stderr, "nn_bench: bad argument %s (see bench/nn_bench.c)\n", a);
			return 2;
		}
	}
	if (threads > 0)
		omp_set_num_threads(threads);
	if (aug_file_read(model, 0, &spec, &len))
		die(model);
	spec = realloc(spec, len + 1);
	spec[len] = '\0';
	if (aug_model_parse(&m, (const char *)spec, c, h, w, classes))
		die(model);
	if (col_budget > 0)
		m->col_budget = (size_t)col_budget; /* the im2col chunk size, for tuning */
	aug_model_init(m, 1);
	aug_model_set_rng(m, 1, 0);
	if (aug_model_reserve(m, batch))
		die("reserve");
	x = malloc(sizeof(float) * (size_t)batch * c * h * w);
	y = malloc(sizeof(int32_t) * batch);
	for (size_t i = 0; i < (size_t)batch * c * h * w; i++)
		x[i] = (float)aug_rng_range(&r, -1, 1);
	for (int i = 0; i < batch; i++)
		y[i] = (int32_t)aug_rng_below(&r, (uint64_t)classes);
	run(m, x, y, batch, 3); /* warm up: page in the workspace, start the threads */

	if (serve) {
		char line[64];

		printf("ready augment threads=%d blas=%s\n", omp_get_max_threads(), aug__blas_core());
		fflush(stdout);
		while (fgets(line, sizeof(line), stdin)) {
			int k;

			if (sscanf(line, "run %d", &k) == 1) {
				printf("img/s %.1f\n", run(m, x, y, batch, k));
				fflush(stdout);
			} else {
				break;
			}
		}
	} else if (layers) {
		layer_times(m, x, y, batch, steps);
	} else {
		printf("augment %s batch %d threads %d blas %s\n", model, batch, omp_get_max_threads(),
		       aug__blas_core());
		for (int i = 0; i < rounds; i++)
			printf("round %d: %.1f img/s\n", i + 1, run(m, x, y, batch, steps));
	}
	aug_model_free(m);
	free(spec);
	free(x);
	free(y);
	return 0;
}
