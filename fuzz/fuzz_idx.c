/* libFuzzer target: the IDX reader (MNIST's format), plain or gzipped. The
 * bound on the inflated size is small here, and is itself under test: a
 * header asking for more must fail before anything is inflated. */
#include "fuzz.h"

#define FUZZ_MAX_BYTES ((size_t)1 << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	aug_idx *idx = NULL;
	aug_status st = aug_idx_read(fuzz_scratch(data, size, ".idx"), FUZZ_MAX_BYTES, &idx);

	FUZZ_CHECK_MESSAGE(st);
	FUZZ_CHECK((st == AUG_OK) == (idx != NULL), "status %d with array %p", (int)st, (void *)idx);
	if (idx) {
		size_t n = 1;

		FUZZ_CHECK(idx->ndims >= 1 && idx->ndims <= AUG_IDX_MAX_DIMS, "%d dims", idx->ndims);
		for (int i = 0; i < idx->ndims; i++)
			n *= idx->dims[i];
		FUZZ_CHECK(n == idx->size, "dims make %zu, size %zu", n, idx->size);
		FUZZ_CHECK(idx->size <= FUZZ_MAX_BYTES, "over the bound");
		FUZZ_CHECK(idx->size == 0 || idx->data != NULL, "no data");
		if (idx->size) {
			volatile uint8_t sum = 0;

			/* Touch every byte: ASan checks the buffer is that long. */
			for (size_t i = 0; i < idx->size; i++)
				sum ^= idx->data[i];
			(void)sum;
		}
	}
	aug_idx_free(idx);
	return 0;
}
