/* augment/nn.h — the trainer's engine: a small convolutional network built
 * from a model spec, with exact forward and backward passes on float32
 * batches.
 *
 * A model spec is text in the style of the pipeline spec: one layer per line
 * or separated by `;`, `#` comments, positional values and key=value
 * parameters:
 *
 *     conv 32 k=3 pad=1 bias=no; bn; relu; maxpool 2
 *     conv 64 k=3 pad=1 bias=no; bn; relu; maxpool 2
 *     flatten; linear 128 bias=no; bn; relu; dropout p=0.5; linear classes
 *
 * Layers: conv N [k=3] [stride=1] [pad=0] [bias=yes|no], bn (BatchNorm 1d
 * or 2d by its input), relu, maxpool K [stride=K], avgpool K [stride=K],
 * gap (global average pool, gives a flat output), flatten, linear N|classes
 * [bias=yes|no], dropout [p=0.5], resblock N [stride=1] [survive=1].
 *
 * All parameters live in one flat float buffer described by a table of
 * tensors, with a gradient buffer of the same layout; BatchNorm running
 * statistics live in a second flat buffer. Every random choice (dropout
 * masks, stochastic depth) comes from counter-based streams keyed by
 * (seed, step, layer, sample), so a run is reproducible with the same
 * thread count. A model is used by one thread at a time; it parallelises
 * internally with OpenMP (omp_set_num_threads sets the count, for the
 * BLAS too).
 */
#ifndef AUGMENT_NN_H
#define AUGMENT_NN_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aug_model aug_model;

/* What a tensor of the model holds. Optimizers decay AUG_TENSOR_WEIGHT only. */
typedef enum aug_tensor_kind {
	AUG_TENSOR_WEIGHT = 0, /* conv (K,C,R,S) or linear (out,in) weight */
	AUG_TENSOR_BIAS,       /* conv or linear bias */
	AUG_TENSOR_BN_GAMMA,   /* BatchNorm scale */
	AUG_TENSOR_BN_BETA,    /* BatchNorm shift */
	AUG_TENSOR_BN_MEAN,    /* BatchNorm running mean (statistics buffer) */
	AUG_TENSOR_BN_VAR      /* BatchNorm running variance (statistics buffer) */
} aug_tensor_kind;

#define AUG_TENSOR_MAX_DIMS 4

/* One tensor in a flat buffer: elements [offset, offset + count), row-major
 * in `shape`. Parameter shapes are PyTorch's. The name ("0.conv.weight",
 * "4.resblock.bn1.gamma") and the struct belong to the model. */
typedef struct aug_tensor_info {
	const char *name;
	aug_tensor_kind kind;
	int layer; /* index of the layer in the spec, from 0 */
	int ndim;
	int shape[AUG_TENSOR_MAX_DIMS];
	size_t offset;
	size_t count;
} aug_tensor_info;

/* Parse a model spec and build the model for inputs of `channels` x
 * `height` x `width` (float32 NCHW batches). When num_classes > 0 the model
 * must end in a flat output of that size, and `linear classes` means
 * `linear <num_classes>`; with 0 any output is allowed. The spec text is
 * copied (aug_model_spec). The parameters are initialised as by
 * aug_model_init(m, 0); the model starts in training mode. Fails with
 * AUG_ESPEC and a message "line L:C: ..." for a spec that does not parse or
 * whose shapes do not fit, AUG_EINVAL for bad sizes, AUG_ELIMIT for models
 * too large, AUG_ENOMEM. *out is NULL on failure. */
aug_status aug_model_parse(aug_model **out, const char *spec, int channels, int height, int width,
			   int num_classes);

/* aug_model_parse() that fails with AUG_ELIMIT, after working out the
 * shapes and before allocating anything sized by them, when the model would
 * have more than max_params parameters (0: no limit but the built-in one).
 * For specs read from files: a checkpoint's loader passes the size of the
 * parameters the file holds, so that a small file cannot ask for gigabytes. */
aug_status aug_model_parse_limited(aug_model **out, const char *spec, int channels, int height, int width,
				   int num_classes, size_t max_params);

/* Release a model and everything it owns. Accepts NULL. */
void aug_model_free(aug_model *m);

/* The spec text the model was built from, verbatim (for checkpoints). */
const char *aug_model_spec(const aug_model *m);

/* The input shape the model was built for; any pointer may be NULL. */
void aug_model_input_shape(const aug_model *m, int *channels, int *height, int *width);

/* Values per sample in the model's output (the number of classes for a
 * classifier). */
int aug_model_num_outputs(const aug_model *m);

/* A table of the layers, one line each with the layer as written in
 * canonical form, its output shape and its parameter count, then the totals.
 * The CLI prints it. *out is allocated; release it with aug_free(). */
