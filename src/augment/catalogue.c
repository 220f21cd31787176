/* The stage catalogue: every stage, its parameters, defaults and ranges.
 * The parser reads this table and `augment stages` prints it, so the two
 * cannot disagree. */
#include "internal.h"

#define P_PROB(def) { "p", AUG_PARAM_PROB, def, 0, 1, NULL, "probability that the stage applies" }
#define BIG 65536

static const aug_param_info flip_params[] = {
	P_PROB("0.5"),
};

static const aug_param_info crop_params[] = {
	{ "size", AUG_PARAM_SIZE, NULL, 1, BIG, NULL, "output size WxH (or N for NxN); positional" },
	{ "pad", AUG_PARAM_INT, "0", 0, BIG, NULL, "pixels of padding on every side before cropping" },
	{ "fill", AUG_PARAM_FILL, "0", 0, 255, "edge|reflect", "padding: a grey level, R,G,B, edge or reflect" },
	{ "position", AUG_PARAM_CHOICE, "random", 0, 0, "random|center|tl|tr|bl|br",
	  "where the box lies in the padded image; fixed ones serve test-time five-crop" },
	P_PROB("1"),
};

static const aug_param_info center_crop_params[] = {
	{ "size", AUG_PARAM_SIZE, NULL, 1, BIG, NULL, "output size WxH (or N); positional; padded with 0 if larger" },
	P_PROB("1"),
};

static const aug_param_info rrc_params[] = {
	{ "size", AUG_PARAM_SIZE, NULL, 1, BIG, NULL, "output size WxH (or N); positional" },
	{ "scale", AUG_PARAM_RANGE, "0.08:1", 0, 1, NULL, "range of the box's area as a fraction of the image" },
	{ "ratio", AUG_PARAM_RANGE, "3/4:4/3", 0.01, 100, NULL, "range of the box's aspect ratio w/h (log-uniform)" },
	{ "filter", AUG_PARAM_CHOICE, "bilinear", 0, 0, "bilinear|area|nearest", "resampling filter" },
	P_PROB("1"),
};

static const aug_param_info resize_params[] = {
	{ "size", AUG_PARAM_SIZE, NULL, 1, BIG, NULL, "output size WxH (or N); positional; or give short= or long=" },
	{ "short", AUG_PARAM_INT, NULL, 1, BIG, NULL, "scale so the shorter side is N, keeping the aspect ratio" },
	{ "long", AUG_PARAM_INT, NULL, 1, BIG, NULL, "scale so the longer side is N, keeping the aspect ratio" },
	{ "filter", AUG_PARAM_CHOICE, "bilinear", 0, 0, "bilinear|area|nearest", "resampling filter" },
	P_PROB("1"),
};

static const aug_param_info cutout_params[] = {
	{ "holes", AUG_PARAM_INT, "1", 1, AUG__MAX_HOLES, NULL, "number of rectangles" },
	{ "size", AUG_PARAM_SIZE, NULL, 1, BIG, NULL, "hole size S or WxH; positional (or give scale=)" },
	{ "scale", AUG_PARAM_RANGE, NULL, 0, 1, NULL, "random erasing: area range as a fraction, e.g. 0.02:0.4" },
	{ "ratio", AUG_PARAM_RANGE, "0.3:3.3", 0.01, 100, NULL, "random erasing: aspect ratio range (log-uniform)" },
	{ "fill", AUG_PARAM_FILL, "0", 0, 255, "mean|random", "a grey level, R,G,B, mean or random" },
	{ "inside", AUG_PARAM_CHOICE, "no", 0, 0, "no|yes", "no: centres anywhere, holes clipped; yes: holes wholly inside" },
	P_PROB("1"),
};

static const aug_param_info jitter_params[] = {
	{ "brightness", AUG_PARAM_NUMBER, "0", 0, 10, NULL, "factor ~ U(max(0,1-b), 1+b)" },
	{ "contrast", AUG_PARAM_NUMBER, "0", 0, 10, NULL, "factor ~ U(max(0,1-c), 1+c), blend with mean grey" },
	{ "saturation", AUG_PARAM_NUMBER, "0", 0, 10, NULL, "factor ~ U(max(0,1-s), 1+s), blend with grey image" },
	{ "hue", AUG_PARAM_NUMBER, "0", 0, 0.5, NULL, "HSV hue shift ~ U(-h, h) of a turn" },
	{ "order", AUG_PARAM_CHOICE, "random", 0, 0, "random|fixed", "order of the four operations" },
	P_PROB("1"),
};

