/* What the files of src/augment/ share: the parsed stages, the drawn
 * parameters of a sample, and the pixel operations both paths use. */
#ifndef AUG_AUGMENT_INTERNAL_H
#define AUG_AUGMENT_INTERNAL_H

#include "augment/pipeline.h"
#include "core/internal.h"

#define AUG__MAX_HOLES 32

/* The longest side of any image a sample describes, at any stage: sums of
 * a side and the largest spec sizes and padding (65536) stay far within
 * int. Sampling refuses larger (AUG_ELIMIT); pixel counts are limited
 * separately by max_pixels. */
#define AUG__MAX_SIDE (1 << 28)

enum stage_kind {
	ST_HFLIP,
	ST_VFLIP,
	ST_CROP,
	ST_CENTER_CROP,
	ST_RANDOM_RESIZED_CROP,
	ST_RESIZE,
	ST_CUTOUT,
	ST_COLOR_JITTER,
	ST_HSL_JITTER,
	ST_GRAYSCALE,
	ST_NORMALIZE,
	ST_COUNT
};

enum fill_mode {
	FILL_CONSTANT, /* rgb below */
	FILL_EDGE,     /* replicate the nearest edge pixel */
	FILL_REFLECT,  /* mirror without repeating the edge (numpy "reflect") */
	FILL_MEAN,     /* the image's mean colour (cutout) */
	FILL_RANDOM    /* uniform random values per pixel (cutout) */
};

struct fill {
	enum fill_mode mode;
	uint8_t rgb[3];
};

enum filter {
	FILTER_BILINEAR,
	FILTER_AREA,
	FILTER_NEAREST
};

enum resize_mode {
	RESIZE_SIZE,
	RESIZE_SHORT,
	RESIZE_LONG
};

/* One parsed stage: its kind, its probability and its parameters (only
 * those of its kind are meaningful). */
#define AUG__MAX_PARAMS 8
#define AUG__VALUE_LEN 64

struct stage {
	enum stage_kind kind;
	double p;
	int line;
	int col;
	/* The text of every parameter as given or defaulted, in catalogue
	 * order ("" when absent and without default): aug_pipeline_describe()
	 * writes these back. */
	char text[AUG__MAX_PARAMS][AUG__VALUE_LEN];
	/* sizes: crop, center_crop, random_resized_crop, resize size= */
	int width;
	int height;
	/* crop */
	int pad;
	struct fill fill;
	int position;  /* 0 random, 1 center, 2 tl, 3 tr, 4 bl, 5 br */
	/* random_resized_crop; cutout's erasing form */
	double scale[2];
	double ratio[2];
	/* resize */
	enum resize_mode resize_mode;
	int side;
	enum filter filter;
	/* cutout */
	int holes;
	int hole_w;
	int hole_h;
	bool inside;
	bool erasing;
	/* color_jitter */
	double brightness;
	double contrast;
	double saturation;
	double hue;
	bool random_order;
	/* hsl_jitter */
	double hue_deg;
	double sat_range;
	double light_range;
	/* grayscale */
	int gray_channels;
	/* normalize */
	float mean[3];
	float std[3];
};

struct aug_pipeline {
	int count;
	struct stage stages[AUG_MAX_STAGES];
};

struct hole {
	int x;
	int y;
	int w;
	int h;
};

/* What one stage drew for one image. */
struct draw {
	bool applied;
	int in_w, in_h, in_c;   /* the image the stage received */
	int out_w, out_h, out_c; /* the image it passed on */
	/* geometric stages: the box of the input that becomes the output
	 * (before any resize), in input pixels; it may reach outside the input
	 * (padding). */
	int bx, by, bw, bh;
	/* cutout */
	int nholes;
	struct hole holes[AUG__MAX_HOLES];
	/* color_jitter: factors and the order of the four operations
	 * (0 brightness, 1 contrast, 2 saturation, 3 hue) */
	double f_bright, f_contrast, f_sat, f_hue;
	int order[4];
	/* hsl_jitter */
	double hsl_hue, hsl_sat, hsl_light;
};

struct aug_sample {
	aug_key key;
	int in_w, in_h, in_c;
	int out_w, out_h, out_c;
	int count;
	enum stage_kind kinds[AUG_MAX_STAGES];
	struct draw draws[AUG_MAX_STAGES];
};