aug_status aug_model_summary(const aug_model *m, char **out);

/* Initialise the parameters from `seed`: conv and linear weights by He's
 * normal initialisation (std sqrt(2 / fan_in), He et al. 2015), biases and
 * BatchNorm beta 0, gamma 1, running means 0 and variances 1. Each tensor
 * draws from its own stream, so the result does not depend on threads. The
 * gradients are zeroed. */
aug_status aug_model_init(aug_model *m, uint64_t seed);

/* Number of floats in the parameter buffer (and in the gradient buffer). */
size_t aug_model_num_params(const aug_model *m);

/* The flat parameter buffer, aug_model_num_params() floats, laid out as the
 * tensor table says. The caller may read and write it (optimizers,
 * checkpoints); the pointer is valid for the life of the model. */
float *aug_model_params(aug_model *m);

/* The flat gradient buffer, parallel to the parameters. Backward passes add
 * to it; aug_model_zero_grad() clears it. */
float *aug_model_grads(aug_model *m);

/* Number of parameter tensors in the model's table. */
int aug_model_num_tensors(const aug_model *m);

/* Parameter tensor i of the table, NULL when i is out of range. Tensors
 * are in layer order, weight before bias, gamma before beta; the pointer
 * is valid for the life of the model. */
const aug_tensor_info *aug_model_tensor(const aug_model *m, int i);

/* Number of floats in the BatchNorm running-statistics buffer: for each
 * BatchNorm in order, its running mean then its running variance. */
size_t aug_model_num_stats(const aug_model *m);

/* The running-statistics buffer (checkpoints save it; early stopping
 * restores it). Training-mode forward passes update it. */
float *aug_model_stats(aug_model *m);

/* Number of tensors in the statistics table. */
int aug_model_num_stat_tensors(const aug_model *m);

/* Statistics tensor i ("1.bn.running_mean"), its offset into
 * aug_model_stats(); NULL when i is out of range. */
const aug_tensor_info *aug_model_stat_tensor(const aug_model *m, int i);

/* Training mode (BatchNorm uses batch statistics and updates the running
 * ones, dropout and stochastic depth are active) or evaluation mode
 * (running statistics, no randomness). Takes effect at the next forward
 * pass. */
void aug_model_set_training(aug_model *m, bool training);

/* True in training mode (the default after aug_model_parse()). */
bool aug_model_is_training(const aug_model *m);

/* Key the model's randomness: training forward pass number `step` draws
 * dropout masks from aug_rng_stream(seed, step, layer, sample) and
 * stochastic-depth choices from aug_rng_stream(seed, step, layer, 0). Each
 * training forward pass then advances the step by one. The default is seed
 * 0, step 0. */
void aug_model_set_rng(aug_model *m, uint64_t seed, uint64_t step);

/* The step the next training forward pass will use (save it in
 * checkpoints, restore it with aug_model_set_rng()). */
uint64_t aug_model_rng_step(const aug_model *m);

/* Size the model's workspace for batches of up to max_batch samples now,
 * so that later passes allocate nothing. Forward passes on a larger batch
 * grow it themselves. AUG_ELIMIT when the batch is too large to address. */
aug_status aug_model_reserve(aug_model *m, int max_batch);

/* Forward pass on `n` samples, `input` float32 NCHW of the model's input
 * shape (borrowed, copied). *logits (optional) receives the outputs, n x
 * aug_model_num_outputs() floats row by row, owned by the model and valid
 * until the next forward pass. The pass keeps what backward needs. Fails
 * with AUG_EINVAL for n < 1 or, in training mode, a BatchNorm that would
 * see only one value per channel. */
aug_status aug_model_forward(aug_model *m, const float *input, int n, const float **logits);

/* The mean softmax cross-entropy of the last forward pass's logits against
 * `labels` (n values in [0, outputs)), with label smoothing eps in [0, 1]:
 * targets are (1 - eps) on the label plus eps / classes on every class, as
 * PyTorch's CrossEntropyLoss(label_smoothing=eps). Computed stably (log-sum-
 * exp). AUG_ESTATE without a forward pass, AUG_EINVAL for a bad label. */
aug_status aug_model_loss(aug_model *m, const int32_t *labels, float smoothing, float *loss);

/* As aug_model_loss() (loss may be NULL), then the backward pass: the
 * gradient of that mean loss with respect to every parameter is added to
 * the gradient buffer. */
aug_status aug_model_backward(aug_model *m, const int32_t *labels, float smoothing, float *loss);

/* Set every gradient to 0 (once per step, before backward). */
void aug_model_zero_grad(aug_model *m);

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_NN_H */
