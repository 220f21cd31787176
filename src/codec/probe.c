/* Header probes: width, height, channels, depth and EXIF orientation, read
 * by walking PNG chunks and JPEG marker segments directly, without libpng or
 * libjpeg and without decoding a pixel.
 *
 * Why not the libraries: a probe is the first step for every sample of a
 * pipeline and must be cheap; libjpeg's jpeg_read_header() needs a whole
 * decompressor and stops with an error when the data ends early, while a
 * header followed by a cut-off body still says everything a probe needs.
 * The decoders use the same walk for the EXIF orientation, so probe and
 * decode always agree, and check the libraries' view of the size against it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

/* aug__fail(), unless the caller only wants to know whether it would fail. */
AUG__PRINTF(3, 4)
static aug_status pfail(const aug__ctx *ctx, aug_status st, const char *fmt, ...)
{
	va_list ap;

	if (ctx->quiet)
		return st;
	va_start(ap, fmt);
	aug__vfail(st, ctx->func, fmt, ap);
	va_end(ap);
	return st;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static bool png_crc_ok(const uint8_t *type, size_t datalen)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	/* The CRC covers the type and the data; it follows them. */
	crc = crc32(crc, type, (uInt)(4 + datalen));
	return crc == be32(type + 4 + datalen);
}

static bool png_depth_ok(int type, int depth)
{
	switch (type) {
	case 0:
		return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
	case 3:
		return depth == 1 || depth == 2 || depth == 4 || depth == 8;
	case 2:
	case 4:
	case 6:
		return depth == 8 || depth == 16;
	default:
		return false;
	}
}

static aug_status png_probe(const uint8_t *buf, size_t len, const aug__ctx *ctx,
			    aug_header *hdr, bool *complete)
{
	const uint8_t *ihdr = buf + 16;
	uint32_t w, h;
	int depth, type;
	size_t pos;

	/* Signature, IHDR length and type, 13 bytes of data, CRC. */
	if (len < 33)
		return pfail(ctx, AUG_ETRUNCATED, "%s: PNG data ends inside the IHDR chunk (%zu bytes)",
				 ctx->name, len);
	if (be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0)
		return pfail(ctx, AUG_ECORRUPT, "%s: the first PNG chunk is not a 13-byte IHDR",
				 ctx->name);
	if (!png_crc_ok(buf + 12, 13))
		return pfail(ctx, AUG_ECORRUPT, "%s: IHDR: CRC error", ctx->name);
	w = be32(ihdr);
	h = be32(ihdr + 4);
	depth = ihdr[8];
	type = ihdr[9];
	if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu)
		return pfail(ctx, AUG_ECORRUPT, "%s: IHDR: invalid size %ux%u",
				 ctx->name, (unsigned)w, (unsigned)h);
	if (!png_depth_ok(type, depth))
		return pfail(ctx, AUG_ECORRUPT, "%s: IHDR: invalid colour type %d with bit depth %d",
				 ctx->name, type, depth);
	if (ihdr[10] != 0 || ihdr[11] != 0 || ihdr[12] > 1)
		return pfail(ctx, AUG_ECORRUPT,
				 "%s: IHDR: unknown compression %d, filter %d or interlace %d method",
				 ctx->name, ihdr[10], ihdr[11], ihdr[12]);
	memset(hdr, 0, sizeof(*hdr));
	hdr->format = AUG_FORMAT_PNG;
	hdr->width = (int)w;
	hdr->height = (int)h;
	hdr->bit_depth = depth;
	hdr->orientation = 1;
	hdr->palette = type == 3;
	hdr->has_alpha = type == 4 || type == 6;
	hdr->interlaced = ihdr[12] == 1;
	hdr->channels = type == 0 ? 1 : type == 4 ? 2 : type == 6 ? 4 : 3;

	/* The chunks before the first IDAT: tRNS and eXIf matter here. A chunk
	 * cut off by the end of the data ends the walk quietly. */
	*complete = false;
	for (pos = 33; len - pos >= 8;) {
		uint32_t clen = be32(buf + pos);
		const uint8_t *ctype = buf + pos + 4;
		const uint8_t *data = buf + pos + 8;

		if (clen > 0x7fffffffu)
			return pfail(ctx, AUG_ECORRUPT, "%s: PNG chunk length %u out of range",
					 ctx->name, (unsigned)clen);
		if (memcmp(ctype, "IDAT", 4) == 0 || memcmp(ctype, "IEND", 4) == 0) {
			*complete = true;
			break;
		}
		if (len - pos - 8 < (size_t)clen + 4)
			break;
		if (memcmp(ctype, "tRNS", 4) == 0 && type != 4 && type != 6) {
			hdr->has_alpha = true;
			if (type == 3)
				hdr->channels = 4;
		} else if (memcmp(ctype, "eXIf", 4) == 0 && png_crc_ok(ctype, clen)) {
			/* Some writers keep the JPEG APP1 prefix; skip it. */
			if (clen >= 6 && memcmp(data, "Exif\0\0", 6) == 0)
				hdr->orientation = aug__exif_orientation(data + 6, clen - 6);
			else
				hdr->orientation = aug__exif_orientation(data, clen);
			if (hdr->orientation == 0)
				hdr->orientation = 1;
		}
		pos += 12 + (size_t)clen;
	}
	return AUG_OK;
}

