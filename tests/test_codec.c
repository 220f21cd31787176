/* Codec: formats, header probes, EXIF, JPEG decoding against djpeg, EXIF
 * orientation, bad input, encoders and round trips.
 *
 * Oracles: the JPEG references under tests/fixtures/codec/ were written by
 * libjpeg-turbo's djpeg and by PIL (tests/gen/make-codec-fixtures.sh); PNG
 * expectations are computed here from pixel values this file chose
 * (test_codec_png.c); encoded files are read back by djpeg and by libpng's
 * own simplified reader, not only by the code under test.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "augment.h"
#include "codec/internal.h"
#include "support.h"

#define FIX "tests/fixtures/codec/"

/* ---- helpers ---- */

static uint8_t *load(const char *rel, size_t *len)
{
	uint8_t *b = slurp(src_path(rel), len);

	cr_assert_not_null(b, "cannot read %s", rel);
	return b;
}

/* A PPM (P6) or PGM (P5) with maxval 255, as djpeg and PIL write them. */
static aug_image *load_pnm_path(const char *path)
{
	size_t len, pos = 0;
	uint8_t *b = slurp(path, &len);
	int field[3], kind;
	aug_image *img = NULL;

	cr_assert_not_null(b, "cannot read %s", path);
	cr_assert(len > 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6'), "%s is not P5/P6", path);
	kind = b[1] - '0';
	pos = 2;
	for (int i = 0; i < 3; i++) {
		while (pos < len && (b[pos] == ' ' || b[pos] == '\n' || b[pos] == '\r' || b[pos] == '\t'))
			pos++;
		field[i] = 0;
		while (pos < len && b[pos] >= '0' && b[pos] <= '9')
			field[i] = field[i] * 10 + (b[pos++] - '0');
	}
	pos++; /* the single whitespace after maxval */
	cr_assert_eq(field[2], 255, "%s: maxval %d", path, field[2]);
	cr_assert_eq(aug_image_new(&img, field[0], field[1], kind == 6 ? 3 : 1), AUG_OK);
	cr_assert_eq(len - pos, img->stride * (size_t)img->height, "%s: size", path);
	memcpy(img->data, b + pos, len - pos);
	free(b);
	return img;
}

static aug_image *load_pnm(const char *rel)
{
	return load_pnm_path(src_path(rel));
}

/* Equal size, channels and pixels (strides may differ). */
static void assert_same(const aug_image *got, const aug_image *want, const char *what)
{
	cr_assert_eq(got->width, want->width, "%s: width %d, want %d", what, got->width, want->width);
	cr_assert_eq(got->height, want->height, "%s: height %d, want %d", what, got->height, want->height);
	cr_assert_eq(got->channels, want->channels, "%s: channels %d, want %d", what, got->channels,
		     want->channels);
	for (int y = 0; y < got->height; y++) {
		const uint8_t *g = aug_image_row(got, y), *w = aug_image_row(want, y);

		for (int x = 0; x < got->width * got->channels; x++)
			cr_assert_eq(g[x], w[x], "%s: pixel (%d, %d) channel %d is %d, want %d", what,
				     x / got->channels, y, x % got->channels, g[x], w[x]);
	}
}

static aug_image *decode_ok(const uint8_t *buf, size_t len, const char *name, const aug_decode_options *o)
{
	aug_image *img = NULL;
	aug_status st = aug_decode(buf, len, name, o, &img);

	cr_assert_eq(st, AUG_OK, "%s: %s", name, aug_error_message());
	cr_assert_not_null(img);
	return img;
}

static aug_image *decode_fixture(const char *rel, const aug_decode_options *o)
{
	size_t len;
	uint8_t *b = load(rel, &len);
	aug_image *img = decode_ok(b, len, rel, o);

	free(b);
	return img;
}

static void assert_message_names(const char *msg, const char *name)
{
	cr_assert(msg[0] != '\0', "empty message");
	cr_assert_not_null(strstr(msg, name), "message does not name %s: %s", name, msg);
}

/* A JPEG with an APP1 Exif segment giving `orientation` inserted after SOI. */
static uint8_t *with_orientation(const uint8_t *jpg, size_t len, int orientation, bool big, size_t *out_len)
{
	uint8_t tiff[26];
	size_t seg = 2 + 2 + 6 + sizeof(tiff);
	uint8_t *o = malloc(len + seg), *p;
	uint8_t *t = tiff;

#define P16(v) do { if (big) { *t++ = (uint8_t)((v) >> 8); *t++ = (uint8_t)(v); } \
		    else { *t++ = (uint8_t)(v); *t++ = (uint8_t)((v) >> 8); } } while (0)
#define P32(v) do { if (big) { P16((v) >> 16); P16((v) & 0xffff); } \
		    else { P16((v) & 0xffff); P16((v) >> 16); } } while (0)
	*t++ = big ? 'M' : 'I';
	*t++ = big ? 'M' : 'I';
	P16(42);
	P32(8);
	P16(1);
	P16(0x0112);
	P16(3);
	P32(1);
	P16(orientation);
	P16(0);
	P32(0);
#undef P16
#undef P32
	cr_assert_eq((size_t)(t - tiff), sizeof(tiff));
	memcpy(o, jpg, 2);
	p = o + 2;
	*p++ = 0xff;
	*p++ = 0xe1;
	*p++ = (uint8_t)((seg - 2) >> 8);
	*p++ = (uint8_t)(seg - 2);
	memcpy(p, "Exif\0\0", 6);
	memcpy(p + 6, tiff, sizeof(tiff));
	memcpy(o + 2 + seg, jpg + 2, len - 2);
	*out_len = len + seg;
	return o;
}

static const char *jpeg_kinds[] = { "b420", "b444", "b422", "prog", "prog444", "arith", "restart", "cmyk", "ycck" };

/* ---- formats ---- */

CTest(format, detected_by_magic_bytes_only)
{
	static const uint8_t png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	static const uint8_t jpg[3] = { 0xff, 0xd8, 0xff };

	cr_assert_eq(aug_format_detect(png, 8), AUG_FORMAT_PNG);
	cr_assert_eq(aug_format_detect(png, 7), AUG_FORMAT_UNKNOWN);
	cr_assert_eq(aug_format_detect(jpg, 3), AUG_FORMAT_JPEG);
	cr_assert_eq(aug_format_detect(jpg, 2), AUG_FORMAT_UNKNOWN);
	cr_assert_eq(aug_format_detect("GIF89a", 6), AUG_FORMAT_UNKNOWN);
	cr_assert_eq(aug_format_detect(NULL, 10), AUG_FORMAT_UNKNOWN);
	cr_assert_str_eq(aug_format_name(AUG_FORMAT_PNG), "png");
	cr_assert_str_eq(aug_format_name(AUG_FORMAT_JPEG), "jpeg");
	cr_assert_str_eq(aug_format_name((aug_format)77), "unknown");
}

CTest(format, from_path_is_for_encoders)
{
	cr_assert_eq(aug_format_from_path("a/b.png"), AUG_FORMAT_PNG);
	cr_assert_eq(aug_format_from_path("B.PNG"), AUG_FORMAT_PNG);
	cr_assert_eq(aug_format_from_path("x.jpg"), AUG_FORMAT_JPEG);
	cr_assert_eq(aug_format_from_path("x.JPeG"), AUG_FORMAT_JPEG);
	cr_assert_eq(aug_format_from_path("x.jpg.txt"), AUG_FORMAT_UNKNOWN);
	cr_assert_eq(aug_format_from_path("dir.png/file"), AUG_FORMAT_UNKNOWN);
	cr_assert_eq(aug_format_from_path("noext"), AUG_FORMAT_UNKNOWN);
	cr_assert_eq(aug_format_from_path(NULL), AUG_FORMAT_UNKNOWN);
}

CTest(format, a_png_named_jpg_decodes_as_png)
{
	size_t len;
	uint8_t *b = load(FIX "rgb.png", &len);
	aug_image *img = decode_ok(b, len, "misnamed.jpg", NULL);
	aug_header h;

	cr_assert_eq(aug_probe(b, len, "misnamed.jpg", &h), AUG_OK);
	cr_assert_eq(h.format, AUG_FORMAT_PNG);
	cr_assert_eq(img->width, 67);
	aug_image_free(img);
	free(b);
}

CTest(options, defaults_are_as_documented)
{
	aug_decode_options d;
	aug_encode_options e;

	memset(&d, 0xab, sizeof(d));
	aug_decode_options_init(&d);
	cr_assert_eq(d.channels, AUG_CHANNELS_STORED);
	cr_assert_eq(d.max_pixels, AUG_DEFAULT_MAX_PIXELS);
	cr_assert_not(d.ignore_orientation);
	cr_assert_not(d.strict);
	cr_assert(d.background[0] == 255 && d.background[1] == 255 && d.background[2] == 255);
	aug_encode_options_init(&e);
	cr_assert_eq(e.format, AUG_FORMAT_UNKNOWN);
	cr_assert_eq(e.quality, 90);
	cr_assert_not(e.chroma_444);
	cr_assert_eq(e.png_level, 6);
}

/* ---- EXIF ---- */

