/* What the files of src/data/ share: the arrays an importer reads, before
 * they are written out as PNGs. */
#ifndef AUG_DATA_INTERNAL_H
#define AUG_DATA_INTERNAL_H

#include "augment/data.h"
#include "core/internal.h"

/* The default for max_bytes: the most one source file may hold, inflated. */
#define AUG__IMPORT_MAX_BYTES ((size_t)1 << 30)

/* CIFAR-10's binary record: a label byte, then 32x32 R, G and B planes. */
#define AUG__CIFAR_SIDE 32
#define AUG__CIFAR_RECORD (1 + 3 * AUG__CIFAR_SIDE * AUG__CIFAR_SIDE)
#define AUG__CIFAR_CLASSES 10

/* One split of a source, read and checked: record i has label
 * labels[i * label_stride] and its pixels at pixels + i * pixel_stride,
 * either interleaved (rows x cols x channels) or, when `planar`, as
 * `channels` planes of rows x cols. The buffers in own[] belong to it. */
struct aug__split {
	const char *name;   /* "train" or "test" */
	size_t count;
	int rows;
	int cols;
	int channels;
	bool planar;
	const uint8_t *labels;
	size_t label_stride;
	const uint8_t *pixels;
	size_t pixel_stride;
	void *own[2];
};

/* A source: two splits and the class names. */
struct aug__source {
	struct aug__split split[2]; /* train, test */
	int class_count;
	char class_names[AUG_IMPORT_MAX_CLASSES][AUG_IMPORT_NAME_MAX];
};

/* Read a CIFAR-10 source (a folder, a folder holding cifar-10-batches-bin,
 * or the .tar.gz archive) into `out` (zeroed by the caller), every record
 * checked. On failure `out` may hold buffers: aug__source_free() it. */
aug_status aug__cifar_load(const char *src, size_t max_bytes, struct aug__source *out);

void aug__source_free(struct aug__source *s);

/* Whether a class name read from a file can be one folder's name: not
 * empty, shorter than AUG_IMPORT_NAME_MAX, printable ASCII without '/',
 * not starting with '.' (the scan skips such folders). */
bool aug__class_name_ok(const char *name);

#endif /* AUG_DATA_INTERNAL_H */
