/* The augment command: each subcommand run as a user would, on real files. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "support.h"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return run_capture(cmd, NULL);
}

Test(cli, version_and_help)
{
	char *out = NULL;

	cr_assert_eq(cli(&out, "--version"), 0);
	cr_assert(strstr(out, AUG_VERSION_STRING));
	free(out);
	cr_assert_eq(cli(&out, "--help"), 0);
	cr_assert(strstr(out, "run") && strstr(out, "grid") && strstr(out, "info") && strstr(out, "stages"));
	free(out);
	cr_assert_eq(cli(&out, "run --help"), 0);
	cr_assert(strstr(out, "--copies") && strstr(out, "--shard") && strstr(out, "--log-params"));
	free(out);
	cr_assert_eq(cli(&out, "frobnicate"), 2);
	cr_assert(strstr(out, "unknown command 'frobnicate'"));
	free(out);
	cr_assert_eq(cli(&out, "info --bogus x"), 2);
	cr_assert(strstr(out, "unknown option '--bogus'"));
	free(out);
	cr_assert_eq(cli(&out, "%s", ""), 2);
	free(out);
}

Test(cli, info_on_a_file_and_a_folder)
{
	char *out = NULL;

	cr_assert_eq(cli(&out, "info '%s'", src_path("samples/images/space/rocket.jpg")), 0);
	cr_assert(strstr(out, "jpeg, 640x427, 3 channels"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "info '%s'", src_path("samples/images")), 0);
	cr_assert(strstr(out, "4 classes, 5 images"), "%s", out);
	cr_assert(strstr(out, "animal") && strstr(out, "space"), "%s", out);
	cr_assert(strstr(out, "640..1000 x 427..872"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "info --json '%s'", src_path("samples/images")), 0);
	cr_assert(strstr(out, "\"images\":5") && strstr(out, "\"name\":\"people\""), "%s", out);
	free(out);
}

Test(cli, info_names_the_corrupt_file_and_strict_fails)
{
	char *d = make_tmpdir(), *out = NULL;

	cr_assert_eq(sh("cp -r '%s' '%s/ds'", src_path("samples/images"), d), 0);
	/* A JPEG cut to 3000 bytes is readable in part, so write a worse one:
	 * a PNG whose IDAT CRC is broken. */
	cr_assert_eq(sh("head -c 20000 '%s' > '%s/ds/animal/broken.png'", src_path("samples/images/animal/chelsea.png"), d), 0);
	cr_assert_eq(cli(&out, "info '%s/ds'", d), 0, "%s", out);
	cr_assert(strstr(out, "6 images (1 unreadable)"), "%s", out);
	cr_assert(strstr(out, "broken.png"), "%s", out);
	cr_assert(strstr(out, "5 readable"), "%s", out);
	cr_assert(strstr(out, "could not be read"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "info --strict '%s/ds'", d), 1, "%s", out);
	free(out);
	rm_rf(d);
	free(d);
}

