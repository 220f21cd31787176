/* Codec, PNG: every colour type and bit depth, written here with libpng
 * from pixel values this file chose, decoded, and compared with 8-bit
 * values computed here from the documented formulas:
 *
 *   low-bit grey  v * 255 / (2^depth - 1)        (libpng's expansion)
 *   alpha         round((c*a + bg*(M-a)) / M), M = 255 or 65535, bg*257
 *                 at 16 bits; grey output composites onto luma(bg)
 *   16 -> 8       round(v * 255 / 65535), after compositing
 *   RGB -> grey   (19595 R + 38470 G + 7471 B + 32768) >> 16, checked
 *                 against PIL's convert("L") and the real-valued formula
 *   grey -> RGB   replicated
 *
 * Rounding here is written as floor((2*num + den) / (2*den)), not as the
 * library's (num + den/2) / den.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "augment.h"
#include "codec/internal.h"
#include "support.h"

#define FIX "tests/fixtures/codec/"

/* ---- writing test PNGs with libpng ---- */

typedef struct membuf {
	uint8_t *p;
	size_t len;
	size_t cap;
} membuf;

static void mem_write(png_structp png, png_bytep data, size_t n)
{
	membuf *m = png_get_io_ptr(png);

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, data, n);
	m->len += n;
}

static void mem_flush(png_structp png)
{
	(void)png;
}

/* A test image: sample values at the file's bit depth, and what the file
 * says about palette and transparency. */
typedef struct gen {
	int type;       /* PNG colour type */
	int depth;
	bool interlace;
	bool trns;
	int w;
	int h;
	int nch;        /* samples per pixel in the file (1 for palette) */
	uint16_t *s;    /* w * h * nch samples */
	png_color pal[256];
	uint8_t pal_alpha[256];
	int npal;
	int ntrns;
	png_color_16 key; /* the tRNS colour of grey and RGB images */
	int orientation;  /* eXIf, 0 for none */
	membuf png;
} gen;

static void gen_free(gen *g)
{
	free(g->s);
	free(g->png.p);
}

static int channels_of(int type)
{
	return type == 0 ? 1 : type == 2 ? 3 : type == 3 ? 1 : type == 4 ? 2 : 4;
}

static void gen_pixels(gen *g, uint64_t seed)
{
	aug_rng r = aug_rng_stream(seed, (uint64_t)g->type, (uint64_t)g->depth, g->interlace);
	unsigned maxv = (1u << g->depth) - 1;
	size_t n;

	g->nch = channels_of(g->type);
	n = (size_t)g->w * (size_t)g->h * (size_t)g->nch;
	g->s = malloc(n * sizeof(*g->s));
	if (g->type == 3) {
		g->npal = (int)maxv + 1 < 200 ? (int)maxv + 1 : 200;
		for (int i = 0; i < g->npal; i++) {
			g->pal[i].red = (png_byte)aug_rng_next(&r);
			g->pal[i].green = (png_byte)aug_rng_next(&r);
			g->pal[i].blue = (png_byte)aug_rng_next(&r);
			/* Opaque, clear, and everything between. */
			g->pal_alpha[i] = i % 3 == 0 ? 0 : i % 3 == 1 ? 255 : (uint8_t)aug_rng_next(&r);
		}
		g->ntrns = g->trns ? (g->npal + 1) / 2 : 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (g->type == 3)
			g->s[i] = (uint16_t)aug_rng_below(&r, (uint64_t)g->npal);
		else
			g->s[i] = (uint16_t)aug_rng_below(&r, (uint64_t)maxv + 1);
	}
	/* Alpha extremes must occur, whatever the draw. */
	if (g->type == 4 || g->type == 6) {
		g->s[g->nch - 1] = 0;
		g->s[2 * g->nch - 1] = (uint16_t)maxv;
	}
	if (g->trns && (g->type == 0 || g->type == 2)) {
		/* The key is the colour of pixel 0 and of every 7th pixel. */
		for (size_t p = 7; p < (size_t)g->w * (size_t)g->h; p += 7)
			for (int c = 0; c < g->nch; c++)
				g->s[p * (size_t)g->nch + (size_t)c] = g->s[(size_t)c];
		if (g->type == 0) {
			g->key.gray = g->s[0];
		} else {
			g->key.red = g->s[0];
			g->key.green = g->s[1];
			g->key.blue = g->s[2];
		}
	}
}

