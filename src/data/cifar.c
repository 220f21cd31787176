/* CIFAR-10's binary version: a folder of batches, or the archive holding it.
 *
 * From the CIFAR page (Krizhevsky 2009): data_batch_1.bin .. data_batch_5.bin
 * and test_batch.bin each hold records of 3073 bytes, a label 0..9 then the
 * 32x32 image as 1024 red, 1024 green and 1024 blue bytes, rows top to
 * bottom; batches.meta.txt names the classes, one a line. The archive,
 * cifar-10-binary.tar.gz, holds them under cifar-10-batches-bin/; it is read
 * as a stream (zlib inflates a plain tar transparently too), keeping only
 * the members we need, so it need not be unpacked first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

#define NBATCH 6 /* five train batches, then the test batch */
#define META NBATCH

static const char *const member_names[NBATCH + 1] = {
	"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
	"data_batch_5.bin", "test_batch.bin", "batches.meta.txt",
};

/* CIFAR-10's classes, for a source without batches.meta.txt. */
static const char *const cifar10_classes[AUG__CIFAR_CLASSES] = {
	"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

struct member {
	char *name;   /* for messages: the path, or "archive: member" */
	uint8_t *buf;
	size_t len;
};

static void members_free(struct member *m)
{
	for (int i = 0; i <= NBATCH; i++) {
		free(m[i].name);
		free(m[i].buf);
	}
}

static bool is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static char *join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

/* The folder holding the batches: `src` itself, or src/cifar-10-batches-bin. */
static aug_status find_folder(const char *src, char **out)
{
	*out = NULL;
	for (int i = 0; i < 2 && !*out; i++) {
		char *dir = i ? join(src, "cifar-10-batches-bin") : strdup(src);
		char *a = dir ? join(dir, member_names[0]) : NULL;
		char *b = dir ? join(dir, member_names[NBATCH - 1]) : NULL;
		bool oom = !a || !b;

		if (!oom && (exists(a) || exists(b))) {
			*out = dir;
			dir = NULL;
		}
		free(dir);
		free(a);
		free(b);
		if (oom)
			return aug__fail(AUG_ENOMEM, "aug_import", "no memory");
	}
	if (*out)
		return AUG_OK;
	{
		char *py = join(src, "cifar-10-batches-py");
		char *pyb = join(src, "data_batch_1");
		bool python = (py && is_dir(py)) || (pyb && exists(pyb));

		free(py);
		free(pyb);
		if (python)
			return aug__fail(AUG_EUNSUPPORTED, "aug_import",
					 "%s: CIFAR-10's Python (pickle) version; use the binary version "
					 "(cifar-10-binary.tar.gz, or its folder cifar-10-batches-bin)", src);
	}
	return aug__fail(AUG_EIO, "aug_import",
			 "%s: no CIFAR-10 binary batches (data_batch_1.bin .. data_batch_5.bin, test_batch.bin) "
			 "there or in %s/cifar-10-batches-bin", src, src);
}

static aug_status read_folder(const char *src, size_t max_bytes, struct member *m)
{
	char *dir = NULL;
	aug_status st = find_folder(src, &dir);

	for (int i = 0; !st && i <= NBATCH; i++) {
		m[i].name = join(dir, member_names[i]);
		if (!m[i].name) {
			st = aug__fail(AUG_ENOMEM, "aug_import", "no memory");
			break;
		}
		if (i == META && !exists(m[i].name))
			break; /* optional: CIFAR-10's own names are used */
		st = aug_file_read(m[i].name, max_bytes, &m[i].buf, &m[i].len);
	}
	free(dir);
	return st;
}

/* ---- the archive ---- */

/* A tar header's octal number field; false when it is not one (GNU's
 * base-256 form for sizes over 8 GiB is not needed for CIFAR). */
static bool tar_octal(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && p[i] == ' ')
		i++;
	if (i == n || p[i] < '0' || p[i] > '7')
		return false;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return false;
		v = v * 8 + (uint64_t)(p[i] - '0');
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return false;
	*out = v;
	return true;
}

/* A 512-byte ustar/GNU/v7 header: its checksum counts the chksum field as
 * eight spaces. */
