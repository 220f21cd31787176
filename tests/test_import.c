/* Importers: IDX files (MNIST, Fashion-MNIST) and CIFAR-10 batches.
 *
 * The oracles are independent of the library: the tests write the IDX
 * headers byte by byte (big-endian) and gzip them with zlib's own gz*
 * functions, write CIFAR records plane by plane, pack archives with tar(1),
 * and check that each PNG decodes to exactly the pixels written, under the
 * folder of its label, under the name of its record index. The real
 * Fashion-MNIST check uses values read once with Python's gzip and struct.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "augment.h"
#include "support.h"

#define FASHION "/usr/share/datasets/fashion-mnist"

static const char *const fashion_names[10] = {
	"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot",
};

static const char *const cifar_names[10] = {
	"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A formatted path (caller frees). */
static char *pathf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	return s;
}

static bool file_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* Write an IDX file by hand: 00 00 type ndims, big-endian dims, then the
 * data (`extra` more bytes of 0xAB after it); gzipped with zlib when `gz`. */
static void write_idx(const char *path, bool gz, int type, int ndims, const uint32_t *dims, const uint8_t *data,
		      size_t len, size_t extra)
{
	uint8_t *buf = malloc(4 + 4 * (size_t)ndims + len + extra + 1);
	size_t n = 0;

	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = (uint8_t)type;
	buf[n++] = (uint8_t)ndims;
	for (int i = 0; i < ndims; i++) {
		buf[n++] = (uint8_t)(dims[i] >> 24);
		buf[n++] = (uint8_t)(dims[i] >> 16);
		buf[n++] = (uint8_t)(dims[i] >> 8);
		buf[n++] = (uint8_t)dims[i];
	}
	if (len)
		memcpy(buf + n, data, len);
	n += len;
	memset(buf + n, 0xAB, extra);
	n += extra;
	if (gz) {
		gzFile f = gzopen(path, "wb6");

		cr_assert_not_null(f, "gzopen %s", path);
		cr_assert_eq(gzwrite(f, buf, (unsigned)n), (int)n);
		cr_assert_eq(gzclose(f), Z_OK);
	} else {
		cr_assert_eq(spit(path, buf, n), 0, "cannot write %s", path);
	}
	free(buf);
}

/* The pixels and labels of the made-up MNIST-like sets. */
static uint8_t px(int split, size_t i, int y, int x)
{
	return (uint8_t)(split * 101 + (int)i * 31 + y * 17 + x * 5 + (int)i * y * x);
}

static int label_of(int split, size_t i)
{
	return (int)((i * 7 + (size_t)split * 3) % 10);
}

/* A (Fashion-)MNIST folder: n[0] train and n[1] test images of rows x cols;
 * the train files gzipped when gz_train, the test files when gz_test. */
static void make_mnist(const char *dir, const size_t n[2], int rows, int cols, bool gz_train, bool gz_test)
{
	static const char *const names[2][2] = {
		{ "train-images-idx3-ubyte", "train-labels-idx1-ubyte" },
		{ "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" },
	};

	for (int s = 0; s < 2; s++) {
		bool gz = s ? gz_test : gz_train;
		size_t plane = (size_t)rows * (size_t)cols;
		uint8_t *im = malloc(n[s] * plane + 1), *lb = malloc(n[s] + 1);
		uint32_t dims[3] = { (uint32_t)n[s], (uint32_t)rows, (uint32_t)cols };
		char *p;

		for (size_t i = 0; i < n[s]; i++) {
			lb[i] = (uint8_t)label_of(s, i);
			for (int y = 0; y < rows; y++)
				for (int x = 0; x < cols; x++)
					im[i * plane + (size_t)y * (size_t)cols + (size_t)x] = px(s, i, y, x);
		}
		p = pathf("%s/%s%s", dir, names[s][0], gz ? ".gz" : "");
		write_idx(p, gz, 0x08, 3, dims, im, n[s] * plane, 0);
		free(p);
		p = pathf("%s/%s%s", dir, names[s][1], gz ? ".gz" : "");
		write_idx(p, gz, 0x08, 1, dims, lb, n[s], 0);
		free(p);
		free(im);
		free(lb);
	}
}

/* Every image of a made-up set is where it belongs, with its pixels. */
static void check_mnist_out(const char *out, const size_t n[2], int rows, int cols, const char *const *names,
			    size_t limit)
{
	static const char *const split[2] = { "train", "test" };
	int files = 0;

	for (int s = 0; s < 2; s++) {
		size_t m = limit && limit < n[s] ? limit : n[s];

		for (size_t i = 0; i < n[s]; i++) {
			char *p = pathf("%s/%s/%s/%05zu.png", out, split[s], names[label_of(s, i)], i);
			aug_image *img = NULL;

			if (i >= m) {
				cr_assert(!file_exists(p), "%s: beyond the limit", p);
				free(p);
				continue;
			}
			cr_assert_eq(aug_decode_file(p, NULL, &img), AUG_OK, "%s: %s", p, aug_error_message());
			cr_assert_eq(img->channels, 1, "%s", p);
			cr_assert_eq(img->width, cols, "%s", p);
			cr_assert_eq(img->height, rows, "%s", p);
			for (int y = 0; y < rows; y++)
				for (int x = 0; x < cols; x++)
					cr_assert_eq(aug_image_row(img, y)[x], px(s, i, y, x), "%s: pixel %d,%d", p, x, y);
			aug_image_free(img);
			free(p);
			files++;
		}
	}
	/* Nothing else but classes.txt. */
	cr_assert_eq(count_files(out), files + 1);
}