static bool is_sof(int m)
{
	/* C0..CF except DHT (C4), JPG (C8) and DAC (CC). */
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

static aug_status jpeg_probe(const uint8_t *buf, size_t len, const aug__ctx *ctx,
			     aug_header *hdr, bool *complete)
{
	bool have_sof = false, have_exif = false;
	int sof = 0, precision = 0, ncomp = 0, orientation = 1;
	unsigned w = 0, h = 0;
	size_t pos = 2;

	*complete = false;
	for (;;) {
		size_t seg, seglen, avail;
		unsigned mlen;
		int m;

		/* libjpeg skips stray bytes before a marker (with a warning),
		 * and any number of 0xFF fill bytes. */
		while (pos < len && buf[pos] != 0xff)
			pos++;
		while (pos < len && buf[pos] == 0xff)
			pos++;
		if (pos >= len)
			break;
		m = buf[pos++];
		if (m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd7))
			continue;
		if (m == 0xd8)
			return pfail(ctx, AUG_ECORRUPT, "%s: JPEG has two SOI markers", ctx->name);
		if (m == 0xd9 || m == 0xda) {
			*complete = true;
			break;
		}
		if (len - pos < 2)
			break;
		mlen = be16(buf + pos);
		if (mlen < 2)
			return pfail(ctx, AUG_ECORRUPT, "%s: JPEG marker 0x%02x has bogus length %u",
					 ctx->name, m, mlen);
		seg = pos + 2;
		seglen = mlen - 2;
		avail = len - seg < seglen ? len - seg : seglen;
		if (m == 0xe1 && !have_exif && avail >= 6 && memcmp(buf + seg, "Exif\0\0", 6) == 0) {
			/* The first Exif APP1 rules, as in every reader. */
			have_exif = true;
			orientation = aug__exif_orientation(buf + seg + 6, avail - 6);
			if (orientation == 0)
				orientation = 1;
		} else if (is_sof(m) && !have_sof) {
			if (avail < 6)
				break;
			have_sof = true;
			sof = m;
			precision = buf[seg];
			h = be16(buf + seg + 1);
			w = be16(buf + seg + 3);
			ncomp = buf[seg + 5];
			/* Checked here, not after the walk: the answer must not
			 * depend on how far the walk got (aug_probe_file reads a
			 * prefix first), so problems are reported in file order. */
			if (w == 0)
				return pfail(ctx, AUG_ECORRUPT, "%s: JPEG SOF gives width 0", ctx->name);
			if (h == 0)
				return pfail(ctx, AUG_EUNSUPPORTED,
					     "%s: JPEG height is 0 in SOF (given later by a DNL marker, not supported)",
					     ctx->name);
			if (ncomp != 1 && ncomp != 3 && ncomp != 4)
				return pfail(ctx, AUG_EUNSUPPORTED,
					     "%s: JPEG with %d components (only 1, 3 and 4 are supported)", ctx->name,
					     ncomp);
		}
		pos = seg + seglen;
	}
	if (!have_sof) {
		if (*complete)
			return pfail(ctx, AUG_ECORRUPT, "%s: JPEG has no SOF marker before its image data",
					 ctx->name);
		return pfail(ctx, AUG_ETRUNCATED, "%s: JPEG data ends before the SOF marker (%zu bytes)",
				 ctx->name, len);
	}
	memset(hdr, 0, sizeof(*hdr));
	hdr->format = AUG_FORMAT_JPEG;
	hdr->width = (int)w;
	hdr->height = (int)h;
	hdr->channels = ncomp;
	hdr->bit_depth = precision;
	hdr->orientation = orientation;
	hdr->interlaced = sof == 0xc2 || sof == 0xc6 || sof == 0xca || sof == 0xce;
	hdr->cmyk = ncomp == 4;
	return AUG_OK;
}

