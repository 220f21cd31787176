/* augment: the command-line tool. Uses the public API only. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct command *const commands[] = {
	&cmd_info,
	&cmd_convert,
	&cmd_stages,
	&cmd_run,
	&cmd_grid,
	&cmd_apply,
	&cmd_import,
	&cmd_bench,
	&cmd_train,
	&cmd_eval,
	&cmd_predict,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: augment <command> [options] [arguments]\n\n"
		"Fast, reproducible image data augmentation.\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n'augment <command> --help' tells more. 'augment --version' prints the version.\n");
}

int main(int argc, char **argv)
{
	/* The per-image buffers (libjpeg's pools, encoder output) are freed and
	 * made again for every image: keep what was freed instead of giving it
	 * back to the kernel and faulting it in again (a third of the system
	 * time of a `run`). A fixed mmap threshold also stops glibc from
	 * moving it image by image. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	/* A write over RLIMIT_FSIZE is an error (EFBIG) with a message naming
	 * the file, not a signal that kills the run mid-file. */
	signal(SIGXFSZ, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("augment %s\n", aug_version());
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = commands[i];
		int n;

		if (strcmp(argv[1], c->name) != 0)
			continue;
		n = cli_parse(c, argc - 2, argv + 2);
		if (n == -2)
			return 0;
		if (n < 0)
			return EXIT_USAGE;
		return c->run(n, argv + 2);
	}
	cli_error("unknown command '%s' (see augment --help)", argv[1]);
	return EXIT_USAGE;
}