CTest(import, kind_names_round_trip)
{
	aug_import_kind k;

	for (int i = 0; i < AUG_IMPORT_KIND_COUNT; i++) {
		cr_assert_eq(aug_import_kind_parse(aug_import_kind_name((aug_import_kind)i), &k), AUG_OK);
		cr_assert_eq((int)k, i);
	}
	cr_assert_eq(aug_import_kind_parse("CIFAR-10", &k), AUG_OK);
	cr_assert_eq(k, AUG_IMPORT_CIFAR10);
	cr_assert_eq(aug_import_kind_parse("imagenet", &k), AUG_EINVAL);
	cr_assert(strstr(aug_error_message(), "imagenet") && strstr(aug_error_message(), "fashion-mnist"));
	cr_assert_null(aug_import_kind_name(AUG_IMPORT_KIND_COUNT));
}

CTest(idx, reads_plain_and_gzip_exactly)
{
	char *d = make_tmpdir();
	uint32_t dims[3] = { 4, 3, 5 };
	uint8_t data[60], head[2];
	char *plain = pathf("%s/a.idx", d), *gz = pathf("%s/a.idx.gz", d);
	FILE *f;

	for (int i = 0; i < 60; i++)
		data[i] = (uint8_t)(i * 37 + 11);
	write_idx(plain, false, 0x08, 3, dims, data, 60, 0);
	write_idx(gz, true, 0x08, 3, dims, data, 60, 0);
	f = fopen(gz, "rb");
	cr_assert_eq(fread(head, 1, 2, f), 2u);
	fclose(f);
	cr_assert(head[0] == 0x1f && head[1] == 0x8b, "the test's gzip file is gzip");
	for (int k = 0; k < 2; k++) {
		aug_idx *idx = NULL;

		cr_assert_eq(aug_idx_read(k ? gz : plain, 0, &idx), AUG_OK, "%s", aug_error_message());
		cr_assert_eq(idx->ndims, 3);
		cr_assert_eq(idx->dims[0], 4u);
		cr_assert_eq(idx->dims[1], 3u);
		cr_assert_eq(idx->dims[2], 5u);
		cr_assert_eq(idx->size, 60u);
		cr_assert_arr_eq(idx->data, data, 60);
		aug_idx_free(idx);
	}
	/* A large dimension: 0x01020304 exercises every byte of the big-endian read. */
	{
		uint32_t big[2] = { 0x01020304u, 0 };
		aug_idx *idx = NULL;

		write_idx(plain, false, 0x08, 2, big, NULL, 0, 0);
		cr_assert_eq(aug_idx_read(plain, 0, &idx), AUG_OK, "%s", aug_error_message());
		cr_assert_eq(idx->dims[0], 0x01020304u);
		cr_assert_eq(idx->size, 0u);
		aug_idx_free(idx);
	}
	aug_idx_free(NULL);
	free(plain);
	free(gz);
	rm_rf(d);
	free(d);
}

/* Read `path` expecting `want`, with a message naming the file and holding `needle`. */
static void expect_idx(const char *path, size_t max, aug_status want, const char *needle)
{
	aug_idx *idx = (aug_idx *)&idx; /* must be set to NULL */
	aug_status st = aug_idx_read(path, max, &idx);

	cr_assert_eq(st, want, "%s: got %s (%s), want %s", path, aug_strerror(st), aug_error_message(),
		     aug_strerror(want));
	cr_assert_null(idx);
	cr_assert(strstr(aug_error_message(), path), "message names the file: %s", aug_error_message());
	cr_assert(strstr(aug_error_message(), needle), "message '%s' says '%s'", aug_error_message(), needle);
}

