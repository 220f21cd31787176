/* Importers: MNIST-style IDX files and CIFAR-10 batches to class-per-folder
 * PNGs, OUT/<split>/<class>/<index>.png.
 *
 * Everything is read and checked first (a damaged source writes nothing),
 * then each split is written on OpenMP threads in chunks: between chunks the
 * calling thread reports progress and a failure stops the rest. A PNG that
 * exists already is skipped; since every PNG is written atomically, one that
 * exists is whole, and an interrupted import resumes where it stopped.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "augment/codec.h"
#include "internal.h"

/* Images per parallel chunk: progress and stopping happen between chunks. */
#define CHUNK 2048

static const char *const kind_names[AUG_IMPORT_KIND_COUNT] = {
	[AUG_IMPORT_MNIST] = "mnist",
	[AUG_IMPORT_FASHION_MNIST] = "fashion-mnist",
	[AUG_IMPORT_CIFAR10] = "cifar10",
};

/* Fashion-MNIST's classes (Xiao, Rasul and Vollgraf 2017), by label, with
 * '/' and ' ' made '_' so that each can be a folder's name. */
static const char *const fashion_classes[10] = {
	"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot",
};

/* The four IDX files of a (Fashion-)MNIST folder: images, labels of train,
 * then of test ("t10k"). */
static const char *const idx_names[4] = {
	"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
};

const char *aug_import_kind_name(aug_import_kind kind)
{
	return (unsigned)kind < AUG_IMPORT_KIND_COUNT ? kind_names[kind] : NULL;
}

aug_status aug_import_kind_parse(const char *name, aug_import_kind *out)
{
	static const struct {
		const char *name;
		aug_import_kind kind;
	} aliases[] = {
		{ "mnist", AUG_IMPORT_MNIST },
		{ "fashion-mnist", AUG_IMPORT_FASHION_MNIST },
		{ "fashion_mnist", AUG_IMPORT_FASHION_MNIST },
		{ "fashionmnist", AUG_IMPORT_FASHION_MNIST },
		{ "cifar10", AUG_IMPORT_CIFAR10 },
		{ "cifar-10", AUG_IMPORT_CIFAR10 },
	};

	for (size_t i = 0; name && i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(name, aliases[i].name) == 0) {
			*out = aliases[i].kind;
			return AUG_OK;
		}
	}
	return aug__fail(AUG_EINVAL, __func__, "unknown data set '%s'; known: mnist, fashion-mnist, cifar10",
			 name ? name : "(null)");
}

void aug_import_options_init(aug_import_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	/* Level 1, not zlib's usual 6: measured on Fashion-MNIST's 28x28
	 * test images, level 1 encodes in 32 us an image for 528 bytes, level
	 * 6 in 40 us for 509 (0 in 9 us for 880; 9 in 47 us for 508): 4%
	 * larger files for a fifth less encoding time. */
	opts->png_level = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

void aug__source_free(struct aug__source *s)
{
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 2; i++) {
			free(s->split[k].own[i]);
			s->split[k].own[i] = NULL;
		}
}

/* ---- (Fashion-)MNIST ---- */

/* src/name, or src/name.gz: whichever exists, the plain one first. */
static aug_status find_idx(const char *src, const char *name, char **out)
{
	struct stat sb;
	char *p = join(src, name), *gz = NULL;

	*out = NULL;
	if (!p)
		return aug__fail(AUG_ENOMEM, "aug_import", "no memory");
	if (stat(p, &sb) == 0) {
		*out = p;
		return AUG_OK;
	}
	if (asprintf(&gz, "%s.gz", p) < 0) {
		free(p);
		return aug__fail(AUG_ENOMEM, "aug_import", "no memory");
	}
	free(p);
	if (stat(gz, &sb) == 0) {
		*out = gz;
		return AUG_OK;
	}
	free(gz);
	return aug__fail(AUG_EIO, "aug_import", "%s: no %s (nor %s.gz)", src, name, name);
}