/* A TIFF header + IFD0 with n entries; the orientation entry is last. */
static size_t make_tiff(uint8_t *t, bool big, int entries, unsigned type, unsigned value)
{
	size_t n = 0;

#define W16(v) do { unsigned v_ = (v); if (big) { t[n++] = (uint8_t)(v_ >> 8); t[n++] = (uint8_t)v_; } \
		    else { t[n++] = (uint8_t)v_; t[n++] = (uint8_t)(v_ >> 8); } } while (0)
#define W32(v) do { uint32_t w_ = (v); if (big) { W16(w_ >> 16); W16(w_ & 0xffff); } \
		    else { W16(w_ & 0xffff); W16(w_ >> 16); } } while (0)
	t[n++] = big ? 'M' : 'I';
	t[n++] = big ? 'M' : 'I';
	W16(42);
	W32(8);
	W16((unsigned)entries);
	for (int i = 0; i < entries - 1; i++) {
		W16(0x0100 + i);
		W16(3);
		W32(1);
		W16(77);
		W16(0);
	}
	W16(0x0112);
	W16(type);
	W32(1);
	if (type == 4) {
		W32(value);
	} else {
		W16(value);
		W16(0);
	}
	W32(0);
#undef W16
#undef W32
	return n;
}

CTest(exif, orientation_in_both_byte_orders)
{
	uint8_t t[256];

	for (int big = 0; big <= 1; big++) {
		for (unsigned o = 1; o <= 8; o++) {
			size_t n = make_tiff(t, big, 3, 3, o);

			cr_assert_eq(aug__exif_orientation(t, n), (int)o, "big=%d o=%u", big, o);
		}
		/* LONG instead of SHORT is accepted; other types and values are not. */
		cr_assert_eq(aug__exif_orientation(t, make_tiff(t, big, 1, 4, 6)), 6);
		cr_assert_eq(aug__exif_orientation(t, make_tiff(t, big, 1, 2, 6)), 0);
		cr_assert_eq(aug__exif_orientation(t, make_tiff(t, big, 1, 3, 0)), 0);
		cr_assert_eq(aug__exif_orientation(t, make_tiff(t, big, 1, 3, 9)), 0);
	}
}

CTest(exif, every_truncation_and_bad_offset_is_safe)
{
	uint8_t t[256];
	size_t n = make_tiff(t, true, 4, 3, 6);

	/* Cut anywhere before the orientation entry ends: no value, no read
	 * beyond the end (ASan watches the heap copy). */
	for (size_t cut = 0; cut <= n; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);
		int o;

		memcpy(c, t, cut);
		o = aug__exif_orientation(c, cut);
		if (cut >= 8 + 2 + 4 * 12)
			cr_assert_eq(o, 6, "cut %zu", cut);
		else
			cr_assert_eq(o, 0, "cut %zu", cut);
		free(c);
	}
	/* IFD offset beyond the data, into the header, or near 4 GiB. */
	t[4] = 0, t[5] = 0, t[6] = 0x10, t[7] = 0;
	cr_assert_eq(aug__exif_orientation(t, n), 0);
	t[4] = 0, t[5] = 0, t[6] = 0, t[7] = 4;
	cr_assert_eq(aug__exif_orientation(t, n), 0);
	t[4] = 0xff, t[5] = 0xff, t[6] = 0xff, t[7] = 0xf0;
	cr_assert_eq(aug__exif_orientation(t, n), 0);
	/* An entry count far larger than the data: the entries that are
	 * there are read, the walk stops at the end. */
	n = make_tiff(t, false, 3, 3, 3);
	t[8] = 0xff, t[9] = 0xff;
	cr_assert_eq(aug__exif_orientation(t, n), 3);
	t[8 + 2 + 2 * 12] = 0x13; /* the orientation tag becomes 0x0113 */
	cr_assert_eq(aug__exif_orientation(t, n), 0);
	/* Wrong byte-order mark or magic. */
	n = make_tiff(t, false, 1, 3, 3);
	t[0] = 'X';
	cr_assert_eq(aug__exif_orientation(t, n), 0);
	n = make_tiff(t, false, 1, 3, 3);
	t[2] = 43;
	cr_assert_eq(aug__exif_orientation(t, n), 0);
	cr_assert_eq(aug__exif_orientation(NULL, 100), 0);
}

/* ---- probe ---- */

static aug_header probe_fixture(const char *rel)
{
	size_t len;
	uint8_t *b = load(rel, &len);
	aug_header h, hf;

	memset(&h, 0, sizeof(h));
	cr_assert_eq(aug_probe(b, len, rel, &h), AUG_OK, "%s: %s", rel, aug_error_message());
	cr_assert_eq(aug_probe_file(src_path(rel), &hf), AUG_OK, "%s: %s", rel, aug_error_message());
	cr_assert_eq(memcmp(&h, &hf, sizeof(h)), 0, "%s: probe and probe_file differ", rel);
	free(b);
	return h;
}

CTest(probe, jpeg_fixtures)
{
	aug_header h = probe_fixture(FIX "b420.jpg");

	cr_assert_eq(h.format, AUG_FORMAT_JPEG);
	cr_assert(h.width == 141 && h.height == 93 && h.channels == 3 && h.bit_depth == 8);
	cr_assert(h.orientation == 1 && !h.has_alpha && !h.palette && !h.interlaced && !h.cmyk);
	h = probe_fixture(FIX "prog.jpg");
	cr_assert(h.interlaced);
	h = probe_fixture(FIX "grey.jpg");
	cr_assert_eq(h.channels, 1);
	h = probe_fixture(FIX "cmyk.jpg");
	cr_assert(h.channels == 4 && h.cmyk);
	h = probe_fixture(FIX "ycck.jpg");
	cr_assert(h.channels == 4 && h.cmyk);
	h = probe_fixture(FIX "p12.jpg");
	cr_assert_eq(h.bit_depth, 12);
	for (int o = 1; o <= 8; o++) {
		char rel[64];
		int dw, dh;

		snprintf(rel, sizeof(rel), FIX "orient-%d.jpg", o);
		h = probe_fixture(rel);
		cr_assert_eq(h.orientation, o);
		cr_assert(h.width == 45 && h.height == 29);
		aug_header_display_size(&h, &dw, &dh);
		cr_assert_eq(dw, o >= 5 ? 29 : 45, "orientation %d", o);
		cr_assert_eq(dh, o >= 5 ? 45 : 29, "orientation %d", o);
	}
	h = probe_fixture("samples/images/space/hubble_deep_field.jpg");
	cr_assert(h.width == 1000 && h.height == 872 && h.orientation == 1);
}

CTest(probe, png_samples)
{
	aug_header h = probe_fixture("samples/edge/foo3x5x4indexed.png");

	cr_assert_eq(h.format, AUG_FORMAT_PNG);
	cr_assert(h.width == 5 && h.height == 3 && h.palette && h.has_alpha && h.channels == 4);
	cr_assert(h.bit_depth == 8 && !h.interlaced);
	h = probe_fixture("samples/edge/chessboard_GRAY.png");
	cr_assert(h.channels == 1 && !h.palette && !h.has_alpha && h.width == 200);
	h = probe_fixture("samples/edge/palette_color.png");
	cr_assert(h.palette && !h.has_alpha && h.channels == 3);
	h = probe_fixture("samples/images/animal/chelsea.png");
	cr_assert(h.width == 451 && h.height == 300 && h.channels == 3 && h.bit_depth == 8);
}

/* Offset just past the SOS header of a JPEG: everything a probe may read. */
static size_t after_sos_header(const uint8_t *b, size_t len)
{
	for (size_t i = 2; i + 3 < len; i++)
		if (b[i] == 0xff && b[i + 1] == 0xda)
			return i + 2 + ((size_t)b[i + 2] << 8 | b[i + 3]);
	cr_assert_fail("no SOS");
	return 0;
}

CTest(probe, reads_only_the_header)
{
	const char *rels[] = { FIX "b420.jpg", FIX "orient-6.jpg", FIX "cmyk.jpg",
			       "samples/images/space/hubble_deep_field.jpg" };
	char *dir = make_tmpdir();
	char path[4200];

	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		size_t len;
		uint8_t *b = load(rels[i], &len);
		size_t cut = after_sos_header(b, len);
		aug_header full, part;
		aug_image *img = NULL;

		cr_assert_eq(aug_probe(b, len, rels[i], &full), AUG_OK);
		cr_assert_eq(aug_probe(b, cut, rels[i], &part), AUG_OK, "%s: %s", rels[i], aug_error_message());
		cr_assert_eq(memcmp(&full, &part, sizeof(full)), 0, "%s", rels[i]);
		snprintf(path, sizeof(path), "%s/cut.jpg", dir);
		cr_assert_eq(spit(path, b, cut), 0);
		cr_assert_eq(aug_probe_file(path, &part), AUG_OK);
		cr_assert_eq(memcmp(&full, &part, sizeof(full)), 0, "%s", rels[i]);
		/* ...while a decode of the same bytes has no image data: libjpeg
		 * fills it with grey and warns. */
		cr_assert_eq(aug_decode(b, cut, rels[i], NULL, &img), AUG_OK);
		cr_assert_not_null(strstr(aug_warning_message(), "Premature end"));
		aug_image_free(img);
		free(b);
	}
	/* A PNG cut right after IHDR (33 bytes) still probes; inside it, not. */
	{
		size_t len;
		uint8_t *b = load("samples/images/animal/chelsea.png", &len);
		aug_header h;

		cr_assert_eq(aug_probe(b, 33, "chelsea", &h), AUG_OK);
		cr_assert(h.width == 451 && h.height == 300);
		cr_assert_eq(aug_probe(b, 32, "chelsea", &h), AUG_ETRUNCATED);
		assert_message_names(aug_error_message(), "chelsea");
		free(b);
	}
	rm_rf(dir);
	free(dir);
}