CTest(idx, bad_files_name_the_file_and_the_problem)
{
	char *d = make_tmpdir();
	char *p = pathf("%s/bad-idx1-ubyte", d), *g = pathf("%s/bad-idx1-ubyte.gz", d);
	uint32_t dims[2] = { 10, 10 };
	uint8_t data[100] = { 0 }, *buf;
	size_t len;

	for (int gz = 0; gz < 2; gz++) {
		const char *f = gz ? g : p;

		/* 99 of 100 bytes: short. */
		write_idx(f, gz, 0x08, 2, dims, data, 99, 0);
		expect_idx(f, 0, AUG_ETRUNCATED, "99 of the 100");
		/* 3 bytes too many: long. */
		write_idx(f, gz, 0x08, 2, dims, data, 100, 3);
		expect_idx(f, 0, AUG_ECORRUPT, "longer");
		/* Signed bytes, floats: valid IDX we do not read. */
		write_idx(f, gz, 0x09, 2, dims, data, 100, 0);
		expect_idx(f, 0, AUG_EUNSUPPORTED, "0x09 (signed byte)");
		write_idx(f, gz, 0x0D, 2, dims, data, 100, 0);
		expect_idx(f, 0, AUG_EUNSUPPORTED, "0x0D (float)");
		/* No such type. */
		write_idx(f, gz, 0x07, 2, dims, data, 100, 0);
		expect_idx(f, 0, AUG_ECORRUPT, "unknown element type 0x07");
		/* No dimensions. */
		write_idx(f, gz, 0x08, 0, dims, data, 0, 0);
		expect_idx(f, 0, AUG_ECORRUPT, "no dimensions");
	}
	/* Wrong magic: a PNG is not IDX. */
	cr_assert_eq(spit(p, "\x89PNG\r\n\x1a\n", 8), 0);
	expect_idx(p, 0, AUG_ECORRUPT, "not an IDX file");
	/* Ends inside the dimensions. */
	cr_assert_eq(spit(p, "\0\0\x08\x02\0\0\0\x0a\0\0", 10), 0);
	expect_idx(p, 0, AUG_ETRUNCATED, "dimensions");
	/* Empty. */
	cr_assert_eq(spit(p, "", 0), 0);
	expect_idx(p, 0, AUG_ETRUNCATED, "magic");
	/* A gzip stream cut in half: truncated, whatever part was cut. */
	write_idx(g, true, 0x08, 2, dims, data, 100, 0);
	buf = slurp(g, &len);
	for (size_t cut = 4; cut < len; cut += 3) {
		cr_assert_eq(spit(g, buf, len - cut), 0);
		expect_idx(g, 0, AUG_ETRUNCATED, "");
	}
	/* A damaged CRC: the data is all there, but not what was written. */
	buf[len - 6] ^= 0x55;
	cr_assert_eq(spit(g, buf, len), 0);
	expect_idx(g, 0, AUG_ECORRUPT, "damaged gzip data");
	free(buf);
	/* Not a file. */
	expect_idx(d, 0, AUG_EIO, "not a regular file");
	{
		char *missing = pathf("%s/nope", d);

		expect_idx(missing, 0, AUG_EIO, "No such file");
		free(missing);
	}
	free(p);
	free(g);
	rm_rf(d);
	free(d);
}

CTest(idx, limit_guards_against_bombs_before_inflating)
{
	char *d = make_tmpdir();
	char *g = pathf("%s/bomb.gz", d), *p = pathf("%s/huge", d);
	size_t big = 8u << 20, len = 0;
	uint8_t *zeros = calloc(1, big);
	uint32_t dims[2] = { 8u << 10, 1u << 10 };
	uint32_t overflow[4] = { 0xffffffffu, 0xffffffffu, 0xffffffffu, 3 };
	aug_idx *idx = NULL;

	/* 8 MiB of zeros deflate to a few KiB. */
	write_idx(g, true, 0x08, 2, dims, zeros, big, 0);
	free(slurp(g, &len));
	cr_assert_lt(len, 64u << 10, "the bomb is small on disk (%zu bytes)", len);
	expect_idx(g, 1u << 20, AUG_ELIMIT, "over the limit of 1048576");
	cr_assert_eq(aug_idx_read(g, 0, &idx), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(idx->size, big);
	aug_idx_free(idx);
	/* A header asking for 4 GiB on a 20-byte file: refused before any allocation. */
	dims[0] = 1u << 22;
	write_idx(p, false, 0x08, 2, dims, NULL, 0, 0);
	expect_idx(p, 1u << 20, AUG_ELIMIT, "4294967296 bytes");
	/* Dimensions whose product overflows. */
	write_idx(p, false, 0x08, 4, overflow, NULL, 0, 0);
	expect_idx(p, 0, AUG_ELIMIT, "overflow");
	/* More dimensions than we take. */
	{
		uint32_t many[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };

		write_idx(p, false, 0x08, 9, many, (const uint8_t *)"x", 1, 0);
		expect_idx(p, 0, AUG_EUNSUPPORTED, "9 dimensions");
	}
	free(zeros);
	free(g);
	free(p);
	rm_rf(d);
	free(d);
}

static void progress_cb(void *user, size_t done, size_t total)
{
	size_t *seen = user;

	cr_assert_geq(done, seen[0], "progress goes forward");
	cr_assert_leq(done, total);
	seen[0] = done;
	seen[1] = total;
	seen[2]++;
}

CTest(import, mnist_gzip_and_plain_to_exact_grey_pngs)
{
	char *src = make_tmpdir(), *out = make_tmpdir();
	static const char *const digits[10] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };
	const size_t n[2] = { 25, 12 };
	aug_import_options o;
	aug_import_report rep;
	size_t seen[3] = { 0 };
	char *classes, *p;
	aug_dataset *ds = NULL;

	/* Non-square (5 rows of 7) so that rows and columns cannot be swapped unseen. */
	make_mnist(src, n, 5, 7, true, false);
	aug_import_options_init(&o);
	cr_assert_eq(o.png_level, 1);
	o.progress = progress_cb;
	o.progress_user = seen;
	cr_assert_eq(aug_import(AUG_IMPORT_MNIST, src, out, &o, &rep), AUG_OK, "%s", aug_error_message());
	check_mnist_out(out, n, 5, 7, digits, 0);
	cr_assert_eq(seen[0], 37u);
	cr_assert_eq(seen[1], 37u);
	cr_assert_geq(seen[2], 2u);
	cr_assert_eq(rep.class_count, 10);
	cr_assert_str_eq(rep.class_names[3], "3");
	cr_assert_eq(rep.width, 7);
	cr_assert_eq(rep.height, 5);
	cr_assert_eq(rep.channels, 1);
	cr_assert_str_eq(rep.splits[0].name, "train");
	cr_assert_str_eq(rep.splits[1].name, "test");
	for (int s = 0; s < 2; s++) {
		size_t per[10] = { 0 };

		for (size_t i = 0; i < n[s]; i++)
			per[label_of(s, i)]++;
		cr_assert_eq(rep.splits[s].images, n[s]);
		cr_assert_eq(rep.splits[s].records, n[s]);
		cr_assert_eq(rep.splits[s].written, n[s]);
		cr_assert_eq(rep.splits[s].skipped, 0u);
		cr_assert_eq(rep.splits[s].classes, 10);
		cr_assert_arr_eq(rep.splits[s].per_class, per, sizeof(per));
	}
	p = pathf("%s/classes.txt", out);
	classes = (char *)slurp(p, NULL);
	cr_assert(classes && strncmp(classes, "0 0\n1 1\n", 8) == 0);
	free(classes);
	free(p);
	/* As ImageFolder sees it: class "7" holds records 1, 11, 21 in that order. */
	p = pathf("%s/train", out);
	cr_assert_eq(aug_dataset_scan(p, NULL, &ds), AUG_OK);
	cr_assert_eq(aug_dataset_class_count(ds), 10);
	cr_assert_eq(aug_dataset_count(ds), 25u);
	{
		size_t k = 0;

		while (aug_dataset_item_at(ds, k)->label != 7)
			k++;
		cr_assert_str_eq(aug_dataset_item_at(ds, k)->relpath, "7/00001.png");
		cr_assert_str_eq(aug_dataset_item_at(ds, k + 1)->relpath, "7/00011.png");
		cr_assert_str_eq(aug_dataset_item_at(ds, k + 2)->relpath, "7/00021.png");
	}
	aug_dataset_free(ds);
	free(p);
	rm_rf(src);
	rm_rf(out);
	free(src);
	free(out);
}