/* One split from its images file (N x rows x cols) and labels file (N). */
static aug_status load_idx_split(const char *images, const char *labels, size_t max_bytes,
				 uint64_t max_pixels, const char *name, struct aug__split *s)
{
	aug_idx *im = NULL, *lb = NULL;
	aug_status st;

	st = aug_idx_read(images, max_bytes, &im);
	if (!st)
		st = aug_idx_read(labels, max_bytes, &lb);
	if (st)
		goto out;
	if (im->ndims != 3) {
		st = aug__fail(AUG_ECORRUPT, "aug_import", "%s: %d dimensions; images are N x rows x cols", images,
			       im->ndims);
		goto out;
	}
	if (lb->ndims != 1) {
		st = aug__fail(AUG_ECORRUPT, "aug_import", "%s: %d dimensions; labels are a list of N", labels,
			       lb->ndims);
		goto out;
	}
	if (im->dims[0] != lb->dims[0]) {
		st = aug__fail(AUG_ECORRUPT, "aug_import", "%s holds %u images but %s holds %u labels", images,
			       im->dims[0], labels, lb->dims[0]);
		goto out;
	}
	if (im->dims[1] == 0 || im->dims[2] == 0) {
		st = aug__fail(AUG_ECORRUPT, "aug_import", "%s: images of %u x %u pixels", images, im->dims[1],
			       im->dims[2]);
		goto out;
	}
	/* rows * cols <= the pixel limit (at most INT_MAX, see aug_import())
	 * also keeps each side within an int. */
	if ((uint64_t)im->dims[1] * im->dims[2] > max_pixels) {
		st = aug__fail(AUG_ELIMIT, "aug_import", "%s: images of %u x %u pixels, over the limit of %llu",
			       images, im->dims[1], im->dims[2], (unsigned long long)max_pixels);
		goto out;
	}
	for (size_t i = 0; i < lb->size; i++) {
		if (lb->data[i] >= 10) {
			st = aug__fail(AUG_ECORRUPT, "aug_import", "%s: record %zu: label %d is not below 10",
				       labels, i, lb->data[i]);
			goto out;
		}
	}
	s->name = name;
	s->count = im->dims[0];
	s->rows = (int)im->dims[1];
	s->cols = (int)im->dims[2];
	s->channels = 1;
	s->planar = false;
	s->labels = lb->data;
	s->label_stride = 1;
	s->pixels = im->data;
	s->pixel_stride = (size_t)s->rows * (size_t)s->cols;
	s->own[0] = im->data;
	s->own[1] = lb->data;
	im->data = NULL;
	lb->data = NULL;
out:
	aug_idx_free(im);
	aug_idx_free(lb);
	return st;
}

static aug_status load_idx(aug_import_kind kind, const char *src, size_t max_bytes, uint64_t max_pixels,
			   struct aug__source *out)
{
	char *path[4] = { 0 };
	struct stat sb;
	aug_status st = AUG_OK;

	if (stat(src, &sb) != 0)
		return aug__fail(AUG_EIO, "aug_import", "%s: %s", src, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return aug__fail(AUG_EINVAL, "aug_import",
				 "%s: not a folder; give the folder holding the four IDX files (%s[.gz], ...)", src,
				 idx_names[0]);
	for (int i = 0; i < 4 && !st; i++)
		st = find_idx(src, idx_names[i], &path[i]);
	if (!st)
		st = load_idx_split(path[0], path[1], max_bytes, max_pixels, "train", &out->split[0]);
	if (!st)
		st = load_idx_split(path[2], path[3], max_bytes, max_pixels, "test", &out->split[1]);
	for (int i = 0; i < 4; i++)
		free(path[i]);
	out->class_count = 10;
	for (int i = 0; i < 10; i++) {
		if (kind == AUG_IMPORT_FASHION_MNIST)
			snprintf(out->class_names[i], AUG_IMPORT_NAME_MAX, "%s", fashion_classes[i]);
		else
			snprintf(out->class_names[i], AUG_IMPORT_NAME_MAX, "%d", i);
	}
	return st;
}

/* ---- writing ---- */

static aug_status make_dir(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0755) == 0)
		return AUG_OK;
	if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return AUG_OK;
	if (errno == EEXIST)
		return aug__fail(AUG_EIO, "aug_import", "%s: exists and is not a folder", path);
	return aug__fail(AUG_EIO, "aug_import", "cannot make the folder %s: %s", path, strerror(errno));
}

static aug_status make_dirs(const char *path)
{
	char *p = strdup(path);
	aug_status st = AUG_OK;

	if (!p)
		return aug__fail(AUG_ENOMEM, "aug_import", "no memory");
	for (char *s = p + 1; *s && !st; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		st = make_dir(p);
		*s = '/';
	}
	if (!st)
		st = make_dir(p);
	free(p);
	return st;
}

/* Remove the temporaries ("<name>.tmp.XXXXXX", see aug_file_write_atomic())
 * that an interrupted import left in one of its own class folders. */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *t = strstr(e->d_name, ".png.tmp.");
		char *p;

		if (!t || strlen(t) != 15 || t == e->d_name)
			continue;
		p = join(dir, e->d_name);
		if (p)
			unlink(p);
		free(p);
	}
	closedir(d);
}

/* The first failure of a parallel loop, by record index, so that the message
 * does not depend on the threads; messages are per thread, so it is copied
 * and set again on the calling thread. */
struct failure {
	aug_status status;
	size_t index;
	char message[1024];
};

