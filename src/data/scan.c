/* The class-per-folder scan, with torchvision ImageFolder's rules. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "augment/data.h"
#include "core/internal.h"

struct aug_dataset {
	char *root;
	aug_dataset_item *items;
	size_t count;
	size_t cap;
	char **classes;
	int class_count;
	aug_dataset_problem *problems;
	size_t problem_count;
	size_t problem_cap;
};

/* The folders on the current walk, to catch symlink loops. */
struct visit {
	dev_t dev;
	ino_t ino;
};

struct walk {
	aug_dataset *ds;
	const aug_dataset_scan_options *opts;
	struct visit *stack;
	int depth;
	int cap;
};

void aug_dataset_scan_options_init(aug_dataset_scan_options *opts)
{
	opts->include_root_files = false;
	opts->follow_symlinks = true;
}

bool aug_path_is_image(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && (strcasecmp(name + n - 4, ".png") == 0 || strcasecmp(name + n - 4, ".jpg") == 0)) ||
	       (n > 5 && strcasecmp(name + n - 5, ".jpeg") == 0);
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s;

	if (la == 0)
		return strdup(b);
	s = malloc(la + lb + 2);
	if (!s)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

static aug_status add_problem(aug_dataset *ds, const char *path, const char *reason)
{
	aug_dataset_problem *p;

	if (ds->problem_count == ds->problem_cap) {
		size_t cap = ds->problem_cap ? ds->problem_cap * 2 : 8;

		p = realloc(ds->problems, cap * sizeof(*p));
		if (!p)
			return aug__fail(AUG_ENOMEM, "aug_dataset_scan", "no memory");
		ds->problems = p;
		ds->problem_cap = cap;
	}
	p = &ds->problems[ds->problem_count];
	p->path = strdup(path);
	p->reason = strdup(reason);
	if (!p->path || !p->reason) {
		free((char *)p->path);
		free((char *)p->reason);
		return aug__fail(AUG_ENOMEM, "aug_dataset_scan", "no memory");
	}
	ds->problem_count++;
	return AUG_OK;
}

