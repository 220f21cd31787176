/* libFuzzer target: JPEG decoding, whole and by region (see decode.h). */
#include "decode.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_decode(data, size, AUG_FORMAT_JPEG);
}
