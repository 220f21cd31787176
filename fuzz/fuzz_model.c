/* libFuzzer target: the model spec parser (aug_model_parse), for one of a
 * few input shapes picked from the input's hash. A model that builds is
 * summarised, initialised, and, when small, run forward and backward on a
 * batch of two so that every shape the parser accepted is exercised. */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* One thread: libFuzzer's loop is serial, and so is the shared pool. */
	setenv("OMP_NUM_THREADS", "1", 1);
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	return 0;
}

static const struct {
	int c, h, w, classes;
} shapes[] = {
	{ 1, 8, 8, 3 }, { 3, 12, 10, 10 }, { 1, 28, 28, 10 }, { 3, 5, 7, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = fuzz_hash(data, size);
	int k = (int)(h % (sizeof(shapes) / sizeof(shapes[0])));
	char *text = malloc(size + 1), *summary = NULL;
	aug_model *m = NULL;
	aug_status st;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	st = aug_model_parse(&m, text, shapes[k].c, shapes[k].h, shapes[k].w, shapes[k].classes);
	FUZZ_CHECK_MESSAGE(st);
	FUZZ_CHECK((st == AUG_OK) == (m != NULL), "status %d with model %p", (int)st, (void *)m);
	if (m) {
		size_t np = aug_model_num_params(m);
		int outs = aug_model_num_outputs(m);

		FUZZ_CHECK(strcmp(aug_model_spec(m), text) == 0, "spec not kept verbatim");
		FUZZ_CHECK(outs >= 1, "%d outputs", outs);
		FUZZ_CHECK(shapes[k].classes == 0 || outs == shapes[k].classes, "%d outputs, %d classes", outs,
			   shapes[k].classes);
		st = aug_model_summary(m, &summary);
		FUZZ_CHECK(st == AUG_OK, "summary: %s", aug_error_message());
		aug_free(summary);
		for (int i = 0; i < aug_model_num_tensors(m); i++) {
			const aug_tensor_info *t = aug_model_tensor(m, i);

			FUZZ_CHECK(t && t->offset + t->count <= np, "tensor %d outside the buffer", i);
		}
		FUZZ_CHECK(aug_model_tensor(m, aug_model_num_tensors(m)) == NULL, "tensor past the end");
		st = aug_model_init(m, h);
		FUZZ_CHECK(st == AUG_OK, "init: %s", aug_error_message());
		if (np <= 200000) {
			size_t in = (size_t)shapes[k].c * (size_t)shapes[k].h * (size_t)shapes[k].w;
			float *x = calloc(2 * in, sizeof(float));
			int32_t labels[2] = { 0, outs - 1 };
			const float *logits = NULL;
			float loss = 0;

			FUZZ_CHECK(x != NULL, "no memory");
			for (size_t i = 0; i < 2 * in; i++)
				x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
			aug_model_set_training(m, (h >> 3) & 1);
			st = aug_model_forward(m, x, 2, &logits);
			FUZZ_CHECK_MESSAGE(st);
			if (!st) {
				aug_model_zero_grad(m);
				st = aug_model_backward(m, labels, 0.1f, &loss);
				FUZZ_CHECK_MESSAGE(st);
			}
			free(x);
		}
	}
	aug_model_free(m);
	free(text);
	return 0;
}
