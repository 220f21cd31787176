/* The libjpeg-turbo baseline: how fast can a folder of JPEGs be decoded at
 * full size to RGB, with nothing else done?
 *
 *   jpeg_decode DIR THREADS SECONDS [--entropy-only]
 *
 * Reads every *.jpg / *.jpeg under DIR (recursively) into memory, then on
 * THREADS OpenMP threads decodes them full size to 8-bit RGB with the plain
 * libjpeg API and libjpeg-turbo's defaults (jpeg_mem_src, JDCT_ISLOW, fancy
 * upsampling), one jpeg_decompress_struct and one output buffer reused per
 * thread. Images are handed out in order from a shared counter, wrapping
 * around, until about SECONDS have passed; each thread finishes the image it
 * is on. Prints one JSON line:
 *
 *   {"impl":"libjpeg-turbo","threads":T,"images":N,"seconds":S,"images_per_second":R,...}
 *
 * With --entropy-only ("impl":"libjpeg-turbo-entropy") it skips every row
 * but the last (jpeg_skip_scanlines(), which Huffman-decodes the skipped
 * rows and does no inverse DCT, upsampling or colour conversion for them)
 * and decodes the last: the part of a decode that no crop avoids for the
 * rows above its bottom, for whole images.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <jpeglib.h>
#include <omp.h>

typedef struct file {
	unsigned char *data;
	size_t len;
	char *path;
} file;

static file *files;
static size_t nfiles, capfiles;

static void *xalloc(void *p)
{
	if (!p) {
		fprintf(stderr, "jpeg_decode: out of memory\n");
		exit(1);
	}
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int is_jpeg_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

static void load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "jpeg_decode: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (nfiles == capfiles) {
		capfiles = capfiles ? 2 * capfiles : 256;
		files = xalloc(realloc(files, capfiles * sizeof *files));
	}
	file *fl = &files[nfiles];
	fl->len = (size_t)st.st_size;
	fl->data = xalloc(malloc(fl->len ? fl->len : 1));
	fl->path = xalloc(strdup(path));
	if (fread(fl->data, 1, fl->len, f) != fl->len) {
		fprintf(stderr, "jpeg_decode: %s: cannot read\n", path);
		exit(1);
	}
	fclose(f);
	nfiles++;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted recursive walk, so that the order is the same on every run. */
static void walk(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		fprintf(stderr, "jpeg_decode: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xalloc(realloc(names, cap * sizeof *names));
		}
		names[n++] = xalloc(strdup(e->d_name));
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_name);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *p = xalloc(malloc(len));
		struct stat st;

		snprintf(p, len, "%s/%s", dir, names[i]);
		if (stat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				walk(p);
			else if (S_ISREG(st.st_mode) && is_jpeg_name(names[i]))
				load_file(p);
		}
		free(p);
		free(names[i]);
	}
	free(names);
}

typedef struct err_mgr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
} err_mgr;

static void on_error(j_common_ptr c)
{
	longjmp(((err_mgr *)c->err)->jb, 1);
}

static void on_message(j_common_ptr c)
{
	(void)c; /* warnings (e.g. corrupt data) are not printed in the loop */
}

typedef struct worker {
	struct jpeg_decompress_struct d;
	err_mgr err;
	unsigned char *buf;
	size_t cap;
	uint64_t sum;      /* a byte of each decoded row, so nothing is optimised away */
	unsigned long done, failed;
	double pixels;
} worker;

/* Decodes one image. Not static-inlined into the loop: setjmp and the loop's
 * variables do not mix. */
static int entropy_only;