/* Check, before anything is allocated, that no stage of the sample makes an
 * image of more than max_pixels pixels; with `reference`, nor any image the
 * reference path makes on the way (its resize goes through out_w x in_h).
 * AUG_ELIMIT naming `name` (may be NULL) and the stage otherwise. Specs
 * allow sizes up to 65536x65536, so a spec alone can ask for 4 gigapixels. */
aug_status aug__sample_check_size(const aug_sample *s, uint64_t max_pixels, bool reference, const char *func,
				  const char *name);

/* aug_reference_apply() with the limit the caller decodes with. */
aug_status aug__reference_apply(const aug_pipeline *p, const aug_sample *s, const aug_image *src,
				uint64_t max_pixels, aug_image **out);

/* Round half to even, as Python's round() does (torchvision's centre crop
 * and random_resized_crop use it). */
double aug__round_even(double x);

const char *aug__stage_name(enum stage_kind kind);

/* ---- Pixel operations shared by the two paths --------------------------- */

/* Apply a colour stage's drawn parameters to an image in place. */
void aug__color_jitter_apply(aug_image *img, const struct draw *d);
void aug__hsl_jitter_apply(aug_image *img, const struct draw *d);

/* Cutout: fill each hole (clipped to the image). `rng` seeds random fills. */
void aug__cutout_apply(aug_image *img, const struct stage *st, const struct draw *d, aug_key key, int stage_index);

/* Luma of an RGB pixel, ITU-R BT.601, as torchvision's rgb_to_grayscale. */
static inline double aug__luma(double r, double g, double b)
{
	return 0.299 * r + 0.587 * g + 0.114 * b;
}

/* Grey image (1 channel, or replicated into 3) from src. */
aug_status aug__grayscale(const aug_image *src, int channels, aug_image **out);

/* RGB <-> HSL, all components in [0, 1]; HSV for color_jitter's hue. */
void aug__rgb_to_hsl(double r, double g, double b, double *h, double *s, double *l);
void aug__hsl_to_rgb(double h, double s, double l, double *r, double *g, double *b);
void aug__rgb_to_hsv(double r, double g, double b, double *h, double *s, double *v);
void aug__hsv_to_rgb(double h, double s, double v, double *r, double *g, double *b);

/* The reference resize: src resized to w x h with the given filter
 * (antialiased when shrinking, see resize.c). */
aug_status aug__resize_reference(const aug_image *src, int w, int h, enum filter filter, aug_image **out);

/* The reference flip, left-right or top-bottom. */
aug_status aug__flip_reference(const aug_image *src, bool horizontal, aug_image **out);

/* The reference crop: the box (x, y, w, h) of src, padded with `fill` where
 * it reaches outside. */
aug_status aug__crop_reference(const aug_image *src, int x, int y, int w, int h, const struct fill *fill,
			       aug_image **out);

/* Store an image as float32 CHW: v/255, or (v/255 - mean)/std when the
 * pipeline ends with normalize (a grey image takes the first mean and std). */
void aug__store_f32(const aug_image *img, const aug_pipeline *p, float *dst);


/* ---- The planned path --------------------------------------------------- */

/* One axis of a plan: output pixel i (centre i + 0.5) comes from source
 * coordinate a * (i + 0.5) + b. */
struct axis_plan {
	double a;
	double b;
	int n_out;
	bool resampled;   /* a resize happened: taps use the filter */
	double ext_lo;    /* the resize's input, in source coordinates: taps */
	double ext_hi;    /* outside it are dropped (weights renormalised) */
	double win_lo;    /* source pixels outside [win_lo, win_hi) are padding */
	double win_hi;    /* (a crop reached past the image before any resize) */
	int frame_lo;     /* output pixels outside [frame_lo, frame_hi) are */
	int frame_hi;     /* padding added after the last resize */
};

struct post_op {
	int stage;        /* index in the pipeline */
	struct draw draw; /* holes mapped into output coordinates */
};

struct plan {
	struct axis_plan x;
	struct axis_plan y;
	enum filter filter;
	uint8_t fill_before[3]; /* source pixels that do not exist (padding before any resize) */
	uint8_t fill_after[3];  /* output pixels outside the frame */
	bool fallback;          /* the plan cannot express this sample: use the reference path */
	int in_w, in_h, in_c;
	int out_w, out_h;
	int npost;
	struct post_op post[AUG_MAX_STAGES];
};

/* Compose the sample's geometry into a plan. */
void aug__plan_build(const aug_pipeline *p, const aug_sample *s, struct plan *pl);