Test(cli, convert_png_to_jpeg_and_back)
{
	char *d = make_tmpdir(), *out = NULL;

	cr_assert_eq(cli(&out, "convert '%s' '%s/c.jpg' --quality 95", src_path("samples/images/animal/chelsea.png"), d), 0, "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "info '%s/c.jpg'", d), 0);
	cr_assert(strstr(out, "jpeg, 451x300"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "convert '%s/c.jpg' '%s/c.png'", d, d), 0);
	free(out);
	cr_assert_eq(cli(&out, "info '%s/c.png'", d), 0);
	cr_assert(strstr(out, "png, 451x300"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "convert '%s/c.jpg' '%s/c.gif'", d, d), 2);
	cr_assert(strstr(out, "c.gif"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "convert '%s/missing.jpg' '%s/x.png'", d, d), 1);
	cr_assert(strstr(out, "missing.jpg"), "%s", out);
	free(out);
	rm_rf(d);
	free(d);
}

Test(cli, optimize_gives_smaller_jpegs_with_the_same_pixels)
{
	/* Fitted Huffman tables change the entropy coding only: the same
	 * coefficients, so the same pixels, in fewer bytes. */
	char *d = make_tmpdir(), *out = NULL, a[4200], b[4200];
	aug_image *ia = NULL, *ib = NULL;
	size_t la = 0, lb = 0;
	uint8_t *fa, *fb;

	snprintf(a, sizeof(a), "%s/plain.jpg", d);
	snprintf(b, sizeof(b), "%s/optimized.jpg", d);
	cr_assert_eq(cli(&out, "convert '%s' '%s'", src_path("samples/images/animal/chelsea.png"), a), 0, "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "convert '%s' '%s' --optimize", src_path("samples/images/animal/chelsea.png"), b), 0,
		     "%s", out);
	free(out);
	fa = slurp(a, &la);
	fb = slurp(b, &lb);
	cr_assert(lb < la, "--optimize: %zu bytes, without: %zu", lb, la);
	cr_assert_eq(aug_decode_file(a, NULL, &ia), AUG_OK);
	cr_assert_eq(aug_decode_file(b, NULL, &ib), AUG_OK);
	cr_assert_eq(ia->width, ib->width);
	cr_assert_eq(ia->height, ib->height);
	for (int y = 0; y < ia->height; y++)
		cr_assert_eq(memcmp(aug_image_row(ia, y), aug_image_row(ib, y), (size_t)ia->width * 3), 0, "row %d", y);
	aug_image_free(ia);
	aug_image_free(ib);
	free(fa);
	free(fb);
	rm_rf(d);
	free(d);
}

Test(cli, stages_lists_every_stage)
{
	char *out = NULL;

	cr_assert_eq(cli(&out, "stages"), 0);
	for (int i = 0; i < aug_stage_info_count(); i++)
		cr_assert(strstr(out, aug_stage_info_at(i)->name), "%s missing", aug_stage_info_at(i)->name);
	cr_assert(strstr(out, "3/4:4/3"), "rrc ratio default missing");
	free(out);
}

Test(cli, bad_spec_is_one_line_with_position)
{
	char *out = NULL, *d = make_tmpdir();

	cr_assert_eq(cli(&out, "run '%s' -o '%s/o' -p 'hflip; crop 32 pad 4'", src_path("samples/images"), d), 2);
	cr_assert(strstr(out, "-p:1:19: expected '=' after parameter 'pad'"), "%s", out);
	free(out);
	cr_assert_eq(sh("printf 'hflip\\ncolour_jitter brightness=2\\n' > '%s/bad.aug'", d), 0);
	cr_assert_eq(cli(&out, "run '%s' -o '%s/o' -p '%s/bad.aug'", src_path("samples/images"), d, d), 2);
	cr_assert(strstr(out, "bad.aug:2:1: unknown stage 'colour_jitter'; did you mean 'color_jitter'?"), "%s", out);
	free(out);
	/* A spec file that is not there is named as a missing file, not read
	 * as spec text; so is a model file. */
	cr_assert_eq(cli(&out, "run '%s' -o '%s/o' -p '%s/nope.aug'", src_path("samples/images"), d, d), 2);
	cr_assert(strstr(out, "nope.aug: No such file or directory"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "train '%s' -m models/nope.model", src_path("samples/images")), 2);
	cr_assert(strstr(out, "models/nope.model: No such file or directory"), "%s", out);
	free(out);
	rm_rf(d);
	free(d);
}

Test(cli, run_refuses_output_inside_input)
{
	char *out = NULL, *d = make_tmpdir();

	cr_assert_eq(sh("cp -r '%s' '%s/in'", src_path("samples/images"), d), 0);
	cr_assert_eq(cli(&out, "run '%s/in' -o '%s/in/out' -p hflip", d, d), 2);
	cr_assert(strstr(out, "inside the input"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "run '%s/in' -o '%s/in/../in' -p hflip", d, d), 2);
	free(out);
	cr_assert_eq(count_files(d), 5);
	rm_rf(d);
	free(d);
}

static int trees_equal(const char *a, const char *b)
{
	return sh("diff -r '%s' '%s' >/dev/null", a, b);
}

Test(cli, run_threads_and_shards_give_the_same_bytes, .timeout = 120)
{
	char *out = NULL, *d = make_tmpdir();
	const char *spec = "random_resized_crop 96 scale=0.2:1; hflip; color_jitter brightness=.4 contrast=.4 "
			   "saturation=.4 hue=.1; cutout size=24 p=0.5";

	cr_assert_eq(cli(&out, "run '%s' -o '%s/t1' -p '%s' --copies 4 --threads 1 --seed 3 --quiet",
			 src_path("samples/images"), d, spec), 0, "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "run '%s' -o '%s/t2' -p '%s' --copies 4 --threads 2 --seed 3 --quiet",
			 src_path("samples/images"), d, spec), 0);
	free(out);
	cr_assert_eq(count_files(d), 40);
	cr_assert_eq(trees_equal("/dev/null", "/dev/null"), 0);
	{
		char a[4200], b[4200];

		snprintf(a, sizeof(a), "%s/t1", d);
		snprintf(b, sizeof(b), "%s/t2", d);
		cr_assert_eq(trees_equal(a, b), 0, "--threads 1 and 2 differ");
		/* Shards 0/2 and 1/2 together are the whole run. */
		for (int k = 0; k < 2; k++) {
			cr_assert_eq(cli(&out, "run '%s' -o '%s/sh' -p '%s' --copies 4 --seed 3 --shard %d/2 --quiet",
					 src_path("samples/images"), d, spec, k), 0);
			free(out);
		}
		snprintf(b, sizeof(b), "%s/sh", d);
		cr_assert_eq(trees_equal(a, b), 0, "shards differ from the whole");
		/* A different seed gives different bytes. */
		cr_assert_eq(cli(&out, "run '%s' -o '%s/s4' -p '%s' --copies 4 --seed 4 --quiet",
				 src_path("samples/images"), d, spec), 0);
		free(out);
		snprintf(b, sizeof(b), "%s/s4", d);
		cr_assert_neq(trees_equal(a, b), 0);
	}
	rm_rf(d);
	free(d);
}

