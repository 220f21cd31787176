/* Data sets on disk: the ImageFolder scan. */
#include <criterion/criterion.h>
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

CTest(scan, unreadable_folder_is_reported)
{
	char *d = make_tmpdir();
	char p[4300];
	aug_dataset *ds = NULL;

	mkdirs(d, "ok");
	mkdirs(d, "locked");
	touch(d, "ok/a.png");
	touch(d, "locked/b.png");
	snprintf(p, sizeof(p), "%s/locked", d);
	chmod(p, 0);
	if (access(p, R_OK) == 0) {
		/* root reads anything: drop privileges is not possible here. */
		chmod(p, 0755);
		rm_rf(d);
		free(d);
		cr_skip_test("running as root: permissions are not enforced");
	}
	cr_assert_eq(aug_dataset_scan(d, NULL, &ds), AUG_OK);
	cr_assert_eq(aug_dataset_count(ds), 1u);
	cr_assert_eq(aug_dataset_problem_count(ds), 1u);
	cr_assert(strstr(aug_dataset_problem_at(ds, 0)->path, "locked"));
	aug_dataset_free(ds);
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