CTest(probe, file_with_large_segments_before_sof)
{
	/* 300 KiB of APP2 segments before the SOF: aug_probe_file reads on
	 * past its first block until it finds the frame header. */
	size_t len, big = 0;
	uint8_t *b = load(FIX "orient-6.jpg", &len);
	uint8_t *o = malloc(len + 5 * 65537);
	char *dir = make_tmpdir();
	char path[4200];
	aug_header h;

	memcpy(o, b, 2);
	big = 2;
	for (int i = 0; i < 5; i++) {
		o[big++] = 0xff;
		o[big++] = 0xe2;
		o[big++] = 0xff;
		o[big++] = 0xff;
		memset(o + big, 'x', 65533);
		big += 65533;
	}
	memcpy(o + big, b + 2, len - 2);
	big += len - 2;
	snprintf(path, sizeof(path), "%s/big.jpg", dir);
	cr_assert_eq(spit(path, o, big), 0);
	cr_assert_eq(aug_probe_file(path, &h), AUG_OK, "%s", aug_error_message());
	cr_assert(h.width == 45 && h.height == 29 && h.orientation == 6);
	rm_rf(dir);
	free(dir);
	free(o);
	free(b);
}

/* aug_probe_file reads a 4 KiB prefix first and reads on only when the
 * walk needs more: its answer must be aug_probe's on the whole file. Found
 * by fuzz_probe: a SOF with 100 components, then (beyond the prefix) a
 * second SOI; the whole file said "two SOI markers", the prefix "100
 * components". Problems are now reported in file order. */
CTest(probe, file_and_memory_agree_on_damage_beyond_the_prefix)
{
	size_t len, n = 0, pos = 2;
	uint8_t *b = load(FIX "b420.jpg", &len);
	uint8_t *o = malloc(len + 6004 + 2);
	char *dir = make_tmpdir();
	char path[4200];
	aug_header h;
	aug_status mem, file;

	cr_assert_not_null(o);
	/* Up to the end of the SOF segment, with 100 components. */
	while (b[pos + 1] != 0xc0)
		pos += 2 + ((size_t)b[pos + 2] << 8 | b[pos + 3]);
	b[pos + 9] = 100;
	pos += 2 + ((size_t)b[pos + 2] << 8 | b[pos + 3]);
	memcpy(o, b, pos);
	n = pos;
	/* 6000 bytes of APP2, then a stray SOI, then the rest. */
	o[n++] = 0xff, o[n++] = 0xe2, o[n++] = 6002 >> 8, o[n++] = 6002 & 255;
	memset(o + n, 'x', 6000);
	n += 6000;
	o[n++] = 0xff, o[n++] = 0xd8;
	memcpy(o + n, b + pos, len - pos);
	n += len - pos;
	snprintf(path, sizeof(path), "%s/two.jpg", dir);
	cr_assert_eq(spit(path, o, n), 0);
	mem = aug_probe(o, n, "two.jpg", &h);
	file = aug_probe_file(path, &h);
	cr_assert_eq(mem, file, "aug_probe %s, aug_probe_file %s", aug_strerror(mem), aug_strerror(file));
	cr_assert_eq(mem, AUG_EUNSUPPORTED);
	cr_assert(strstr(aug_error_message(), "100 components"), "%s", aug_error_message());
	rm_rf(dir);
	free(dir);
	free(o);
	free(b);
}

CTest(probe, errors_name_the_file)
{
	aug_header h;

	cr_assert_eq(aug_probe("", 0, "empty.png", &h), AUG_ETRUNCATED);
	assert_message_names(aug_error_message(), "empty.png");
	cr_assert_eq(aug_probe("hello, world\n", 13, "text.jpg", &h), AUG_EUNSUPPORTED);
	assert_message_names(aug_error_message(), "text.jpg");
	cr_assert_not_null(strstr(aug_error_message(), "not a PNG or JPEG"));
	cr_assert_eq(aug_probe("\x89PN", 3, "cut.png", &h), AUG_ETRUNCATED);
	cr_assert_eq(aug_probe_file("/nonexistent/x.png", &h), AUG_EIO);
	assert_message_names(aug_error_message(), "/nonexistent/x.png");
	cr_assert_eq(aug_probe(NULL, 0, NULL, &h), AUG_ETRUNCATED);
	assert_message_names(aug_error_message(), "<memory>");
}

/* ---- JPEG against djpeg ---- */

CTest(jpeg, every_kind_equals_djpeg)
{
	for (size_t i = 0; i < sizeof(jpeg_kinds) / sizeof(jpeg_kinds[0]); i++) {
		char rel[128], ref[128];
		aug_image *img, *want, *fimg = NULL;

		snprintf(rel, sizeof(rel), FIX "%s.jpg", jpeg_kinds[i]);
		snprintf(ref, sizeof(ref), FIX "%s.ppm", jpeg_kinds[i]);
		img = decode_fixture(rel, NULL);
		want = load_pnm(ref);
		assert_same(img, want, rel);
		cr_assert_str_eq(aug_warning_message(), "", "%s", rel);
		cr_assert_eq(aug_decode_file(src_path(rel), NULL, &fimg), AUG_OK);
		assert_same(fimg, want, rel);
		aug_image_free(fimg);
		aug_image_free(img);
		aug_image_free(want);
	}
}