Test(cli, run_log_params_replays_byte_for_byte, .timeout = 60)
{
	char *out = NULL, *d = make_tmpdir(), line[8192];
	FILE *f;

	cr_assert_eq(cli(&out, "run '%s' -o '%s/o' -p '%s' --copies 2 --seed 9 --log-params '%s/p.jsonl' --quiet",
			 src_path("samples/images"), d, src_path("samples/pipelines/imagenet.aug"), d), 0, "%s", out);
	free(out);
	snprintf(line, sizeof(line), "%s/p.jsonl", d);
	f = fopen(line, "r");
	cr_assert_not_null(f);
	for (int n = 0; n < 10; n++) {
		char *nl;
		int copy = -1;
		char file[256] = "";

		cr_assert_not_null(fgets(line, sizeof(line), f), "line %d missing", n);
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		cr_assert_eq(sscanf(line, "{\"file\":\"%255[^\"]\",\"copy\":%d", file, &copy), 2, "%s", line);
		cr_assert_eq(cli(&out, "apply '%s/%s' -p '%s' -o '%s/r.%s' --replay '%s'", src_path("samples/images"),
				 file, src_path("samples/pipelines/imagenet.aug"), d, strrchr(file, '.') + 1, line),
			     0, "%s", out);
		free(out);
		{
			char stem[256], want[4400];

			snprintf(stem, sizeof(stem), "%s", file);
			*strrchr(stem, '.') = '\0';
			snprintf(want, sizeof(want), "%s/o/%s_%d.%s", d, stem, copy, strrchr(file, '.') + 1);
			cr_assert_eq(sh("cmp -s '%s' '%s/r.%s'", want, d, strrchr(file, '.') + 1), 0,
				     "replay of %s differs", want);
		}
	}
	cr_assert_null(fgets(line, sizeof(line), f));
	fclose(f);
	rm_rf(d);
	free(d);
}

Test(cli, run_skips_bad_inputs_and_exits_1)
{
	char *out = NULL, *d = make_tmpdir();

	cr_assert_eq(sh("cp -r '%s' '%s/in' && printf 'not an image' > '%s/in/animal/text.jpg'", src_path("samples/images"), d, d), 0);
	cr_assert_eq(cli(&out, "run '%s/in' -o '%s/o' -p 'crop 64' --seed 1", d, d), 1);
	cr_assert(strstr(out, "text.jpg"), "%s", out);
	cr_assert(strstr(out, "5 outputs written") && strstr(out, "1 failed"), "%s", out);
	free(out);
	cr_assert_eq(count_files(d), 6 + 5);
	/* --on-error fail stops at the bad file's chunk; still exit 1. */
	cr_assert_eq(cli(&out, "run '%s/in' -o '%s/o2' -p 'crop 64' --on-error fail", d, d), 1);
	free(out);
	rm_rf(d);
	free(d);
}

/* The fault test's short form: `augment run` and `augment train` killed
 * with SIGKILL at 3 random moments each, then rerun or resumed; the script
 * compares every result with an uninterrupted run (scripts/fault-kill;
 * --points 20 is the long form, docs/RELIABILITY.md). */
Test(cli, killed_run_and_train_resume_to_the_uninterrupted_result, .timeout = 600)
{
	char *out = NULL, *cmd = NULL;

	cr_assert_geq(asprintf(&cmd, "python3 '%s' all --points 3 --seed 7 --augment '%s'", src_path("scripts/fault-kill"),
				AUG_CLI), 0);
	cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
	cr_assert(strstr(out, "fault-kill: 6 points, 0 failed"), "%s", out);
	free(out);
	free(cmd);
}

