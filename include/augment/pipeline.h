/* augment/pipeline.h — augmentation pipelines: the stage catalogue, the spec
 * language, sampling, and the two execution paths.
 *
 * A pipeline is a list of stages parsed from text such as
 *
 *     random_resized_crop size=224x224 scale=0.08:1
 *     hflip
 *     color_jitter brightness=0.4 contrast=0.4 saturation=0.4 hue=0.1
 *
 * For one image it runs in three steps (see the README's architecture):
 *   sample  — each stage draws its random parameters from its own stream
 *             keyed by (seed, epoch, index, stage), knowing only the size of
 *             the image at that point, never its pixels;
 *   plan    — the geometric stages compose into one source rectangle, one
 *             output size and two flips; the rest apply on the output grid;
 *   execute — decode only the region needed, resample once, then colour and
 *             cutout, then store (uint8 image or float32 CHW).
 * The reference path applies the same drawn parameters one stage at a time
 * to a fully decoded image; it is the oracle the planned path is tested
 * against.
 */
#ifndef AUGMENT_PIPELINE_H
#define AUGMENT_PIPELINE_H

#include "codec.h"
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most stages a pipeline may hold. */
#define AUG_MAX_STAGES 32

/* ---- The stage catalogue ------------------------------------------------ */

typedef enum aug_param_type {
	AUG_PARAM_PROB,   /* a probability 0..1 */
	AUG_PARAM_NUMBER, /* a real number */
	AUG_PARAM_INT,    /* an integer */
	AUG_PARAM_SIZE,   /* WxH, or N for NxN */
	AUG_PARAM_RANGE,  /* a:b, or one number where the stage says so */
	AUG_PARAM_CHOICE, /* one word from a list */
	AUG_PARAM_FILL,   /* a fill: a word from a list, a number, or R,G,B */
	AUG_PARAM_LIST    /* comma-separated numbers, or a named preset */
} aug_param_type;

/* One parameter of a stage, as `augment stages` prints it. */
typedef struct aug_param_info {
	const char *name;
	aug_param_type type;
	const char *default_text; /* as written in a spec; NULL when required */
	double min;               /* allowed range of each number */
	double max;
	const char *choices;      /* "a|b|c" for choices and fill words, else NULL */
	const char *help;
} aug_param_info;

/* One stage of the catalogue. */
typedef struct aug_stage_info {
	const char *name;
	const char *summary;
	const char *reference; /* where the formula comes from */
	bool geometric;        /* changes where pixels are, not their values */
	int param_count;
	const aug_param_info *params;
} aug_stage_info;

/* The number of stages in the catalogue. */
int aug_stage_info_count(void);

/* Stage i of the catalogue, 0 <= i < aug_stage_info_count(), or NULL. The
 * parser reads this same table, so what it prints is what is accepted. */
const aug_stage_info *aug_stage_info_at(int i);

/* ---- Parsing ------------------------------------------------------------ */

typedef struct aug_pipeline aug_pipeline;

/* Parse a spec: one stage per line or `;`-separated, `#` to the end of the
 * line is a comment, parameters are key=value. `source` names the spec in
 * messages (a file name, or NULL for "<spec>"). On a bad spec the status is
 * AUG_ESPEC and the message reads "source:line:column: what was expected",
 * with the nearest stage or parameter name suggested for a misspelling.
 * Free with aug_pipeline_free(). */
aug_status aug_pipeline_parse(const char *text, const char *source, aug_pipeline **out);

void aug_pipeline_free(aug_pipeline *p);

/* The number of stages. */
int aug_pipeline_length(const aug_pipeline *p);

/* The catalogue entry of stage i. */
const aug_stage_info *aug_pipeline_stage(const aug_pipeline *p, int i);

/* The pipeline written out in canonical form, one stage per line with every
 * parameter, defaults included; parsing it gives the same pipeline. Writes
 * at most `size` bytes including the NUL and returns the length it needed. */
size_t aug_pipeline_describe(const aug_pipeline *p, char *buf, size_t size);

/* When the output size does not depend on the input (the last stage that
 * sets a size sets both sides), store it and return true. */
bool aug_pipeline_fixed_size(const aug_pipeline *p, int *width, int *height);

/* True when the pipeline ends with `normalize` (float output). */
bool aug_pipeline_normalizes(const aug_pipeline *p);

/* ---- Sampling ----------------------------------------------------------- */

/* Which random streams a sample draws from: stage s of a sample uses
 * aug_rng_stream(seed, epoch, index, s). */
typedef struct aug_key {
	uint64_t seed;
	uint64_t epoch;
	uint64_t index;
} aug_key;

/* The parameters drawn for one image: opaque, reusable. */
typedef struct aug_sample aug_sample;

aug_status aug_sample_new(aug_sample **out);

void aug_sample_free(aug_sample *s);