static void gen_write(gen *g)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	size_t rowbytes = ((size_t)g->w * (size_t)g->nch * (size_t)g->depth + 7) / 8;
	uint8_t *pix = calloc(rowbytes * (size_t)g->h, 1);
	png_bytep *rows = malloc(sizeof(*rows) * (size_t)g->h);

	cr_assert(png && info);
	if (setjmp(png_jmpbuf(png)))
		cr_assert_fail("libpng could not write the test image");
	for (int y = 0; y < g->h; y++) {
		uint8_t *row = pix + (size_t)y * rowbytes;
		const uint16_t *s = g->s + (size_t)y * (size_t)g->w * (size_t)g->nch;

		rows[y] = row;
		for (int i = 0; i < g->w * g->nch; i++) {
			if (g->depth == 16) {
				row[2 * i] = (uint8_t)(s[i] >> 8);
				row[2 * i + 1] = (uint8_t)s[i];
			} else if (g->depth == 8) {
				row[i] = (uint8_t)s[i];
			} else {
				/* Packed, leftmost pixel in the high bits. */
				int per = 8 / g->depth, shift = 8 - g->depth * (1 + i % per);

				row[i / per] |= (uint8_t)(s[i] << shift);
			}
		}
	}
	memset(&g->png, 0, sizeof(g->png));
	png_set_write_fn(png, &g->png, mem_write, mem_flush);
	png_set_IHDR(png, info, (png_uint_32)g->w, (png_uint_32)g->h, g->depth, g->type,
		     g->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	if (g->type == 3)
		png_set_PLTE(png, info, g->pal, g->npal);
	if (g->trns) {
		if (g->type == 3)
			png_set_tRNS(png, info, g->pal_alpha, g->ntrns, NULL);
		else
			png_set_tRNS(png, info, NULL, 0, &g->key);
	}
	if (g->orientation) {
		/* A TIFF header, IFD0 with one SHORT 0x0112 entry. */
		png_byte exif[26] = { 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1,
				      0, (png_byte)g->orientation, 0, 0, 0, 0, 0, 0 };

		png_set_eXIf_1(png, info, sizeof(exif), exif);
	}
	png_write_info(png, info);
	png_write_image(png, rows);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(rows);
	free(pix);
}

/* ---- expected values, from the formulas ---- */

static unsigned rnd_div(uint64_t num, uint64_t den)
{
	return (unsigned)((2 * num + den) / (2 * den));
}

static unsigned luma(unsigned r, unsigned g, unsigned b)
{
	return (19595u * r + 38470u * g + 7471u * b + 32768u) >> 16;
}

/* The expected 8-bit output pixel (oc channels) for pixel p. */
static void expect(const gen *g, size_t p, int oc, const uint8_t bg[3], uint8_t *out)
{
	const uint16_t *s = g->s + p * (size_t)g->nch;
	unsigned m = g->depth == 16 ? 65535 : 255;
	unsigned c[3], a = m, v[3];
	bool grey = g->type == 0 || g->type == 4;

	switch (g->type) {
	case 0:
		c[0] = c[1] = c[2] = g->depth < 8 ? s[0] * 255u / ((1u << g->depth) - 1) : s[0];
		if (g->trns && s[0] == g->key.gray)
			a = 0;
		break;
	case 2:
		c[0] = s[0], c[1] = s[1], c[2] = s[2];
		if (g->trns && s[0] == g->key.red && s[1] == g->key.green && s[2] == g->key.blue)
			a = 0;
		break;
	case 3:
		c[0] = g->pal[s[0]].red, c[1] = g->pal[s[0]].green, c[2] = g->pal[s[0]].blue;
		if (s[0] < g->ntrns)
			a = g->pal_alpha[s[0]];
		break;
	case 4:
		c[0] = c[1] = c[2] = s[0];
		a = s[1];
		break;
	default:
		c[0] = s[0], c[1] = s[1], c[2] = s[2];
		a = s[3];
		break;
	}
	for (int k = 0; k < 3; k++) {
		unsigned b = (grey && oc == 1) ? luma(bg[0], bg[1], bg[2]) : bg[k];
		unsigned comp = rnd_div((uint64_t)c[k] * a + (uint64_t)b * (m == 65535 ? 257 : 1) * (m - a), m);

		v[k] = m == 65535 ? rnd_div((uint64_t)comp * 255, 65535) : comp;
	}
	if (oc == 3) {
		out[0] = (uint8_t)v[0], out[1] = (uint8_t)v[1], out[2] = (uint8_t)v[2];
	} else {
		out[0] = (uint8_t)(grey ? v[0] : luma(v[0], v[1], v[2]));
	}
}