CTest(jpeg, grey_and_channel_requests)
{
	aug_decode_options o;
	aug_image *img, *want, *rgb;

	/* A grey JPEG decodes to one channel as stored... */
	img = decode_fixture(FIX "grey.jpg", NULL);
	want = load_pnm(FIX "grey.pgm");
	assert_same(img, want, "grey");
	aug_image_free(img);
	/* ...and replicated into three when RGB is asked for. */
	aug_decode_options_init(&o);
	o.channels = AUG_CHANNELS_RGB;
	rgb = decode_fixture(FIX "grey.jpg", &o);
	cr_assert_eq(rgb->channels, 3);
	for (int y = 0; y < want->height; y++)
		for (int x = 0; x < want->width; x++)
			for (int c = 0; c < 3; c++)
				cr_assert_eq(aug_image_row(rgb, y)[3 * x + c], aug_image_row(want, y)[x]);
	aug_image_free(rgb);
	aug_image_free(want);
	/* Grey from a colour JPEG is its Y plane, as djpeg -grayscale. */
	o.channels = AUG_CHANNELS_GREY;
	img = decode_fixture(FIX "b420.jpg", &o);
	want = load_pnm(FIX "b420-grey.pgm");
	assert_same(img, want, "b420 grey");
	aug_image_free(img);
	aug_image_free(want);
	/* Grey from CMYK: the BT.601 luma of djpeg's RGB. */
	img = decode_fixture(FIX "cmyk.jpg", &o);
	rgb = load_pnm(FIX "cmyk.ppm");
	cr_assert_eq(img->channels, 1);
	for (int y = 0; y < rgb->height; y++) {
		for (int x = 0; x < rgb->width; x++) {
			const uint8_t *p = aug_image_row(rgb, y) + 3 * x;
			unsigned l = (19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16;

			cr_assert_eq(aug_image_row(img, y)[x], l);
		}
	}
	aug_image_free(img);
	aug_image_free(rgb);
}

CTest(jpeg, cmyk_formula_is_round_c_times_k)
{
	/* The formula in convert.c, pinned on every (C, K) pair against a
	 * double-precision reference; djpeg's own output is checked above. */
	aug__rowfmt f = { 4, 8, true };
	uint8_t bg[3] = { 255, 255, 255 };

	for (unsigned c = 0; c < 256; c++) {
		for (unsigned k = 0; k < 256; k++) {
			uint8_t in[4] = { (uint8_t)c, (uint8_t)(255 - c), (uint8_t)(c / 2), (uint8_t)k }, out[3];

			aug__convert_row(in, f, 1, out, 3, bg);
			cr_assert_eq(out[0], (unsigned)floor(c * (double)k / 255.0 + 0.5));
			cr_assert_eq(out[1], (unsigned)floor((255 - c) * (double)k / 255.0 + 0.5));
			cr_assert_eq(out[2], (unsigned)floor((c / 2) * (double)k / 255.0 + 0.5));
		}
	}
}

CTest(jpeg, twelve_bit_is_unsupported)
{
	size_t len;
	uint8_t *b = load(FIX "p12.jpg", &len);
	aug_image *img = NULL;
	aug_decoder *dec;
	const aug_image *dimg;
	aug_rect r = { 0, 0, 10, 10 };

	cr_assert_eq(aug_decode(b, len, "p12.jpg", NULL, &img), AUG_EUNSUPPORTED);
	cr_assert_null(img);
	assert_message_names(aug_error_message(), "p12.jpg");
	cr_assert_not_null(strstr(aug_error_message(), "12-bit"), "%s", aug_error_message());
	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	cr_assert_eq(aug_decoder_decode_region(dec, b, len, "p12.jpg", NULL, r, 2, &dimg, NULL),
		     AUG_EUNSUPPORTED);
	aug_decoder_free(dec);
	free(b);
}

CTest(jpeg, truncated_scan_decodes_with_a_warning)
{
	size_t len;
	uint8_t *b = load(FIX "trunc-scan.jpg", &len);
	aug_image *img = NULL, *want = load_pnm(FIX "trunc-scan.ppm");
	aug_decode_options o;

	/* libjpeg's partial image, grey-filled, exactly as djpeg writes it. */
	img = decode_ok(b, len, "trunc-scan.jpg", NULL);
	assert_same(img, want, "trunc-scan");
	assert_message_names(aug_warning_message(), "trunc-scan.jpg");
	cr_assert_not_null(strstr(aug_warning_message(), "Premature end"), "%s", aug_warning_message());
	aug_image_free(img);
	img = NULL;
	/* Strict: the warning is an error. */
	aug_decode_options_init(&o);
	o.strict = true;
	cr_assert_eq(aug_decode(b, len, "trunc-scan.jpg", &o, &img), AUG_EWARNING);
	cr_assert_null(img);
	assert_message_names(aug_error_message(), "trunc-scan.jpg");
	cr_assert_not_null(strstr(aug_error_message(), "Premature end"));
	/* A region above the cut needs no missing data: no warning. */
	{
		aug_rect r = { 0, 0, 141, 8 };
		aug_region got;

		cr_assert_eq(aug_decode_region(b, len, "trunc-scan.jpg", &o, r, 1, &img, &got), AUG_OK);
		cr_assert_str_eq(aug_warning_message(), "");
		aug_image_free(img);
	}
	aug_image_free(want);
	free(b);
}

CTest(jpeg, sample_truncated_inside_its_header)
{
	/* samples/edge/truncated.jpg ends inside its DHT segment, before any
	 * image data: libjpeg (and djpeg) give up after the premature-end
	 * warning. The error names the file; the warning is reported too. */
	const char *rel = "samples/edge/truncated.jpg";
	aug_image *img = NULL;
	aug_decode_options o;

	cr_assert_eq(aug_decode_file(src_path(rel), NULL, &img), AUG_ETRUNCATED);
	cr_assert_null(img);
	assert_message_names(aug_error_message(), "truncated.jpg");
	cr_assert_not_null(strstr(aug_error_message(), "ends early"), "%s", aug_error_message());
	cr_assert_not_null(strstr(aug_warning_message(), "Premature end"), "%s", aug_warning_message());
	aug_decode_options_init(&o);
	o.strict = true;
	cr_assert_eq(aug_decode_file(src_path(rel), &o, &img), AUG_EWARNING);
	assert_message_names(aug_error_message(), "truncated.jpg");
}

CTest(jpeg, exif_orientation_applied_by_default)
{
	aug_decode_options o;
	aug_image *plain = load_pnm(FIX "orient-1.ppm");

	aug_decode_options_init(&o);
	for (int i = 1; i <= 8; i++) {
		char rel[64], ref[64];
		aug_image *img, *want, *raw;

		snprintf(rel, sizeof(rel), FIX "orient-%d.jpg", i);
		snprintf(ref, sizeof(ref), FIX "orient-%d.ppm", i);
		o.ignore_orientation = false;
		img = decode_fixture(rel, &o);
		want = load_pnm(ref);
		assert_same(img, want, rel);
		o.ignore_orientation = true;
		raw = decode_fixture(rel, &o);
		assert_same(raw, plain, rel);
		aug_image_free(img);
		aug_image_free(want);
		aug_image_free(raw);
	}
	aug_image_free(plain);
}

CTest(jpeg, orientation_both_byte_orders_on_grey)
{
	size_t len;
	uint8_t *b = load(FIX "grey.jpg", &len);
	aug_image *base = decode_ok(b, len, "grey", NULL);

	for (int o = 1; o <= 8; o++) {
		for (int big = 0; big <= 1; big++) {
			size_t n;
			uint8_t *r = with_orientation(b, len, o, big, &n);
			aug_image *img = decode_ok(r, n, "rotated", NULL);

			cr_assert_eq(img->width, o >= 5 ? base->height : base->width);
			/* Every displayed pixel from the stored one the EXIF
			 * table names (written out here independently). */
			for (int y = 0; y < img->height; y++) {
				for (int x = 0; x < img->width; x++) {
					int W = base->width, H = base->height, sx, sy;

					switch (o) {
					case 1: sx = x, sy = y; break;
					case 2: sx = W - 1 - x, sy = y; break;
					case 3: sx = W - 1 - x, sy = H - 1 - y; break;
					case 4: sx = x, sy = H - 1 - y; break;
					case 5: sx = y, sy = x; break;
					case 6: sx = y, sy = H - 1 - x; break;
					case 7: sx = W - 1 - y, sy = H - 1 - x; break;
					default: sx = W - 1 - y, sy = x; break;
					}
					cr_assert_eq(aug_image_row(img, y)[x], aug_image_row(base, sy)[sx],
						     "o=%d big=%d (%d,%d)", o, big, x, y);
				}
			}
			aug_image_free(img);
			free(r);
		}
	}
	aug_image_free(base);
	free(b);
}

CTest(jpeg, too_many_scans_is_a_limit)
{
	/* A progressive file whose last scan is repeated 600 times: libjpeg
	 * warns about the bogus progression but would go on; the decoder
	 * stops at 500 scans as TurboJPEG does. */
	size_t len, sos = 0, eoi, n;
	uint8_t *b = load(FIX "prog.jpg", &len);
	uint8_t *o;
	aug_image *img = NULL;

	for (size_t i = 2; i + 1 < len; i++)
		if (b[i] == 0xff && b[i + 1] == 0xda)
			sos = i;
	eoi = len - 2;
	cr_assert(sos > 0 && b[eoi] == 0xff && b[eoi + 1] == 0xd9);
	o = malloc(sos + 600 * (eoi - sos) + 2);
	memcpy(o, b, sos);
	n = sos;
	for (int i = 0; i < 600; i++) {
		memcpy(o + n, b + sos, eoi - sos);
		n += eoi - sos;
	}
	o[n++] = 0xff;
	o[n++] = 0xd9;
	cr_assert_eq(aug_decode(o, n, "scans.jpg", NULL, &img), AUG_ELIMIT, "%s", aug_error_message());
	assert_message_names(aug_error_message(), "scans.jpg");
	cr_assert_not_null(strstr(aug_error_message(), "500 scans"));
	free(o);
	free(b);
}

/* ---- every sample ---- */

static void decode_sample(const char *rel)
{
	aug_header h;
	aug_decode_options o;
	aug_image *img;
	int dw, dh;

	cr_assert_eq(aug_probe_file(src_path(rel), &h), AUG_OK, "%s: %s", rel, aug_error_message());
	aug_header_display_size(&h, &dw, &dh);
	aug_decode_options_init(&o);
	for (int c = 0; c <= 3; c += c == 0 ? 1 : 2) {
		o.channels = (aug_channels)c;
		img = NULL;
		cr_assert_eq(aug_decode_file(src_path(rel), &o, &img), AUG_OK, "%s: %s", rel, aug_error_message());
		cr_assert_eq(img->width, dw, "%s", rel);
		cr_assert_eq(img->height, dh, "%s", rel);
		if (c == 0)
			cr_assert_eq(img->channels, (h.channels <= 2 && !h.palette) ? 1 : 3, "%s", rel);
		else
			cr_assert_eq(img->channels, c, "%s", rel);
		cr_assert_eq(img->stride, (size_t)img->width * (size_t)img->channels);
		aug_image_free(img);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file under samples/images/<class>/ and samples/edge/, as paths
 * relative to the source root, sorted. Caller frees each and the array. */
static size_t list_samples(char ***out)
{
	char cmd[4300], *listing = NULL, *line, *save = NULL;
	char **v = NULL;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "cd '%s' && find samples/images samples/edge -type f ! -name '*.md'",
		 src_path(""));
	cr_assert_eq(run_capture(cmd, &listing), 0);
	for (line = strtok_r(listing, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(line);
	}
	free(listing);
	qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

CTest(samples, every_image_decodes_at_its_size)
{
	char **rels;
	size_t n = list_samples(&rels);

	cr_assert_geq(n, 10u, "only %zu samples found", n);
	for (size_t i = 0; i < n; i++) {
		if (strstr(rels[i], "truncated.jpg")) {
			/* Cut inside its header: see jpeg::sample_truncated_inside_its_header. */
			aug_image *img = NULL;

			cr_assert_eq(aug_decode_file(src_path(rels[i]), NULL, &img), AUG_ETRUNCATED);
			cr_assert_neq(aug_warning_message()[0], '\0');
			continue;
		}
		decode_sample(rels[i]);
	}
	free_list(rels, n);
}

CTest(samples, sample_jpegs_equal_djpeg)
{
	/* Not committed references: djpeg is run here on the samples. */
	const char *rels[] = { "samples/images/space/hubble_deep_field.jpg", "samples/images/space/rocket.jpg" };
	char *dir = make_tmpdir();

	for (size_t i = 0; i < 2; i++) {
		char cmd[8400], out[4200];
		aug_image *img = NULL, *want;

		snprintf(out, sizeof(out), "%s/ref.ppm", dir);
		snprintf(cmd, sizeof(cmd), "djpeg -pnm '%s' > '%s'", src_path(rels[i]), out);
		if (run_capture("command -v djpeg", NULL) != 0)
			cr_skip_test("djpeg is not installed");
		cr_assert_eq(run_capture(cmd, NULL), 0);
		want = load_pnm_path(out);
		cr_assert_eq(aug_decode_file(src_path(rels[i]), NULL, &img), AUG_OK);
		assert_same(img, want, rels[i]);
		aug_image_free(img);
		aug_image_free(want);
	}
	rm_rf(dir);
	free(dir);
}

/* ---- bad input ---- */

static bool is_failure(aug_status st)
{
	return st == AUG_ETRUNCATED || st == AUG_ECORRUPT || st == AUG_EUNSUPPORTED || st == AUG_ELIMIT;
}

/* Offset just past the data of the last IDAT chunk. */
static size_t png_data_end(const uint8_t *b, size_t len)
{
	size_t pos = 8, end = 0;

	while (pos + 8 <= len) {
		size_t clen = (size_t)b[pos] << 24 | (size_t)b[pos + 1] << 16 | (size_t)b[pos + 2] << 8 | b[pos + 3];

		if (memcmp(b + pos + 4, "IDAT", 4) == 0)
			end = pos + 8 + clen;
		pos += 12 + clen;
	}
	return end;
}

CTest(bad, every_file_cut_at_ten_points)
{
	static const char *fixtures[] = {
		FIX "b420.jpg", FIX "prog.jpg", FIX "arith.jpg", FIX "restart.jpg", FIX "cmyk.jpg",
		FIX "orient-6.jpg", FIX "rgb.png",
	};
	char **rels;
	size_t nsamples = list_samples(&rels), count;
	aug_decode_options strict;

	/* Every sample, and the fixtures of the other kinds. */
	count = nsamples + sizeof(fixtures) / sizeof(fixtures[0]);
	rels = realloc(rels, count * sizeof(*rels));
	for (size_t i = nsamples; i < count; i++)
		rels[i] = strdup(fixtures[i - nsamples]);
	aug_decode_options_init(&strict);
	strict.strict = true;
	for (size_t i = 0; i < count; i++) {
		size_t len;
		uint8_t *b = load(rels[i], &len);
		bool png = aug_format_detect(b, len) == AUG_FORMAT_PNG;

		for (int k = 0; k < 10; k++) {
			size_t cut = len * (size_t)k / 10;
			/* A heap copy of exactly `cut` bytes: ASan sees any over-read. */
			uint8_t *c = malloc(cut ? cut : 1);
			aug_image *img = NULL;
			aug_region got;
			aug_rect r = { 3, 2, 40, 30 };
			aug_status st;

			memcpy(c, b, cut);
			st = aug_decode(c, cut, rels[i], NULL, &img);
			if (png && cut >= png_data_end(b, len)) {
				/* Only the CRC and IEND are missing: every row is there. */
				cr_assert_eq(st, AUG_OK, "%s cut at %zu: %s", rels[i], cut, aug_error_message());
			} else if (png) {
				cr_assert_eq(st, AUG_ETRUNCATED, "%s cut at %zu: %d %s", rels[i], cut, st,
					     aug_error_message());
			} else if (st == AUG_OK) {
				cr_assert_not_null(strstr(aug_warning_message(), "Premature end"),
						   "%s cut at %zu: no warning", rels[i], cut);
				assert_message_names(aug_warning_message(), rels[i]);
			} else {
				cr_assert_eq(st, AUG_ETRUNCATED, "%s cut at %zu: %d %s", rels[i], cut, st,
					     aug_error_message());
			}
			if (st != AUG_OK) {
				cr_assert_null(img);
				assert_message_names(aug_error_message(), rels[i]);
			}
			aug_image_free(img);
			img = NULL;
			st = aug_decode(c, cut, rels[i], &strict, &img);
			if (!(png && cut >= png_data_end(b, len))) {
				cr_assert(st == AUG_ETRUNCATED || st == AUG_EWARNING, "%s cut at %zu strict: %d",
					  rels[i], cut, st);
				assert_message_names(aug_error_message(), rels[i]);
			}
			aug_image_free(img);
			img = NULL;
			st = aug_decode_region(c, cut, rels[i], NULL, r, 2, &img, &got);
			cr_assert(st == AUG_OK || is_failure(st), "%s region cut at %zu: %d", rels[i], cut, st);
			aug_image_free(img);
			free(c);
		}
		free(b);
	}
	free_list(rels, count);
}

static void corrupt_many(const char *rel, int count, uint64_t seed)
{
	size_t len;
	uint8_t *b = load(rel, &len);
	uint8_t *c = malloc(len);
	aug_rng rng = aug_rng_stream(seed, 0, 0, 0);
	aug_decode_options o;
	aug_header h;
	aug_decoder *dec;
	int ok = 0, failed = 0;

	cr_assert_eq(aug_probe(b, len, rel, &h), AUG_OK);
	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	aug_decode_options_init(&o);
	/* A corrupted SOF may claim a much larger image; keep the work small
	 * (and show the limit holds under corruption). */
	o.max_pixels = (uint64_t)h.width * (uint64_t)h.height * 4;
	for (int i = 0; i < count; i++) {
		size_t at = (size_t)aug_rng_below(&rng, len);
		uint8_t v = (uint8_t)(1 + aug_rng_below(&rng, 255));
		aug_image *img = NULL;
		const aug_image *dimg;
		aug_rect r;
		aug_region got;
		int scale = 1 << aug_rng_below(&rng, 4);
		aug_status st;

		memcpy(c, b, len);
		c[at] ^= v;
		o.strict = aug_rng_below(&rng, 4) == 0;
		st = aug_decode(c, len, rel, &o, &img);
		if (st == AUG_OK) {
			cr_assert_not_null(img);
			cr_assert(img->width > 0 && img->height > 0);
			ok++;
		} else {
			cr_assert(is_failure(st) || (o.strict && st == AUG_EWARNING),
				  "%s byte %zu ^ %u: status %d (%s)", rel, at, v, st, aug_error_message());
			cr_assert_null(img);
			assert_message_names(aug_error_message(), rel);
			failed++;
		}
		aug_image_free(img);
		/* And a region of it through a reused decoder. */
		r.x = (int)aug_rng_below(&rng, (uint64_t)h.width);
		r.y = (int)aug_rng_below(&rng, (uint64_t)h.height);
		r.width = 1 + (int)aug_rng_below(&rng, 64);
		r.height = 1 + (int)aug_rng_below(&rng, 64);
		st = aug_decoder_decode_region(dec, c, len, rel, &o, r, scale, &dimg, &got);
		if (st != AUG_OK && st != AUG_EINVAL) {
			cr_assert(is_failure(st) || (o.strict && st == AUG_EWARNING), "%s region: %d", rel, st);
			assert_message_names(aug_error_message(), rel);
		}
	}
	cr_log_info("%s: %d corruptions decoded, %d failed cleanly", rel, ok, failed);
	cr_assert_gt(failed, 0, "no corruption was detected at all");
	aug_decoder_free(dec);
	free(c);
	free(b);
}

CTest(bad, random_byte_corruptions_png)
{
	corrupt_many(FIX "rgb.png", 1000, 11);
	corrupt_many("samples/edge/foo3x5x4indexed.png", 300, 12);
}

CTest(bad, random_byte_corruptions_jpeg)
{
	corrupt_many(FIX "b420.jpg", 1000, 21);
	corrupt_many(FIX "prog.jpg", 300, 22);
	corrupt_many(FIX "arith.jpg", 200, 23);
}

CTest(bad, empty_and_text_files)
{
	char *dir = make_tmpdir();
	char empty[4200], text[4200];
	aug_image *img = NULL;
	aug_header h;

	snprintf(empty, sizeof(empty), "%s/empty.png", dir);
	snprintf(text, sizeof(text), "%s/notes.jpg", dir);
	cr_assert_eq(spit(empty, "", 0), 0);
	cr_assert_eq(spit(text, "These are not pixels.\n", 22), 0);
	cr_assert_eq(aug_decode_file(empty, NULL, &img), AUG_ETRUNCATED);
	assert_message_names(aug_error_message(), empty);
	cr_assert_not_null(strstr(aug_error_message(), "empty"));
	cr_assert_eq(aug_probe_file(empty, &h), AUG_ETRUNCATED);
	cr_assert_eq(aug_decode_file(text, NULL, &img), AUG_EUNSUPPORTED);
	assert_message_names(aug_error_message(), text);
	cr_assert_not_null(strstr(aug_error_message(), "not a PNG or JPEG"));
	cr_assert_eq(aug_probe_file(text, &h), AUG_EUNSUPPORTED);
	cr_assert_eq(aug_decode_file(dir, NULL, &img), AUG_EIO);
	cr_assert_null(img);
	rm_rf(dir);
	free(dir);
}

/* chelsea.png with IHDR claiming w x h, CRC recomputed. */
static uint8_t *png_claiming(uint32_t w, uint32_t h, size_t *len)
{
	uint8_t *b = load("samples/images/animal/chelsea.png", len);
	uLong crc;

	for (int i = 0; i < 4; i++) {
		b[16 + i] = (uint8_t)(w >> (24 - 8 * i));
		b[20 + i] = (uint8_t)(h >> (24 - 8 * i));
	}
	crc = crc32(crc32(0L, Z_NULL, 0), b + 12, 17);
	for (int i = 0; i < 4; i++)
		b[29 + i] = (uint8_t)(crc >> (24 - 8 * i));
	return b;
}

/* b420.jpg with SOF claiming w x h (16 bits each: 65535 at most). */
static uint8_t *jpeg_claiming(unsigned w, unsigned h, size_t *len)
{
	uint8_t *b = load(FIX "b420.jpg", len);

	for (size_t i = 2; i + 9 < *len; i++) {
		if (b[i] == 0xff && b[i + 1] == 0xc0) {
			b[i + 5] = (uint8_t)(h >> 8);
			b[i + 6] = (uint8_t)h;
			b[i + 7] = (uint8_t)(w >> 8);
			b[i + 8] = (uint8_t)w;
			return b;
		}
	}
	cr_assert_fail("no SOF0");
	return b;
}

CTest(limits, huge_headers_stop_at_the_limit)
{
	size_t plen, jlen;
	uint8_t *p = png_claiming(100000, 100000, &plen);
	uint8_t *j = jpeg_claiming(65535, 65535, &jlen);
	aug_image *img = NULL;
	aug_header h;
	aug_decoder *dec;
	const aug_image *dimg;
	aug_rect r = { 0, 0, 16, 16 };

	cr_assert_eq(aug_probe(p, plen, "huge.png", &h), AUG_OK);
	cr_assert(h.width == 100000 && h.height == 100000);
	cr_assert_eq(aug_decode(p, plen, "huge.png", NULL, &img), AUG_ELIMIT);
	assert_message_names(aug_error_message(), "huge.png");
	cr_assert_not_null(strstr(aug_error_message(), "over the limit"));
	cr_assert_eq(aug_probe(j, jlen, "huge.jpg", &h), AUG_OK);
	cr_assert(h.width == 65535 && h.height == 65535);
	cr_assert_eq(aug_decode(j, jlen, "huge.jpg", NULL, &img), AUG_ELIMIT);
	assert_message_names(aug_error_message(), "huge.jpg");
	/* Even a tiny region of an over-limit image is refused. */
	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	cr_assert_eq(aug_decoder_decode_region(dec, j, jlen, "huge.jpg", NULL, r, 8, &dimg, NULL), AUG_ELIMIT);
	cr_assert_eq(aug_decoder_decode_region(dec, p, plen, "huge.png", NULL, r, 1, &dimg, NULL), AUG_ELIMIT);
	aug_decoder_free(dec);
	free(p);
	free(j);
}

CTest(limits, max_pixels_is_inclusive)
{
	aug_decode_options o;
	aug_image *img = NULL;
	size_t len;
	uint8_t *b = load(FIX "b420.jpg", &len);
	uint8_t *p;

	aug_decode_options_init(&o);
	o.max_pixels = 141 * 93;
	img = decode_ok(b, len, "b420", &o);
	aug_image_free(img);
	img = NULL;
	o.max_pixels = 141 * 93 - 1;
	cr_assert_eq(aug_decode(b, len, "b420.jpg", &o, &img), AUG_ELIMIT);
	cr_assert_null(img);
	assert_message_names(aug_error_message(), "b420.jpg");
	free(b);
	/* Refused from the header, before libjpeg reads any image data: the
	 * truncated file's premature-end warning never comes. */
	b = load(FIX "trunc-scan.jpg", &len);
	cr_assert_eq(aug_decode(b, len, "trunc-scan.jpg", &o, &img), AUG_ELIMIT);
	cr_assert_str_eq(aug_warning_message(), "");
	free(b);
	p = load("samples/edge/palette_color.png", &len);
	o.max_pixels = 100;
	img = decode_ok(p, len, "palette", &o);
	aug_image_free(img);
	img = NULL;
	o.max_pixels = 99;
	cr_assert_eq(aug_decode(p, len, "palette_color.png", &o, &img), AUG_ELIMIT);
	free(p);
}

static size_t vm_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;

	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* In a child with little address space left: the limit answers before
 * any allocation, and with no limit the failed allocation is a clean
 * AUG_ENOMEM, not a crash. */
static int child_status(const uint8_t *buf, size_t len, uint64_t max_pixels)
{
	pid_t pid = fork();
	int ws;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit rl;
		aug_decode_options o;
		aug_image *img = NULL;
		aug_status st;

		rl.rlim_cur = rl.rlim_max = vm_bytes() + ((size_t)256 << 20);
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(100);
		aug_decode_options_init(&o);
		o.max_pixels = max_pixels;
		st = aug_decode(buf, len, "huge", &o, &img);
		aug_image_free(img);
		_exit((int)st);
	}
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFEXITED(ws), "child died (signal %d)", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	return WEXITSTATUS(ws);
}

CTest(limits, no_allocation_beyond_the_limit)
{
	size_t plen, jlen;
	uint8_t *p, *j;

	if (UNDER_ASAN)
		cr_skip_test("AddressSanitizer reserves more address space than RLIMIT_AS allows");
	p = png_claiming(100000, 100000, &plen);
	/* 65500 a side is libjpeg's own maximum. */
	j = jpeg_claiming(65500, 65500, &jlen);
	cr_assert_eq(child_status(p, plen, AUG_DEFAULT_MAX_PIXELS), AUG_ELIMIT);
	cr_assert_eq(child_status(j, jlen, AUG_DEFAULT_MAX_PIXELS), AUG_ELIMIT);
	cr_assert_eq(child_status(p, plen, UINT64_MAX), AUG_ENOMEM);
	cr_assert_eq(child_status(j, jlen, UINT64_MAX), AUG_ENOMEM);
	free(p);
	free(j);
}

/* ---- decoder reuse ---- */

CTest(decoder, reuse_across_formats_and_sizes)
{
	const char *rels[] = {
		"samples/images/space/hubble_deep_field.jpg", FIX "b420.jpg", "samples/images/animal/chelsea.png",
		FIX "grey.jpg", FIX "orient-7.jpg", FIX "cmyk.jpg", "samples/edge/foo3x5x4indexed.png",
		FIX "prog.jpg", "samples/images/space/rocket.jpg", FIX "b420.jpg",
	};
	aug_decoder *dec = NULL;
	aug_rect all = { -5, -5, 1 << 20, 1 << 20 };
	const uint8_t *first = NULL;

	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
			size_t len;
			uint8_t *b = load(rels[i], &len);
			aug_image *want = decode_ok(b, len, rels[i], NULL);
			const aug_image *got = NULL;
			aug_region reg;

			cr_assert_eq(aug_decoder_decode_region(dec, b, len, rels[i], NULL, all, 1, &got, &reg),
				     AUG_OK, "%s", aug_error_message());
			cr_assert(reg.rect.x == 0 && reg.rect.y == 0 && reg.scale == 1);
			cr_assert(reg.rect.width == want->width && reg.rect.height == want->height);
			assert_same(got, want, rels[i]);
			/* The first image is the largest: every later one is
			 * decoded into the same buffer, never reallocated. */
			if (!first)
				first = got->data;
			cr_assert_eq(got->data, first, "%s: output buffer moved", rels[i]);
			aug_image_free(want);
			free(b);
		}
	}
	aug_decoder_free(dec);
	aug_decoder_free(NULL);
}

typedef struct thread_job {
	const char *rel;
	aug_image *want;
	int bad;
} thread_job;

static void *thread_main(void *arg)
{
	thread_job *job = arg;
	aug_decoder *dec;
	size_t len;
	uint8_t *b = slurp(src_path(job->rel), &len);
	aug_rect all = { 0, 0, 1 << 20, 1 << 20 };

	if (!b || aug_decoder_new(&dec)) {
		job->bad = 1;
		free(b);
		return NULL;
	}
	for (int i = 0; i < 20; i++) {
		const aug_image *got;

		if (aug_decoder_decode_region(dec, b, len, job->rel, NULL, all, 1, &got, NULL)) {
			job->bad = 1;
			break;
		}
		for (int y = 0; y < got->height; y++)
			if (memcmp(aug_image_row(got, y), aug_image_row(job->want, y),
				   (size_t)got->width * (size_t)got->channels))
				job->bad = 1;
		/* A failure in this thread names this thread's file. */
		if (aug_decode(b, 10, job->rel, NULL, &(aug_image *){ NULL }) == AUG_OK ||
		    !strstr(aug_error_message(), job->rel))
			job->bad = 1;
	}
	aug_decoder_free(dec);
	free(b);
	return NULL;
}

CTest(decoder, one_per_thread)
{
	const char *rels[] = { FIX "b420.jpg", FIX "prog.jpg", FIX "rgb.png", FIX "orient-5.jpg" };
	pthread_t t[4];
	thread_job jobs[4];

	for (int i = 0; i < 4; i++) {
		jobs[i].rel = rels[i];
		jobs[i].want = decode_fixture(rels[i], NULL);
		jobs[i].bad = 0;
	}
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, thread_main, &jobs[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(jobs[i].bad, 0, "%s", rels[i]);
		aug_image_free(jobs[i].want);
	}
}

CTest(decoder, bad_arguments)
{
	aug_decoder *dec;
	const aug_image *img;
	aug_image *out = NULL;
	size_t len;
	uint8_t *b = load(FIX "b420.jpg", &len);
	aug_decode_options o;
	aug_rect r = { 0, 0, 10, 10 };

	cr_assert_eq(aug_decoder_new(&dec), AUG_OK);
	cr_assert_eq(aug_decoder_decode_region(dec, b, len, "b", NULL, r, 3, &img, NULL), AUG_EINVAL);
	cr_assert_not_null(strstr(aug_error_message(), "scale 3"));
	r.width = 0;
	cr_assert_eq(aug_decoder_decode_region(dec, b, len, "b", NULL, r, 1, &img, NULL), AUG_EINVAL);
	r = (aug_rect){ 141, 0, 10, 10 };
	cr_assert_eq(aug_decoder_decode_region(dec, b, len, "b", NULL, r, 1, &img, NULL), AUG_EINVAL);
	cr_assert_not_null(strstr(aug_error_message(), "outside"));
	r = (aug_rect){ -20, -20, 10, 10 };
	cr_assert_eq(aug_decoder_decode_region(dec, b, len, "b", NULL, r, 1, &img, NULL), AUG_EINVAL);
	r = (aug_rect){ 0x7fffff00, 5, 0x7fffffff, 10 };
	cr_assert_eq(aug_decoder_decode_region(dec, b, len, "b", NULL, r, 1, &img, NULL), AUG_EINVAL);
	aug_decode_options_init(&o);
	o.channels = (aug_channels)2;
	cr_assert_eq(aug_decode(b, len, "b", &o, &out), AUG_EINVAL);
	cr_assert_eq(aug_decode(NULL, 5, "b", NULL, &out), AUG_EINVAL);
	cr_assert_eq(aug_decode(b, len, "b", NULL, NULL), AUG_EINVAL);
	cr_assert_eq(aug_decoder_decode_region(NULL, b, len, "b", NULL, r, 1, &img, NULL), AUG_EINVAL);
	cr_assert_eq(aug_decoder_new(NULL), AUG_EINVAL);
	aug_decoder_free(dec);
	free(b);
}

/* ---- encoders ---- */

static aug_image *random_image(int w, int h, int c, size_t pad, uint64_t seed)
{
	aug_image *img = malloc(sizeof(*img));
	aug_rng r = aug_rng_stream(seed, 0, 0, 0);

	img->width = w;
	img->height = h;
	img->channels = c;
	img->stride = (size_t)w * (size_t)c + pad;
	img->data = malloc(img->stride * (size_t)h);
	for (size_t i = 0; i < img->stride * (size_t)h; i++)
		img->data[i] = (uint8_t)aug_rng_next(&r);
	return img;
}

/* libpng's simplified reader: a second opinion on our PNG encoder. */
static aug_image *libpng_read(const uint8_t *buf, size_t len, int channels)
{
	png_image pi;
	aug_image *img = NULL;

	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	cr_assert(png_image_begin_read_from_memory(&pi, buf, len), "%s", pi.message);
	pi.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
	cr_assert_eq(aug_image_new(&img, (int)pi.width, (int)pi.height, channels), AUG_OK);
	cr_assert(png_image_finish_read(&pi, NULL, img->data, (png_int_32)img->stride, NULL), "%s", pi.message);
	return img;
}

CTest(encode, png_round_trip_is_exact)
{
	const int sizes[][2] = { { 1, 1 }, { 7, 3 }, { 33, 17 }, { 64, 1 }, { 1, 40 } };
	aug_encode_options eo;

	aug_encode_options_init(&eo);
	eo.format = AUG_FORMAT_PNG;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int c = 1; c <= 3; c += 2) {
			for (int level = 0; level <= 9; level += 3) {
				aug_image *src = random_image(sizes[i][0], sizes[i][1], c, 5, i * 100 + (size_t)c);
				aug_image *back, *ref;
				uint8_t *buf;
				size_t len;
				aug_header h;

				eo.png_level = level;
				cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_OK, "%s", aug_error_message());
				cr_assert_eq(aug_probe(buf, len, "enc", &h), AUG_OK);
				cr_assert(h.format == AUG_FORMAT_PNG && h.channels == c && h.bit_depth == 8);
				back = decode_ok(buf, len, "enc", NULL);
				assert_same(back, src, "round trip");
				ref = libpng_read(buf, len, c);
				assert_same(ref, src, "libpng reads it");
				aug_image_free(back);
				aug_image_free(ref);
				aug_free(buf);
				aug_image_free(src);
			}
		}
	}
}

