/* EXIF orientation: tag 0x0112 of IFD0 in a TIFF structure.
 *
 * The bytes come from untrusted files, so every offset is checked against
 * the length before it is read, in 64-bit arithmetic so that no sum wraps.
 * Anything unexpected gives 0 ("no orientation"), never an error: a broken
 * EXIF block must not stop an image from decoding.
 */
#include "internal.h"

#define TAG_ORIENTATION 0x0112
#define TYPE_SHORT 3
#define TYPE_LONG 4

static unsigned get16(const uint8_t *p, bool big)
{
	return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t get32(const uint8_t *p, bool big)
{
	if (big)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int aug__exif_orientation(const uint8_t *p, size_t len)
{
	uint64_t ifd, entry;
	unsigned count;
	bool big;

	if (!p || len < 8)
		return 0;
	if (p[0] == 'I' && p[1] == 'I')
		big = false;
	else if (p[0] == 'M' && p[1] == 'M')
		big = true;
	else
		return 0;
	if (get16(p + 2, big) != 42)
		return 0;
	ifd = get32(p + 4, big);
	if (ifd < 8 || ifd + 2 > len)
		return 0;
	count = get16(p + ifd, big);
	entry = ifd + 2;
	for (unsigned i = 0; i < count; i++, entry += 12) {
		unsigned tag, type, value;
		uint32_t n;

		if (entry + 12 > len)
			return 0;
		tag = get16(p + entry, big);
		if (tag != TAG_ORIENTATION)
			continue;
		type = get16(p + entry + 2, big);
		n = get32(p + entry + 4, big);
		if (n < 1)
			return 0;
		/* The value fits in the 4-byte field, left-justified: a SHORT is
		 * its first two bytes in either byte order. Some writers use
		 * LONG; accept that too. */
		if (type == TYPE_SHORT)
			value = get16(p + entry + 8, big);
		else if (type == TYPE_LONG)
			value = (unsigned)get32(p + entry + 8, big);
		else
			return 0;
		return value >= 1 && value <= 8 ? (int)value : 0;
	}
	return 0;
}