static int decode_one(worker *w, const file *f)
{
	struct jpeg_decompress_struct *d = &w->d;

	if (setjmp(w->err.jb)) {
		jpeg_abort_decompress(d);
		return -1;
	}
	jpeg_mem_src(d, f->data, (unsigned long)f->len);
	jpeg_read_header(d, TRUE);
	if (entropy_only) {
		JSAMPROW row;

		d->out_color_space = JCS_RGB;
		jpeg_start_decompress(d);
		if ((size_t)d->output_width * 3 > w->cap) {
			free(w->buf);
			w->cap = (size_t)d->output_width * 3;
			w->buf = xalloc(malloc(w->cap));
		}
		row = w->buf;
		jpeg_skip_scanlines(d, d->output_height - 1);
		jpeg_read_scanlines(d, &row, 1);
		w->pixels += (double)d->output_width * d->output_height;
		w->sum += w->buf[0];
		jpeg_finish_decompress(d);
		return 0;
	}
	d->out_color_space = JCS_RGB;
	jpeg_start_decompress(d);
	size_t stride = (size_t)d->output_width * (size_t)d->output_components;
	size_t need = stride * d->output_height;
	if (need > w->cap) {
		free(w->buf);
		w->buf = xalloc(malloc(need));
		w->cap = need;
	}
	while (d->output_scanline < d->output_height) {
		JSAMPROW rows[4];
		JDIMENSION k, left = d->output_height - d->output_scanline;
		JDIMENSION n = left < 4 ? left : 4;

		for (k = 0; k < n; k++)
			rows[k] = w->buf + (d->output_scanline + k) * stride;
		jpeg_read_scanlines(d, rows, n);
	}
	w->pixels += (double)d->output_width * d->output_height;
	w->sum += w->buf[need / 2];
	jpeg_finish_decompress(d);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[4], "--entropy-only") == 0) {
		entropy_only = 1;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: jpeg_decode DIR THREADS SECONDS [--entropy-only]\n");
		return 2;
	}
	int threads = atoi(argv[2]);
	double seconds = atof(argv[3]);
	if (threads < 1 || !(seconds > 0)) {
		fprintf(stderr, "jpeg_decode: THREADS must be >= 1 and SECONDS > 0\n");
		return 2;
	}
	walk(argv[1]);
	if (nfiles == 0) {
		fprintf(stderr, "jpeg_decode: no .jpg/.jpeg files under %s\n", argv[1]);
		return 1;
	}
	size_t bytes = 0;
	for (size_t i = 0; i < nfiles; i++)
		bytes += files[i].len;

	worker *ws = xalloc(calloc((size_t)threads, sizeof *ws));
	unsigned long next = 0;
	double t0 = 0, t1;

	omp_set_dynamic(0);
#pragma omp parallel num_threads(threads)
	{
		worker *w = &ws[omp_get_thread_num()];

		w->d.err = jpeg_std_error(&w->err.pub);
		w->err.pub.error_exit = on_error;
		w->err.pub.output_message = on_message;
		jpeg_create_decompress(&w->d);
#pragma omp barrier
#pragma omp single
		t0 = now();
		/* implicit barrier after single: everyone starts together */
		double deadline = t0 + seconds;
		for (;;) {
			unsigned long i;
#pragma omp atomic capture
			i = next++;
			if (decode_one(w, &files[i % nfiles]) == 0)
				w->done++;
			else
				w->failed++;
			if (now() >= deadline)
				break;
		}
		jpeg_destroy_decompress(&w->d);
		free(w->buf);
	}
	t1 = now();

	unsigned long done = 0, failed = 0;
	uint64_t sum = 0;
	double pixels = 0;
	for (int t = 0; t < threads; t++) {
		done += ws[t].done;
		failed += ws[t].failed;
		sum += ws[t].sum;
		pixels += ws[t].pixels;
	}
	double el = t1 - t0;
	printf("{\"impl\":\"%s\",\"threads\":%d,\"images\":%lu,\"failed\":%lu,\"files\":%zu,"
	       "\"bytes\":%zu,\"seconds\":%.3f,\"images_per_second\":%.2f,\"megapixels_per_second\":%.2f,"
	       "\"checksum\":%llu}\n",
	       entropy_only ? "libjpeg-turbo-entropy" : "libjpeg-turbo", threads, done, failed, nfiles, bytes, el, (double)done / el, pixels / el / 1e6,
	       (unsigned long long)sum);
	for (size_t i = 0; i < nfiles; i++) {
		free(files[i].data);
		free(files[i].path);
	}
	free(files);
	free(ws);
	return failed ? 1 : 0;
}