/* PSNR over all samples; with luma set, over the BT.601 luma of RGB
 * images instead (what 4:2:0 keeps at full resolution). */
static double psnr(const aug_image *a, const aug_image *b, bool luma)
{
	double se = 0;
	size_t n = 0;

	for (int y = 0; y < a->height; y++) {
		const uint8_t *pa = aug_image_row(a, y), *pb = aug_image_row(b, y);

		if (luma && a->channels == 3) {
			for (int x = 0; x < a->width; x++, pa += 3, pb += 3) {
				double d = (0.299 * pa[0] + 0.587 * pa[1] + 0.114 * pa[2]) -
					   (0.299 * pb[0] + 0.587 * pb[1] + 0.114 * pb[2]);

				se += d * d;
				n++;
			}
			continue;
		}
		for (int x = 0; x < a->width * a->channels; x++) {
			double d = (double)pa[x] - pb[x];

			se += d * d;
			n++;
		}
	}
	return se == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 * (double)n / se);
}

CTest(encode, jpeg_quality_95_is_close)
{
	const char *rels[] = {
		"samples/images/animal/chelsea.png", "samples/images/object/coffee.png",
		"samples/images/people/astronaut.png", "samples/images/space/hubble_deep_field.jpg",
		"samples/images/space/rocket.jpg",
	};
	static const char *pass_name[] = { "4:4:4", "grey", "4:2:0" };
	aug_encode_options eo;
	aug_decode_options grey;

	aug_encode_options_init(&eo);
	eo.format = AUG_FORMAT_JPEG;
	eo.quality = 95;
	aug_decode_options_init(&grey);
	grey.channels = AUG_CHANNELS_GREY;
	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		for (int pass = 0; pass < 3; pass++) {
			aug_image *src = NULL, *back;
			uint8_t *buf;
			size_t len;
			double p, pl;

			cr_assert_eq(aug_decode_file(src_path(rels[i]), pass == 1 ? &grey : NULL, &src), AUG_OK);
			eo.chroma_444 = pass == 0;
			cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_OK, "%s", aug_error_message());
			back = decode_ok(buf, len, "q95", NULL);
			cr_assert_eq(back->channels, src->channels);
			p = psnr(src, back, false);
			pl = psnr(src, back, true);
			cr_log_info("%s %s: PSNR %.2f dB, luma %.2f dB", rels[i], pass_name[pass], p, pl);
			if (pass < 2) {
				cr_assert_geq(p, 38.0, "%s %s: PSNR %.2f dB", rels[i], pass_name[pass], p);
			} else {
				/* 4:2:0 discards chroma detail that no quality
				 * setting buys back: 34.7 dB on rocket.jpg, exactly
				 * what cjpeg -quality 95 -sample 2x2 gives (the
				 * encoder is byte-identical to cjpeg, tested below).
				 * Luma is kept at full resolution and holds 38. */
				cr_assert_geq(pl, 38.0, "%s 4:2:0: luma PSNR %.2f dB", rels[i], pl);
				cr_assert_geq(p, 34.0, "%s 4:2:0: PSNR %.2f dB", rels[i], p);
			}
			aug_image_free(back);
			aug_image_free(src);
			aug_free(buf);
		}
	}
}

