/* IDX arrays (the MNIST file format), plain or gzip-compressed.
 *
 * The format, from the MNIST page: bytes 0 and 1 are zero, byte 2 is the
 * element type (0x08 unsigned byte, 0x09 signed byte, 0x0B short, 0x0C int,
 * 0x0D float, 0x0E double), byte 3 the number of dimensions; then each
 * dimension as a big-endian 32-bit count; then the elements, row-major.
 *
 * zlib's gz* functions read a gzip file and, transparently, a plain one. The
 * header is read first, so the size the data must have is known before
 * anything is allocated; we then inflate exactly that many bytes and try for
 * one more, which tells a file that is too long and makes zlib check the gzip
 * trailer (CRC and length). Never more than max_bytes + 1 are inflated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

static const char *type_name(int type)
{
	switch (type) {
	case 0x08: return "unsigned byte";
	case 0x09: return "signed byte";
	case 0x0B: return "short";
	case 0x0C: return "int";
	case 0x0D: return "float";
	case 0x0E: return "double";
	default: return NULL;
	}
}

/* The state of one read, for messages. */
struct reader {
	const char *path;
	gzFile gz;
	bool gzip;
};

/* Map zlib's error after a short or failed read to a status and message. */
static aug_status gz_fail(struct reader *r, const char *what)
{
	int err = Z_OK;
	const char *msg = gzerror(r->gz, &err);

	switch (err) {
	case Z_ERRNO:
		return aug__fail(AUG_EIO, "aug_idx_read", "%s: %s", r->path, strerror(errno));
	case Z_MEM_ERROR:
		return aug__fail(AUG_ENOMEM, "aug_idx_read", "%s: no memory to inflate", r->path);
	case Z_DATA_ERROR:
		return aug__fail(AUG_ECORRUPT, "aug_idx_read", "%s: damaged gzip data (%s)", r->path, msg);
	case Z_BUF_ERROR:
		/* zlib's "unexpected end of file": the gzip stream was cut. */
		return aug__fail(AUG_ETRUNCATED, "aug_idx_read", "%s: the gzip stream ends early, in %s",
				 r->path, what);
	default:
		return aug__fail(AUG_ETRUNCATED, "aug_idx_read", "%s: the file ends early, in %s", r->path, what);
	}
}

/* Read up to n bytes; *got says how many came. A failure of zlib (not the
 * end of the data) is an error. */
static aug_status read_some(struct reader *r, void *buf, size_t n, size_t *got, const char *what)
{
	*got = 0;
	while (*got < n) {
		size_t want = n - *got;
		int k = gzread(r->gz, (uint8_t *)buf + *got, want > (1u << 30) ? 1u << 30 : (unsigned)want);

		if (k < 0)
			return gz_fail(r, what);
		if (k == 0)
			break;
		*got += (size_t)k;
	}
	if (*got < n) {
		int err = Z_OK;

		gzerror(r->gz, &err);
		if (err != Z_OK && err != Z_BUF_ERROR)
			return gz_fail(r, what);
	}
	return AUG_OK;
}

/* Whether zlib met the end of a gzip stream that was cut short. */
static bool gz_cut(struct reader *r)
{
	int err = Z_OK;

	gzerror(r->gz, &err);
	return err == Z_BUF_ERROR;
}

/* Read exactly n bytes, or fail naming `what` was cut. */
static aug_status read_exact(struct reader *r, void *buf, size_t n, const char *what)
{
	size_t got;
	aug_status st = read_some(r, buf, n, &got, what);

	if (st)
		return st;
	if (got < n)
		return gz_fail(r, what);
	return AUG_OK;
}

