/* Core: status codes, per-thread messages, images, random streams, files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "augment.h"
#include "core/internal.h"
#include "support.h"

CTest(status, ok_is_zero_and_every_code_has_text)
{
	cr_assert_eq(AUG_OK, 0);
	cr_assert_str_eq(aug_strerror(AUG_OK), "success");
	for (int s = 1; s < AUG_STATUS_COUNT; s++) {
		cr_assert_not_null(aug_strerror((aug_status)s));
		cr_assert_neq(strcmp(aug_strerror((aug_status)s), "unknown status"), 0, "code %d", s);
	}
	cr_assert_str_eq(aug_strerror((aug_status)999), "unknown status");
	cr_assert_str_eq(aug_strerror((aug_status)-1), "unknown status");
}

CTest(status, message_names_function_and_cause)
{
	aug_status st = aug__fail(AUG_ECORRUPT, "aug_decode", "%s: bad CRC in chunk %s", "cat.png", "IDAT");

	cr_assert_eq(st, AUG_ECORRUPT);
	cr_assert_str_eq(aug_error_message(), "aug_decode(): cat.png: bad CRC in chunk IDAT");
}

CTest(status, long_messages_are_cut_not_overrun)
{
	char big[4000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	aug__fail(AUG_EIO, "f", "%s", big);
	cr_assert_lt(strlen(aug_error_message()), 1024);
	cr_assert_eq(strncmp(aug_error_message(), "f(): xxx", 8), 0);
}

static void *other_thread(void *arg)
{
	(void)arg;
	aug__fail(AUG_EIO, "worker", "its own failure");
	return strdup(aug_error_message());
}

CTest(status, messages_are_per_thread)
{
	pthread_t t;
	char *theirs;

	aug__fail(AUG_ELIMIT, "main", "mine");
	pthread_create(&t, NULL, other_thread, NULL);
	pthread_join(t, (void **)&theirs);
	cr_assert_str_eq(theirs, "worker(): its own failure");
	cr_assert_str_eq(aug_error_message(), "main(): mine");
	free(theirs);
}

CTest(status, warnings_are_kept_apart_and_cleared)
{
	aug_warning_clear();
	cr_assert_str_eq(aug_warning_message(), "");
	aug__warn("aug_decode", "%s: premature end of data", "x.jpg");
	cr_assert_str_eq(aug_warning_message(), "aug_decode(): x.jpg: premature end of data");
	aug_warning_clear();
	cr_assert_str_eq(aug_warning_message(), "");
}

CTest(version, matches_macros)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", AUG_VERSION_MAJOR, AUG_VERSION_MINOR, AUG_VERSION_PATCH);
	cr_assert_str_eq(aug_version(), want);
}

CTest(image, new_is_zeroed_and_packed)
{
	aug_image *img = NULL;

	cr_assert_eq(aug_image_new(&img, 7, 5, 3), AUG_OK);
	cr_assert_eq(img->stride, 21u);
	for (int y = 0; y < 5; y++)
		for (int x = 0; x < 21; x++)
			cr_assert_eq(aug_image_row(img, y)[x], 0);
	aug_image_free(img);
}

CTest(image, rejects_bad_sizes_and_channels)
{
	aug_image *img = (aug_image *)1;

	cr_assert_eq(aug_image_new(&img, 0, 5, 3), AUG_EINVAL);
	cr_assert_null(img);
	cr_assert_eq(aug_image_new(&img, 5, -1, 1), AUG_EINVAL);
	cr_assert_eq(aug_image_new(&img, 5, 5, 2), AUG_EINVAL);
	cr_assert_eq(aug_image_new(&img, 5, 5, 4), AUG_EINVAL);
	cr_assert(strstr(aug_error_message(), "4 channels"));
}

CTest(image, limit_is_checked_before_allocating)
{
	aug_image *img = NULL;

	/* 100000 x 100000 is 10^10 pixels, 30 GB: must fail fast on the limit. */
	cr_assert_eq(aug_image_new(&img, 100000, 100000, 3), AUG_ELIMIT);
	cr_assert_null(img);
	cr_assert(strstr(aug_error_message(), "over the limit"));
	/* Exactly at the limit of a small custom cap is allowed, one over is not. */
	cr_assert_eq(aug__image_alloc(&img, 10, 10, 1, 100), AUG_OK);
	aug_image_free(img);
	cr_assert_eq(aug__image_alloc(&img, 10, 11, 1, 100), AUG_ELIMIT);
}