CTest(encode, jpeg_equals_cjpeg_with_the_same_settings)
{
	/* cjpeg -quality Q [-optimize] -sample HxV on the same pixels: the
	 * encoder sets nothing else, so the files must match byte for byte;
	 * and like cjpeg it optimises the Huffman tables only when asked. */
	aug_image *src = decode_fixture(FIX "b444.jpg", NULL);
	aug_encode_options eo;
	char *dir = make_tmpdir();
	char ppm[4200], jpg[4200], cmd[9000];
	FILE *f;

	if (run_capture("command -v cjpeg", NULL) != 0)
		cr_skip_test("cjpeg is not installed");
	snprintf(ppm, sizeof(ppm), "%s/in.ppm", dir);
	snprintf(jpg, sizeof(jpg), "%s/ref.jpg", dir);
	f = fopen(ppm, "wb");
	fprintf(f, "P6\n%d %d\n255\n", src->width, src->height);
	fwrite(src->data, 1, src->stride * (size_t)src->height, f);
	fclose(f);
	aug_encode_options_init(&eo);
	eo.format = AUG_FORMAT_JPEG;
	cr_assert(!eo.optimize, "optimised Huffman tables are opt-in, as in cjpeg");
	for (int pass = 0; pass < 8; pass++) {
		uint8_t *ours, *theirs;
		size_t olen, tlen;

		eo.quality = pass % 4 < 2 ? 95 : 60;
		eo.chroma_444 = pass % 2;
		eo.optimize = pass >= 4;
		snprintf(cmd, sizeof(cmd), "cjpeg -quality %d %s -sample %s '%s' > '%s'", eo.quality,
			 eo.optimize ? "-optimize" : "", eo.chroma_444 ? "1x1" : "2x2", ppm, jpg);
		cr_assert_eq(run_capture(cmd, NULL), 0);
		theirs = slurp(jpg, &tlen);
		cr_assert_eq(aug_encode(src, &eo, &ours, &olen), AUG_OK);
		cr_assert_eq(olen, tlen, "pass %d: %zu bytes, cjpeg %zu", pass, olen, tlen);
		cr_assert_eq(memcmp(ours, theirs, olen), 0, "pass %d differs from cjpeg", pass);
		aug_free(ours);
		free(theirs);
	}
	aug_image_free(src);
	rm_rf(dir);
	free(dir);
}