static void check_decode(const gen *g, aug_channels ch, const uint8_t bg[3], const char *what)
{
	aug_decode_options o;
	aug_image *img = NULL;
	bool grey = g->type == 0 || g->type == 4;
	int oc = ch == AUG_CHANNELS_STORED ? (grey ? 1 : 3) : (int)ch;

	aug_decode_options_init(&o);
	o.channels = ch;
	memcpy(o.background, bg, 3);
	cr_assert_eq(aug_decode(g->png.p, g->png.len, what, &o, &img), AUG_OK, "%s: %s", what,
		     aug_error_message());
	cr_assert_str_eq(aug_warning_message(), "", "%s", what);
	cr_assert(img->width == g->w && img->height == g->h && img->channels == oc, "%s", what);
	for (int y = 0; y < g->h; y++) {
		for (int x = 0; x < g->w; x++) {
			uint8_t want[3];
			const uint8_t *got = aug_image_row(img, y) + (size_t)x * (size_t)oc;

			expect(g, (size_t)y * (size_t)g->w + (size_t)x, oc, bg, want);
			for (int k = 0; k < oc; k++)
				cr_assert_eq(got[k], want[k], "%s: (%d, %d)[%d] = %d, want %d", what, x, y, k,
					     got[k], want[k]);
		}
	}
	aug_image_free(img);
}

static const struct {
	int type;
	int depth;
} kinds[] = {
	{ 0, 1 }, { 0, 2 }, { 0, 4 }, { 0, 8 }, { 0, 16 }, { 2, 8 }, { 2, 16 }, { 3, 1 }, { 3, 2 },
	{ 3, 4 }, { 3, 8 }, { 4, 8 }, { 4, 16 }, { 6, 8 }, { 6, 16 },
};

CTest(png, every_colour_type_and_depth)
{
	static const uint8_t white[3] = { 255, 255, 255 }, other[3] = { 10, 200, 77 };
	int files = 0;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (int interlace = 0; interlace <= 1; interlace++) {
			for (int trns = 0; trns <= 1; trns++) {
				gen g;
				char what[96];
				aug_header h;

				if (trns && (kinds[k].type == 4 || kinds[k].type == 6))
					continue; /* tRNS is not allowed with an alpha channel */
				memset(&g, 0, sizeof(g));
				g.type = kinds[k].type;
				g.depth = kinds[k].depth;
				g.interlace = interlace;
				g.trns = trns;
				g.w = 37;
				g.h = 23;
				gen_pixels(&g, 1);
				gen_write(&g);
				snprintf(what, sizeof(what), "type %d depth %d%s%s", g.type, g.depth,
					 interlace ? " Adam7" : "", trns ? " tRNS" : "");
				cr_assert_eq(aug_probe(g.png.p, g.png.len, what, &h), AUG_OK);
				cr_assert(h.width == 37 && h.height == 23 && h.bit_depth == g.depth, "%s", what);
				cr_assert_eq(h.interlaced, (bool)interlace, "%s", what);
				cr_assert_eq(h.palette, g.type == 3, "%s", what);
				cr_assert_eq(h.has_alpha, trns || g.type == 4 || g.type == 6, "%s", what);
				cr_assert_eq(h.channels, g.type == 3 ? (trns ? 4 : 3) : channels_of(g.type), "%s", what);
				check_decode(&g, AUG_CHANNELS_STORED, white, what);
				check_decode(&g, AUG_CHANNELS_GREY, white, what);
				check_decode(&g, AUG_CHANNELS_RGB, white, what);
				check_decode(&g, AUG_CHANNELS_STORED, other, what);
				check_decode(&g, AUG_CHANNELS_GREY, other, what);
				check_decode(&g, AUG_CHANNELS_RGB, other, what);
				gen_free(&g);
				files++;
			}
		}
	}
	cr_assert_eq(files, 2 * (15 + 11));
}