static aug_status parse_header(struct reader *r, size_t max_bytes, aug_idx *idx)
{
	uint8_t magic[4], dims[4 * AUG_IDX_MAX_DIMS];
	const char *tn;
	size_t size = 1;
	aug_status st;

	st = read_exact(r, magic, 4, "the IDX magic");
	if (st)
		return st;
	if (magic[0] != 0 || magic[1] != 0)
		return aug__fail(AUG_ECORRUPT, "aug_idx_read",
				 "%s: not an IDX file (magic %02x %02x %02x %02x; IDX starts with 00 00)", r->path,
				 magic[0], magic[1], magic[2], magic[3]);
	tn = type_name(magic[2]);
	if (!tn)
		return aug__fail(AUG_ECORRUPT, "aug_idx_read", "%s: not an IDX file (unknown element type 0x%02X)",
				 r->path, magic[2]);
	if (magic[2] != 0x08)
		return aug__fail(AUG_EUNSUPPORTED, "aug_idx_read",
				 "%s: IDX elements of type 0x%02X (%s); only 0x08 (unsigned byte) is read", r->path,
				 magic[2], tn);
	if (magic[3] == 0)
		return aug__fail(AUG_ECORRUPT, "aug_idx_read", "%s: IDX header with no dimensions", r->path);
	if (magic[3] > AUG_IDX_MAX_DIMS)
		return aug__fail(AUG_EUNSUPPORTED, "aug_idx_read", "%s: %d dimensions; at most %d are read",
				 r->path, magic[3], AUG_IDX_MAX_DIMS);
	idx->ndims = magic[3];
	st = read_exact(r, dims, 4 * (size_t)idx->ndims, "the IDX dimensions");
	if (st)
		return st;
	for (int i = 0; i < idx->ndims; i++) {
		const uint8_t *p = dims + 4 * i;

		idx->dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (!aug__mul(size, idx->dims[i], &size))
			return aug__fail(AUG_ELIMIT, "aug_idx_read", "%s: the dimensions overflow a size",
					 r->path);
	}
	if (size > max_bytes)
		return aug__fail(AUG_ELIMIT, "aug_idx_read",
				 "%s: the dimensions call for %zu bytes, over the limit of %zu", r->path, size,
				 max_bytes);
	idx->size = size;
	return AUG_OK;
}

aug_status aug_idx_read(const char *path, size_t max_bytes, aug_idx **out)
{
	struct reader r = { .path = path };
	uint8_t probe[2], extra;
	struct stat sb;
	aug_idx *idx = NULL;
	size_t got;
	aug_status st;
	ssize_t n;
	int fd;

	*out = NULL;
	if (max_bytes == 0)
		max_bytes = AUG__IMPORT_MAX_BYTES;
	st = aug__open_regular(path, __func__, &fd, &sb);
	if (st)
		return st;
	/* The gzip magic, for messages only: zlib reads either kind. */
	n = pread(fd, probe, 2, 0);
	r.gzip = n == 2 && probe[0] == 0x1f && probe[1] == 0x8b;
	r.gz = gzdopen(fd, "rb");
	if (!r.gz) {
		close(fd);
		return aug__fail(AUG_ENOMEM, __func__, "%s: no memory for a gzip reader", path);
	}
	gzbuffer(r.gz, 1 << 17);
	idx = calloc(1, sizeof(*idx));
	if (!idx) {
		st = aug__fail(AUG_ENOMEM, __func__, "%s: no memory", path);
		goto fail;
	}
	st = parse_header(&r, max_bytes, idx);
	if (st)
		goto fail;
	if (idx->size) {
		idx->data = malloc(idx->size);
		if (!idx->data) {
			st = aug__fail(AUG_ENOMEM, __func__, "%s: no memory for %zu bytes", path, idx->size);
			goto fail;
		}
	}
	st = read_some(&r, idx->data, idx->size, &got, "the data");
	if (st)
		goto fail;
	if (got < idx->size) {
		st = aug__fail(AUG_ETRUNCATED, __func__, "%s: %s ends after %zu of the %zu data bytes", path,
			       gz_cut(&r) ? "the gzip stream" : r.gzip ? "the inflated data" : "the file", got,
			       idx->size);
		goto fail;
	}
	/* One byte more: a longer file is not what its header says, and for
	 * gzip this is what makes zlib check the trailer. */
	st = read_some(&r, &extra, 1, &got, "the gzip trailer");
	if (st)
		goto fail;
	if (!got && gz_cut(&r)) {
		st = aug__fail(AUG_ETRUNCATED, __func__, "%s: the gzip stream ends early, in its trailer", path);
		goto fail;
	}
	if (got) {
		if (r.gzip)
			st = aug__fail(AUG_ECORRUPT, __func__,
				       "%s: the inflated data is longer than the %zu bytes its dimensions call for",
				       path, idx->size);
		else
			st = aug__fail(AUG_ECORRUPT, __func__,
				       "%s: %lld bytes longer than its dimensions call for (%zu data bytes)", path,
				       (long long)sb.st_size - (long long)(idx->size + 4 + 4 * (size_t)idx->ndims),
				       idx->size);
		goto fail;
	}
	gzclose_r(r.gz);
	*out = idx;
	return AUG_OK;

fail:
	gzclose_r(r.gz);
	aug_idx_free(idx);
	return st;
}

void aug_idx_free(aug_idx *idx)
{
	if (!idx)
		return;
	free(idx->data);
	free(idx);
}
