/* libFuzzer target: checkpoints, read two ways: aug_checkpoint_load_model
 * (what `eval` and `predict` do with a model file) and aug_trainer_resume
 * (what `train --resume` does) into a trainer set up at start.
 *
 * A checkpoint ends in a CRC-32 of everything before it, so a mutated file
 * would almost always stop at the CRC check: for 15 inputs in 16 the harness
 * writes the right CRC into the last four bytes first, so that the fuzzer
 * reaches the section parsing behind it.
 *
 * Seed: run with FUZZ_WRITE_SEED=FILE and -runs=0 to write the checkpoint
 * of the trainer below (scripts/fuzz-corpus does). */
#include <sys/stat.h>
#include <zlib.h>

#include "fuzz.h"

static char root[4096];
static aug_dataset *ds;
static aug_pipeline *train_p, *eval_p;
static aug_model *model;
static aug_trainer *trainer;
static size_t *tr, *va, ntr, nva;

static void make_data(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4200];

	snprintf(root, sizeof(root), "%s/augment-fuzz-ckpt-%ld", dir && *dir ? dir : "/tmp", (long)getpid());
	for (int c = 0; c < 2; c++) {
		snprintf(path, sizeof(path), "%s", root);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/%c", root, 'a' + c);
		mkdir(path, 0700);
		for (int i = 0; i < 4; i++) {
			aug_image *img = NULL;

			if (aug_image_new(&img, 8, 8, 1))
				abort();
			for (int y = 0; y < 8; y++)
				for (int x = 0; x < 8; x++)
					aug_image_row(img, y)[x] = (uint8_t)(c ? x * 30 + i : y * 30 + i);
			snprintf(path, sizeof(path), "%s/%c/%d.png", root, 'a' + c, i);
			if (aug_encode_file(img, path, NULL))
				abort();
			aug_image_free(img);
		}
	}
}

static void remove_data(void)
{
	char path[4200];

	for (int c = 0; c < 2; c++) {
		for (int i = 0; i < 4; i++) {
			snprintf(path, sizeof(path), "%s/%c/%d.png", root, 'a' + c, i);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/%c", root, 'a' + c);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/seed.ckpt", root);
	unlink(path);
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aug_train_options o;
	const char *seed = getenv("FUZZ_WRITE_SEED");
	char ckpt[4200];

	(void)argc;
	(void)argv;
	setenv("OMP_NUM_THREADS", "1", 1);
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	make_data();
	atexit(remove_data);
	snprintf(ckpt, sizeof(ckpt), "%s/seed.ckpt", root);
	aug_train_options_init(&o);
	o.epochs = 2;
	o.batch_size = 2;
	o.optim.kind = AUG_OPTIM_ADAM;
	o.patience = 5;
	o.checkpoint = ckpt;
	if (aug_dataset_scan(root, NULL, &ds) || aug_dataset_split(ds, 0.25, 0, &tr, &ntr, &va, &nva) ||
	    aug_pipeline_parse("crop 8 pad=1; hflip", "train", &train_p) ||
	    aug_pipeline_parse("center_crop 8", "eval", &eval_p) ||
	    aug_model_parse(&model, "conv 2 k=3 pad=1 bias=no; bn; relu; maxpool 2; flatten; linear classes", 1, 8,
			    8, 2) ||
	    aug_trainer_new(model, ds, tr, ntr, va, nva, train_p, eval_p, &o, &trainer)) {
		fprintf(stderr, "fuzz_checkpoint: setting up: %s\n", aug_error_message());
		abort();
	}
	if (seed) {
		uint8_t *buf = NULL;
		size_t len = 0;
		FILE *f;

		if (aug_trainer_run(trainer) || aug_file_read(ckpt, 0, &buf, &len)) {
			fprintf(stderr, "fuzz_checkpoint: training: %s\n", aug_error_message());
			abort();
		}
		f = fopen(seed, "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			perror(seed);
			abort();
		}
		aug_free(buf);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	aug_checkpoint_info info;
	aug_model *m = NULL;
	const char *path;
	aug_status st;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (size >= 4 && fuzz_hash(data, size) % 16 != 0) {
		uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), copy, (uInt)(size - 4));

		copy[size - 4] = (uint8_t)crc;
		copy[size - 3] = (uint8_t)(crc >> 8);
		copy[size - 2] = (uint8_t)(crc >> 16);
		copy[size - 1] = (uint8_t)(crc >> 24);
	}
	path = fuzz_scratch(copy, size, ".ckpt");
	memset(&info, 0, sizeof(info));
	st = aug_checkpoint_load_model(path, &m, &info);
	FUZZ_CHECK_MESSAGE(st);
	FUZZ_CHECK((st == AUG_OK) == (m != NULL), "status %d with model %p", (int)st, (void *)m);
	if (!st) {
		int c, h, w;

		aug_model_input_shape(m, &c, &h, &w);
		FUZZ_CHECK(c == info.channels && h == info.height && w == info.width, "shape");
		FUZZ_CHECK(aug_model_num_outputs(m) == info.classes, "classes");
		for (int i = 0; i < info.classes; i++)
			FUZZ_CHECK(info.class_names[i] != NULL, "class %d has no name", i);
	}
	aug_checkpoint_info_free(&info);
	aug_model_free(m);
	st = aug_trainer_resume(trainer, path);
	FUZZ_CHECK_MESSAGE(st);
	FUZZ_CHECK(aug_trainer_epochs_done(trainer) >= 0 && aug_trainer_epochs_done(trainer) <= 2,
		   "%d epochs done after resume (status %d)", aug_trainer_epochs_done(trainer), (int)st);
	FUZZ_CHECK(aug_trainer_best_epoch(trainer) >= 0 &&
			   aug_trainer_best_epoch(trainer) <= aug_trainer_epochs_done(trainer),
		   "best epoch %d of %d (status %d)", aug_trainer_best_epoch(trainer),
		   aug_trainer_epochs_done(trainer), (int)st);
	free(copy);
	return 0;
}
