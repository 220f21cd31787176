/* libFuzzer target: the CIFAR-10 reader on an archive: a tar file, gzipped
 * or not (zlib reads both), holding data_batch_1.bin .. data_batch_5.bin,
 * test_batch.bin and optionally batches.meta.txt. The bound on each member
 * is small here, and is itself under test. */
#include "fuzz.h"

#include "data/internal.h"

#define FUZZ_MAX_BYTES ((size_t)1 << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aug__source src;
	aug_status st;

	memset(&src, 0, sizeof(src));
	st = aug__cifar_load(fuzz_scratch(data, size, ".tar.gz"), FUZZ_MAX_BYTES, &src);
	FUZZ_CHECK_MESSAGE(st);
	if (!st) {
		FUZZ_CHECK(src.class_count == AUG__CIFAR_CLASSES, "%d classes", src.class_count);
		for (int i = 0; i < src.class_count; i++)
			FUZZ_CHECK(aug__class_name_ok(src.class_names[i]), "class name %d", i);
		for (int k = 0; k < 2; k++) {
			const struct aug__split *s = &src.split[k];

			FUZZ_CHECK(s->count >= 1, "split %s is empty", s->name);
			for (size_t i = 0; i < s->count; i++) {
				uint8_t label = s->labels[i * s->label_stride];
				const volatile uint8_t *px = s->pixels + i * s->pixel_stride;

				FUZZ_CHECK(label < AUG__CIFAR_CLASSES, "record %zu: label %d", i, label);
				/* The record's first and last pixels are in the buffer (ASan). */
				(void)px[0];
				(void)px[3 * AUG__CIFAR_SIDE * AUG__CIFAR_SIDE - 1];
			}
		}
	}
	aug__source_free(&src);
	return 0;
}