CTest(png, worked_values)
{
	/* A few pixels worked out by hand, so that the formulas above are not
	 * only checked against themselves. */
	gen g;
	aug_decode_options o;
	aug_image *img = NULL;
	const uint8_t *p;

	memset(&g, 0, sizeof(g));
	g.type = 6;
	g.depth = 8;
	g.w = 3;
	g.h = 1;
	g.nch = 4;
	g.s = malloc(12 * sizeof(*g.s));
	{
		const uint16_t v[12] = { 200, 100, 0, 128, 10, 20, 30, 0, 1, 2, 3, 255 };

		memcpy(g.s, v, sizeof(v));
	}
	gen_write(&g);
	aug_decode_options_init(&o);
	cr_assert_eq(aug_decode(g.png.p, g.png.len, "hand", &o, &img), AUG_OK);
	p = img->data;
	/* (200*128 + 255*127)/255 = 227.39; (100*128 + 255*127)/255 = 177.2; 127. */
	cr_assert(p[0] == 227 && p[1] == 177 && p[2] == 127, "%d %d %d", p[0], p[1], p[2]);
	cr_assert(p[3] == 255 && p[4] == 255 && p[5] == 255); /* alpha 0: the background */
	cr_assert(p[6] == 1 && p[7] == 2 && p[8] == 3);       /* alpha 255: the colour */
	aug_image_free(img);
	o.background[0] = o.background[1] = o.background[2] = 0;
	cr_assert_eq(aug_decode(g.png.p, g.png.len, "hand", &o, &img), AUG_OK);
	p = img->data;
	/* 25600/255 = 100.39, 12800/255 = 50.2 */
	cr_assert(p[0] == 100 && p[1] == 50 && p[2] == 0, "%d %d %d", p[0], p[1], p[2]);
	cr_assert(p[3] == 0 && p[4] == 0 && p[5] == 0);
	aug_image_free(img);
	gen_free(&g);

	/* 16-bit grey: v*255/65535 rounded; k*257 maps back to k exactly,
	 * 128 rounds down (0.498), 129 up (0.502). */
	memset(&g, 0, sizeof(g));
	g.type = 0;
	g.depth = 16;
	g.w = 256 + 4;
	g.h = 1;
	g.nch = 1;
	g.s = malloc((size_t)g.w * sizeof(*g.s));
	for (int k = 0; k < 256; k++)
		g.s[k] = (uint16_t)(k * 257);
	g.s[256] = 128;
	g.s[257] = 129;
	g.s[258] = 65535 - 128;
	g.s[259] = 257 * 100 + 128;
	gen_write(&g);
	cr_assert_eq(aug_decode(g.png.p, g.png.len, "grey16", NULL, &img), AUG_OK);
	for (int k = 0; k < 256; k++)
		cr_assert_eq(img->data[k], k);
	cr_assert_eq(img->data[256], 0);
	cr_assert_eq(img->data[257], 1);
	cr_assert_eq(img->data[258], 255);
	cr_assert_eq(img->data[259], 100);
	aug_image_free(img);
	gen_free(&g);
}

CTest(png, luma_is_pils_and_bt601)
{
	/* PIL's convert("L") of a real PNG, committed by the fixture script. */
	size_t len;
	uint8_t *b = slurp(src_path(FIX "rgb.png"), &len);
	uint8_t *pgm = NULL;
	aug_decode_options o;
	aug_image *img = NULL;
	size_t plen;

	cr_assert_not_null(b);
	aug_decode_options_init(&o);
	o.channels = AUG_CHANNELS_GREY;
	cr_assert_eq(aug_decode(b, len, "rgb.png", &o, &img), AUG_OK);
	pgm = slurp(src_path(FIX "rgb-L.pgm"), &plen);
	cr_assert_not_null(pgm);
	/* "P5\n67 41\n255\n" */
	cr_assert_eq(plen, 13 + (size_t)img->width * (size_t)img->height);
	cr_assert_eq(memcmp(pgm + 13, img->data, plen - 13), 0, "grey differs from PIL's convert(\"L\")");
	aug_image_free(img);
	free(pgm);
	free(b);

	/* And within 0.5 (+ fixed-point error) of the real-valued BT.601
	 * luma, on a lattice over the RGB cube, through the library's row
	 * conversion. */
	{
		aug__rowfmt f = { 3, 8, false };
		uint8_t bg[3] = { 0, 0, 0 };

		for (int r = 0; r < 256; r += 3) {
			for (int g = 0; g < 256; g += 5) {
				uint8_t in[256 * 3], out[256];

				for (int bl = 0; bl < 256; bl++) {
					in[3 * bl] = (uint8_t)r;
					in[3 * bl + 1] = (uint8_t)g;
					in[3 * bl + 2] = (uint8_t)bl;
				}
				aug__convert_row(in, f, 256, out, 1, bg);
				for (int bl = 0; bl < 256; bl++) {
					double exact = 0.299 * r + 0.587 * g + 0.114 * bl;

					cr_assert_leq(fabs(out[bl] - exact), 0.5 + 0.004, "(%d,%d,%d) -> %d, exact %f",
						      r, g, bl, out[bl], exact);
				}
			}
		}
	}
}