/* A file size limit (a full disk, as far as the writer can tell): a clear
 * error naming the file, exit 1, and no output half-written under its
 * final name or left as a temporary. */
Test(cli, file_size_limit_is_an_error_and_leaves_no_half_file, .timeout = 120)
{
	char *out = NULL, *cmd = NULL, *d = make_tmpdir();
	int n;

	/* 40 KiB: the 1024 x 1024 PNGs do not fit. */
	cr_assert_geq(asprintf(&cmd, "ulimit -f 80; '%s' run '%s' -o '%s/o' -p 'resize 1024x1024' --format png --threads 2",
				AUG_CLI, src_path("samples/images"), d), 0);
	cr_assert_eq(run_capture(cmd, &out), 1, "%s", out);
	free(cmd);
	cr_assert(strstr(out, "File too large"), "%s", out);
	cr_assert(strstr(out, ".png"), "the message names the file: %s", out);
	cr_assert(strstr(out, "stopped: no room to write the outputs"), "%s", out);
	free(out);
	cr_assert_eq(sh("find '%s/o' -name '*.tmp.*' | grep -q .", d), 1, "temporary files left");
	/* Whatever was written whole is a PNG that decodes. */
	n = sh("for f in $(find '%s/o' -type f); do '%s' info \"$f\" >/dev/null || exit 1; done", d, AUG_CLI);
	cr_assert_eq(n, 0, "a half-written output under its final name");
	/* Training: the first checkpoint does not fit; the run stops there. */
	cr_assert_eq(cli(&out, "run '%s' -o '%s/data' -p 'random_resized_crop 40' --copies 4 --quiet", src_path("samples/images"), d),
		     0, "%s", out);
	free(out);
	cr_assert_geq(asprintf(&cmd, "ulimit -f 2; '%s' train '%s/data' -m 'conv 8 k=3 pad=1; relu; gap; linear classes' "
				     "-p 'random_resized_crop 32' --eval-pipeline 'resize 32x32' --epochs 2 --batch 8 "
				     "-o '%s/m.ckpt' --threads 1 --quiet", AUG_CLI, d, d), 0);
	cr_assert_eq(run_capture(cmd, &out), 1, "%s", out);
	free(cmd);
	cr_assert(strstr(out, "m.ckpt.last: File too large"), "%s", out);
	free(out);
	cr_assert_eq(sh("ls '%s' | grep -q ckpt", d), 1, "a checkpoint or its temporary was left");
	rm_rf(d);
	free(d);
}

/* File names are bytes: a name that is not UTF-8 is read, mirrored to the
 * output, and printed in messages without harm. */
Test(cli, non_utf8_file_names_are_mirrored, .timeout = 60)
{
	char *out = NULL, *d = make_tmpdir();

	cr_assert_eq(sh("mkdir -p '%s/in/caf\351' && cp '%s' '%s/in/caf\351/\377\376.png' && printf 'junk' > '%s/in/caf\351/\377bad.png'",
			d, src_path("samples/images/animal/chelsea.png"), d, d), 0);
	cr_assert_eq(cli(&out, "run '%s/in' -o '%s/o' -p 'crop 32' --seed 3", d, d), 1, "%s", out);
	cr_assert(strstr(out, "bad.png"), "the bad file is named: %s", out);
	cr_assert(strstr(out, "1 outputs written") || strstr(out, "1 output written"), "%s", out);
	free(out);
	cr_assert_eq(sh("test -f \"$(printf '%s/o/caf\351/\377\376_0.png')\"", d), 0, "the output mirrors the name");
	/* A FIFO named like an image is refused by every command, not waited on. */
	cr_assert_eq(sh("mkfifo '%s/in/caf\351/pipe.png'", d), 0);
	cr_assert_eq(cli(&out, "info '%s/in/caf\351/pipe.png'", d), 1, "%s", out);
	cr_assert(strstr(out, "pipe.png: not a regular file"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "convert '%s/in/caf\351/pipe.png' '%s/x.png'", d, d), 1, "%s", out);
	free(out);
	rm_rf(d);
	free(d);
}