CTest(import, fashion_names_limit_and_thread_count_do_not_change_bytes)
{
	char *src = make_tmpdir(), *a = make_tmpdir(), *b = make_tmpdir();
	const size_t n[2] = { 40, 30 };
	aug_import_options o;
	aug_import_report rep;
	char cmd[9000];

	make_mnist(src, n, 28, 28, false, true);
	aug_import_options_init(&o);
	o.limit = 13;
	o.threads = 1;
	cr_assert_eq(aug_import(AUG_IMPORT_FASHION_MNIST, src, a, &o, &rep), AUG_OK, "%s", aug_error_message());
	check_mnist_out(a, n, 28, 28, fashion_names, 13);
	cr_assert_eq(rep.splits[0].images, 13u);
	cr_assert_eq(rep.splits[0].records, 40u);
	cr_assert_str_eq(rep.class_names[0], "T-shirt_top");
	cr_assert_str_eq(rep.class_names[9], "Ankle_boot");
	o.threads = 2;
	cr_assert_eq(aug_import(AUG_IMPORT_FASHION_MNIST, src, b, &o, &rep), AUG_OK, "%s", aug_error_message());
	snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s'", a, b);
	cr_assert_eq(run_capture(cmd, NULL), 0, "1 and 2 threads write the same bytes");
	rm_rf(src);
	rm_rf(a);
	rm_rf(b);
	free(src);
	free(a);
	free(b);
}

CTest(import, rerun_skips_existing_and_finishes_an_interrupted_one)
{
	char *src = make_tmpdir(), *out = make_tmpdir();
	static const char *const digits[10] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };
	const size_t n[2] = { 20, 10 };
	aug_import_report rep;
	char *gone, *kept, *stale;
	uint8_t *before, *after;
	size_t blen, alen;

	make_mnist(src, n, 6, 6, true, true);
	cr_assert_eq(aug_import(AUG_IMPORT_MNIST, src, out, NULL, &rep), AUG_OK, "%s", aug_error_message());
	/* As a killed run leaves it: one image missing, a temporary beside it. */
	gone = pathf("%s/train/%d/%05d.png", out, label_of(0, 4), 4);
	kept = pathf("%s/test/%d/%05d.png", out, label_of(1, 2), 2);
	stale = pathf("%s.tmp.Ab12Cd", gone);
	cr_assert_eq(unlink(gone), 0);
	cr_assert_eq(spit(stale, "half", 4), 0);
	before = slurp(kept, &blen);
	cr_assert_eq(aug_import(AUG_IMPORT_MNIST, src, out, NULL, &rep), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(rep.splits[0].written, 1u);
	cr_assert_eq(rep.splits[0].skipped, 19u);
	cr_assert_eq(rep.splits[1].written, 0u);
	cr_assert_eq(rep.splits[1].skipped, 10u);
	cr_assert(!file_exists(stale), "the stale temporary is removed");
	after = slurp(kept, &alen);
	cr_assert(blen == alen && memcmp(before, after, blen) == 0);
	check_mnist_out(out, n, 6, 6, digits, 0);
	free(before);
	free(after);
	free(gone);
	free(kept);
	free(stale);
	rm_rf(src);
	rm_rf(out);
	free(src);
	free(out);
}

/* aug_import() expecting `want`, a message holding each needle, and nothing written. */
static void expect_import(aug_import_kind kind, const char *src, aug_status want, const char *n1, const char *n2)
{
	char *out = make_tmpdir();
	aug_status st = aug_import(kind, src, out, NULL, NULL);

	cr_assert_eq(st, want, "%s: got %s (%s), want %s", src, aug_strerror(st), aug_error_message(),
		     aug_strerror(want));
	cr_assert(strstr(aug_error_message(), n1), "message '%s' says '%s'", aug_error_message(), n1);
	cr_assert(strstr(aug_error_message(), n2), "message '%s' says '%s'", aug_error_message(), n2);
	cr_assert_eq(count_files(out), 0, "nothing is written from a bad source");
	rm_rf(out);
	free(out);
}