CTest(png, exif_orientation_from_exif_chunk)
{
	for (int o = 1; o <= 8; o++) {
		gen g;
		aug_header h;
		aug_image *img = NULL, *raw = NULL;
		aug_decode_options opts;

		memset(&g, 0, sizeof(g));
		g.type = 0;
		g.depth = 8;
		g.w = 5;
		g.h = 3;
		g.orientation = o;
		gen_pixels(&g, 3);
		gen_write(&g);
		cr_assert_eq(aug_probe(g.png.p, g.png.len, "exif.png", &h), AUG_OK);
		cr_assert_eq(h.orientation, o);
		cr_assert_eq(aug_decode(g.png.p, g.png.len, "exif.png", NULL, &img), AUG_OK);
		aug_decode_options_init(&opts);
		opts.ignore_orientation = true;
		cr_assert_eq(aug_decode(g.png.p, g.png.len, "exif.png", &opts, &raw), AUG_OK);
		cr_assert(raw->width == 5 && raw->height == 3);
		cr_assert_eq(img->width, o >= 5 ? 3 : 5);
		/* The corner that lands top-left, by the EXIF table. */
		{
			int sx = (o == 2 || o == 3 || o == 7 || o == 8) ? 4 : 0;
			int sy = (o == 3 || o == 4 || o == 6 || o == 7) ? 2 : 0;

			cr_assert_eq(img->data[0], aug_image_row(raw, sy)[sx], "orientation %d", o);
		}
		aug_image_free(img);
		aug_image_free(raw);
		gen_free(&g);
	}
}

/* The generated RGB8 image with one byte changed at `at`. */
static gen small_rgb(void)
{
	gen g;

	memset(&g, 0, sizeof(g));
	g.type = 2;
	g.depth = 8;
	g.w = 16;
	g.h = 16;
	gen_pixels(&g, 4);
	gen_write(&g);
	return g;
}

static size_t find_chunk(const membuf *m, const char *type)
{
	size_t pos = 8;

	while (pos + 8 <= m->len) {
		size_t len = (size_t)m->p[pos] << 24 | (size_t)m->p[pos + 1] << 16 |
			     (size_t)m->p[pos + 2] << 8 | m->p[pos + 3];

		if (memcmp(m->p + pos + 4, type, 4) == 0)
			return pos;
		pos += 12 + len;
	}
	cr_assert_fail("no %s chunk", type);
	return 0;
}

CTest(png, corrupt_data_is_an_error_with_libpngs_words)
{
	gen g = small_rgb();
	size_t idat = find_chunk(&g.png, "IDAT");
	aug_image *img = NULL;

	/* A flipped byte in IDAT: the chunk's CRC no longer matches. */
	g.png.p[idat + 10] ^= 0x40;
	cr_assert_eq(aug_decode(g.png.p, g.png.len, "crc.png", NULL, &img), AUG_ECORRUPT);
	cr_assert_null(img);
	cr_assert_not_null(strstr(aug_error_message(), "crc.png"));
	cr_assert_not_null(strstr(aug_error_message(), "CRC error"), "%s", aug_error_message());
	gen_free(&g);
}

