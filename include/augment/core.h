/* augment/core.h — status codes, error messages, the image type, random streams.
 *
 * Everything else in libaugment builds on this header. It needs only libc.
 */
#ifndef AUGMENT_CORE_H
#define AUGMENT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AUG_VERSION_MAJOR 0
#define AUG_VERSION_MINOR 1
#define AUG_VERSION_PATCH 0
#define AUG_VERSION_STRING "0.1.0"

/* Every fallible function returns one of these. AUG_OK is 0, so `if (st)`
 * tests for failure. The detail (function, file, cause) is kept per thread
 * and read with aug_error_message(). */
typedef enum aug_status {
	AUG_OK = 0,
	AUG_ENOMEM,       /* an allocation failed */
	AUG_EINVAL,       /* a bad argument from the caller */
	AUG_EIO,          /* reading or writing a file failed */
	AUG_ECORRUPT,     /* the data is damaged or is not what it claims */
	AUG_ETRUNCATED,   /* the data ends early */
	AUG_EUNSUPPORTED, /* a valid file of a kind we do not handle */
	AUG_ELIMIT,       /* a size or count beyond a configured limit */
	AUG_ESPEC,        /* a pipeline or model spec does not parse */
	AUG_EWARNING,     /* a warning was turned into an error by option */
	AUG_ESTATE,       /* an object used in the wrong order or state */
	AUG_STATUS_COUNT
} aug_status;

/* The short, fixed description of a status code ("corrupt data"). Never
 * NULL; unknown codes give "unknown status". */
const char *aug_strerror(aug_status status);

/* The detail message of the last failure on this thread, in the form
 * "function(): file: cause". The string is owned by the library and valid
 * until the next call that fails on this thread. Empty when nothing failed. */
const char *aug_error_message(void);

/* The last warning on this thread (a recoverable problem, such as a JPEG
 * that ends early but still decodes), or "" when there was none since
 * aug_warning_clear(). Decoders clear it when they start. */
const char *aug_warning_message(void);

/* Forget this thread's warning. */
void aug_warning_clear(void);

/* The library's version string, e.g. "0.1.0". */
const char *aug_version(void);

/* An 8-bit image: 1 (grey) or 3 (RGB, interleaved) channels, rows `stride`
 * bytes apart. A transparent struct: the pixels belong to whoever made it
 * with aug_image_new() or a decoder, and are released with aug_image_free(). */
typedef struct aug_image {
	int width;
	int height;
	int channels; /* 1 or 3 */
	size_t stride; /* bytes from one row to the next, >= width * channels */
	uint8_t *data;
} aug_image;

/* The default limit on width * height for anything sized from input. */
#define AUG_DEFAULT_MAX_PIXELS 100000000ULL

/* Allocate a width x height image with `channels` channels (1 or 3) and a
 * packed stride, pixels zeroed. Fails with AUG_EINVAL for non-positive sizes
 * or other channel counts, AUG_ELIMIT when width * height exceeds
 * AUG_DEFAULT_MAX_PIXELS, AUG_ENOMEM when the allocation fails. */
aug_status aug_image_new(aug_image **out, int width, int height, int channels);

/* Allocate a copy of `src` (packed stride). */
aug_status aug_image_copy(aug_image **out, const aug_image *src);

/* Release an image and its pixels. Accepts NULL. */
void aug_image_free(aug_image *img);

/* Pointer to the first byte of row y. */
static inline uint8_t *aug_image_row(const aug_image *img, int y)
{
	return img->data + (size_t)y * img->stride;
}

/* Read a whole file into a new buffer (free with aug_free()). Fails with
 * AUG_ELIMIT, before reading, when the file is larger than max_bytes
 * (0 means 1 GiB), and with AUG_EIO naming the path when it cannot be read. */
aug_status aug_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *len);

/* Write `len` bytes to `path` atomically: a temporary file in the same
 * folder is written and renamed over `path`, so readers see the old
 * file or the whole new one, never a part. On failure no temporary is left. */
aug_status aug_file_write_atomic(const char *path, const void *buf, size_t len);

/* Remove the temporaries of `path` ("<path>.tmp.XXXXXX") that a writer
 * killed in aug_file_write_atomic() left behind. Call it before writing
 * `path` again in a job that nothing else writes `path` in. Returns how
 * many were removed; a folder that cannot be read removes none. */
int aug_file_remove_temporaries(const char *path);

/* Release a buffer the library allocated for the caller. Accepts NULL. */
void aug_free(void *p);

/* A counter-based random stream. Streams are keyed by (seed, epoch, sample
 * index, stage index): the numbers a stage draws for one sample depend on
 * nothing else, so results are the same whatever the thread count, the order
 * of work or the shard, and one sample can be replayed alone. There is no
 * global generator anywhere in the library.
 *
 * The key is hashed with SplitMix64's finaliser (Steele, Lea and Flood,
 * "Fast splittable pseudorandom number generators", OOPSLA 2014); draw n is
 * the same finaliser applied to key + n * golden gamma. */
typedef struct aug_rng {
	uint64_t key;
	uint64_t counter;
} aug_rng;

/* The stream for (seed, epoch, index, stage). */
aug_rng aug_rng_stream(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t stage);

/* The next 64 random bits. */
uint64_t aug_rng_next(aug_rng *rng);

/* A double uniform on [0, 1), 53 bits. */
double aug_rng_uniform(aug_rng *rng);

/* A double uniform on [lo, hi). */
double aug_rng_range(aug_rng *rng, double lo, double hi);

/* An integer uniform on [0, n) without modulo bias (Lemire's method); 0 when n is 0. */
uint64_t aug_rng_below(aug_rng *rng, uint64_t n);

/* True with probability p (always consumes one draw, so streams stay aligned). */
bool aug_rng_bernoulli(aug_rng *rng, double p);

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_CORE_H */