static const aug_param_info hsl_params[] = {
	{ "hue", AUG_PARAM_NUMBER, "0", 0, 180, NULL, "hue rotation ~ U(-hue, hue) degrees" },
	{ "saturation", AUG_PARAM_NUMBER, "0", 0, 1, NULL, "HSL saturation factor ~ U(1-s, 1+s)" },
	{ "lightness", AUG_PARAM_NUMBER, "0", 0, 1, NULL, "HSL lightness factor ~ U(1-l, 1+l)" },
	P_PROB("1"),
};

static const aug_param_info gray_params[] = {
	{ "channels", AUG_PARAM_CHOICE, "3", 0, 0, "1|3", "output channels: 3 keeps RGB shape (needed when p < 1)" },
	P_PROB("1"),
};

static const aug_param_info normalize_params[] = {
	{ "mean", AUG_PARAM_LIST, "imagenet", -10, 10, "imagenet", "per-channel mean of v/255: 1 or 3 numbers" },
	{ "std", AUG_PARAM_LIST, "imagenet", 1e-6, 100, "imagenet", "per-channel standard deviation: 1 or 3 numbers" },
};

#define ENTRY(n, s, r, g, pa) { n, s, r, g, (int)(sizeof(pa) / sizeof(pa[0])), pa }

static const aug_stage_info catalogue[ST_COUNT] = {
	[ST_HFLIP] = ENTRY("hflip", "mirror left-right", "torchvision RandomHorizontalFlip", true, flip_params),
	[ST_VFLIP] = ENTRY("vflip", "mirror top-bottom", "torchvision RandomVerticalFlip", true, flip_params),
	[ST_CROP] = ENTRY("crop", "random crop, after optional padding (the CIFAR recipe)",
			  "torchvision RandomCrop; He et al. 2016 sec. 4.2", true, crop_params),
	[ST_CENTER_CROP] = ENTRY("center_crop", "crop the centre", "torchvision CenterCrop", true, center_crop_params),
	[ST_RANDOM_RESIZED_CROP] = ENTRY("random_resized_crop",
					 "random box of random area and aspect, resized to size",
					 "torchvision RandomResizedCrop; Szegedy et al. 2015", true, rrc_params),
	[ST_RESIZE] = ENTRY("resize", "resize, antialiased when shrinking", "torchvision Resize; Pillow resample",
			    true, resize_params),
	[ST_CUTOUT] = ENTRY("cutout", "erase rectangles: cutout or random erasing",
			    "DeVries & Taylor 2017; Zhong et al. 2017; albumentations CoarseDropout", false,
			    cutout_params),
	[ST_COLOR_JITTER] = ENTRY("color_jitter", "random brightness, contrast, saturation and hue",
				  "torchvision ColorJitter", false, jitter_params),
	[ST_HSL_JITTER] = ENTRY("hsl_jitter", "random hue rotation and saturation/lightness scaling in HSL",
				"HSL per Foley & van Dam; CSS Color 3", false, hsl_params),
	[ST_GRAYSCALE] = ENTRY("grayscale", "convert to grey (ITU-R BT.601 luma)", "torchvision Grayscale", false,
			       gray_params),
	[ST_NORMALIZE] = ENTRY("normalize", "float output (v/255 - mean) / std; last stage only",
			       "torchvision Normalize", false, normalize_params),
};

int aug_stage_info_count(void)
{
	return ST_COUNT;
}

const aug_stage_info *aug_stage_info_at(int i)
{
	return i >= 0 && i < ST_COUNT ? &catalogue[i] : NULL;
}

const char *aug__stage_name(enum stage_kind kind)
{
	return (unsigned)kind < ST_COUNT ? catalogue[kind].name : "?";
}