static bool tar_header_ok(const uint8_t *h)
{
	uint64_t want, sum = 0;

	if (!tar_octal(h + 148, 8, &want))
		return false;
	for (int i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum == want;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int member_index(const uint8_t *h)
{
	char name[256];
	const char *base;
	size_t plen = strnlen((const char *)h + 345, 155), nlen = strnlen((const char *)h, 100);

	/* ustar splits long names into prefix "/" name. */
	if (memcmp(h + 257, "ustar", 5) == 0 && plen)
		snprintf(name, sizeof(name), "%.*s/%.*s", (int)plen, (const char *)h + 345, (int)nlen,
			 (const char *)h);
	else
		snprintf(name, sizeof(name), "%.*s", (int)nlen, (const char *)h);
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (int i = 0; i <= NBATCH; i++)
		if (strcmp(base, member_names[i]) == 0)
			return i;
	return -1;
}

/* zlib's error after a short read of the archive. */
static aug_status archive_fail(gzFile gz, const char *path, const char *what)
{
	int err = Z_OK;
	const char *msg = gzerror(gz, &err);

	if (err == Z_ERRNO)
		return aug__fail(AUG_EIO, "aug_import", "%s: %s", path, strerror(errno));
	if (err == Z_DATA_ERROR)
		return aug__fail(AUG_ECORRUPT, "aug_import", "%s: damaged gzip data (%s)", path, msg);
	if (err == Z_MEM_ERROR)
		return aug__fail(AUG_ENOMEM, "aug_import", "%s: no memory to inflate", path);
	return aug__fail(AUG_ETRUNCATED, "aug_import", "%s: the archive ends early, in %s", path, what);
}

static aug_status archive_read(gzFile gz, const char *path, void *buf, size_t n, const char *what)
{
	size_t got = 0;

	while (got < n) {
		size_t want = n - got;
		int k = gzread(gz, (uint8_t *)buf + got, want > (1u << 30) ? 1u << 30 : (unsigned)want);

		if (k <= 0)
			return archive_fail(gz, path, what);
		got += (size_t)k;
	}
	return AUG_OK;
}

static aug_status read_archive(const char *path, size_t max_bytes, struct member *m)
{
	uint8_t h[512], skip[8192];
	aug_status st = AUG_OK;
	struct stat sb;
	gzFile gz;
	bool first = true;
	int fd;

	st = aug__open_regular(path, "aug_import", &fd, &sb);
	if (st)
		return st;
	gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		return aug__fail(AUG_ENOMEM, "aug_import", "%s: no memory for a gzip reader", path);
	}
	gzbuffer(gz, 1 << 17);
	for (;;) {
		uint64_t size, padded;
		int k;

		st = archive_read(gz, path, h, 512, "a member's header");
		if (st)
			break;
		if (all_zero(h, 512))
			break; /* the end-of-archive marker */
		if (!tar_header_ok(h) || !tar_octal(h + 124, 12, &size)) {
			st = aug__fail(first ? AUG_EUNSUPPORTED : AUG_ECORRUPT, "aug_import",
				       first ? "%s: not a tar archive (nor a .tar.gz); give the folder "
					       "cifar-10-batches-bin or cifar-10-binary.tar.gz"
				       : "%s: a damaged tar header", path);
			break;
		}
		first = false;
		padded = (size + 511) & ~(uint64_t)511;
		k = member_index(h);
		/* Regular files only ('0', or NUL in old archives). */
		if (k >= 0 && (h[156] == '0' || h[156] == '\0') && !m[k].buf) {
			if (asprintf(&m[k].name, "%s: %.100s", path, (const char *)h) < 0) {
				m[k].name = NULL;
				st = aug__fail(AUG_ENOMEM, "aug_import", "no memory");
				break;
			}
			if (size > max_bytes) {
				st = aug__fail(AUG_ELIMIT, "aug_import", "%s: %llu bytes, over the limit of %zu",
					       m[k].name, (unsigned long long)size, max_bytes);
				break;
			}
			m[k].buf = malloc(size ? (size_t)size : 1);
			if (!m[k].buf) {
				st = aug__fail(AUG_ENOMEM, "aug_import", "%s: no memory for %llu bytes", m[k].name,
					       (unsigned long long)size);
				break;
			}
			m[k].len = (size_t)size;
			st = archive_read(gz, path, m[k].buf, (size_t)size, member_names[k]);
			if (st)
				break;
			padded -= size;
		}
		/* Skip what we do not keep, and the padding to 512 bytes. */
		while (padded) {
			size_t n = padded > sizeof(skip) ? sizeof(skip) : (size_t)padded;

			st = archive_read(gz, path, skip, n, "a member we skip");
			if (st)
				break;
			padded -= n;
		}
		if (st)
			break;
	}
	gzclose_r(gz);
	if (st)
		return st;
	for (int i = 0; i < NBATCH; i++)
		if (!m[i].buf)
			return aug__fail(AUG_EIO, "aug_import", "%s: holds no %s", path, member_names[i]);
	return AUG_OK;
}

/* ---- checking and assembling ---- */

bool aug__class_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= AUG_IMPORT_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return true;
}