CTest(import, bad_mnist_sources_name_the_file)
{
	char *src = make_tmpdir();
	const size_t n[2] = { 12, 6 };
	uint32_t dims[3] = { 12, 4, 4 };
	uint8_t lb[13];
	char *labels = pathf("%s/train-labels-idx1-ubyte.gz", src);
	char *images = pathf("%s/t10k-images-idx3-ubyte", src);

	make_mnist(src, n, 4, 4, true, false);
	/* Label 10 at record 7 of the train labels. */
	for (int i = 0; i < 12; i++)
		lb[i] = (uint8_t)label_of(0, (size_t)i);
	lb[7] = 10;
	write_idx(labels, true, 0x08, 1, dims, lb, 12, 0);
	expect_import(AUG_IMPORT_MNIST, src, AUG_ECORRUPT, labels, "record 7: label 10 is not below 10");
	/* 12 images and 11 labels. */
	dims[0] = 11;
	write_idx(labels, true, 0x08, 1, dims, lb, 11, 0);
	expect_import(AUG_IMPORT_MNIST, src, AUG_ECORRUPT, labels, "12 images");
	/* Labels fine again; test images with two dimensions. */
	dims[0] = 12;
	lb[7] = 3;
	write_idx(labels, true, 0x08, 1, dims, lb, 12, 0);
	dims[0] = 6;
	{
		uint8_t flat[24] = { 0 };

		write_idx(images, false, 0x08, 2, dims, flat, 24, 0);
	}
	expect_import(AUG_IMPORT_MNIST, src, AUG_ECORRUPT, images, "2 dimensions");
	/* Test images cut short. */
	{
		uint8_t pix[96] = { 0 };

		write_idx(images, false, 0x08, 3, dims, pix, 95, 0);
		expect_import(AUG_IMPORT_MNIST, src, AUG_ETRUNCATED, images, "95 of the 96");
	}
	/* A file missing altogether. */
	cr_assert_eq(unlink(images), 0);
	expect_import(AUG_IMPORT_MNIST, src, AUG_EIO, "t10k-images-idx3-ubyte", src);
	expect_import(AUG_IMPORT_MNIST, labels, AUG_EINVAL, labels, "not a folder");
	free(labels);
	free(images);
	rm_rf(src);
	free(src);
}

/* ---- CIFAR-10 ---- */

static uint8_t cifar_px(int batch, int rec, int c, int y, int x)
{
	return (uint8_t)(batch * 53 + rec * 29 + c * 85 + y * 7 + x * 3 + (y * x) % 11);
}

static int cifar_label(int batch, int rec)
{
	return (batch * 3 + rec * 7 + 1) % 10;
}

/* Records per batch: data_batch_1..5, then test_batch. */
static const int cifar_counts[6] = { 2, 3, 1, 2, 3, 3 };

static void make_cifar(const char *dir, const char *meta)
{
	for (int b = 0; b < 6; b++) {
		char *p = b < 5 ? pathf("%s/data_batch_%d.bin", dir, b + 1) : pathf("%s/test_batch.bin", dir);
		size_t len = (size_t)cifar_counts[b] * 3073;
		uint8_t *buf = malloc(len), *r = buf;

		for (int k = 0; k < cifar_counts[b]; k++) {
			*r++ = (uint8_t)cifar_label(b, k);
			for (int c = 0; c < 3; c++)
				for (int y = 0; y < 32; y++)
					for (int x = 0; x < 32; x++)
						*r++ = cifar_px(b, k, c, y, x);
		}
		cr_assert_eq(spit(p, buf, len), 0);
		free(buf);
		free(p);
	}
	if (meta) {
		char *p = pathf("%s/batches.meta.txt", dir);

		cr_assert_eq(spit(p, meta, strlen(meta)), 0);
		free(p);
	}
}

static void check_cifar_out(const char *out, const char *const *names)
{
	int train_index = 0, files = 0;

	for (int b = 0; b < 6; b++) {
		for (int k = 0; k < cifar_counts[b]; k++) {
			int index = b < 5 ? train_index++ : k;
			char *p = pathf("%s/%s/%s/%05d.png", out, b < 5 ? "train" : "test", names[cifar_label(b, k)],
					index);
			aug_image *img = NULL;

			cr_assert_eq(aug_decode_file(p, NULL, &img), AUG_OK, "%s: %s", p, aug_error_message());
			cr_assert_eq(img->channels, 3);
			cr_assert_eq(img->width, 32);
			cr_assert_eq(img->height, 32);
			for (int y = 0; y < 32; y++)
				for (int x = 0; x < 32; x++)
					for (int c = 0; c < 3; c++)
						cr_assert_eq(aug_image_row(img, y)[3 * x + c], cifar_px(b, k, c, y, x),
							     "%s: pixel %d,%d channel %d", p, x, y, c);
			aug_image_free(img);
			free(p);
			files++;
		}
	}
	cr_assert_eq(count_files(out), files + 1);
}