/* Sampling factors from an encoded file's SOF: h << 4 | v per component. */
static int sof_sampling(const uint8_t *b, size_t len, int *out)
{
	for (size_t i = 2; i + 9 < len; i++) {
		if (b[i] == 0xff && (b[i + 1] == 0xc0 || b[i + 1] == 0xc1 || b[i + 1] == 0xc2)) {
			int n = b[i + 9];

			for (int c = 0; c < n && i + 11 + 3 * (size_t)c < len; c++)
				out[c] = b[i + 11 + 3 * (size_t)c];
			return n;
		}
	}
	return 0;
}

CTest(encode, jpeg_chroma_subsampling_is_in_the_sof)
{
	aug_image *src = decode_fixture(FIX "b444.jpg", NULL);
	aug_image *g;
	aug_encode_options eo;
	aug_decode_options go;
	uint8_t *buf, *small;
	size_t len, slen;
	int f[4] = { 0 }, n;

	aug_encode_options_init(&eo);
	eo.format = AUG_FORMAT_JPEG;
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_OK);
	n = sof_sampling(buf, len, f);
	cr_assert(n == 3 && f[0] == 0x22 && f[1] == 0x11 && f[2] == 0x11, "4:2:0 wanted: %d %x %x %x", n, f[0],
		  f[1], f[2]);
	aug_free(buf);
	eo.chroma_444 = true;
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_OK);
	n = sof_sampling(buf, len, f);
	cr_assert(n == 3 && f[0] == 0x11 && f[1] == 0x11 && f[2] == 0x11, "4:4:4 wanted");
	/* Lower quality, smaller file. */
	eo.quality = 30;
	cr_assert_eq(aug_encode(src, &eo, &small, &slen), AUG_OK);
	cr_assert_lt(slen, len);
	aug_free(small);
	aug_free(buf);
	/* A grey image is a one-component JPEG. */
	aug_decode_options_init(&go);
	go.channels = AUG_CHANNELS_GREY;
	g = decode_fixture(FIX "b444.jpg", &go);
	cr_assert_eq(aug_encode(g, &eo, &buf, &len), AUG_OK);
	cr_assert_eq(sof_sampling(buf, len, f), 1);
	aug_free(buf);
	aug_image_free(g);
	aug_image_free(src);
}

