/* A 3x5 pixel font for titles and axis labels in the pictures the CLI
 * draws (grid columns, training curves). Each glyph is 5 rows of 3 bits,
 * most significant bit on the left; drawn at 2x, a character is 8 px wide. */
#include <string.h>

#include "cli.h"

static const char font_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_ .-%:/";
static const uint8_t font[][5] = {
	{ 2, 5, 7, 5, 5 }, { 6, 5, 6, 5, 6 }, { 3, 4, 4, 4, 3 }, { 6, 5, 5, 5, 6 }, { 7, 4, 6, 4, 7 },
	{ 7, 4, 6, 4, 4 }, { 3, 4, 5, 5, 3 }, { 5, 5, 7, 5, 5 }, { 7, 2, 2, 2, 7 }, { 1, 1, 1, 5, 2 },
	{ 5, 5, 6, 5, 5 }, { 4, 4, 4, 4, 7 }, { 5, 7, 7, 5, 5 }, { 6, 5, 5, 5, 5 }, { 2, 5, 5, 5, 2 },
	{ 6, 5, 6, 4, 4 }, { 2, 5, 5, 6, 3 }, { 6, 5, 6, 5, 5 }, { 3, 4, 2, 1, 6 }, { 7, 2, 2, 2, 2 },
	{ 5, 5, 5, 5, 7 }, { 5, 5, 5, 5, 2 }, { 5, 5, 7, 7, 5 }, { 5, 5, 2, 5, 5 }, { 5, 5, 2, 2, 2 },
	{ 7, 1, 2, 4, 7 }, { 7, 5, 5, 5, 7 }, { 2, 6, 2, 2, 7 }, { 6, 1, 2, 4, 7 }, { 6, 1, 2, 1, 6 },
	{ 5, 5, 7, 1, 1 }, { 7, 4, 6, 1, 6 }, { 3, 4, 6, 5, 2 }, { 7, 1, 2, 2, 2 }, { 2, 5, 2, 5, 2 },
	{ 2, 5, 3, 1, 6 }, { 0, 0, 0, 0, 7 }, { 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 2 }, { 0, 0, 7, 0, 0 },
	{ 4, 1, 2, 4, 1 }, { 0, 2, 0, 2, 0 }, { 1, 1, 2, 4, 4 },
};

void cli_text(aug_image *img, int x, int y, const char *text, int max_w, const uint8_t rgb[3])
{
	for (int i = 0; text[i] && (max_w <= 0 || (i + 1) * 8 <= max_w); i++) {
		char ch = text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] - 'A' + 'a') : text[i];
		const char *f = strchr(font_chars, ch);
		int g = f && ch ? (int)(f - font_chars) : 37; /* unknown: blank */

		for (int r = 0; r < 5; r++)
			for (int b = 0; b < 3; b++) {
				if (!(font[g][r] & (4 >> b)))
					continue;
				for (int dy = 0; dy < 2; dy++)
					for (int dx = 0; dx < 2; dx++) {
						int px = x + i * 8 + b * 2 + dx, py = y + r * 2 + dy;

						if (px >= 0 && py >= 0 && px < img->width && py < img->height)
							memcpy(aug_image_row(img, py) + (size_t)px * 3, rgb, 3);
					}
			}
	}
}
