/* The decode harness, shared by fuzz_png and fuzz_jpeg: one input is probed,
 * decoded whole, decoded as a region at a DCT scale, and decoded again by a
 * reused aug_decoder, with options picked from its hash. Checked: no crash,
 * no leak, a message with every failure, sizes as the header says, and the
 * region's pixels at scale 1 equal to the whole decode's. */
#ifndef AUG_FUZZ_DECODE_H
#define AUG_FUZZ_DECODE_H

#include "fuzz.h"

/* Images above this many pixels are refused (AUG_ELIMIT) before anything is
 * allocated: the limit keeps each run small, and is itself under test. */
#define FUZZ_MAX_PIXELS ((uint64_t)1 << 22)

static aug_decoder *fuzz_decoder;

static int fuzz_decode(const uint8_t *data, size_t size, aug_format format)
{
	uint64_t h = fuzz_hash(data, size);
	aug_decode_options o;
	aug_header hdr;
	aug_image *whole = NULL, *part = NULL;
	const aug_image *reused = NULL;
	aug_region got, got2;
	aug_rect want;
	aug_status st, st_whole;
	int w, hh, scale;
	bool warned;
	static const aug_channels chans[3] = { AUG_CHANNELS_STORED, AUG_CHANNELS_GREY, AUG_CHANNELS_RGB };

	if (aug_format_detect(data, size) != format)
		return -1;
	if (!fuzz_decoder && aug_decoder_new(&fuzz_decoder))
		abort();
	aug_decode_options_init(&o);
	o.max_pixels = FUZZ_MAX_PIXELS;
	o.channels = chans[h % 3];
	o.ignore_orientation = (h >> 2) & 1;
	o.strict = ((h >> 3) & 7) == 0;

	st = aug_probe(data, size, "fuzz", &hdr);
	FUZZ_CHECK_MESSAGE(st);
	st_whole = aug_decode(data, size, "fuzz", &o, &whole);
	FUZZ_CHECK_MESSAGE(st_whole);
	warned = aug_warning_message()[0] != '\0';
	if (st_whole == AUG_OK) {
		FUZZ_CHECK(st == AUG_OK, "decoded, but the probe failed: %s", aug_error_message());
		if (o.ignore_orientation) {
			w = hdr.width;
			hh = hdr.height;
		} else {
			aug_header_display_size(&hdr, &w, &hh);
		}
		FUZZ_CHECK(whole->width == w && whole->height == hh, "decoded %dx%d, header %dx%d", whole->width,
			   whole->height, w, hh);
		FUZZ_CHECK(whole->channels == 1 || whole->channels == 3, "%d channels", whole->channels);
		FUZZ_CHECK(o.channels == AUG_CHANNELS_STORED || whole->channels == (int)o.channels,
			   "asked for %d channels, got %d", (int)o.channels, whole->channels);
		FUZZ_CHECK((uint64_t)w * (uint64_t)hh <= o.max_pixels, "over the limit");
	}
	if (st != AUG_OK) {
		/* A region of a file whose header does not read: any rectangle. */
		w = hh = 64;
	} else if (!o.ignore_orientation) {
		aug_header_display_size(&hdr, &w, &hh);
	} else {
		w = hdr.width;
		hh = hdr.height;
	}
	want.x = w > 0 ? (int)((h >> 8) % (uint64_t)w) : 0;
	want.y = hh > 0 ? (int)((h >> 24) % (uint64_t)hh) : 0;
	want.width = 1 + (int)((h >> 40) % (uint64_t)(w > want.x ? w - want.x : 1));
	want.height = 1 + (int)((h >> 52) % (uint64_t)(hh > want.y ? hh - want.y : 1));
	scale = 1 << ((h >> 6) & 3);

	st = aug_decode_region(data, size, "fuzz", &o, want, scale, &part, &got);
	FUZZ_CHECK_MESSAGE(st);
	warned = warned || aug_warning_message()[0] != '\0';
	if (st == AUG_OK) {
		/* PNG decodes at scale 1 only. */
		FUZZ_CHECK(got.scale == (format == AUG_FORMAT_PNG ? 1 : scale), "scale %d, asked %d", got.scale,
			   scale);
		if (format == AUG_FORMAT_PNG)
			scale = 1;
		FUZZ_CHECK(got.rect.x >= 0 && got.rect.y >= 0 && got.rect.x + got.rect.width <= w &&
				   got.rect.y + got.rect.height <= hh,
			   "region %d,%d %dx%d outside %dx%d", got.rect.x, got.rect.y, got.rect.width,
			   got.rect.height, w, hh);
		FUZZ_CHECK(part->width >= 1 && part->height >= 1, "empty region");
		if (scale == 1 && whole && !warned) {
			FUZZ_CHECK(part->width == want.width && part->height == want.height &&
					   part->channels == whole->channels,
				   "region %dx%dx%d, asked %dx%d", part->width, part->height, part->channels,
				   want.width, want.height);
			for (int y = 0; y < part->height; y++)
				FUZZ_CHECK(memcmp(aug_image_row(part, y),
						  aug_image_row(whole, want.y + y) + (size_t)want.x * (size_t)whole->channels,
						  (size_t)part->width * (size_t)part->channels) == 0,
					   "region row %d differs from the whole decode", y);
		}
	}
	st_whole = aug_decoder_decode_region(fuzz_decoder, data, size, "fuzz", &o, want, scale, &reused, &got2);
	FUZZ_CHECK_MESSAGE(st_whole);
	FUZZ_CHECK((st_whole == AUG_OK) == (st == AUG_OK), "aug_decoder_decode_region %d, aug_decode_region %d",
		   (int)st_whole, (int)st);
	if (st == AUG_OK) {
		FUZZ_CHECK(memcmp(&got, &got2, sizeof(got)) == 0, "the two region decodes cover different rectangles");
		FUZZ_CHECK(reused->width == part->width && reused->height == part->height &&
				   reused->channels == part->channels,
			   "the two region decodes differ in size");
		for (int y = 0; y < part->height; y++)
			FUZZ_CHECK(memcmp(aug_image_row(part, y), aug_image_row(reused, y),
					  (size_t)part->width * (size_t)part->channels) == 0,
				   "the reused decoder's row %d differs", y);
	}
	aug_image_free(part);
	aug_image_free(whole);
	return 0;
}

#endif
