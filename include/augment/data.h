/* augment/data.h — data sets on disk: the class-per-folder scan, splits, the
 * streaming loader, and the importers that make such folders from MNIST-style
 * IDX files and CIFAR-10 batches.
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

/* ---- Importers: IDX files (MNIST, Fashion-MNIST) and CIFAR-10 batches ----
 *
 * aug_import() turns a data set published as arrays into the class-per-folder
 * tree the scan above reads:
 *
 *     OUT/train/<class>/<index>.png    OUT/test/<class>/<index>.png
 *
 * where <index> is the record's position in its split, zero-padded to five
 * digits (00042.png), so that a name depends on nothing but the source: not
 * on the thread count, not on a limit, not on an earlier interrupted run.
 * Sorting a class folder by name gives its records in source order. */

/* The most dimensions aug_idx_read() accepts (MNIST needs 3). */
#define AUG_IDX_MAX_DIMS 8

/* An IDX array of unsigned bytes, the format of the MNIST files (LeCun,
 * Cortes and Burges): a big-endian header (0, 0, element type, number of
 * dimensions, then each dimension as a 32-bit count) and the elements in
 * row-major order. A plain struct; free it with aug_idx_free(). */
typedef struct aug_idx {
	int ndims;                       /* 1..AUG_IDX_MAX_DIMS */
	uint32_t dims[AUG_IDX_MAX_DIMS]; /* dims[0] varies slowest: the record count */
	size_t size;                     /* bytes of data: the product of the dims */
	uint8_t *data;                   /* the elements; NULL when size is 0 */
} aug_idx;

/* Read an IDX file, gzip-compressed (found by its magic bytes 1f 8b, as the
 * files are distributed) or not. Only element type 0x08 (unsigned byte) is
 * read; the other IDX types give AUG_EUNSUPPORTED. The data must be exactly
 * as long as the dims say: AUG_ETRUNCATED when it is shorter (or the gzip
 * stream ends early), AUG_ECORRUPT when it is longer, when the magic is not
 * IDX's or the gzip stream is damaged. `max_bytes` (0: 1 GiB) bounds the
 * inflated data: a header asking for more gives AUG_ELIMIT before anything
 * is allocated or inflated, so a small file cannot make us inflate a large
 * one (a decompression bomb). Messages name the file. */
aug_status aug_idx_read(const char *path, size_t max_bytes, aug_idx **out);

/* Release an IDX array. Accepts NULL. */
void aug_idx_free(aug_idx *idx);

/* The data sets aug_import() knows. */
typedef enum aug_import_kind {
	AUG_IMPORT_MNIST,         /* classes "0".."9" */
	AUG_IMPORT_FASHION_MNIST, /* classes T-shirt_top, Trouser, ... Ankle_boot */
	AUG_IMPORT_CIFAR10,       /* classes from batches.meta.txt */
	AUG_IMPORT_KIND_COUNT
} aug_import_kind;

/* "mnist", "fashion-mnist" or "cifar10"; NULL for an unknown kind. */
const char *aug_import_kind_name(aug_import_kind kind);

/* The kind named `name` (as aug_import_kind_name() spells it; "cifar-10"
 * and "fashion_mnist" are accepted too). AUG_EINVAL, with a message listing
 * the known names, when there is none. */
aug_status aug_import_kind_parse(const char *name, aug_import_kind *out);

/* Import options. Start from aug_import_options_init(); the defaults are
 * written beside each field. */
typedef struct aug_import_options {
	int png_level;    /* 1: zlib level 0..9 of the PNGs written */
	int threads;      /* 0: OpenMP's default (every core) */
	size_t limit;     /* 0: every record; N: only the first N of each split */
	size_t max_bytes; /* 0: 1 GiB: the most one source file may hold, inflated */
	uint64_t max_pixels; /* 0: AUG_DEFAULT_MAX_PIXELS: the most pixels an image may have */
	/* Called now and then from the calling thread with the images done and
	 * the total over both splits (may be NULL). */
	void (*progress)(void *user, size_t done, size_t total);
	void *progress_user;
} aug_import_options;

void aug_import_options_init(aug_import_options *opts);

#define AUG_IMPORT_MAX_CLASSES 100
#define AUG_IMPORT_NAME_MAX 64

/* What one split ("train" or "test") came to. */
typedef struct aug_import_split {
	const char *name;                         /* "train" or "test" */
	size_t images;                            /* records imported (after the limit) */
	size_t records;                           /* records in the source */
	size_t written;                           /* PNGs written by this call */
	size_t skipped;                           /* PNGs already there (an earlier run) */
	int classes;                              /* classes holding at least one image */
	size_t per_class[AUG_IMPORT_MAX_CLASSES]; /* images of each label */
	double seconds;                           /* writing (and skipping) its PNGs */
} aug_import_split;

/* What aug_import() did. */
typedef struct aug_import_report {
	int class_count;
	/* The folder name of each label, in the source's label order. Note that
	 * the scan (and torchvision's ImageFolder) number classes in sorted
	 * order, which for Fashion-MNIST is not the source's: OUT/classes.txt
	 * keeps the source's numbering, one "label name" line each. */
	char class_names[AUG_IMPORT_MAX_CLASSES][AUG_IMPORT_NAME_MAX];
	int width;
	int height;
	int channels;               /* 1 for (Fashion-)MNIST, 3 for CIFAR-10 */
	double read_seconds;        /* reading and checking every source file */
	aug_import_split splits[2]; /* train, test */
} aug_import_report;

/* Import a data set from `src` into `out_dir` (made if missing) as grey
 * (MNIST, Fashion-MNIST) or RGB (CIFAR-10) PNGs, laid out as described above,
 * and write out_dir/classes.txt.
 *
 * (Fashion-)MNIST: `src` is a folder holding train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
 * each possibly gzipped (name + ".gz"); t10k is the test split. Images are
 * N x rows x cols as the header says; labels N, each below 10.
 *
 * CIFAR-10: `src` is the folder cifar-10-batches-bin (or a folder holding
 * it) with data_batch_1.bin .. data_batch_5.bin (train, in that order) and
 * test_batch.bin; each record is a label byte below 10 and 32x32 pixels as
 * three planes, R, G then B. The class names come from batches.meta.txt,
 * or are CIFAR-10's own when it is missing. The archive itself
 * (cifar-10-binary.tar.gz) is read too, without unpacking it.
 *
 * Every source file is read and checked, the labels included, before any
 * image is written; a bad one gives AUG_ECORRUPT, AUG_ETRUNCATED,
 * AUG_EUNSUPPORTED or AUG_ELIMIT with a message naming the file (and the
 * record, for a bad label). Images are encoded on OpenMP threads; each PNG
 * is written atomically and one that exists already is skipped, so an
 * interrupted import resumes where it stopped. `rep` (may be NULL) is filled
 * in, also on failure as far as the import went. */
aug_status aug_import(aug_import_kind kind, const char *src, const char *out_dir,
		      const aug_import_options *opts, aug_import_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_DATA_H */
