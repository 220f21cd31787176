/* augment/train.h — training: optimizers, regularisation, learning-rate
 * schedules, the training loop with early stopping, checkpoints and
 * evaluation with test-time augmentation.
 *
 * Optimizers and schedules work on plain arrays and pure functions, so each
 * can be checked against the update worked out by hand; the loop ties them
 * to a model (augment/nn.h) and a streaming loader (augment/data.h).
 */
#ifndef AUGMENT_TRAIN_H
#define AUGMENT_TRAIN_H

#include "core.h"
#include "data.h"
#include "nn.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Optimizers ------------------------------------------------------------ */

typedef enum aug_optim_kind {
	AUG_OPTIM_SGD = 0,  /* θ -= γ g */
	AUG_OPTIM_MOMENTUM, /* v = μ v + g; θ -= γ v (PyTorch's form); nesterov: θ -= γ (g + μ v) */
	AUG_OPTIM_ADAGRAD,  /* G += g²; θ -= γ g / (√G + ε), ε 1e-10 */
	AUG_OPTIM_RMSPROP,  /* s = α s + (1-α) g²; θ -= γ g / (√s + ε), α 0.99, ε 1e-8 */
	AUG_OPTIM_ADAM,     /* bias-corrected moments, ε outside the square root */
	AUG_OPTIM_ADAMW,    /* Adam with decoupled weight decay: θ -= γ λ θ first */
	AUG_OPTIM_COUNT
} aug_optim_kind;

/* "sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw". */
const char *aug_optim_name(aug_optim_kind kind);

/* The kind named `name`, or AUG_OPTIM_COUNT. */
aug_optim_kind aug_optim_from_name(const char *name);

/* Optimizer settings. Start from aug_optim_options_init(); defaults beside
 * each field. Regularisation is added to the gradient of the elements the
 * mask selects before the update: L2 adds λ2 θ (the gradient of λ2/2 ‖θ‖²,
 * PyTorch's weight_decay), L1 adds λ1 sign(θ); both together are the
 * elastic net. AdamW does not add L2 to the gradient: it decays θ by γ λ2
 * directly (Loshchilov & Hutter 2019). */
typedef struct aug_optim_options {
	aug_optim_kind kind; /* AUG_OPTIM_SGD */
	float momentum;      /* 0.9: μ for momentum */
	bool nesterov;       /* false */
	float alpha;         /* 0.99: RMSProp's smoothing */
	float beta1;         /* 0.9: Adam */
	float beta2;         /* 0.999: Adam */
	float eps;           /* 0: the kind's default (1e-10 AdaGrad, 1e-8 otherwise) */
	float l2;            /* 0: λ2 */
	float l1;            /* 0: λ1 */
} aug_optim_options;

void aug_optim_options_init(aug_optim_options *opts);

typedef struct aug_optimizer aug_optimizer;

/* An optimizer for `n` parameters. `decay_mask` (n bytes, borrowed, may be
 * NULL for "all") selects the elements regularisation applies to. */
aug_status aug_optimizer_new(const aug_optim_options *opts, size_t n, const uint8_t *decay_mask,
			     aug_optimizer **out);

void aug_optimizer_free(aug_optimizer *o);

/* One update of `params` from `grads` (both n floats) with learning rate
 * lr. `grads` is used as scratch (regularisation is added to it). */
void aug_optimizer_step(aug_optimizer *o, float *params, float *grads, float lr);

/* The optimizer's state, for checkpoints: the step count and the state
 * buffer (0, 1 or 2 floats per parameter by kind). */
uint64_t aug_optimizer_steps(const aug_optimizer *o);
size_t aug_optimizer_state_size(const aug_optimizer *o);
float *aug_optimizer_state(aug_optimizer *o);
void aug_optimizer_set_steps(aug_optimizer *o, uint64_t steps);

/* The decay mask of a model: 1 for weights of conv and linear layers, 0 for
 * biases and BatchNorm parameters unless `all`. `mask` holds
 * aug_model_num_params() bytes. */
void aug_model_decay_mask(const aug_model *m, bool all, uint8_t *mask);

/* ---- Learning-rate schedules --------------------------------------------------- */