CTest(png, damaged_ancillary_chunk_is_a_warning)
{
	/* A tEXt chunk with a wrong CRC after IHDR: libpng skips it with a
	 * warning; strict mode fails on it. */
	gen g = small_rgb();
	static const uint8_t text[] = { 0, 0, 0, 5, 't', 'E', 'X', 't', 'a', 0, 'b', 'c', 'd', 1, 2, 3, 4 };
	uint8_t *p = malloc(g.png.len + sizeof(text));
	aug_image *img = NULL;
	aug_decode_options o;

	memcpy(p, g.png.p, 33);
	memcpy(p + 33, text, sizeof(text));
	memcpy(p + 33 + sizeof(text), g.png.p + 33, g.png.len - 33);
	cr_assert_eq(aug_decode(p, g.png.len + sizeof(text), "text.png", NULL, &img), AUG_OK,
		     "%s", aug_error_message());
	cr_assert_not_null(strstr(aug_warning_message(), "text.png"));
	cr_assert_not_null(strstr(aug_warning_message(), "CRC"), "%s", aug_warning_message());
	aug_image_free(img);
	img = NULL;
	aug_decode_options_init(&o);
	o.strict = true;
	cr_assert_eq(aug_decode(p, g.png.len + sizeof(text), "text.png", &o, &img), AUG_EWARNING);
	cr_assert_null(img);
	cr_assert_not_null(strstr(aug_error_message(), "text.png"));
	free(p);
	gen_free(&g);
}

CTest(png, truncated_interlaced_and_missing_iend)
{
	gen g;
	aug_image *img = NULL;
	size_t iend;

	memset(&g, 0, sizeof(g));
	g.type = 6;
	g.depth = 16;
	g.interlace = true;
	g.w = 40;
	g.h = 30;
	gen_pixels(&g, 9);
	gen_write(&g);
	for (size_t cut = 33; cut < g.png.len - 12; cut += 97) {
		cr_assert_eq(aug_decode(g.png.p, cut, "cut.png", NULL, &img), AUG_ETRUNCATED, "cut at %zu", cut);
		cr_assert_not_null(strstr(aug_error_message(), "cut.png"));
		cr_assert_not_null(strstr(aug_error_message(), "ends early"));
	}
	/* Without its IEND chunk the image is whole. */
	iend = find_chunk(&g.png, "IEND");
	cr_assert_eq(aug_decode(g.png.p, iend, "noend.png", NULL, &img), AUG_OK, "%s", aug_error_message());
	aug_image_free(img);
	gen_free(&g);
}

/* Read a palette PNG's raw indices, palette and tRNS with libpng (no
 * expansion), into a gen so that expect() can work out each pixel. */
static void read_palette(const char *rel, gen *g)
{
	size_t len;
	uint8_t *b = slurp(src_path(rel), &len);
	png_structp png;
	png_infop info;
	png_colorp pal;
	png_bytep alpha = NULL;
	int n;
	FILE *f = fmemopen(b, len, "rb");
	png_bytep row;

	cr_assert_not_null(f);
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png)))
		cr_assert_fail("libpng could not read %s", rel);
	png_init_io(png, f);
	png_read_info(png, info);
	cr_assert_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_PALETTE);
	png_set_packing(png); /* one index per byte */
	png_read_update_info(png, info);
	memset(g, 0, sizeof(*g));
	g->type = 3;
	g->depth = 8;
	g->nch = 1;
	g->w = (int)png_get_image_width(png, info);
	g->h = (int)png_get_image_height(png, info);
	png_get_PLTE(png, info, &pal, &n);
	g->npal = n;
	memcpy(g->pal, pal, (size_t)n * sizeof(*pal));
	if (png_get_tRNS(png, info, &alpha, &n, NULL)) {
		g->trns = true;
		g->ntrns = n;
		memcpy(g->pal_alpha, alpha, (size_t)n);
	}
	g->s = malloc((size_t)g->w * (size_t)g->h * sizeof(*g->s));
	row = malloc((size_t)g->w);
	for (int y = 0; y < g->h; y++) {
		png_read_row(png, row, NULL);
		for (int x = 0; x < g->w; x++)
			g->s[(size_t)y * (size_t)g->w + (size_t)x] = row[x];
	}
	free(row);
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
	g->png.p = b;
	g->png.len = len;
}