static void fail_record(struct failure *f, size_t i, aug_status st)
{
#pragma omp critical(aug_import_failure)
	{
		if (!f->status || i < f->index) {
			f->status = st;
			f->index = i;
			snprintf(f->message, sizeof(f->message), "%s", aug_error_message());
		}
	}
}

/* Set a message copied from another thread on this one, as it was. */
static aug_status fail_again(const struct failure *f)
{
	char func[64];
	const char *m = f->message, *p = strstr(m, "(): ");

	if (p && (size_t)(p - m) < sizeof(func) && strspn(m, "abcdefghijklmnopqrstuvwxyz0123456789_") == (size_t)(p - m)) {
		memcpy(func, m, (size_t)(p - m));
		func[p - m] = '\0';
		return aug__fail(f->status, func, "%s", p + 4);
	}
	return aug__fail(f->status, "aug_import", "%s", m);
}

/* Encode record i of a split to `path`. */
static aug_status write_one(const struct aug__split *s, size_t i, const char *path,
			    const aug_encode_options *eo)
{
	const uint8_t *px = s->pixels + i * s->pixel_stride;
	uint8_t rgb[AUG__CIFAR_SIDE * AUG__CIFAR_SIDE * 3];
	size_t plane = (size_t)s->rows * (size_t)s->cols;
	aug_image img = {
		.width = s->cols,
		.height = s->rows,
		.channels = s->channels,
		.stride = (size_t)s->cols * (size_t)s->channels,
		/* The encoder only reads the pixels; the cast saves a copy. */
		.data = (uint8_t *)px,
	};

	if (s->planar) {
		/* Only CIFAR is planar, and its size is fixed. */
		if (plane * 3 > sizeof(rgb))
			return aug__fail(AUG_EINVAL, "aug_import", "%s: planar images of %dx%d", path, s->cols,
					 s->rows);
		for (size_t p = 0; p < plane; p++)
			for (int c = 0; c < 3; c++)
				rgb[3 * p + (size_t)c] = px[(size_t)c * plane + p];
		img.data = rgb;
	}
	return aug_encode_file(&img, path, eo);
}

struct writer {
	const char *out_dir;
	const aug_import_options *opts;
	int threads;
	size_t done;  /* over both splits, for progress */
	size_t total;
};

static aug_status write_split(struct writer *w, const struct aug__source *src, int k, aug_import_split *rep)
{
	const struct aug__split *s = &src->split[k];
	char *dirs[AUG_IMPORT_MAX_CLASSES] = { 0 };
	char *split_dir = join(w->out_dir, s->name);
	size_t n = s->count, written = 0, skipped = 0, longest = 0;
	struct failure fail = { 0 };
	aug_encode_options eo;
	aug_status st = AUG_OK;
	double t0 = now();
	int stop = 0;

	if (w->opts->limit && w->opts->limit < n)
		n = w->opts->limit;
	rep->name = s->name;
	rep->records = s->count;
	rep->images = n;
	for (size_t i = 0; i < n; i++)
		rep->per_class[s->labels[i * s->label_stride]]++;
	if (!split_dir)
		return aug__fail(AUG_ENOMEM, "aug_import", "no memory");
	st = make_dir(split_dir);
	/* A folder only for the classes that have images: an empty class
	 * folder is an error to torchvision's ImageFolder. */
	for (int c = 0; c < src->class_count && !st; c++) {
		if (!rep->per_class[c])
			continue;
		rep->classes++;
		dirs[c] = join(split_dir, src->class_names[c]);
		if (!dirs[c]) {
			st = aug__fail(AUG_ENOMEM, "aug_import", "no memory");
			break;
		}
		if (strlen(dirs[c]) > longest)
			longest = strlen(dirs[c]);
		st = make_dir(dirs[c]);
		if (!st)
			remove_stale(dirs[c]);
	}
	/* "/" + at least 5 digits (20 at most) + ".png" + ".tmp.XXXXXX" */
	if (!st && longest + 1 + 20 + 4 + 11 >= PATH_MAX)
		st = aug__fail(AUG_EINVAL, "aug_import", "%s: the output folder's path is too long", w->out_dir);
	if (st)
		goto out;
	aug_encode_options_init(&eo);
	eo.format = AUG_FORMAT_PNG;
	eo.png_level = w->opts->png_level;
	for (size_t base = 0; base < n && !stop; base += CHUNK) {
		size_t end = base + CHUNK < n ? base + CHUNK : n;

#pragma omp parallel for schedule(dynamic, 16) num_threads(w->threads) reduction(+ : written, skipped)
		for (size_t i = base; i < end; i++) {
			char path[PATH_MAX];
			struct stat sb;
			aug_status e;
			int halt;

#pragma omp atomic read
			halt = stop;
			if (halt)
				continue;
			snprintf(path, sizeof(path), "%s/%05zu.png", dirs[s->labels[i * s->label_stride]], i);
			if (stat(path, &sb) == 0) {
				skipped++;
				continue;
			}
			e = write_one(s, i, path, &eo);
			if (e) {
				fail_record(&fail, i, e);
#pragma omp atomic write
				stop = 1;
				continue;
			}
			written++;
		}
		w->done += end - base;
		if (w->opts->progress && !stop)
			w->opts->progress(w->opts->progress_user, w->done, w->total);
	}
	if (fail.status)
		st = fail_again(&fail);
out:
	rep->written = written;
	rep->skipped = skipped;
	rep->seconds = now() - t0;
	for (int c = 0; c < AUG_IMPORT_MAX_CLASSES; c++)
		free(dirs[c]);
	free(split_dir);
	return st;
}