CTest(image, copy_is_deep_and_repacks)
{
	aug_image src = { .width = 3, .height = 2, .channels = 1, .stride = 8 };
	uint8_t px[16];
	aug_image *dst = NULL;

	for (int i = 0; i < 16; i++)
		px[i] = (uint8_t)(i * 11);
	src.data = px;
	cr_assert_eq(aug_image_copy(&dst, &src), AUG_OK);
	cr_assert_eq(dst->stride, 3u);
	cr_assert_eq(aug_image_row(dst, 1)[2], px[8 + 2]);
	cr_assert_eq(aug_image_row(dst, 0)[0], 0);
	px[0] = 99;
	cr_assert_eq(aug_image_row(dst, 0)[0], 0);
	aug_image_free(dst);
	aug_image_free(NULL);
}

CTest(checked_math, detects_overflow)
{
	size_t r;

	cr_assert(aug__mul(1u << 20, 1u << 20, &r));
	cr_assert_eq(r, (size_t)1 << 40);
	cr_assert_not(aug__mul(SIZE_MAX / 2 + 1, 2, &r));
	cr_assert_not(aug__add(SIZE_MAX, 1, &r));
	cr_assert_not(aug__mul3(100000, 100000, (size_t)1 << 45, &r));
	cr_assert(aug__mul3(3, 5, 7, &r));
	cr_assert_eq(r, 105u);
}

CTest(rng, draws_are_splitmix64)
{
	/* Key 0 gives SplitMix64 seeded with 0; these are the published first
	 * outputs of Vigna's splitmix64.c (checked here with a Python port). */
	aug_rng r = { .key = 0, .counter = 0 };

	cr_assert_eq(aug_rng_next(&r), 0xe220a8397b1dcdafULL);
	cr_assert_eq(aug_rng_next(&r), 0x6e789e6aa1b965f4ULL);
	cr_assert_eq(aug_rng_next(&r), 0x06c45d188009454fULL);
	cr_assert_eq(aug_rng_next(&r), 0xf88bb8a8724c81ecULL);
}

CTest(rng, streams_depend_on_every_key_part_only)
{
	aug_rng a = aug_rng_stream(42, 1, 7, 3);
	aug_rng b = aug_rng_stream(42, 1, 7, 3);
	uint64_t first = aug_rng_next(&a);
	aug_rng keys[4] = {
		aug_rng_stream(43, 1, 7, 3), aug_rng_stream(42, 2, 7, 3),
		aug_rng_stream(42, 1, 8, 3), aug_rng_stream(42, 1, 7, 4),
	};

	cr_assert_eq(aug_rng_next(&b), first);
	for (int i = 0; i < 4; i++)
		cr_assert_neq(aug_rng_next(&keys[i]), first, "key part %d ignored", i);
	/* Swapping parts must not give the same stream. */
	aug_rng s1 = aug_rng_stream(1, 2, 0, 0), s2 = aug_rng_stream(2, 1, 0, 0);
	cr_assert_neq(aug_rng_next(&s1), aug_rng_next(&s2));
}

CTest(rng, uniform_moments_and_range)
{
	aug_rng r = aug_rng_stream(1, 0, 0, 0);
	const int n = 200000;
	double sum = 0, sum2 = 0;

	for (int i = 0; i < n; i++) {
		double u = aug_rng_uniform(&r);

		cr_assert(u >= 0.0 && u < 1.0);
		sum += u;
		sum2 += u * u;
	}
	/* Mean 1/2, variance 1/12; 5 standard errors. */
	cr_assert_lt(fabs(sum / n - 0.5), 5 * sqrt(1.0 / 12 / n));
	cr_assert_lt(fabs(sum2 / n - sum * sum / n / n - 1.0 / 12), 0.002);
	for (int i = 0; i < 1000; i++) {
		double v = aug_rng_range(&r, -3, 5);

		cr_assert(v >= -3 && v < 5);
	}
}