CTest(png, sample_palettes_by_formula)
{
	const char *rels[] = { "samples/edge/foo3x5x4indexed.png", "samples/edge/green_palette.png",
			       "samples/edge/palette_color.png" };
	static const uint8_t white[3] = { 255, 255, 255 }, other[3] = { 0, 64, 128 };

	for (size_t i = 0; i < 3; i++) {
		gen g;

		read_palette(rels[i], &g);
		check_decode(&g, AUG_CHANNELS_STORED, white, rels[i]);
		check_decode(&g, AUG_CHANNELS_GREY, other, rels[i]);
		check_decode(&g, AUG_CHANNELS_RGB, other, rels[i]);
		gen_free(&g);
	}
}

/* ---- the samples against a second decoder ---- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* A PNG decoder written from the specification (ISO/IEC 15948, sections 9
 * and 11) with nothing but zlib's inflate: 8-bit grey or RGB, not
 * interlaced. Returns the pixels, `*ch` channels, rows packed. */
static uint8_t *second_png_decoder(const char *path, int *w, int *h, int *ch)
{
	uint8_t *file, *idat = NULL, *raw, *px;
	size_t len, nidat = 0, bpp, rowlen;
	uLongf rawlen;

	cr_assert_eq(aug_file_read(path, 0, &file, &len), AUG_OK);
	cr_assert(len > 33 && memcmp(file, "\x89PNG\r\n\x1a\n", 8) == 0);
	*w = (int)be32(file + 16);
	*h = (int)be32(file + 20);
	cr_assert_eq(file[24], 8, "%s: depth %d", path, file[24]);
	cr_assert(file[25] == 0 || file[25] == 2, "%s: colour type %d", path, file[25]);
	cr_assert_eq(file[28], 0, "%s: interlaced", path);
	*ch = file[25] == 2 ? 3 : 1;
	for (size_t i = 8; i + 12 <= len;) {
		size_t n = be32(file + i);

		cr_assert(i + 12 + n <= len);
		if (memcmp(file + i + 4, "IDAT", 4) == 0) {
			idat = realloc(idat, nidat + n);
			cr_assert_not_null(idat);
			memcpy(idat + nidat, file + i + 8, n);
			nidat += n;
		}
		i += 12 + n;
	}
	bpp = (size_t)*ch;
	rowlen = (size_t)*w * bpp;
	rawlen = (uLongf)((rowlen + 1) * (size_t)*h);
	raw = malloc(rawlen);
	px = malloc(rowlen * (size_t)*h);
	cr_assert(raw && px);
	cr_assert_eq(uncompress(raw, &rawlen, idat, (uLong)nidat), Z_OK);
	cr_assert_eq(rawlen, (uLongf)((rowlen + 1) * (size_t)*h));
	for (int y = 0; y < *h; y++) {
		const uint8_t *f = raw + (size_t)y * (rowlen + 1);
		uint8_t *o = px + (size_t)y * rowlen, *up = y ? o - rowlen : NULL;

		for (size_t x = 0; x < rowlen; x++) {
			int a = x >= bpp ? o[x - bpp] : 0, b = up ? up[x] : 0;
			int c = up && x >= bpp ? up[x - bpp] : 0, v = f[1 + x];

			switch (f[0]) {
			case 0: break;
			case 1: v += a; break;
			case 2: v += b; break;
			case 3: v += (a + b) / 2; break;
			case 4: v += paeth(a, b, c); break;
			default: cr_assert_fail("%s: row %d has filter %d", path, y, f[0]);
			}
			o[x] = (uint8_t)v;
		}
	}
	free(raw);
	free(idat);
	free(file);
	return px;
}

CTest(png, samples_equal_a_second_decoder)
{
	const char *rels[] = { "samples/images/animal/chelsea.png", "samples/images/object/coffee.png",
			       "samples/images/people/astronaut.png", "samples/edge/chessboard_GRAY.png" };

	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		aug_image *img = NULL;
		int w, h, ch;
		uint8_t *want = second_png_decoder(src_path(rels[i]), &w, &h, &ch);
		size_t differ = 0;

		cr_assert_eq(aug_decode_file(src_path(rels[i]), NULL, &img), AUG_OK, "%s", aug_error_message());
		cr_assert(img->width == w && img->height == h && img->channels == ch, "%s", rels[i]);
		for (int y = 0; y < h; y++)
			differ += memcmp(aug_image_row(img, y), want + (size_t)y * (size_t)w * (size_t)ch,
					 (size_t)w * (size_t)ch) != 0;
		cr_assert_eq(differ, 0u, "%s: %zu rows differ", rels[i], differ);
		aug_image_free(img);
		free(want);
	}
}