CTest(import, cifar_batches_to_exact_rgb_pngs)
{
	char *src = make_tmpdir(), *out = make_tmpdir();
	/* Not CIFAR's names, to show batches.meta.txt is what names the folders. */
	static const char *const names[10] = { "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9" };
	aug_import_report rep;

	make_cifar(src, "n0\nn1\nn2\nn3\nn4\r\nn5\nn6\nn7\nn8\nn9\n\n");
	cr_assert_eq(aug_import(AUG_IMPORT_CIFAR10, src, out, NULL, &rep), AUG_OK, "%s", aug_error_message());
	check_cifar_out(out, names);
	cr_assert_eq(rep.splits[0].images, 11u);
	cr_assert_eq(rep.splits[1].images, 3u);
	cr_assert_eq(rep.channels, 3);
	cr_assert_str_eq(rep.class_names[4], "n4");
	rm_rf(src);
	rm_rf(out);
	free(src);
	free(out);
}

CTest(import, cifar_from_parent_folder_and_from_the_archive)
{
	char *top = make_tmpdir(), *a = make_tmpdir(), *b = make_tmpdir(), *c = make_tmpdir();
	char *bin = pathf("%s/cifar-10-batches-bin", top);
	char *tgz = pathf("%s/cifar-10-binary.tar.gz", top);
	char cmd[9000];

	cr_assert_eq(mkdir(bin, 0755), 0);
	/* No batches.meta.txt: CIFAR-10's own names. */
	make_cifar(bin, NULL);
	/* A README in the archive too: members we do not need are skipped. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && echo hello > cifar-10-batches-bin/readme.html && "
		 "tar czf cifar-10-binary.tar.gz cifar-10-batches-bin", top);
	cr_assert_eq(run_capture(cmd, NULL), 0);
	cr_assert_eq(aug_import(AUG_IMPORT_CIFAR10, top, a, NULL, NULL), AUG_OK, "%s", aug_error_message());
	check_cifar_out(a, cifar_names);
	cr_assert_eq(aug_import(AUG_IMPORT_CIFAR10, tgz, b, NULL, NULL), AUG_OK, "%s", aug_error_message());
	snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s'", a, b);
	cr_assert_eq(run_capture(cmd, NULL), 0, "the archive gives the same files as the folder");
	/* A plain tar, too. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && tar cf x.tar cifar-10-batches-bin", top);
	cr_assert_eq(run_capture(cmd, NULL), 0);
	free(tgz);
	tgz = pathf("%s/x.tar", top);
	cr_assert_eq(aug_import(AUG_IMPORT_CIFAR10, tgz, c, NULL, NULL), AUG_OK, "%s", aug_error_message());
	snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s'", a, c);
	cr_assert_eq(run_capture(cmd, NULL), 0);
	free(bin);
	free(tgz);
	rm_rf(top);
	rm_rf(a);
	rm_rf(b);
	rm_rf(c);
	free(top);
	free(a);
	free(b);
	free(c);
}

CTest(import, bad_cifar_sources_name_the_file)
{
	char *src = make_tmpdir();
	char *test = pathf("%s/test_batch.bin", src), *b3 = pathf("%s/data_batch_3.bin", src);
	char *meta = pathf("%s/batches.meta.txt", src), *tgz = pathf("%s/c.tar.gz", src);
	char cmd[9000];
	uint8_t *buf;
	size_t len;

	make_cifar(src, NULL);
	/* Label 10 in record 1 of the test batch. */
	buf = slurp(test, &len);
	buf[3073] = 10;
	cr_assert_eq(spit(test, buf, len), 0);
	expect_import(AUG_IMPORT_CIFAR10, src, AUG_ECORRUPT, test, "record 1: label 10 is not below 10");
	buf[3073] = 2;
	cr_assert_eq(spit(test, buf, len), 0);
	free(buf);
	/* A batch cut inside its second record. */
	buf = calloc(1, 3073 + 100);
	cr_assert_eq(spit(b3, buf, 3073 + 100), 0);
	free(buf);
	expect_import(AUG_IMPORT_CIFAR10, src, AUG_ETRUNCATED, b3, "record 1 is cut after 100 bytes");
	cr_assert_eq(spit(b3, "", 0), 0);
	expect_import(AUG_IMPORT_CIFAR10, src, AUG_ETRUNCATED, b3, "empty");
	cr_assert_eq(unlink(b3), 0);
	expect_import(AUG_IMPORT_CIFAR10, src, AUG_EIO, b3, "No such file");
	make_cifar(src, "airplane\nautomobile\n");
	expect_import(AUG_IMPORT_CIFAR10, src, AUG_ECORRUPT, meta, "2 class names");
	make_cifar(src, "a\nb\nc\nd\n../e\nf\ng\nh\ni\nj\n");
	expect_import(AUG_IMPORT_CIFAR10, src, AUG_ECORRUPT, meta, "line 5: '../e'");
	make_cifar(src, "a\nb\nc\nd\ne\nf\ng\nh\ni\na\n");
	expect_import(AUG_IMPORT_CIFAR10, src, AUG_ECORRUPT, meta, "'a' named twice");
	unlink(meta);
	/* The archive cut short, and a file that is no archive. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && tar czf c.tar.gz *.bin && head -c $(( $(stat -c %%s c.tar.gz) / 2 )) c.tar.gz > cut.tar.gz", src);
	cr_assert_eq(run_capture(cmd, NULL), 0);
	free(tgz);
	tgz = pathf("%s/cut.tar.gz", src);
	expect_import(AUG_IMPORT_CIFAR10, tgz, AUG_ETRUNCATED, tgz, "ends early");
	expect_import(AUG_IMPORT_CIFAR10, test, AUG_EUNSUPPORTED, test, "not a tar archive");
	/* The Python version, and nothing at all. */
	{
		char *py = pathf("%s/cifar-10-batches-py", src), *empty = make_tmpdir();

		cr_assert_eq(mkdir(py, 0755), 0);
		rm_rf(test);
		for (int i = 1; i <= 5; i++) {
			char *p = pathf("%s/data_batch_%d.bin", src, i);

			unlink(p);
			free(p);
		}
		expect_import(AUG_IMPORT_CIFAR10, src, AUG_EUNSUPPORTED, src, "Python");
		expect_import(AUG_IMPORT_CIFAR10, empty, AUG_EIO, empty, "no CIFAR-10 binary batches");
		rm_rf(empty);
		free(empty);
		free(py);
	}
	free(test);
	free(b3);
	free(meta);
	free(tgz);
	rm_rf(src);
	free(src);
}