/* Draw every stage's parameters for an image of the given size (as
 * displayed, after EXIF orientation) and channel count. Pure: the same
 * arguments give the same sample, on any thread. AUG_ELIMIT when a side of
 * the image, or of what a stage makes of it, is over 2^28 pixels. */
aug_status aug_pipeline_sample(const aug_pipeline *p, int width, int height, int channels,
			       aug_key key, aug_sample *s);

/* The size and channels of the image the sample produces. */
void aug_sample_output(const aug_sample *s, int *width, int *height, int *channels);

/* The sample as one line of JSON (no newline): the key, the input size and,
 * per stage, whether it applied and what it drew. Returns the length needed;
 * writes at most `size` bytes including the NUL. */
size_t aug_sample_to_json(const aug_sample *s, char *buf, size_t size);

/* Rebuild a sample from a line written by aug_sample_to_json() for the same
 * pipeline, so a logged sample can be replayed exactly. The line is
 * untrusted: a value the pipeline could not have drawn (a box or hole
 * outside the image, a factor outside the stage's range, a number that is
 * not an int) is AUG_EINVAL. */
aug_status aug_sample_from_json(const aug_pipeline *p, const char *json, aug_sample *s);

/* ---- Execution on a decoded image --------------------------------------- */

/* The reference path: each stage applied in turn to a materialised image,
 * written for clarity. `src` is the decoded image as displayed. A trailing
 * normalize is skipped (it applies to float output only). A sample that
 * would make an image (or, inside a resize, an intermediate one) of more
 * than AUG_DEFAULT_MAX_PIXELS pixels is AUG_ELIMIT, before any allocation. */
aug_status aug_reference_apply(const aug_pipeline *p, const aug_sample *s, const aug_image *src,
			       aug_image **out);

/* The reference path to float32 CHW (normalize applied when present).
 * `dst` holds channels*height*width floats of the sample's output size. */
aug_status aug_reference_apply_f32(const aug_pipeline *p, const aug_sample *s, const aug_image *src,
				   float *dst);

/* The planned path on an already decoded image: one resample pass for all
 * geometry, then the pixel stages on the output grid. AUG_ELIMIT as for
 * aug_reference_apply(). */
aug_status aug_planned_apply(const aug_pipeline *p, const aug_sample *s, const aug_image *src,
			     aug_image **out);

/* ---- The executor: the planned path from encoded bytes ------------------ */

/* One per thread. Holds the decoder, the sample and scratch buffers, grown
 * to the largest image seen, so steady-state work allocates nothing. */
typedef struct aug_executor aug_executor;

typedef struct aug_executor_options {
	aug_decode_options decode; /* channels: 0 keeps each image's own (1 or 3) */
	bool region_decode;        /* true: decode only the region the plan needs */
	bool dct_scaling;          /* true: JPEG DCT scaling when the plan shrinks >= 2x */
	bool timing;               /* true: accumulate per-phase times */
} aug_executor_options;

void aug_executor_options_init(aug_executor_options *opts);

aug_status aug_executor_new(const aug_pipeline *p, const aug_executor_options *opts, aug_executor **out);

void aug_executor_free(aug_executor *ex);

/* Run the pipeline on one encoded image. The output belongs to the executor
 * and is valid until its next call. `name` is used in messages. An image,
 * or an image any stage would make from it, of more than
 * opts->decode.max_pixels pixels is AUG_ELIMIT, found before anything is
 * decoded or allocated. */
aug_status aug_executor_run(aug_executor *ex, const void *buf, size_t len, const char *name,
			    aug_key key, const aug_image **out);

/* Run the pipeline with a given sample instead of drawing one (a logged
 * sample read back with aug_sample_from_json()): the same bytes as the run
 * that logged it. */
aug_status aug_executor_run_sample(aug_executor *ex, const void *buf, size_t len, const char *name,
				   const aug_sample *sample, const aug_image **out);

/* Run the pipeline into a float32 CHW slot of channels x height x width
 * (normalize fused when the pipeline ends with it; otherwise values are
 * v/255). The sample's output must have that size: pipelines fed to a batch
 * end in a fixed size. */
aug_status aug_executor_run_f32(aug_executor *ex, const void *buf, size_t len, const char *name,
				aug_key key, float *dst, int channels, int height, int width);

/* The sample drawn by the last run. */
const aug_sample *aug_executor_last_sample(const aug_executor *ex);

/* Phases of the planned path, for `augment bench`. */
typedef enum aug_phase {
	AUG_PHASE_PROBE,
	AUG_PHASE_DECODE,
	AUG_PHASE_RESAMPLE,
	AUG_PHASE_COLOR,
	AUG_PHASE_CUTOUT,
	AUG_PHASE_STORE,
	AUG_PHASE_COUNT
} aug_phase;

const char *aug_phase_name(aug_phase phase);

/* Seconds spent in each phase since the executor was made (timing on). */
void aug_executor_timings(const aug_executor *ex, double seconds[AUG_PHASE_COUNT]);

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_PIPELINE_H */
