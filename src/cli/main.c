/* augment: the command-line tool. Uses the public API only. */
#include <stdio.h>
#include <string.h>

#include <augment.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("augment %s\n", aug_version());
		return 0;
	}
	fprintf(stderr, "usage: augment <command> [options]\n");
	return 2;
}
