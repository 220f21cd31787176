/* libFuzzer target: the header probe. The bytes are probed in memory and
 * from a file (aug_probe_file reads only as much as it needs, growing its
 * buffer), and the two must agree. */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int probe(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	int rc;

	/* PNGs: 15 in 16 with their chunk CRCs made right (see fuzz.h). */
	if (aug_format_detect(data, size) != AUG_FORMAT_PNG || fuzz_hash(data, size) % 16 == 0)
		return probe(data, size);
	fixed = fuzz_png_fix_crcs(data, size);
	rc = probe(fixed, size);
	free(fixed);
	return rc;
}

static int probe(const uint8_t *data, size_t size)
{
	aug_header mem, file;
	aug_status st_mem, st_file;
	aug_format f = aug_format_detect(data, size);
	int w, h;

	memset(&mem, 0, sizeof(mem));
	memset(&file, 0, sizeof(file));
	st_mem = aug_probe(data, size, "fuzz", &mem);
	FUZZ_CHECK_MESSAGE(st_mem);
	st_file = aug_probe_file(fuzz_scratch(data, size, ".img"), &file);
	FUZZ_CHECK_MESSAGE(st_file);
	FUZZ_CHECK(st_mem == st_file, "aug_probe %d (%s), aug_probe_file %d", (int)st_mem, aug_strerror(st_mem),
		   (int)st_file);
	if (st_mem != AUG_OK)
		return 0;
	FUZZ_CHECK(mem.format == f && f != AUG_FORMAT_UNKNOWN, "format %d, detected %d", (int)mem.format, (int)f);
	FUZZ_CHECK(memcmp(&mem, &file, sizeof(mem)) == 0, "the two probes read different headers");
	FUZZ_CHECK(mem.width >= 1 && mem.height >= 1, "size %dx%d", mem.width, mem.height);
	FUZZ_CHECK(mem.channels >= 1 && mem.channels <= 4, "%d channels", mem.channels);
	FUZZ_CHECK(mem.orientation >= 1 && mem.orientation <= 8, "orientation %d", mem.orientation);
	aug_header_display_size(&mem, &w, &h);
	FUZZ_CHECK((w == mem.width && h == mem.height) || (w == mem.height && h == mem.width), "display size");
	return 0;
}
