/* The 8-bit image type. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

aug_status aug__image_alloc(aug_image **out, int width, int height, int channels, uint64_t max_pixels)
{
	aug_image *img;
	size_t stride, bytes;

	*out = NULL;
	if (width <= 0 || height <= 0)
		return aug__fail(AUG_EINVAL, __func__, "size %dx%d is not positive", width, height);
	if (channels != 1 && channels != 3)
		return aug__fail(AUG_EINVAL, __func__, "%d channels; only 1 and 3 are supported", channels);
	if ((uint64_t)width * (uint64_t)height > max_pixels)
		return aug__fail(AUG_ELIMIT, __func__, "%dx%d is %llu pixels, over the limit of %llu",
				 width, height, (unsigned long long)width * (unsigned long long)height,
				 (unsigned long long)max_pixels);
	if (!aug__mul((size_t)width, (size_t)channels, &stride) ||
	    !aug__mul(stride, (size_t)height, &bytes))
		return aug__fail(AUG_ELIMIT, __func__, "%dx%dx%d overflows size_t", width, height, channels);
	img = malloc(sizeof(*img));
	if (!img)
		return aug__fail(AUG_ENOMEM, __func__, "no memory for an image header");
	img->data = calloc(bytes, 1);
	if (!img->data) {
		free(img);
		return aug__fail(AUG_ENOMEM, __func__, "no memory for %zu bytes of pixels", bytes);
	}
	img->width = width;
	img->height = height;
	img->channels = channels;
	img->stride = stride;
	*out = img;
	return AUG_OK;
}

aug_status aug_image_new(aug_image **out, int width, int height, int channels)
{
	if (!out)
		return aug__fail(AUG_EINVAL, __func__, "out is NULL");
	return aug__image_alloc(out, width, height, channels, AUG_DEFAULT_MAX_PIXELS);
}

aug_status aug_image_copy(aug_image **out, const aug_image *src)
{
	aug_status st;
	size_t row;

	if (!out || !src || !src->data)
		return aug__fail(AUG_EINVAL, __func__, "NULL image");
	/* The source exists, so its size was accepted once: copy it whatever the default limit. */
	st = aug__image_alloc(out, src->width, src->height, src->channels, UINT64_MAX);
	if (st)
		return st;
	row = (size_t)src->width * (size_t)src->channels;
	for (int y = 0; y < src->height; y++)
		memcpy(aug_image_row(*out, y), aug_image_row(src, y), row);
	return AUG_OK;
}

void aug_image_free(aug_image *img)
{
	if (!img)
		return;
	free(img->data);
	free(img);
}

void aug_free(void *p)
{
	free(p);
}