/* Class names from batches.meta.txt: one a line, blank lines ignored. */
static aug_status parse_meta(const struct member *meta, struct aug__source *out)
{
	const char *p = (const char *)meta->buf, *end = p + meta->len;
	int n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		char name[AUG_IMPORT_NAME_MAX];
		size_t len;

		while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		len = (size_t)(e - p);
		if (len) {
			if (n == AUG__CIFAR_CLASSES)
				return aug__fail(AUG_ECORRUPT, "aug_import", "%s: more than %d class names",
						 meta->name, AUG__CIFAR_CLASSES);
			snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1), p);
			if (len >= sizeof(name) || memchr(p, '\0', len) || !aug__class_name_ok(name))
				return aug__fail(AUG_ECORRUPT, "aug_import",
						 "%s: line %d: '%.40s' cannot be a class folder's name", meta->name,
						 n + 1, name);
			for (int i = 0; i < n; i++)
				if (strcmp(out->class_names[i], name) == 0)
					return aug__fail(AUG_ECORRUPT, "aug_import", "%s: class '%s' named twice",
							 meta->name, name);
			memcpy(out->class_names[n++], name, len + 1);
		}
		p = nl ? nl + 1 : end;
	}
	if (n != AUG__CIFAR_CLASSES)
		return aug__fail(AUG_ECORRUPT, "aug_import", "%s: %d class names; CIFAR-10 has %d", meta->name, n,
				 AUG__CIFAR_CLASSES);
	return AUG_OK;
}

static aug_status check_batch(const struct member *b)
{
	size_t n = b->len / AUG__CIFAR_RECORD;

	if (b->len == 0)
		return aug__fail(AUG_ETRUNCATED, "aug_import", "%s: empty", b->name);
	if (b->len % AUG__CIFAR_RECORD)
		return aug__fail(AUG_ETRUNCATED, "aug_import",
				 "%s: %zu bytes, not a whole number of %d-byte records: record %zu is cut after "
				 "%zu bytes", b->name, b->len, AUG__CIFAR_RECORD, n, b->len % AUG__CIFAR_RECORD);
	for (size_t i = 0; i < n; i++) {
		uint8_t label = b->buf[i * AUG__CIFAR_RECORD];

		if (label >= AUG__CIFAR_CLASSES)
			return aug__fail(AUG_ECORRUPT, "aug_import", "%s: record %zu: label %d is not below %d",
					 b->name, i, label, AUG__CIFAR_CLASSES);
	}
	return AUG_OK;
}

static void set_split(struct aug__split *s, const char *name, uint8_t *buf, size_t len)
{
	s->name = name;
	s->count = len / AUG__CIFAR_RECORD;
	s->rows = AUG__CIFAR_SIDE;
	s->cols = AUG__CIFAR_SIDE;
	s->channels = 3;
	s->planar = true;
	s->labels = buf;
	s->label_stride = AUG__CIFAR_RECORD;
	s->pixels = buf + 1;
	s->pixel_stride = AUG__CIFAR_RECORD;
	s->own[0] = buf;
}

aug_status aug__cifar_load(const char *src, size_t max_bytes, struct aug__source *out)
{
	struct member m[NBATCH + 1] = { 0 };
	size_t train_len = 0;
	uint8_t *train;
	aug_status st;
	struct stat sb;

	if (stat(src, &sb) != 0)
		return aug__fail(AUG_EIO, "aug_import", "%s: %s", src, strerror(errno));
	if (S_ISDIR(sb.st_mode))
		st = read_folder(src, max_bytes, m);
	else if (S_ISREG(sb.st_mode))
		st = read_archive(src, max_bytes, m);
	else
		st = aug__fail(AUG_EIO, "aug_import", "%s: neither a folder nor a file", src);
	for (int i = 0; !st && i < NBATCH; i++) {
		st = check_batch(&m[i]);
		if (!st && !aug__add(train_len, i < NBATCH - 1 ? m[i].len : 0, &train_len))
			st = aug__fail(AUG_ELIMIT, "aug_import", "%s: the batches overflow a size", src);
	}
	out->class_count = AUG__CIFAR_CLASSES;
	for (int i = 0; i < AUG__CIFAR_CLASSES; i++)
		snprintf(out->class_names[i], AUG_IMPORT_NAME_MAX, "%s", cifar10_classes[i]);
	if (!st && m[META].buf)
		st = parse_meta(&m[META], out);
	if (st)
		goto out;
	/* The train split is the five batches in order: record indices run on
	 * from one batch to the next. */
	train = malloc(train_len);
	if (!train) {
		st = aug__fail(AUG_ENOMEM, "aug_import", "%s: no memory for %zu bytes", src, train_len);
		goto out;
	}
	train_len = 0;
	for (int i = 0; i < NBATCH - 1; i++) {
		memcpy(train + train_len, m[i].buf, m[i].len);
		train_len += m[i].len;
		free(m[i].buf);
		m[i].buf = NULL;
	}
	set_split(&out->split[0], "train", train, train_len);
	set_split(&out->split[1], "test", m[NBATCH - 1].buf, m[NBATCH - 1].len);
	m[NBATCH - 1].buf = NULL;
out:
	members_free(m);
	return st;
}
