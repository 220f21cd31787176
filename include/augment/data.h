/* augment/data.h — data sets on disk: the class-per-folder scan.
 *
 * The scan follows torchvision's ImageFolder: every sub-folder of the root is
 * a class, classes are sorted by name (byte order) and numbered from 0, each
 * class folder is walked recursively in sorted order, and files whose name
 * ends in .png, .jpg or .jpeg (any case) are images. The order is therefore a
 * pure function of the tree, never of readdir(). One deliberate difference:
 * folders whose name starts with '.' (.ipynb_checkpoints, .git) are not
 * classes, where ImageFolder would make them one.
 */
#ifndef AUGMENT_DATA_H
#define AUGMENT_DATA_H

#include "codec.h"
#include "core.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One image of a data set. */
typedef struct aug_dataset_item {
	const char *path;    /* root + "/" + relpath */
	const char *relpath; /* path under the root, '/'-separated */
	int label;           /* class number, or -1 for a file directly under the root */
} aug_dataset_item;

/* A problem met while scanning (an unreadable folder, a symlink loop). */
typedef struct aug_dataset_problem {
	const char *path;
	const char *reason;
} aug_dataset_problem;

typedef struct aug_dataset aug_dataset;

/* Scan options. Start from aug_dataset_scan_options_init(). */
typedef struct aug_dataset_scan_options {
	bool include_root_files; /* false: like ImageFolder, files directly under
	                          * the root belong to no class and are skipped;
	                          * true: they are listed with label -1 */
	bool follow_symlinks;    /* true: symlinked folders are walked (loops are
	                          * detected and reported), like os.walk(followlinks=True) */
} aug_dataset_scan_options;

void aug_dataset_scan_options_init(aug_dataset_scan_options *opts);

/* Scan a folder. Fails with AUG_EIO naming the folder when the root cannot be
 * read; unreadable sub-folders and symlink loops are not failures but are
 * listed as problems. The root may also be a single image file, which gives a
 * data set of one item with label -1. Free with aug_dataset_free(). */
aug_status aug_dataset_scan(const char *root, const aug_dataset_scan_options *opts, aug_dataset **out);

void aug_dataset_free(aug_dataset *ds);

/* The root as given to aug_dataset_scan(). */
const char *aug_dataset_root(const aug_dataset *ds);

size_t aug_dataset_count(const aug_dataset *ds);

/* Item i, 0 <= i < count; items are ordered by class, then by path. */
const aug_dataset_item *aug_dataset_item_at(const aug_dataset *ds, size_t i);

int aug_dataset_class_count(const aug_dataset *ds);

/* The name of class `label` (the folder name). */
const char *aug_dataset_class_name(const aug_dataset *ds, int label);

size_t aug_dataset_problem_count(const aug_dataset *ds);

const aug_dataset_problem *aug_dataset_problem_at(const aug_dataset *ds, size_t i);

/* True when the name ends in .png, .jpg or .jpeg, in any case. */
bool aug_path_is_image(const char *name);

/* ---- Splits --------------------------------------------------------------- */

/* A stratified, deterministic split of the labelled items (label >= 0):
 * within each class, the items in scan order are shuffled with the stream
 * keyed by `seed` and the class, and the first round(fraction * count) go to
 * validation. Both lists come back in ascending order. Free them with
 * aug_free(). */
aug_status aug_dataset_split(const aug_dataset *ds, double val_fraction, uint64_t seed, size_t **train,
			     size_t *ntrain, size_t **val, size_t *nval);

/* ---- The streaming loader ---------------------------------------------------- */

/* Loader options. Start from aug_loader_options_init(). */
typedef struct aug_loader_options {
	int batch_size;        /* 128 */
	int threads;           /* 2: background threads running the pipeline */
	int prefetch;          /* 4: batches made ahead of the consumer (the ring) */
	uint64_t seed;         /* 0 */
	bool shuffle;          /* true: a new order every epoch, from (seed, epoch) */
	bool drop_last;        /* false: the last batch of an epoch may be short */
	int channels;          /* 3: images are decoded to 1 (grey) or 3 (RGB) */
	bool fail_on_error;    /* false: a file that cannot be read is left out of its
	                        * batch and reported once; true: aug_loader_next fails */
	aug_decode_options decode;
} aug_loader_options;

void aug_loader_options_init(aug_loader_options *opts);

/* A batch: float32 NCHW pixels and int labels, in preallocated storage. */
typedef struct aug_batch {
	uint64_t epoch;
	size_t index;        /* batch number within the epoch */
	int n;               /* samples held (short at the end, or when files failed) */
	int channels;
	int height;
	int width;
	float *data;         /* n x channels x height x width */
	int *labels;         /* n */
	const size_t *items; /* n data set item numbers */
} aug_batch;

typedef struct aug_loader aug_loader;

/* A loader over `items` (item numbers of `ds`, e.g. one side of a split) with
 * pipeline `p`, which must end in a fixed size. The data set and pipeline are
 * borrowed and must outlive the loader. Memory is bounded: prefetch batches
 * of storage and one executor per thread, whatever the data set's size. */
aug_status aug_loader_new(const aug_dataset *ds, const size_t *items, size_t nitems, const aug_pipeline *p,
			  const aug_loader_options *opts, aug_loader **out);

/* Stop the threads and free everything. Accepts NULL. */
void aug_loader_free(aug_loader *l);

/* Batches per epoch. */
size_t aug_loader_batch_count(const aug_loader *l);

/* Start (or restart) producing the batches of `epoch` in the background. The
 * content and order of every batch are a pure function of (seed, epoch):
 * sample k of an epoch is drawn with key (seed, epoch, item number), and
 * each batch is made whole by one thread, so the thread count changes
 * nothing. */
aug_status aug_loader_start(aug_loader *l, uint64_t epoch);

/* The next batch of the epoch, waiting for it if needed; *batch is NULL after
 * the last one. The batch stays valid until the next call. */
aug_status aug_loader_next(aug_loader *l, const aug_batch **batch);

/* Files that could not be read so far (each reported once), with reasons. */
size_t aug_loader_failure_count(const aug_loader *l);
const char *aug_loader_failure_at(const aug_loader *l, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_DATA_H */