typedef enum aug_sched_kind {
	AUG_SCHED_CONSTANT = 0, /* α0 */
	AUG_SCHED_STEP,         /* α0 γ^⌊t/s⌋ */
	AUG_SCHED_COSINE,       /* α_min + ½ (α0 − α_min)(1 + cos(π t / T)) */
	AUG_SCHED_LINEAR,       /* α0 (1 − t / T) */
	AUG_SCHED_INVSQRT,      /* α0 √(max(W,1) / t): α0 at the end of warm-up */
	AUG_SCHED_COUNT
} aug_sched_kind;

const char *aug_sched_name(aug_sched_kind kind);
aug_sched_kind aug_sched_from_name(const char *name);

/* A schedule over `total` steps. With warm-up W > 0 the rate rises
 * linearly, α0 t / W for t < W, and the schedule proper runs on t − W over
 * total − W steps (inverse square root on t itself). */
typedef struct aug_schedule {
	aug_sched_kind kind;
	double lr;        /* α0 */
	double min_lr;    /* α_min (cosine) */
	uint64_t warmup;  /* W, in steps */
	uint64_t total;   /* T, in steps */
	uint64_t step_size; /* s (step) */
	double gamma;     /* γ (step) */
} aug_schedule;

/* The learning rate at step t (0-based); a pure function. */
double aug_schedule_lr(const aug_schedule *s, uint64_t t);

/* ---- The training loop ----------------------------------------------------------- */

/* What one epoch did. */
typedef struct aug_epoch_stats {
	int epoch;               /* from 1 */
	double train_loss;       /* mean over the epoch's batches, weighted by size */
	double train_acc;        /* fraction correct, on augmented training batches */
	double val_loss;         /* NAN without a validation set */
	double val_acc;
	double lr;               /* the rate at the epoch's last step */
	double seconds;          /* wall time of the epoch, training and validation */
	double images_per_second; /* training images / training wall time, loading included */
	bool best;               /* the monitored value improved */
} aug_epoch_stats;

/* Training settings. Start from aug_train_options_init(). */
typedef struct aug_train_options {
	int epochs;             /* 10 */
	int batch_size;         /* 128 */
	int loader_threads;     /* 1: background threads making batches */
	int prefetch;           /* 4: batches made ahead */
	uint64_t seed;          /* 0: loader order, augmentation, dropout */
	aug_optim_options optim;
	aug_schedule schedule;  /* kind, lr, min_lr, step_size, gamma; warmup and total
	                         * are in steps and filled in from the next two */
	double warmup_epochs;   /* 0 */
	double step_epochs;     /* 0: the step schedule's s, in epochs (0: epochs/3) */
	float label_smoothing;  /* 0 */
	bool decay_all;         /* false: biases and BatchNorm are not regularised */
	int patience;           /* 0: no early stopping; else stop after this many
	                         * epochs without improvement of the monitored value */
	double min_delta;       /* 0: the least change that counts as improvement */
	bool monitor_accuracy;  /* false: monitor validation loss; true: accuracy */
	bool restore_best;      /* true: end with the best epoch's weights and BN statistics */
	const char *checkpoint; /* NULL, or a file written (atomically) after every epoch */
	bool fail_on_error;     /* false: unreadable images are left out, reported once */
	uint64_t max_pixels;    /* AUG_DEFAULT_MAX_PIXELS: images (and what the pipelines make
	                         * of them) larger than this are unreadable, found before
	                         * anything is decoded */
	void (*on_epoch)(void *ctx, const aug_epoch_stats *stats);
	void *ctx;
} aug_train_options;

void aug_train_options_init(aug_train_options *opts);

typedef struct aug_trainer aug_trainer;

/* A trainer for model `m` on the items `train` of `ds` with pipeline
 * `train_p` (which must end in the model's input size), validating on `val`
 * with `eval_p` (nval may be 0). Everything is borrowed. */
aug_status aug_trainer_new(aug_model *m, const aug_dataset *ds, const size_t *train, size_t ntrain,
			   const size_t *val, size_t nval, const aug_pipeline *train_p,
			   const aug_pipeline *eval_p, const aug_train_options *opts, aug_trainer **out);

void aug_trainer_free(aug_trainer *t);