CTest(encode, djpeg_reads_what_we_write)
{
	aug_image *src = decode_fixture("samples/images/space/rocket.jpg", NULL), *ours, *theirs;
	aug_encode_options eo;
	char *dir = make_tmpdir();
	char path[4200], ref[4200], cmd[9000];

	if (run_capture("command -v djpeg", NULL) != 0)
		cr_skip_test("djpeg is not installed");
	aug_encode_options_init(&eo);
	snprintf(path, sizeof(path), "%s/out.jpg", dir);
	snprintf(ref, sizeof(ref), "%s/out.ppm", dir);
	cr_assert_eq(aug_encode_file(src, path, &eo), AUG_OK, "%s", aug_error_message());
	snprintf(cmd, sizeof(cmd), "djpeg -pnm '%s' > '%s'", path, ref);
	cr_assert_eq(run_capture(cmd, NULL), 0);
	theirs = load_pnm_path(ref);
	cr_assert_eq(aug_decode_file(path, NULL, &ours), AUG_OK);
	assert_same(ours, theirs, "our encode, djpeg vs our decode");
	aug_image_free(ours);
	aug_image_free(theirs);
	aug_image_free(src);
	rm_rf(dir);
	free(dir);
}

static int count_entries(const char *dir)
{
	char cmd[4300], *out = NULL;
	int n;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	cr_assert_eq(run_capture(cmd, &out), 0);
	n = atoi(out);
	free(out);
	return n;
}

CTest(encode, to_file_atomically_by_extension)
{
	aug_image *src = random_image(13, 9, 3, 0, 77), *back = NULL;
	aug_encode_options eo;
	char *dir = make_tmpdir();
	char path[4200];
	size_t len;
	uint8_t *b;

	aug_encode_options_init(&eo);
	snprintf(path, sizeof(path), "%s/a.PNG", dir);
	cr_assert_eq(aug_encode_file(src, path, NULL), AUG_OK, "%s", aug_error_message());
	b = slurp(path, &len);
	cr_assert_eq(aug_format_detect(b, len), AUG_FORMAT_PNG);
	free(b);
	cr_assert_eq(aug_decode_file(path, NULL, &back), AUG_OK);
	assert_same(back, src, "a.PNG");
	aug_image_free(back);
	snprintf(path, sizeof(path), "%s/b.jpeg", dir);
	cr_assert_eq(aug_encode_file(src, path, &eo), AUG_OK);
	b = slurp(path, &len);
	cr_assert_eq(aug_format_detect(b, len), AUG_FORMAT_JPEG);
	free(b);
	/* opts->format wins over the name. */
	eo.format = AUG_FORMAT_PNG;
	snprintf(path, sizeof(path), "%s/c.jpg", dir);
	cr_assert_eq(aug_encode_file(src, path, &eo), AUG_OK);
	b = slurp(path, &len);
	cr_assert_eq(aug_format_detect(b, len), AUG_FORMAT_PNG);
	free(b);
	/* Overwriting replaces the file whole. */
	cr_assert_eq(aug_encode_file(src, path, &eo), AUG_OK);
	/* No format from the name: nothing written. */
	snprintf(path, sizeof(path), "%s/d.gif", dir);
	cr_assert_eq(aug_encode_file(src, path, NULL), AUG_EINVAL);
	assert_message_names(aug_error_message(), "d.gif");
	cr_assert_eq(count_entries(dir), 3, "temporary or unwanted files left");
	snprintf(path, sizeof(path), "%s/missing/e.png", dir);
	cr_assert_eq(aug_encode_file(src, path, NULL), AUG_EIO);
	assert_message_names(aug_error_message(), "e.png");
	cr_assert_eq(count_entries(dir), 3);
	aug_free(src->data);
	free(src);
	rm_rf(dir);
	free(dir);
}

CTest(encode, bad_arguments)
{
	aug_image *src = random_image(8, 8, 3, 0, 5);
	aug_encode_options eo;
	uint8_t *buf = (uint8_t *)1;
	size_t len = 1;

	aug_encode_options_init(&eo);
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_EINVAL); /* no format */
	cr_assert_null(buf);
	cr_assert_eq(len, 0u);
	cr_assert_eq(aug_encode(src, NULL, &buf, &len), AUG_EINVAL);
	eo.format = AUG_FORMAT_JPEG;
	eo.quality = 0;
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_EINVAL);
	eo.quality = 101;
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_EINVAL);
	eo.quality = 90;
	eo.format = AUG_FORMAT_PNG;
	eo.png_level = 10;
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_EINVAL);
	eo.png_level = 6;
	src->channels = 2;
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_EINVAL);
	src->channels = 3;
	src->stride = 5;
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_EINVAL);
	src->stride = 24;
	cr_assert_eq(aug_encode(NULL, &eo, &buf, &len), AUG_EINVAL);
	eo.format = AUG_FORMAT_JPEG;
	src->width = 70000;
	src->height = 1;
	src->stride = 210000; /* never read: the size is refused first */
	cr_assert_eq(aug_encode(src, &eo, &buf, &len), AUG_ELIMIT);
	aug_free(src->data);
	free(src);
}