aug_status aug__probe_mem(const uint8_t *buf, size_t len, const aug__ctx *ctx,
			  aug_header *hdr, bool *complete)
{
	bool dummy;

	if (!complete)
		complete = &dummy;
	*complete = true;
	if (!buf || len == 0)
		return pfail(ctx, AUG_ETRUNCATED, "%s: empty file", ctx->name);
	switch (aug_format_detect(buf, len)) {
	case AUG_FORMAT_PNG:
		return png_probe(buf, len, ctx, hdr, complete);
	case AUG_FORMAT_JPEG:
		return jpeg_probe(buf, len, ctx, hdr, complete);
	default:
		break;
	}
	/* A prefix of a signature is a file cut short, not another format. */
	if ((len < sizeof(png_magic) && memcmp(buf, png_magic, len) == 0) ||
	    (len < 3 && buf[0] == 0xff && (len == 1 || buf[1] == 0xd8))) {
		*complete = false;
		return pfail(ctx, AUG_ETRUNCATED, "%s: file ends inside the signature (%zu bytes)",
				 ctx->name, len);
	}
	if (len >= 2)
		return pfail(ctx, AUG_EUNSUPPORTED,
				 "%s: not a PNG or JPEG file (starts with 0x%02x 0x%02x)",
				 ctx->name, buf[0], buf[1]);
	return pfail(ctx, AUG_EUNSUPPORTED, "%s: not a PNG or JPEG file (1 byte)", ctx->name);
}

aug_status aug_probe(const void *buf, size_t len, const char *name, aug_header *hdr)
{
	aug_decode_options opts;
	aug__ctx ctx = { __func__, aug__name(name), &opts, false };

	aug_decode_options_init(&opts);
	if (!hdr || (!buf && len))
		return aug__fail(AUG_EINVAL, __func__, "%s: NULL argument", ctx.name);
	return aug__probe_mem(buf, len, &ctx, hdr, NULL);
}

/* Read more of fd into *buf, to `want` bytes in all or the end of the file. */
static aug_status read_more(int fd, const char *path, uint8_t **buf, size_t *have, size_t want)
{
	uint8_t *p = realloc(*buf, want);

	if (!p)
		return aug__fail(AUG_ENOMEM, "aug_probe_file", "%s: no memory for %zu bytes", path, want);
	*buf = p;
	while (*have < want) {
		ssize_t n = read(fd, p + *have, want - *have);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return aug__fail(AUG_EIO, "aug_probe_file", "%s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		*have += (size_t)n;
	}
	return AUG_OK;
}

aug_status aug_probe_file(const char *path, aug_header *hdr)
{
	aug_decode_options opts;
	aug__ctx ctx = { __func__, path, &opts, true };
	uint8_t *buf = NULL;
	size_t have = 0, want = 4096;
	struct stat sb;
	aug_status st;
	int fd;

	aug_decode_options_init(&opts);
	if (!path || !hdr)
		return aug__fail(AUG_EINVAL, __func__, "NULL argument");
	st = aug__open_regular(path, __func__, &fd, &sb);
	if (st)
		return st;
	/* Headers are small, but a JPEG may carry 64 KiB APPn segments (ICC
	 * profiles, Photoshop data) before its SOF: read on until the walk
	 * reaches the image data or the file ends. The walks in between are
	 * quiet, so that only the final answer leaves a message. */
	for (;;) {
		bool complete = false, at_end;

		st = read_more(fd, path, &buf, &have, want);
		if (st)
			goto out;
		at_end = have < want;
		st = aug__probe_mem(buf, have, &ctx, hdr, &complete);
		if ((st == AUG_OK && complete) || at_end || (st != AUG_OK && st != AUG_ETRUNCATED))
			break;
		if (want > ((size_t)1 << 30)) {
			st = aug__fail(AUG_ELIMIT, __func__, "%s: header longer than 1 GiB", path);
			goto out;
		}
		want *= 4;
	}
	if (st) {
		ctx.quiet = false;
		st = aug__probe_mem(buf, have, &ctx, hdr, NULL);
	}
out:
	free(buf);
	close(fd);
	return st;
}