/* ---- zlib bombs ---- */

static void put_chunk(uint8_t **p, const char *type, const uint8_t *data, size_t n)
{
	uint8_t *q = *p;
	uLong crc;

	q[0] = (uint8_t)(n >> 24), q[1] = (uint8_t)(n >> 16), q[2] = (uint8_t)(n >> 8), q[3] = (uint8_t)n;
	memcpy(q + 4, type, 4);
	if (n)
		memcpy(q + 8, data, n);
	crc = crc32(0, q + 4, (uInt)(n + 4));
	q[8 + n] = (uint8_t)(crc >> 24), q[9 + n] = (uint8_t)(crc >> 16);
	q[10 + n] = (uint8_t)(crc >> 8), q[11 + n] = (uint8_t)crc;
	*p = q + 12 + n;
}

/* A 16 x 16 grey PNG, every pixel 77, whose zTXt chunk and whose IDAT
 * stream (after the 16 rows it needs) each inflate to 96 MiB. */
static uint8_t *png_bomb(size_t *len)
{
	size_t big = (size_t)96 << 20, row = 17;
	uint8_t *raw = calloc(big + 16 * row, 1), *z, *out, *p;
	uLongf zlen = compressBound((uLong)(big + 16 * row));
	uint8_t ihdr[13] = { 0, 0, 0, 16, 0, 0, 0, 16, 8, 0, 0, 0, 0 };

	cr_assert_not_null(raw);
	z = malloc(zlen + 16);
	cr_assert_not_null(z);
	for (int y = 0; y < 16; y++)
		memset(raw + (size_t)y * row + 1, 77, 16);
	/* zTXt: keyword, NUL, method 0, then the stream of zeros. */
	memcpy(z, "Comment\0\0", 9);
	{
		uLongf n = zlen;

		cr_assert_eq(compress2(z + 9, &n, raw + 16 * row, (uLong)big, 9), Z_OK);
		out = malloc(4 * (size_t)n + 4096);
		cr_assert_not_null(out);
		p = out;
		memcpy(p, "\x89PNG\r\n\x1a\n", 8);
		p += 8;
		put_chunk(&p, "IHDR", ihdr, 13);
		put_chunk(&p, "zTXt", z, 9 + n);
	}
	zlen = compressBound((uLong)(big + 16 * row));
	cr_assert_eq(compress2(z, &zlen, raw, (uLong)(big + 16 * row), 9), Z_OK);
	put_chunk(&p, "IDAT", z, zlen);
	put_chunk(&p, "IEND", NULL, 0);
	*len = (size_t)(p - out);
	free(raw);
	free(z);
	return out;
}

CTest(png, zlib_bombs_inflate_no_further_than_the_image)
{
	size_t len;
	uint8_t *b = png_bomb(&len);
	aug_image *img = NULL;
	pid_t pid;
	int ws;

	cr_assert_lt(len, (size_t)2 << 20, "the bomb is small on disk (%zu bytes)", len);
	/* With little address space to spare, so that inflating either
	 * stream whole would fail. */
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (!UNDER_ASAN) {
			FILE *f = fopen("/proc/self/statm", "r");
			unsigned long pages = 0;
			struct rlimit rl;

			if (!f || fscanf(f, "%lu", &pages) != 1)
				_exit(100);
			fclose(f);
			rl.rlim_cur = rl.rlim_max = pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)48 << 20);
			if (setrlimit(RLIMIT_AS, &rl) != 0)
				_exit(101);
		}
		if (aug_decode(b, len, "bomb.png", NULL, &img) != AUG_OK)
			_exit(102);
		for (int y = 0; y < 16; y++)
			for (int x = 0; x < 16; x++)
				if (img->data[(size_t)y * img->stride + (size_t)x * (size_t)img->channels] != 77)
					_exit(103);
		aug_image_free(img);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFEXITED(ws), "the decoder died (signal %d)", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	cr_assert_eq(WEXITSTATUS(ws), 0, "child status %d", WEXITSTATUS(ws));
	free(b);
}
