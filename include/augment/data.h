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

#include "core.h"

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

#ifdef __cplusplus
}
#endif

#endif /* AUGMENT_DATA_H */