/* OUT/classes.txt: "label name" a line, in the source's label order, which
 * is not the sorted order in which ImageFolder numbers the folders. */
static aug_status write_classes(const char *out_dir, const struct aug__source *src)
{
	char buf[AUG_IMPORT_MAX_CLASSES * (AUG_IMPORT_NAME_MAX + 8)];
	size_t len = 0;
	char *path = join(out_dir, "classes.txt");
	aug_status st;

	if (!path)
		return aug__fail(AUG_ENOMEM, "aug_import", "no memory");
	for (int c = 0; c < src->class_count; c++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d %s\n", c, src->class_names[c]);
	st = aug_file_write_atomic(path, buf, len);
	free(path);
	return st;
}

aug_status aug_import(aug_import_kind kind, const char *src, const char *out_dir,
		      const aug_import_options *opts, aug_import_report *rep)
{
	aug_import_options defaults;
	aug_import_report local;
	struct aug__source source;
	struct writer w = { 0 };
	size_t max_bytes;
	uint64_t max_pixels;
	aug_status st;
	double t0 = now();

	if (!opts) {
		aug_import_options_init(&defaults);
		opts = &defaults;
	}
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	memset(&source, 0, sizeof(source));
	if ((unsigned)kind >= AUG_IMPORT_KIND_COUNT)
		return aug__fail(AUG_EINVAL, __func__, "unknown data set kind %d", (int)kind);
	if (!src || !*src || !out_dir || !*out_dir)
		return aug__fail(AUG_EINVAL, __func__, "no %s given", !src || !*src ? "source" : "output folder");
	if (opts->png_level < 0 || opts->png_level > 9 || opts->threads < 0)
		return aug__fail(AUG_EINVAL, __func__, "png_level must be 0..9 (not %d), threads >= 0 (not %d)",
				 opts->png_level, opts->threads);
	max_bytes = opts->max_bytes ? opts->max_bytes : AUG__IMPORT_MAX_BYTES;
	max_pixels = opts->max_pixels ? opts->max_pixels : AUG_DEFAULT_MAX_PIXELS;
	if (max_pixels > INT_MAX)
		max_pixels = INT_MAX;

	if (kind == AUG_IMPORT_CIFAR10) {
		st = aug__cifar_load(src, max_bytes, &source);
		if (!st && (uint64_t)AUG__CIFAR_SIDE * AUG__CIFAR_SIDE > max_pixels)
			st = aug__fail(AUG_ELIMIT, "aug_import", "%s: images of %d x %d pixels, over the limit of %llu",
				       src, AUG__CIFAR_SIDE, AUG__CIFAR_SIDE, (unsigned long long)max_pixels);
	} else {
		st = load_idx(kind, src, max_bytes, max_pixels, &source);
	}
	rep->read_seconds = now() - t0;
	if (st)
		goto out;
	rep->class_count = source.class_count;
	for (int c = 0; c < source.class_count; c++)
		memcpy(rep->class_names[c], source.class_names[c], AUG_IMPORT_NAME_MAX);
	rep->width = source.split[0].cols;
	rep->height = source.split[0].rows;
	rep->channels = source.split[0].channels;

	st = make_dirs(out_dir);
	if (!st)
		st = write_classes(out_dir, &source);
	if (st)
		goto out;
	w.out_dir = out_dir;
	w.opts = opts;
	w.threads = opts->threads ? opts->threads : omp_get_max_threads();
	for (int k = 0; k < 2; k++) {
		size_t n = source.split[k].count;

		w.total += opts->limit && opts->limit < n ? opts->limit : n;
	}
	for (int k = 0; k < 2 && !st; k++)
		st = write_split(&w, &source, k, &rep->splits[k]);
out:
	aug__source_free(&source);
	return st;
}