CTest(rng, below_is_uniform_chi_square)
{
	aug_rng r = aug_rng_stream(9, 9, 9, 9);
	enum { K = 7, N = 70000 };
	int count[K] = { 0 };
	double chi = 0;

	for (int i = 0; i < N; i++) {
		uint64_t v = aug_rng_below(&r, K);

		cr_assert_lt(v, (uint64_t)K);
		count[v]++;
	}
	for (int k = 0; k < K; k++)
		chi += (count[k] - N / K) * (double)(count[k] - N / K) / (N / K);
	/* 6 degrees of freedom: P(chi2 > 22.46) = 0.001. */
	cr_assert_lt(chi, 22.46);
	cr_assert_eq(aug_rng_below(&r, 0), 0u);
	cr_assert_eq(aug_rng_below(&r, 1), 0u);
}

CTest(rng, bernoulli_rate)
{
	aug_rng r = aug_rng_stream(5, 0, 0, 0);
	int hits = 0;

	for (int i = 0; i < 100000; i++)
		hits += aug_rng_bernoulli(&r, 0.3);
	cr_assert_lt(fabs(hits / 100000.0 - 0.3), 0.005);
	cr_assert_not(aug_rng_bernoulli(&r, 0.0));
	cr_assert(aug_rng_bernoulli(&r, 1.0));
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

CTest(file, atomic_write_then_read_back)
{
	char *dir = make_tmpdir();
	char path[4200];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat sb;

	mode_t old_mask = umask(077);
	char cwd[4200];

	/* The first write makes the file (an unnamed file linked in where the
	 * system allows), the second replaces it (a named temporary renamed
	 * over it): both give the whole content, mode 0644 whatever the umask. */
	snprintf(path, sizeof(path), "%s/out.bin", dir);
	cr_assert_eq(aug_file_write_atomic(path, "hello", 5), AUG_OK);
	cr_assert_eq(aug_file_read(path, 0, &buf, &len), AUG_OK);
	cr_assert_eq(len, 5u);
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	aug_free(buf);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0644);
	cr_assert_eq(count_entries(dir), 1);
	/* A bare name is written in the current folder. */
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(aug_file_write_atomic("bare.bin", "x", 1), AUG_OK);
	cr_assert_eq(chdir(cwd), 0);
	cr_assert_eq(count_entries(dir), 2);
	snprintf(path, sizeof(path), "%s/bare.bin", dir);
	cr_assert_eq(unlink(path), 0);
	umask(old_mask);
	snprintf(path, sizeof(path), "%s/out.bin", dir);
	cr_assert_eq(aug_file_write_atomic(path, "goodbye", 7), AUG_OK);
	cr_assert_eq(aug_file_read(path, 0, &buf, &len), AUG_OK);
	cr_assert_eq(len, 7u);
	cr_assert_eq(memcmp(buf, "goodbye", 7), 0);
	aug_free(buf);
	/* No temporary is left beside it, and the mode is readable by others. */
	cr_assert_eq(count_entries(dir), 1);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0644);
	rm_rf(dir);
	free(dir);
}

CTest(file, temporaries_a_killed_writer_left_are_removed)
{
	char *dir = make_tmpdir();
	char path[4200], p[4300];
	static const char *const names[] = {
		"model.last.tmp.a1B2c3",     /* a temporary of model.last: removed */
		"model.last.tmp.zzzzzz",     /* removed */
		"model.last",                /* the file itself: kept */
		"model.last.tmp.short",      /* not 6 characters: kept */
		"model.last.tmp.toolong",    /* kept */
		"other.last.tmp.a1B2c3",     /* another file's: kept */
		"model.lastx.tmp.a1B2c3",    /* kept */
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		cr_assert_eq(spit(p, "x", 1), 0);
	}
	snprintf(path, sizeof(path), "%s/model.last", dir);
	cr_assert_eq(aug_file_remove_temporaries(path), 2);
	cr_assert_eq(count_entries(dir), 5);
	snprintf(p, sizeof(p), "%s/model.last.tmp.a1B2c3", dir);
	cr_assert_neq(access(p, F_OK), 0);
	cr_assert_eq(access(path, F_OK), 0);
	cr_assert_eq(aug_file_remove_temporaries(path), 0);
	/* A missing folder removes nothing and does not fail. */
	snprintf(path, sizeof(path), "%s/missing/model.last", dir);
	cr_assert_eq(aug_file_remove_temporaries(path), 0);
	rm_rf(dir);
	free(dir);
}

