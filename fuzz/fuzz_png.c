/* libFuzzer target: PNG decoding, whole and by region (see decode.h). */
#include "decode.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	int rc;

	/* 15 inputs in 16 with their chunk CRCs made right (see fuzz.h). */
	if (fuzz_hash(data, size) % 16 == 0)
		return fuzz_decode(data, size, AUG_FORMAT_PNG);
	fixed = fuzz_png_fix_crcs(data, size);
	rc = fuzz_decode(fixed, size, AUG_FORMAT_PNG);
	free(fixed);
	return rc;
}