/* Random damage to every kind of source: a status, a message, no crash (the
 * sanitizer build runs this too). */
CTest(import, randomly_damaged_sources_fail_cleanly)
{
	char *top = make_tmpdir(), *mn = make_tmpdir(), *out = make_tmpdir();
	char *bin = pathf("%s/cifar-10-batches-bin", top);
	const size_t n[2] = { 6, 4 };
	const char *files[4];
	uint8_t *orig[4];
	size_t len[4];
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	aug_import_options o;
	char cmd[9000];
	int failures = 0;

	cr_assert_eq(mkdir(bin, 0755), 0);
	make_cifar(bin, "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
	snprintf(cmd, sizeof(cmd), "cd '%s' && tar cf x.tar cifar-10-batches-bin && tar czf x.tgz cifar-10-batches-bin",
		 top);
	cr_assert_eq(run_capture(cmd, NULL), 0);
	make_mnist(mn, n, 4, 3, true, true);
	files[0] = pathf("%s/x.tar", top);
	files[1] = pathf("%s/x.tgz", top);
	files[2] = pathf("%s/train-images-idx3-ubyte.gz", mn);
	files[3] = pathf("%s/t10k-labels-idx1-ubyte.gz", mn);
	for (int f = 0; f < 4; f++)
		orig[f] = slurp(files[f], &len[f]);
	aug_import_options_init(&o);
	o.max_bytes = 1 << 20;
	o.threads = 1;
	for (int it = 0; it < 400; it++) {
		int f = it % 4;
		uint8_t *buf = malloc(len[f]);
		size_t l = len[f];
		aug_status st;

		memcpy(buf, orig[f], l);
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		if (r % 3 == 0) {
			l = (size_t)(r >> 8) % l;
		} else {
			for (uint64_t k = 0, m = 1 + (r >> 4) % 4; k < m; k++) {
				r ^= r << 13;
				r ^= r >> 7;
				r ^= r << 17;
				buf[(r >> 8) % l] ^= (uint8_t)(1 + (r >> 40) % 255);
			}
		}
		cr_assert_eq(spit(files[f], buf, l), 0);
		st = aug_import(f < 2 ? AUG_IMPORT_CIFAR10 : AUG_IMPORT_MNIST, f < 2 ? files[f] : mn, out, &o, NULL);
		cr_assert(st == AUG_OK || st == AUG_ECORRUPT || st == AUG_ETRUNCATED || st == AUG_EUNSUPPORTED ||
				  st == AUG_ELIMIT || st == AUG_EIO,
			  "iteration %d: %s (%s)", it, aug_strerror(st), aug_error_message());
		if (st) {
			failures++;
			cr_assert_neq(*aug_error_message(), '\0');
		}
		cr_assert_eq(spit(files[f], orig[f], len[f]), 0);
		free(buf);
	}
	cr_assert_gt(failures, 200, "most damage is caught (%d of 400)", failures);
	for (int f = 0; f < 4; f++) {
		free(orig[f]);
		free((char *)files[f]);
	}
	free(bin);
	rm_rf(top);
	rm_rf(mn);
	rm_rf(out);
	free(top);
	free(mn);
	free(out);
}

/* ---- the real Fashion-MNIST (Debian's dataset-fashion-mnist) ----
 *
 * The constants below were read once, independently of augment, with
 *
 *   python3 -c 'import gzip, struct; L = gzip.open(".../t10k-labels-idx1-ubyte.gz").read();
 *               print(struct.unpack(">II", L[:8]), list(L[8:28]))'
 *
 * and likewise for the images (sum(I[16:16 + 784]), I[16 + 14 * 28:16 + 15 * 28])
 * and for the per-class counts of the first 100 records (collections.Counter). */
static const int fashion_test_labels[20] = { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0 };
static const int fashion_train_labels[20] = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4 };
static const size_t fashion_test_first100[10] = { 8, 13, 14, 9, 10, 9, 8, 11, 12, 6 };
static const size_t fashion_train_first100[10] = { 12, 11, 9, 15, 9, 11, 10, 8, 4, 11 };
static const uint8_t fashion_test0_row14[28] = {
	0, 0, 0, 0, 0, 0, 2, 4, 1, 0, 0, 0, 98, 136, 110, 109, 110, 162, 135, 144, 149, 159, 167, 144, 158, 169, 119, 0,
};