static aug_status add_item(aug_dataset *ds, const char *rel, int label)
{
	aug_dataset_item *it;

	if (ds->count == ds->cap) {
		size_t cap = ds->cap ? ds->cap * 2 : 64;

		it = realloc(ds->items, cap * sizeof(*it));
		if (!it)
			return aug__fail(AUG_ENOMEM, "aug_dataset_scan", "no memory for %zu items", cap);
		ds->items = it;
		ds->cap = cap;
	}
	it = &ds->items[ds->count];
	it->path = join(ds->root, rel);
	it->relpath = strdup(rel);
	it->label = label;
	if (!it->path || !it->relpath) {
		free((char *)it->path);
		free((char *)it->relpath);
		return aug__fail(AUG_ENOMEM, "aug_dataset_scan", "no memory");
	}
	ds->count++;
	return AUG_OK;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The sorted entry names of a folder, without "." and "..". */
static aug_status list_dir(const char *path, char ***out, size_t *count, int *err)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*count = 0;
	*err = 0;
	if (!d) {
		*err = errno;
		return AUG_EIO;
	}
	while ((errno = 0, e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **t;

			cap = cap ? cap * 2 : 32;
			t = realloc(names, cap * sizeof(*names));
			if (!t)
				goto fail_nomem;
			names = t;
		}
		names[n] = strdup(e->d_name);
		if (!names[n])
			goto fail_nomem;
		n++;
	}
	if (errno) {
		*err = errno;
		closedir(d);
		free_names(names, n);
		return AUG_EIO;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*count = n;
	return AUG_OK;

fail_nomem:
	closedir(d);
	free_names(names, n);
	return aug__fail(AUG_ENOMEM, "aug_dataset_scan", "%s: no memory", path);
}

static bool on_stack(const struct walk *w, const struct stat *sb)
{
	for (int i = 0; i < w->depth; i++)
		if (w->stack[i].dev == sb->st_dev && w->stack[i].ino == sb->st_ino)
			return true;
	return false;
}

static aug_status push(struct walk *w, const struct stat *sb)
{
	if (w->depth == w->cap) {
		int cap = w->cap ? w->cap * 2 : 16;
		struct visit *s = realloc(w->stack, (size_t)cap * sizeof(*s));

		if (!s)
			return aug__fail(AUG_ENOMEM, "aug_dataset_scan", "no memory");
		w->stack = s;
		w->cap = cap;
	}
	w->stack[w->depth].dev = sb->st_dev;
	w->stack[w->depth].ino = sb->st_ino;
	w->depth++;
	return AUG_OK;
}

/* Walk folder `rel` (under the root) and add its images with `label`. */
static aug_status walk_dir(struct walk *w, const char *rel, int label)
{
	aug_dataset *ds = w->ds;
	char *dir = join(ds->root, rel);
	char **names = NULL;
	size_t n = 0;
	aug_status st;
	struct stat sb;
	int err;

	if (!dir)
		return aug__fail(AUG_ENOMEM, "aug_dataset_scan", "no memory");
	if (stat(dir, &sb) != 0) {
		st = add_problem(ds, dir, strerror(errno));
		goto out;
	}
	if (on_stack(w, &sb)) {
		st = add_problem(ds, dir, "symbolic link loop: folder already being walked");
		goto out;
	}
	st = list_dir(dir, &names, &n, &err);
	if (st == AUG_EIO) {
		st = add_problem(ds, dir, strerror(err));
		goto out;
	}
	if (st)
		goto out;
	st = push(w, &sb);
	if (st)
		goto out;
	for (size_t i = 0; i < n && !st; i++) {
		char *child_rel = join(rel, names[i]);
		char *child = child_rel ? join(ds->root, child_rel) : NULL;
		struct stat lsb, csb;

		if (!child) {
			free(child_rel);
			st = aug__fail(AUG_ENOMEM, "aug_dataset_scan", "no memory");
			break;
		}
		if (lstat(child, &lsb) != 0) {
			st = add_problem(ds, child, strerror(errno));
		} else if (S_ISLNK(lsb.st_mode) && stat(child, &csb) != 0) {
			st = add_problem(ds, child, "broken symbolic link");
		} else {
			if (!S_ISLNK(lsb.st_mode))
				csb = lsb;
			if (S_ISDIR(csb.st_mode)) {
				if (!S_ISLNK(lsb.st_mode) || w->opts->follow_symlinks)
					st = walk_dir(w, child_rel, label);
			} else if (S_ISREG(csb.st_mode) && aug_path_is_image(names[i])) {
				st = add_item(ds, child_rel, label);
			}
		}
		free(child);
		free(child_rel);
	}
	w->depth--;
out:
	free_names(names, n);
	free(dir);
	return st;
}

void aug_dataset_free(aug_dataset *ds)
{
	if (!ds)
		return;
	for (size_t i = 0; i < ds->count; i++) {
		free((char *)ds->items[i].path);
		free((char *)ds->items[i].relpath);
	}
	for (size_t i = 0; i < ds->problem_count; i++) {
		free((char *)ds->problems[i].path);
		free((char *)ds->problems[i].reason);
	}
	for (int i = 0; i < ds->class_count; i++)
		free(ds->classes[i]);
	free(ds->classes);
	free(ds->items);
	free(ds->problems);
	free(ds->root);
	free(ds);
}

aug_status aug_dataset_scan(const char *root, const aug_dataset_scan_options *opts, aug_dataset **out)
{
	aug_dataset_scan_options defaults;
	struct walk w = { 0 };
	aug_dataset *ds;
	char **names = NULL;
	size_t n = 0, len;
	struct stat sb;
	aug_status st;
	int err;

	*out = NULL;
	if (!opts) {
		aug_dataset_scan_options_init(&defaults);
		opts = &defaults;
	}
	if (stat(root, &sb) != 0)
		return aug__fail(AUG_EIO, __func__, "%s: %s", root, strerror(errno));
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return aug__fail(AUG_ENOMEM, __func__, "no memory");
	/* Keep the root as given, less trailing slashes, so paths read naturally. */
	len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		len--;
	ds->root = strndup(root, len);
	if (!ds->root) {
		st = aug__fail(AUG_ENOMEM, __func__, "no memory");
		goto fail;
	}
	if (S_ISREG(sb.st_mode)) {
		/* A single file: the data set is that file, under its folder. */
		const char *base = strrchr(root, '/');

		free(ds->root);
		ds->root = base ? strndup(root, (size_t)(base - root)) : strdup("");
		if (!ds->root) {
			st = aug__fail(AUG_ENOMEM, __func__, "no memory");
			goto fail;
		}
		st = add_item(ds, base ? base + 1 : root, -1);
		if (st)
			goto fail;
		*out = ds;
		return AUG_OK;
	}
	if (!S_ISDIR(sb.st_mode)) {
		st = aug__fail(AUG_EIO, __func__, "%s: neither a folder nor a regular file", root);
		goto fail;
	}
	st = list_dir(ds->root, &names, &n, &err);
	if (st == AUG_EIO) {
		st = aug__fail(AUG_EIO, __func__, "%s: %s", ds->root, strerror(err));
		goto fail;
	}
	if (st)
		goto fail;
	w.ds = ds;
	w.opts = opts;
	st = push(&w, &sb);
	if (st)
		goto fail;
	/* Files directly under the root first (label -1), then each class. */
	for (size_t i = 0; i < n && !st; i++) {
		char *p = join(ds->root, names[i]);
		struct stat csb;

		if (!p) {
			st = aug__fail(AUG_ENOMEM, __func__, "no memory");
			break;
		}
		if (stat(p, &csb) == 0 && S_ISREG(csb.st_mode) && opts->include_root_files &&
		    aug_path_is_image(names[i]))
			st = add_item(ds, names[i], -1);
		free(p);
	}
	for (size_t i = 0; i < n && !st; i++) {
		char *p = join(ds->root, names[i]);
		struct stat lsb, csb;
		bool is_dir;

		if (!p) {
			st = aug__fail(AUG_ENOMEM, __func__, "no memory");
			break;
		}
		is_dir = lstat(p, &lsb) == 0 && stat(p, &csb) == 0 && S_ISDIR(csb.st_mode) &&
			 (!S_ISLNK(lsb.st_mode) || opts->follow_symlinks);
		free(p);
		if (!is_dir || names[i][0] == '.')
			continue;
		{
			char **c = realloc(ds->classes, (size_t)(ds->class_count + 1) * sizeof(*c));

			if (!c) {
				st = aug__fail(AUG_ENOMEM, __func__, "no memory");
				break;
			}
			ds->classes = c;
			c[ds->class_count] = strdup(names[i]);
			if (!c[ds->class_count]) {
				st = aug__fail(AUG_ENOMEM, __func__, "no memory");
				break;
			}
			ds->class_count++;
		}
		st = walk_dir(&w, names[i], ds->class_count - 1);
	}
	free(w.stack);
	free_names(names, n);
	if (st)
		goto fail;
	*out = ds;
	return AUG_OK;

fail:
	aug_dataset_free(ds);
	return st;
}

const char *aug_dataset_root(const aug_dataset *ds)
{
	return ds->root;
}

size_t aug_dataset_count(const aug_dataset *ds)
{
	return ds->count;
}

const aug_dataset_item *aug_dataset_item_at(const aug_dataset *ds, size_t i)
{
	return i < ds->count ? &ds->items[i] : NULL;
}

int aug_dataset_class_count(const aug_dataset *ds)
{
	return ds->class_count;
}

const char *aug_dataset_class_name(const aug_dataset *ds, int label)
{
	return label >= 0 && label < ds->class_count ? ds->classes[label] : NULL;
}

size_t aug_dataset_problem_count(const aug_dataset *ds)
{
	return ds->problem_count;
}

const aug_dataset_problem *aug_dataset_problem_at(const aug_dataset *ds, size_t i)
{
	return i < ds->problem_count ? &ds->problems[i] : NULL;
}
