/* What the fuzz harnesses share: a hash that picks options from the input,
 * a scratch file for the readers that take a path, and a check that turns a
 * broken promise of the API into a crash libFuzzer reports.
 *
 * Each harness is a libFuzzer target (LLVMFuzzerTestOneInput); the library
 * is built with -fsanitize=fuzzer-no-link,address,undefined (make fuzz). */
#ifndef AUG_FUZZ_H
#define AUG_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <augment.h>
#include <zlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FNV-1a: the options an input is tried with are a function of its bytes,
 * so a crash replays from the file alone. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	return h;
}

/* An API promise the input broke: report it as a crash. */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz check failed: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* A failure must leave a message naming what went wrong. */
#define FUZZ_CHECK_MESSAGE(st) \
	FUZZ_CHECK((st) == AUG_OK || aug_error_message()[0] != '\0', "status %d without a message", (int)(st))

/* A copy of a PNG with each chunk's CRC-32 made right, walking the chunks
 * as far as their lengths hold. A mutated PNG would almost always stop at a
 * CRC: harnesses fix them for most inputs so that the fuzzer reaches the
 * parsing behind. The caller frees the copy. */
static inline uint32_t fuzz_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	return (uint32_t)crc32((uLong)crc, p, (uInt)n);
}

static inline uint8_t *fuzz_png_fix_crcs(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	size_t off = 8;

	if (!b)
		abort();
	memcpy(b, data, size);
	while (off + 12 <= size) {
		size_t len = (size_t)b[off] << 24 | (size_t)b[off + 1] << 16 | (size_t)b[off + 2] << 8 | b[off + 3];
		uint32_t crc;

		if (len > size - off - 12)
			break;
		crc = fuzz_crc32(0, b + off + 4, len + 4);
		b[off + 8 + len] = (uint8_t)(crc >> 24);
		b[off + 9 + len] = (uint8_t)(crc >> 16);
		b[off + 10 + len] = (uint8_t)(crc >> 8);
		b[off + 11 + len] = (uint8_t)crc;
		off += 12 + len;
	}
	return b;
}

/* Write the input to this process's scratch file (under $TMPDIR, removed at
 * exit) and return its path. */
static char fuzz_path_buf[4096];

static inline void fuzz_remove_scratch(void)
{
	if (fuzz_path_buf[0])
		unlink(fuzz_path_buf);
}

static inline const char *fuzz_scratch(const uint8_t *data, size_t size, const char *suffix)
{
	FILE *f;

	if (!fuzz_path_buf[0]) {
		const char *dir = getenv("TMPDIR");

		snprintf(fuzz_path_buf, sizeof(fuzz_path_buf), "%s/augment-fuzz-%ld%s", dir && *dir ? dir : "/tmp",
			 (long)getpid(), suffix);
		atexit(fuzz_remove_scratch);
	}
	f = fopen(fuzz_path_buf, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(fuzz_path_buf);
		abort();
	}
	return fuzz_path_buf;
}

#endif