/* Continue from a checkpoint written by an earlier run with the same data,
 * pipelines, model and options: parameters, BatchNorm statistics, optimizer
 * state, epoch, random-stream positions, early-stopping state and history
 * are restored, so that the rest of the run is bit-identical to an
 * uninterrupted one (with the same thread count). */
aug_status aug_trainer_resume(aug_trainer *t, const char *checkpoint);

/* Train until opts->epochs are done or early stopping ends the run. */
aug_status aug_trainer_run(aug_trainer *t);

/* Write a checkpoint of the trainer's present state (the model as it is
 * now: after a run with restore_best, the best epoch's weights). */
aug_status aug_trainer_save(aug_trainer *t, const char *path);

/* Epochs done so far, and their statistics (i from 0). */
int aug_trainer_epochs_done(const aug_trainer *t);
const aug_epoch_stats *aug_trainer_history(const aug_trainer *t, int i);

/* The epoch (from 1) whose weights the model holds after restore_best, or 0. */
int aug_trainer_best_epoch(const aug_trainer *t);

/* True when early stopping ended the run. */
bool aug_trainer_stopped_early(const aug_trainer *t);

/* Files the loader could not read, reported once each. */
size_t aug_trainer_failure_count(const aug_trainer *t);
const char *aug_trainer_failure_at(const aug_trainer *t, size_t i);

/* ---- Checkpoints ------------------------------------------------------------------ */

/* What a checkpoint describes besides the weights. Strings belong to it;
 * free with aug_checkpoint_info_free(). */
typedef struct aug_checkpoint_info {
	int channels, height, width, classes;
	char **class_names;      /* classes strings */
	char *train_pipeline;    /* spec text */
	char *eval_pipeline;     /* spec text */
	int epochs_done;
	int best_epoch;
} aug_checkpoint_info;

void aug_checkpoint_info_free(aug_checkpoint_info *info);

/* Load the model stored in a checkpoint (in evaluation mode). The file is
 * checked (magic, version, sizes, CRC-32) before anything is trusted: a
 * damaged or foreign file is AUG_ECORRUPT naming it. `info` may be NULL. */
aug_status aug_checkpoint_load_model(const char *path, aug_model **model, aug_checkpoint_info *info);

/* ---- Evaluation ------------------------------------------------------------------- */

typedef enum aug_tta_reduce {
	AUG_TTA_MEAN = 0, /* average the softmax outputs of the views */
	AUG_TTA_VOTE      /* majority vote of the views' predictions (ties: lowest class) */
} aug_tta_reduce;

/* The result of an evaluation. Free with aug_eval_result_free(). */
typedef struct aug_eval_result {
	size_t n;              /* images evaluated */
	int classes;
	double loss;           /* mean cross-entropy of the reduced probabilities */
	double accuracy;
	double *class_accuracy; /* classes values (NAN for a class with no images) */
	size_t *confusion;     /* classes x classes: row = true class, column = predicted */
	int *predicted;        /* n: the predicted class of each item, in item order */
	float *probabilities;  /* n x classes: the reduced probabilities */
} aug_eval_result;

void aug_eval_result_free(aug_eval_result *r);

/* Evaluation settings. Start from aug_eval_options_init(); defaults beside
 * each field. */
typedef struct aug_eval_options {
	aug_tta_reduce reduce; /* AUG_TTA_MEAN */
	uint64_t seed;         /* 0: the key of the random views */
	int batch_size;        /* 128 */
	int threads;           /* 1: loader threads */
	uint64_t max_pixels;   /* AUG_DEFAULT_MAX_PIXELS: larger images are left out */
} aug_eval_options;

void aug_eval_options_init(aug_eval_options *opts);

/* Evaluate `m` on `items` of `ds`. Each of the `nviews` pipelines is one
 * view of every image (view v draws with key (seed, v, item)); with more
 * than one view the softmax outputs are reduced as opts->reduce says (opts
 * may be NULL for the defaults). Items the loader cannot read are left out
 * and counted in the loader's failures. */
aug_status aug_evaluate(aug_model *m, const aug_dataset *ds, const size_t *items, size_t nitems,
			const aug_pipeline *const *views, int nviews, const aug_eval_options *opts,
			aug_eval_result *out);

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_TRAIN_H */
