/* Data sets on disk: the ImageFolder scan. */
#include <criterion/criterion.h>
#include <sys/wait.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "augment.h"
#include "support.h"

static void touch(const char *dir, const char *rel)
{
	char p[4300];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	cr_assert_eq(spit(p, "x", 1), 0, "cannot write %s", p);
}

static void mkdirs(const char *dir, const char *rel)
{
	char p[4300];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
}

CTest(scan, imagefolder_order_and_labels)
{
	char *d = make_tmpdir();
	aug_dataset *ds = NULL;

	mkdirs(d, "zebra");
	mkdirs(d, "Ant");
	mkdirs(d, "cat");
	mkdirs(d, "cat/sub");
	mkdirs(d, ".hidden");
	touch(d, "zebra/b.JPG");
	touch(d, "zebra/a.jpeg");
	touch(d, "cat/sub/z.png");
	touch(d, "cat/b.png");
	touch(d, "cat/notes.txt");
	touch(d, "cat/x.gif");
	touch(d, ".hidden/h.png");
	touch(d, "root.png");
	touch(d, "Ant/one.PnG");
	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	/* Classes sorted in byte order: "Ant" < "cat" < "zebra". */
	cr_assert_eq(aug_dataset_class_count(ds), 3);
	cr_assert_str_eq(aug_dataset_class_name(ds, 0), "Ant");
	cr_assert_str_eq(aug_dataset_class_name(ds, 1), "cat");
	cr_assert_str_eq(aug_dataset_class_name(ds, 2), "zebra");
	cr_assert_null(aug_dataset_class_name(ds, 3));
	cr_assert_eq(aug_dataset_count(ds), 5u);
	const char *want[] = { "Ant/one.PnG", "cat/b.png", "cat/sub/z.png", "zebra/a.jpeg", "zebra/b.JPG" };
	const int labels[] = { 0, 1, 1, 2, 2 };
	for (size_t i = 0; i < 5; i++) {
		const aug_dataset_item *it = aug_dataset_item_at(ds, i);
		char full[4300];

		cr_assert_str_eq(it->relpath, want[i]);
		cr_assert_eq(it->label, labels[i]);
		snprintf(full, sizeof(full), "%s/%s", d, want[i]);
		cr_assert_str_eq(it->path, full);
	}
	cr_assert_null(aug_dataset_item_at(ds, 5));
	cr_assert_eq(aug_dataset_problem_count(ds), 0u);
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

CTest(scan, root_files_only_when_asked)
{
	char *d = make_tmpdir();
	aug_dataset_scan_options o;
	aug_dataset *ds = NULL;

	mkdirs(d, "c");
	touch(d, "c/a.png");
	touch(d, "top.jpg");
	aug_dataset_scan_options_init(&o);
	o.include_root_files = true;
	cr_assert_eq(aug_dataset_scan(d, &o, &ds), AUG_OK);
	cr_assert_eq(aug_dataset_count(ds), 2u);
	cr_assert_str_eq(aug_dataset_item_at(ds, 0)->relpath, "top.jpg");
	cr_assert_eq(aug_dataset_item_at(ds, 0)->label, -1);
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

CTest(scan, single_file_and_missing_root)
{
	aug_dataset *ds = NULL;

	cr_assert_eq(aug_dataset_scan(src_path("samples/images/space/rocket.jpg"), NULL, &ds), AUG_OK);
	cr_assert_eq(aug_dataset_count(ds), 1u);
	cr_assert_str_eq(aug_dataset_item_at(ds, 0)->relpath, "rocket.jpg");
	cr_assert_str_eq(aug_dataset_item_at(ds, 0)->path, src_path("samples/images/space/rocket.jpg"));
	aug_dataset_free(ds);
	cr_assert_eq(aug_dataset_scan("/no/such/folder", NULL, &ds), AUG_EIO);
	cr_assert_null(ds);
	cr_assert(strstr(aug_error_message(), "/no/such/folder"));
}

CTest(scan, symlink_loop_is_a_problem_not_a_hang)
{
	char *d = make_tmpdir();
	char link[4300], target[4300];
	aug_dataset *ds = NULL;

	mkdirs(d, "c");
	touch(d, "c/a.png");
	snprintf(link, sizeof(link), "%s/c/loop", d);
	snprintf(target, sizeof(target), "%s/c", d);
	cr_assert_eq(symlink(target, link), 0);
	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	cr_assert_eq(aug_dataset_count(ds), 1u);
	cr_assert_eq(aug_dataset_problem_count(ds), 1u);
	cr_assert(strstr(aug_dataset_problem_at(ds, 0)->reason, "loop"));
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

/* Root reads anything: as root, the check runs in a child that has become
 * nobody, for whom the permissions hold. Returns the child's status, or
 * runs `fn` here when not root. */
static int as_nobody(int (*fn)(const char *), const char *dir)
{
	pid_t pid;
	int ws;

	if (geteuid() != 0)
		return fn(dir);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(90);
		_exit(fn(dir));
	}
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFEXITED(ws), "the child died");
	return WEXITSTATUS(ws);
}

/* The unreadable folder is a problem of the scan; the unreadable file is
 * listed (the scan reads names, not files) and reading it fails naming it. */
static int scan_locked(const char *d)
{
	aug_dataset *ds = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int r = 0;

	if (aug_dataset_scan(d, NULL, &ds) != AUG_OK)
		return 1;
	if (aug_dataset_count(ds) != 2)
		r = 2;
	else if (aug_dataset_problem_count(ds) != 1 || !strstr(aug_dataset_problem_at(ds, 0)->path, "locked"))
		r = 3;
	else if (!strstr(aug_dataset_item_at(ds, 1)->path, "secret.png"))
		r = 4;
	else if (aug_file_read(aug_dataset_item_at(ds, 1)->path, 0, &buf, &len) != AUG_EIO)
		r = 5;
	else if (!strstr(aug_error_message(), "secret.png") || !strstr(aug_error_message(), "Permission denied"))
		r = 6;
	aug_dataset_free(ds);
	aug_free(buf);
	return r;
}

CTest(scan, unreadable_folder_and_file_are_reported)
{
	char *d = make_tmpdir();
	char p[4300], q[4300];
	int r;

	mkdirs(d, "ok");
	mkdirs(d, "locked");
	touch(d, "ok/a.png");
	touch(d, "ok/secret.png");
	touch(d, "locked/b.png");
	snprintf(p, sizeof(p), "%s/locked", d);
	snprintf(q, sizeof(q), "%s/ok/secret.png", d);
	cr_assert_eq(chmod(d, 0755), 0);
	cr_assert_eq(chmod(p, 0), 0);
	cr_assert_eq(chmod(q, 0), 0);
	r = as_nobody(scan_locked, d);
	cr_assert_eq(r, 0, "scan of an unreadable folder and file: %d", r);
	chmod(p, 0755);
	rm_rf(d);
	free(d);
}

CTest(scan, non_utf8_names_survive)
{
	char *d = make_tmpdir();
	aug_dataset *ds = NULL;

	mkdirs(d, "c");
	touch(d, "c/\xff\xfe.png");
	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	cr_assert_eq(aug_dataset_count(ds), 1u);
	cr_assert_str_eq(aug_dataset_item_at(ds, 0)->relpath, "c/\xff\xfe.png");
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

CTest(scan, extension_rules)
{
	cr_assert(aug_path_is_image("a.png"));
	cr_assert(aug_path_is_image("A.JPEG"));
	cr_assert(aug_path_is_image("b.Jpg"));
	cr_assert_not(aug_path_is_image(".png"));
	cr_assert_not(aug_path_is_image("png"));
	cr_assert_not(aug_path_is_image("a.png.txt"));
	cr_assert_not(aug_path_is_image("a.gif"));
}

/* ---- Splits and the streaming loader ------------------------------------- */

/* A data set of `per` 12x10 grey PNGs in each of `classes` classes; the
 * pixels of image k of class c are all c * 40 + k. */
static char *make_set(int classes, int per)
{
	char *d = make_tmpdir();

	for (int c = 0; c < classes; c++) {
		char dir[4300];

		snprintf(dir, sizeof(dir), "%s/class%d", d, c);
		cr_assert_eq(mkdir(dir, 0755), 0);
		for (int k = 0; k < per; k++) {
			aug_image *img = NULL;
			char p[4400];

			cr_assert_eq(aug_image_new(&img, 12, 10, 1), AUG_OK);
			memset(img->data, c * 40 + k + 1, 120);
			snprintf(p, sizeof(p), "%s/%03d.png", dir, k);
			cr_assert_eq(aug_encode_file(img, p, NULL), AUG_OK);
			aug_image_free(img);
		}
	}
	return d;
}

CTest(split, stratified_deterministic_disjoint)
{
	char *d = make_set(3, 10);
	aug_dataset *ds = NULL;
	size_t *t, *v, nt, nv, *t2, *v2, nt2, nv2;
	int per_class[3] = { 0 };

	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	cr_assert_eq(aug_dataset_split(ds, 0.2, 7, &t, &nt, &v, &nv), AUG_OK);
	cr_assert_eq(nv, 6u); /* round(0.2 * 10) = 2 per class */
	cr_assert_eq(nt, 24u);
	for (size_t i = 0; i < nv; i++)
		per_class[aug_dataset_item_at(ds, v[i])->label]++;
	for (int c = 0; c < 3; c++)
		cr_assert_eq(per_class[c], 2);
	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < nv; j++)
			cr_assert_neq(t[i], v[j]);
	for (size_t i = 1; i < nv; i++)
		cr_assert_lt(v[i - 1], v[i]);
	cr_assert_eq(aug_dataset_split(ds, 0.2, 7, &t2, &nt2, &v2, &nv2), AUG_OK);
	cr_assert_eq(memcmp(v, v2, nv * sizeof(size_t)), 0);
	aug_free(t2);
	aug_free(v2);
	cr_assert_eq(aug_dataset_split(ds, 0.2, 8, &t2, &nt2, &v2, &nv2), AUG_OK);
	cr_assert_neq(memcmp(v, v2, nv * sizeof(size_t)), 0, "another seed, another split");
	aug_free(t2);
	aug_free(v2);
	aug_free(t);
	aug_free(v);
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

/* Every batch of `epochs` epochs, concatenated: pixels, labels and items. */
struct run {
	float *data;
	int *labels;
	size_t *items;
	size_t n;
};

static struct run load_all(aug_dataset *ds, const char *spec, int threads, int batch, uint64_t seed, uint64_t epoch)
{
	aug_pipeline *p = NULL;
	aug_loader_options o;
	aug_loader *l = NULL;
	size_t *items = malloc(aug_dataset_count(ds) * sizeof(size_t));
	struct run r = { 0 };
	const aug_batch *b;

	for (size_t i = 0; i < aug_dataset_count(ds); i++)
		items[i] = i;
	cr_assert_eq(aug_pipeline_parse(spec, NULL, &p), AUG_OK);
	aug_loader_options_init(&o);
	o.threads = threads;
	o.batch_size = batch;
	o.seed = seed;
	o.channels = 1;
	o.prefetch = 3;
	cr_assert_eq(aug_loader_new(ds, items, aug_dataset_count(ds), p, &o, &l), AUG_OK, "%s", aug_error_message());
	r.data = malloc(aug_dataset_count(ds) * 64 * sizeof(float));
	r.labels = malloc(aug_dataset_count(ds) * sizeof(int));
	r.items = malloc(aug_dataset_count(ds) * sizeof(size_t));
	cr_assert_eq(aug_loader_start(l, epoch), AUG_OK);
	for (size_t k = 0;; k++) {
		cr_assert_eq(aug_loader_next(l, &b), AUG_OK);
		if (!b)
			break;
		cr_assert_eq(b->index, k);
		cr_assert_eq(b->epoch, epoch);
		cr_assert_eq(b->channels * b->height * b->width, 64);
		memcpy(r.data + r.n * 64, b->data, (size_t)b->n * 64 * sizeof(float));
		memcpy(r.labels + r.n, b->labels, (size_t)b->n * sizeof(int));
		memcpy(r.items + r.n, b->items, (size_t)b->n * sizeof(size_t));
		r.n += (size_t)b->n;
	}
	aug_loader_free(l);
	aug_pipeline_free(p);
	free(items);
	return r;
}

static void run_free(struct run *r)
{
	free(r->data);
	free(r->labels);
	free(r->items);
}

CTest(loader, batches_are_a_function_of_seed_and_epoch_only)
{
	char *d = make_set(3, 11);
	aug_dataset *ds = NULL;
	const char *spec = "crop 8 pad=2; hflip; cutout size=3";
	struct run a, b, c, e;

	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	a = load_all(ds, spec, 1, 4, 5, 0);
	b = load_all(ds, spec, 3, 4, 5, 0);
	cr_assert_eq(a.n, 33u);
	cr_assert_eq(b.n, 33u);
	cr_assert_eq(memcmp(a.items, b.items, a.n * sizeof(size_t)), 0, "order depends on threads");
	cr_assert_eq(memcmp(a.data, b.data, a.n * 64 * sizeof(float)), 0, "pixels depend on threads");
	/* An epoch is a permutation of the items, with their own labels. */
	{
		int seen[33] = { 0 };

		for (size_t i = 0; i < a.n; i++) {
			seen[a.items[i]]++;
			cr_assert_eq(a.labels[i], aug_dataset_item_at(ds, a.items[i])->label);
		}
		for (int i = 0; i < 33; i++)
			cr_assert_eq(seen[i], 1);
	}
	/* The pixels are the item's own: grey level c*40+k, scaled to 0..1,
	 * or 0 where padding or a hole fell. */
	for (size_t i = 0; i < a.n; i++) {
		const aug_dataset_item *it = aug_dataset_item_at(ds, a.items[i]);
		int k = atoi(strrchr(it->relpath, '/') + 1);
		float want = (float)(it->label * 40 + k + 1) / 255.0f;
		int hits = 0;

		for (int j = 0; j < 64; j++) {
			float v = a.data[i * 64 + (size_t)j];

			cr_assert(v == 0.0f || fabsf(v - want) < 1e-6f, "item %zu: %f, want %f", a.items[i], v, want);
			hits += v != 0.0f;
		}
		cr_assert_gt(hits, 20);
	}
	c = load_all(ds, spec, 2, 4, 5, 1);
	cr_assert_neq(memcmp(a.items, c.items, a.n * sizeof(size_t)), 0, "epoch 1 has the order of epoch 0");
	e = load_all(ds, spec, 2, 4, 6, 0);
	cr_assert_neq(memcmp(a.data, e.data, a.n * 64 * sizeof(float)), 0, "the seed changes nothing");
	run_free(&a);
	run_free(&b);
	run_free(&c);
	run_free(&e);
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

CTest(loader, corrupt_files_are_skipped_and_reported_once)
{
	char *d = make_set(2, 6), p[4400];
	aug_dataset *ds = NULL;
	aug_pipeline *pl = NULL;
	aug_loader_options o;
	aug_loader *l = NULL;
	size_t items[12];
	const aug_batch *b;

	snprintf(p, sizeof(p), "%s/class1/002.png", d);
	cr_assert_eq(spit(p, "not a png at all", 16), 0);
	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	for (size_t i = 0; i < 12; i++)
		items[i] = i;
	cr_assert_eq(aug_pipeline_parse("center_crop 8", NULL, &pl), AUG_OK);
	aug_loader_options_init(&o);
	o.batch_size = 5;
	o.channels = 1;
	cr_assert_eq(aug_loader_new(ds, items, 12, pl, &o, &l), AUG_OK);
	for (uint64_t epoch = 0; epoch < 3; epoch++) {
		int total = 0;

		cr_assert_eq(aug_loader_start(l, epoch), AUG_OK);
		while (aug_loader_next(l, &b) == AUG_OK && b)
			total += b->n;
		cr_assert_eq(total, 11);
	}
	cr_assert_eq(aug_loader_failure_count(l), 1u);
	cr_assert(strstr(aug_loader_failure_at(l, 0), "class1/002.png"), "%s", aug_loader_failure_at(l, 0));
	aug_loader_free(l);
	/* fail_on_error: the batch holding it fails, naming the file. */
	o.fail_on_error = true;
	cr_assert_eq(aug_loader_new(ds, items, 12, pl, &o, &l), AUG_OK);
	cr_assert_eq(aug_loader_start(l, 0), AUG_OK);
	{
		aug_status st = AUG_OK;

		while ((st = aug_loader_next(l, &b)) == AUG_OK && b)
			;
		cr_assert_neq(st, AUG_OK);
		cr_assert(strstr(aug_error_message(), "002.png"), "%s", aug_error_message());
	}
	aug_loader_free(l);
	aug_pipeline_free(pl);
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

CTest(loader, restart_mid_epoch_and_free_while_busy)
{
	char *d = make_set(2, 20);
	aug_dataset *ds = NULL;
	aug_pipeline *pl = NULL;
	aug_loader_options o;
	aug_loader *l = NULL;
	size_t items[40];
	const aug_batch *b;
	struct run ref;

	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	for (size_t i = 0; i < 40; i++)
		items[i] = i;
	ref = load_all(ds, "crop 8; vflip", 2, 3, 1, 2);
	cr_assert_eq(aug_pipeline_parse("crop 8; vflip", NULL, &pl), AUG_OK);
	aug_loader_options_init(&o);
	o.batch_size = 3;
	o.channels = 1;
	o.seed = 1;
	o.prefetch = 3;
	cr_assert_eq(aug_loader_new(ds, items, 40, pl, &o, &l), AUG_OK);
	cr_assert_eq(aug_loader_start(l, 7), AUG_OK);
	cr_assert_eq(aug_loader_next(l, &b), AUG_OK);
	cr_assert_not_null(b);
	/* Abandon epoch 7 part way; epoch 2 must come out exactly as alone. */
	cr_assert_eq(aug_loader_start(l, 2), AUG_OK);
	{
		size_t n = 0;

		while (aug_loader_next(l, &b) == AUG_OK && b) {
			cr_assert_eq(memcmp(b->items, ref.items + n, (size_t)b->n * sizeof(size_t)), 0);
			cr_assert_eq(memcmp(b->data, ref.data + n * 64, (size_t)b->n * 64 * sizeof(float)), 0);
			n += (size_t)b->n;
		}
		cr_assert_eq(n, 40u);
	}
	/* Free with work in flight: must not hang or leak. */
	cr_assert_eq(aug_loader_start(l, 3), AUG_OK);
	aug_loader_free(l);
	run_free(&ref);
	aug_pipeline_free(pl);
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}

CTest(loader, refuses_pipelines_without_a_fixed_size)
{
	char *d = make_set(1, 2);
	aug_dataset *ds = NULL;
	aug_pipeline *pl = NULL;
	aug_loader *l = NULL;
	size_t items[2] = { 0, 1 };

	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	cr_assert_eq(aug_pipeline_parse("hflip", NULL, &pl), AUG_OK);
	cr_assert_eq(aug_loader_new(ds, items, 2, pl, NULL, &l), AUG_EINVAL);
	cr_assert(strstr(aug_error_message(), "fixed") || strstr(aug_error_message(), "sized"));
	cr_assert_null(l);
	aug_pipeline_free(pl);
	aug_dataset_free(ds);
	rm_rf(d);
	free(d);
}