Test(cli, grid_writes_a_picture)
{
	char *out = NULL, *d = make_tmpdir();
	aug_header h;
	char path[4200];

	cr_assert_eq(cli(&out, "grid '%s' '%s' -p '%s' -o '%s/g.png' --samples 3 --cell 64x48",
			 src_path("samples/images/animal/chelsea.png"), src_path("samples/images/space/rocket.jpg"),
			 src_path("samples/pipelines/cifar.aug"), d), 0, "%s", out);
	free(out);
	snprintf(path, sizeof(path), "%s/g.png", d);
	cr_assert_eq(aug_probe_file(path, &h), AUG_OK);
	/* 4 columns of 64 + 5 gutters of 4; 2 rows of 48 + 3 gutters + 14 for titles. */
	cr_assert_eq(h.width, 4 * 64 + 5 * 4);
	cr_assert_eq(h.height, 2 * 48 + 3 * 4 + 14);
	cr_assert_eq(cli(&out, "grid '%s' -p '%s' -o '%s/s.png' --per-stage --cell 32x32",
			 src_path("samples/images/animal"), src_path("samples/pipelines/showcase.aug"), d), 0, "%s", out);
	free(out);
	snprintf(path, sizeof(path), "%s/s.png", d);
	cr_assert_eq(aug_probe_file(path, &h), AUG_OK);
	/* showcase.aug has 12 stages, normalize has no column: 1 + 11 columns. */
	cr_assert_eq(h.width, 12 * 32 + 13 * 4);
	rm_rf(d);
	free(d);
}

Test(cli, readme_stage_reference_is_the_catalogue)
{
	char *out = NULL;
	size_t len = 0;
	char *readme = (char *)slurp(src_path("README.md"), &len);
	char *a, *b;

	cr_assert_not_null(readme);
	readme = realloc(readme, len + 1);
	readme[len] = '\0';
	a = strstr(readme, "<!-- stages:begin -->\n");
	b = strstr(readme, "<!-- stages:end -->");
	cr_assert(a && b && b > a);
	a += strlen("<!-- stages:begin -->\n");
	*b = '\0';
	cr_assert_eq(cli(&out, "stages --markdown 2>/dev/null"), 0);
	cr_assert_str_eq(a, out, "README.md is stale: run make docs");
	free(out);
	free(readme);
}

/* A number after "key": in a line of JSON, or -1. */
static double json_number(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

Test(cli, bench_reports_rates_phases_and_the_decode_bound)
{
	char *out = NULL;
	double rate, bound, sum = 0;
	static const char *const phases[] = { "probe", "decode", "resample", "color", "cutout", "store" };

	cr_assert_eq(cli(&out, "bench '%s' -p 'random_resized_crop 64; hflip; color_jitter brightness=.4 hue=.1' "
			       "--threads 1 --seconds 0.2 --json 2>&1",
			 src_path("samples/images")),
		     0, "%s", out);
	/* The five sample images (PNG and JPEG), none failed. */
	cr_assert_eq(json_number(out, "files"), 5, "%s", out);
	cr_assert_eq(json_number(out, "failed"), 0, "%s", out);
	rate = json_number(out, "images_per_second");
	bound = json_number(out, "decode_bound");
	cr_assert(rate > 0, "%s", out);
	/* The phases are shares of the thread time; decoding alone is
	 * faster than the whole pipeline, by the inverse of its share. */
	for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++) {
		double v = json_number(out, phases[k]);

		cr_assert(v >= 0 && v <= 1, "%s: %f", phases[k], v);
		sum += v;
	}
	cr_assert(sum > 0.999 && sum < 1.001, "phases sum to %f", sum);
	cr_assert(bound > rate, "%s", out);
	cr_assert_float_eq(bound, rate / (json_number(out, "probe") + json_number(out, "decode")), bound * 0.01,
			   "%s", out);
	free(out);
	/* The text form says the same, in words. */
	cr_assert_eq(cli(&out, "bench '%s' -p 'resize 32x32' --seconds 0.1 2>&1", src_path("samples/images")), 0,
		     "%s", out);
	cr_assert(strstr(out, "images/s") && strstr(out, "decode") && strstr(out, "decoding alone"), "%s", out);
	free(out);
	/* A folder that is not there, and a bad spec: an error naming them. */
	cr_assert_neq(cli(&out, "bench /nonexistent/folder -p 'resize 32x32' --seconds 0.1 2>&1"), 0);
	cr_assert(strstr(out, "/nonexistent/folder"), "%s", out);
	free(out);
	cr_assert_eq(cli(&out, "bench '%s' -p 'hflip p=7' --seconds 0.1 2>&1", src_path("samples/images")), 2, "%s",
		     out);
	cr_assert(strstr(out, "p=7 is out of range"), "%s", out);
	free(out);
	/* A float batch needs a fixed output size. */
	cr_assert_eq(cli(&out, "bench '%s' -p 'hflip' --seconds 0.1 2>&1", src_path("samples/images")), 2, "%s", out);
	cr_assert(strstr(out, "fixed size"), "%s", out);
	free(out);
}