static long pixel_sum(const aug_image *img)
{
	long s = 0;

	for (int y = 0; y < img->height; y++)
		for (int x = 0; x < img->width * img->channels; x++)
			s += aug_image_row(img, y)[x];
	return s;
}

CTest(import, real_fashion_mnist_first_100)
{
	char *out = make_tmpdir();
	aug_import_options o;
	aug_import_report rep;
	aug_image *img = NULL;
	char *p;

	if (!file_exists(FASHION "/t10k-labels-idx1-ubyte.gz")) {
		rm_rf(out);
		free(out);
		cr_skip_test("no %s (Debian package dataset-fashion-mnist)", FASHION);
	}
	aug_import_options_init(&o);
	o.limit = 100;
	cr_assert_eq(aug_import(AUG_IMPORT_FASHION_MNIST, FASHION, out, &o, &rep), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(rep.splits[0].records, 60000u);
	cr_assert_eq(rep.splits[1].records, 10000u);
	cr_assert_eq(rep.splits[0].written, 100u);
	cr_assert_eq(rep.splits[1].written, 100u);
	cr_assert_arr_eq(rep.splits[0].per_class, fashion_train_first100, sizeof(fashion_train_first100));
	cr_assert_arr_eq(rep.splits[1].per_class, fashion_test_first100, sizeof(fashion_test_first100));
	for (int i = 0; i < 20; i++) {
		char *a = pathf("%s/test/%s/%05d.png", out, fashion_names[fashion_test_labels[i]], i);
		char *b = pathf("%s/train/%s/%05d.png", out, fashion_names[fashion_train_labels[i]], i);

		cr_assert(file_exists(a), "%s", a);
		cr_assert(file_exists(b), "%s", b);
		free(a);
		free(b);
	}
	for (int c = 0; c < 10; c++) {
		char *d = pathf("%s/test/%s", out, fashion_names[c]);

		cr_assert_eq((size_t)count_files(d), fashion_test_first100[c], "%s", d);
		free(d);
	}
	p = pathf("%s/test/Ankle_boot/00000.png", out);
	cr_assert_eq(aug_decode_file(p, NULL, &img), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(img->width, 28);
	cr_assert_eq(img->height, 28);
	cr_assert_eq(img->channels, 1);
	cr_assert_eq(pixel_sum(img), 33456);
	cr_assert_arr_eq(aug_image_row(img, 14), fashion_test0_row14, 28);
	aug_image_free(img);
	free(p);
	p = pathf("%s/train/Ankle_boot/00000.png", out);
	cr_assert_eq(aug_decode_file(p, NULL, &img), AUG_OK, "%s", aug_error_message());
	cr_assert_eq(pixel_sum(img), 76247);
	aug_image_free(img);
	free(p);
	rm_rf(out);
	free(out);
}

/* ---- the command ---- */

CTest(import_cli, imports_reports_and_fails_with_the_file_named)
{
	char *src = make_tmpdir(), *out = make_tmpdir();
	static const char *const digits[10] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };
	const size_t n[2] = { 30, 20 };
	char *msg = NULL, *labels;

	make_mnist(src, n, 8, 9, true, true);
	cr_assert_eq(cli(&msg, "import --help"), 0);
	cr_assert(strstr(msg, "--limit") && strstr(msg, "--png-level") && strstr(msg, "cifar10"), "%s", msg);
	free(msg);
	cr_assert_eq(cli(&msg, "import mnist '%s'", src), 2);
	cr_assert(strstr(msg, "-o DIR is required"), "%s", msg);
	free(msg);
	cr_assert_eq(cli(&msg, "import svhn '%s' -o '%s'", src, out), 2);
	cr_assert(strstr(msg, "unknown data set 'svhn'"), "%s", msg);
	free(msg);
	cr_assert_eq(cli(&msg, "import mnist -o '%s'", out), 2, "mnist has no default source");
	free(msg);
	cr_assert_eq(cli(&msg, "import mnist '%s' -o '%s' --limit 17 --threads 2 --png-level 9", src, out), 0);
	cr_assert(strstr(msg, "17 images (of 30)") && strstr(msg, "17 images (of 20)"), "%s", msg);
	free(msg);
	check_mnist_out(out, n, 8, 9, digits, 17);
	cr_assert_eq(cli(&msg, "import mnist '%s' -o '%s'", src, out), 0);
	cr_assert(strstr(msg, "13 written, 17 already there"), "%s", msg);
	free(msg);
	check_mnist_out(out, n, 8, 9, digits, 0);
	cr_assert_eq(cli(&msg, "info '%s/train'", out), 0);
	cr_assert(strstr(msg, "10 classes, 30 images"), "%s", msg);
	free(msg);
	/* A damaged file: exit 1, the file named. */
	labels = pathf("%s/t10k-labels-idx1-ubyte.gz", src);
	cr_assert_eq(spit(labels, "\x1f\x8b\x08\x00", 4), 0);
	cr_assert_eq(cli(&msg, "import mnist '%s' -o '%s' --quiet", src, out), 1);
	cr_assert(strstr(msg, labels) && strstr(msg, "ends early"), "%s", msg);
	free(msg);
	free(labels);
	rm_rf(src);
	rm_rf(out);
	free(src);
	free(out);
}
