/* How long does this file system take to create files, with no image work?
 *
 *   fs_create DIR [FILES] [BYTES] [ROUNDS]
 *
 * Each round makes a new folder DIR/roundR and writes FILES files of BYTES
 * bytes into it from 2 OpenMP threads, the way `augment run` writes its
 * outputs (an unnamed O_TMPFILE file in the folder, written, then linked
 * under its name), and prints the round's wall-clock seconds. Folders are
 * kept, as bench/compare.sh keeps the outputs of earlier rounds. Defaults:
 * 400 files of 15,000 bytes (the offline job's JPEGs), 8 rounds.
 *
 * On the benchmark machine the same round took from 0.004 to 0.15 s, which
 * is what `augment run`'s 0.2 s offline job varies by from round to round.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_one(const char *dir, const char *path, const char *buf, size_t len)
{
	char proc[64];
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	int files = argc > 2 ? atoi(argv[2]) : 400, rounds = argc > 4 ? atoi(argv[4]) : 8;
	long bytes = argc > 3 ? atol(argv[3]) : 15000;
	char *buf;

	if (argc < 2 || argc > 5 || files < 1 || bytes < 1 || bytes > (1L << 26) || rounds < 1) {
		fprintf(stderr, "usage: fs_create DIR [FILES] [BYTES] [ROUNDS]\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "fs_create: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	buf = malloc((size_t)bytes);
	if (!buf)
		return 1;
	memset(buf, 0x5a, (size_t)bytes);
	for (int r = 0; r < rounds; r++) {
		char dir[4096];
		int failed = 0;
		double t0;

		snprintf(dir, sizeof(dir), "%s/round%d", argv[1], r);
		if (mkdir(dir, 0755) != 0) {
			fprintf(stderr, "fs_create: %s: %s\n", dir, strerror(errno));
			return 1;
		}
		t0 = now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(2) reduction(+ : failed)
		for (int i = 0; i < files; i++) {
			char path[4200];

			snprintf(path, sizeof(path), "%s/%05d.jpg", dir, i);
			failed += write_one(dir, path, buf, (size_t)bytes) != 0;
		}
		printf("round %d: %d files in %.4f s%s\n", r, files, now() - t0, failed ? " (some failed)" : "");
		if (failed)
			return 1;
	}
	free(buf);
	return 0;
}