/* Per-axis resampling taps for a source grid. Output i takes source pixels
 * first[i] .. first[i] + count[i] - 1 with weights w[i * max_taps + t], plus
 * wfill[i] times the fill value; fill_all[i] marks pixels wholly padding,
 * which are exactly the outputs [0, fill_lo) and [fill_hi, n).
 *
 * The same taps in blocks of AUG__LANES outputs, for a horizontal pass that
 * computes a block at once (fast.c): output b * AUG__LANES + l reads source
 * bbase[b] + bidx[(b * max_taps + t) * AUG__LANES + l] with weight
 * bw[same index], for t < bntaps[b] (the same count for every block: the
 * largest; a lane's taps past its own count have weight 0 and index its
 * first tap, or the block's base for a lane with no taps or past n; a block
 * with no taps has its base at the row's first source pixel);
 * bwfill[b * AUG__LANES + l] is the lane's fill
 * weight. A block's indices all lie below AUG__BLOCK_SPAN, or `blocked` is
 * false; aug__taps_blocks() makes them, for the x axis only. */
#define AUG__LANES 16
#define AUG__BLOCK_SPAN 64

struct taps {
	int n;
	int max_taps;
	int *first;
	int *count;
	float *w;
	float *wfill;
	uint8_t *fill_all;
	int fill_lo;
	int fill_hi;
	size_t cap_n;
	size_t cap_w;
	bool blocked;
	bool wide;        /* some block spans more than AUG__BLOCK_SPAN / 2 */
	int nblk;
	int *bbase;
	int *bntaps;
	int32_t *bidx;
	float *bw;
	float *bwfill;
	size_t cap_blk;
	size_t cap_bw;
};

/* The source grid the taps index: `n` pixels, where pixel k covers source
 * coordinates [origin + k * scale, origin + (k + 1) * scale), within an image
 * of `image_n` full-size pixels. */
struct grid {
	int n;
	double origin;
	int scale;
	int image_n;
};

aug_status aug__taps_build(struct taps *t, const struct axis_plan *ax, enum filter f, const struct grid *g);
void aug__taps_free(struct taps *t);

/* The blocked form of built (or moved) taps, for the AVX-512 horizontal
 * pass; only the x axis needs it. Until it is made, t->blocked is false. */
aug_status aug__taps_blocks(struct taps *t);

/* Taps built on a full-size grid moved onto a grid whose pixel 0 is source
 * pixel `origin` (a region decoded at scale 1 starting there): the taps
 * aug__taps_build() would give on that grid (up to the rounding of a
 * double), when the region holds every pixel they touch. */
void aug__taps_shift(struct taps *t, int origin);

/* The range of full-size source pixels the taps of an axis touch, or false
 * when none (the output is all padding). `scratch` holds the taps built on
 * the way (reused storage: no allocation in steady state), on the full-size
 * grid, or has n = 0 when they could not be built. */
bool aug__plan_source_range(const struct axis_plan *ax, enum filter f, int image_n, struct taps *scratch, int *lo,
			    int *hi);

/* An image as C planes of H x W floats on the 0..255 scale: the planned
 * path's working form after resampling. `p` holds room for 3 planes. */
struct fplanes {
	int w, h, c;
	float *p;
};

size_t aug__fplanes_scratch(const aug_image *src, const struct taps *tx, const struct taps *ty);
/* The horizontal pass alone, for tests: `c` planar rows starting at source
 * column x0, each readable AUG__BLOCK_SPAN floats past the last pixel the
 * taps touch, resampled into out[ch] (fill[ch] for padding). With
 * `blocked`, the AVX-512 blocked pass (aug__taps_blocks() done), or false
 * and nothing done when this CPU or these taps cannot take it; else the
 * scalar loop. */
bool aug__hrow_run(float *const *rows, int c, int x0, const struct taps *tx, float *const *out, const float *fill,
		   bool blocked);
void aug__resample_planes(const aug_image *src, struct fplanes *dst, const struct taps *tx, const struct taps *ty,
			  const uint8_t fill_before[3], const uint8_t fill_after[3], float *scratch);
/* The pixel stages of a plan, in spec order, on the planes. When `times` is
 * not NULL, seconds spent are added to times[AUG_PHASE_COLOR] and
 * times[AUG_PHASE_CUTOUT]. */
void aug__planes_post(const aug_pipeline *p, const struct plan *pl, aug_key key, struct fplanes *im, double *times);
void aug__planes_store_f32(const struct fplanes *im, const aug_pipeline *p, float *dst);
void aug__planes_to_image(const struct fplanes *im, aug_image *out);

#endif