CTest(file, read_errors_name_the_file)
{
	char *dir = make_tmpdir();
	char path[4200];
	uint8_t *buf = (uint8_t *)1;
	size_t len = 1;

	snprintf(path, sizeof(path), "%s/missing.png", dir);
	cr_assert_eq(aug_file_read(path, 0, &buf, &len), AUG_EIO);
	cr_assert_null(buf);
	cr_assert(strstr(aug_error_message(), "missing.png"));
	cr_assert(strstr(aug_error_message(), "No such file"));
	/* A folder is not a file. */
	cr_assert_eq(aug_file_read(dir, 0, &buf, &len), AUG_EIO);
	cr_assert(strstr(aug_error_message(), "not a regular file"));
	/* Over the size limit: refused before reading. */
	snprintf(path, sizeof(path), "%s/big.bin", dir);
	cr_assert_eq(spit(path, "0123456789", 10), 0);
	cr_assert_eq(aug_file_read(path, 9, &buf, &len), AUG_ELIMIT);
	cr_assert_eq(aug_file_read(path, 10, &buf, &len), AUG_OK);
	aug_free(buf);
	rm_rf(dir);
	free(dir);
}

/* Another program rewriting a file while it is read: a thread flips its
 * size between 64 KiB and 16 bytes. Every read either gets one whole
 * version or fails naming the file; never a length in between. */
struct flipper {
	const char *path;
	volatile int stop;
};

static void *flip_size(void *arg)
{
	struct flipper *f = arg;
	int fd = open(f->path, O_WRONLY);

	for (unsigned i = 0; fd >= 0 && !f->stop; i++)
		if (ftruncate(fd, i & 1 ? 16 : 65536) != 0)
			break;
	if (fd >= 0)
		close(fd);
	return NULL;
}

CTest(file, a_file_changing_size_while_read_is_one_version_or_an_error)
{
	char *dir = make_tmpdir();
	char path[4200];
	struct flipper f = { path, 0 };
	pthread_t th;
	int whole = 0, failed = 0;

	snprintf(path, sizeof(path), "%s/moving.bin", dir);
	cr_assert_eq(spit(path, "0123456789abcdef", 16), 0);
	cr_assert_eq(pthread_create(&th, NULL, flip_size, &f), 0);
	for (int i = 0; i < 4000; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		aug_status st = aug_file_read(path, 0, &buf, &len);

		if (st == AUG_OK) {
			cr_assert(len == 16 || len == 65536, "read %zu bytes", len);
			whole++;
			aug_free(buf);
		} else {
			cr_assert_eq(st, AUG_EIO);
			cr_assert_null(buf);
			cr_assert(strstr(aug_error_message(), "moving.bin") &&
				  (strstr(aug_error_message(), "shrank") || strstr(aug_error_message(), "grew")),
				  "%s", aug_error_message());
			failed++;
		}
	}
	f.stop = 1;
	pthread_join(th, NULL);
	cr_assert_gt(whole, 0);
	cr_log_info("%d whole reads, %d refused", whole, failed);
	rm_rf(dir);
	free(dir);
}

/* A FIFO (or a device) named like an image: refused at once, not waited
 * on for a writer that never comes. */
Test(file, a_fifo_is_refused_without_waiting, .timeout = 10)
{
	char *dir = make_tmpdir();
	char path[4200];
	uint8_t *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/pipe.png", dir);
	cr_assert_eq(mkfifo(path, 0644), 0);
	cr_assert_eq(aug_file_read(path, 0, &buf, &len), AUG_EIO);
	cr_assert(strstr(aug_error_message(), "pipe.png: not a regular file"), "%s", aug_error_message());
	cr_assert_eq(aug_file_read("/dev/zero", 0, &buf, &len), AUG_EIO);
	cr_assert_null(buf);
	rm_rf(dir);
	free(dir);
}

CTest(file, write_into_missing_folder_fails_cleanly)
{
	cr_assert_eq(aug_file_write_atomic("/nonexistent-augment-dir/x.png", "x", 1), AUG_EIO);
	cr_assert(strstr(aug_error_message(), "/nonexistent-augment-dir/x.png"));
}
