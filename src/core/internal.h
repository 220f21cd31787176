/* Internals shared by the library's folders; not installed. Names are aug__*. */
#ifndef AUG_CORE_INTERNAL_H
#define AUG_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "augment/core.h"

#if defined(__GNUC__)
#define AUG__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AUG__PRINTF(f, a)
#endif

/* A hot loop built three times, for x86-64-v4 (AVX-512), AVX2 and the
 * baseline, the right one picked at load time (target_clones): the library
 * stays portable and still uses the machine's vectors. Not under clang or
 * the sanitizers, whose runtimes do not all handle the ifunc resolvers.
 * Under -std=c17 GCC does not fuse a * b + c into an FMA, and loops that
 * sum keep a fixed number of partial sums, so every clone gives the same
 * bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define AUG__HOT __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define AUG__HOT
#endif

/* Record a failure for aug_error_message() as "func(): <formatted>" and
 * return `status`, so callers can write `return aug__fail(...)`. */
aug_status aug__fail(aug_status status, const char *func, const char *fmt, ...) AUG__PRINTF(3, 4);

struct stat;

/* Open `path` for reading if it is a regular file: a FIFO, a device or a
 * folder is refused (AUG_EIO, "not a regular file") without blocking, since
 * the open does not wait for a writer. On success *fd is open and *sb holds
 * its fstat; failures leave a message naming `func` and the file. */
aug_status aug__open_regular(const char *path, const char *func, int *fd, struct stat *sb);
aug_status aug__vfail(aug_status status, const char *func, const char *fmt, va_list ap);

/* Record a recoverable warning for aug_warning_message(). */
void aug__warn(const char *func, const char *fmt, ...) AUG__PRINTF(2, 3);

/* Overflow-checked size arithmetic: true and *out set when the result fits. */
static inline bool aug__mul(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static inline bool aug__add(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

/* a * b * c, checked. */
static inline bool aug__mul3(size_t a, size_t b, size_t c, size_t *out)
{
	size_t t;

	return aug__mul(a, b, &t) && aug__mul(t, c, out);
}

/* Allocate an image of the given size whose pixel count the caller has
 * already checked against its own limit (decoders use this with the limit
 * the user set). Same contract as aug_image_new() otherwise. */
aug_status aug__image_alloc(aug_image **out, int width, int height, int channels, uint64_t max_pixels);

/* The name to put in messages for an optional file name. */
static inline const char *aug__name(const char *name)
{
	return name ? name : "<memory>";
}

#endif /* AUG_CORE_INTERNAL_H */
