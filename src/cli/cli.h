/* The augment command-line tool: shared pieces of the subcommands. */
#ifndef AUG_CLI_H
#define AUG_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <augment.h>

/* Exit codes: 0 success, 1 some input failed (the run went on), 2 usage. */
enum { EXIT_USAGE = 2 };

enum opt_kind {
	OPT_FLAG,   /* bool */
	OPT_STRING, /* const char * */
	OPT_INT,    /* int */
	OPT_U64,    /* uint64_t */
	OPT_DOUBLE, /* double */
	OPT_LIST,   /* repeatable: struct str_list */
};

struct str_list {
	const char **items;
	int count;
};

struct opt {
	const char *name;     /* long name without "--" */
	char short_name;      /* 0 when none */
	enum opt_kind kind;
	void *dst;
	const char *metavar;  /* NULL for flags */
	const char *help;
};

struct command {
	const char *name;
	const char *summary;
	const char *usage;        /* after "augment <name> " */
	const char *description;  /* paragraphs printed by --help */
	const struct opt *opts;   /* terminated by a zeroed entry */
	int min_args;
	int max_args;             /* -1: any */
	int (*run)(int argc, char **argv); /* positional arguments only */
};

/* Parse options in place: on return argv holds only positional arguments.
 * Returns the count of positionals, or -1 after printing a usage error, or
 * -2 when --help was printed. */
int cli_parse(const struct command *cmd, int argc, char **argv);

void cli_help(const struct command *cmd, FILE *f);

/* "augment: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a failed library call: "augment: <aug_error_message()>". */
void cli_fail(aug_status st);

/* Parse "K/N" into shard index and count. */
bool cli_parse_shard(const char *s, int *k, int *n);

/* Seconds since an arbitrary start, monotonic. */
double cli_now(void);

/* JSON output. */
void json_string(FILE *f, const char *s);

/* Parse -p: a file holding a spec, or the spec itself. 0, or an exit code
 * after printing the error. */
int cli_load_pipeline(const char *arg, aug_pipeline **out);

/* The text of a SPEC|FILE argument: the file's content when it names a
 * regular file, an error (NULL) when it looks like a path that is not
 * there, else the argument itself. Caller frees. */
char *cli_read_spec(const char *arg);

/* The sample index of a file: FNV-1a of its path under the data set root. */
uint64_t cli_path_index(const char *relpath);

/* A progress bar on a terminal, a plain line every few seconds otherwise. */
struct progress {
	size_t total;
	bool quiet;
	bool tty;
	double start;
	double last;
};

void progress_init(struct progress *pr, size_t total, bool quiet);
void progress_update(struct progress *pr, size_t done, bool final);

/* Draw text with the CLI's 3x5 pixel font at 2x (8 px a character) into an
 * RGB image; max_w > 0 cuts it to that width. */
void cli_text(aug_image *img, int x, int y, const char *text, int max_w, const uint8_t rgb[3]);

/* Draw training curves (loss and accuracy per epoch) into a PNG. 0, or 1
 * after printing the error. */
int cli_plot_curves(const char *path, const aug_epoch_stats *history, int n);

extern const struct command cmd_info;
extern const struct command cmd_convert;
extern const struct command cmd_stages;
extern const struct command cmd_run;
extern const struct command cmd_grid;
extern const struct command cmd_apply;
extern const struct command cmd_bench;
extern const struct command cmd_train;
extern const struct command cmd_eval;
extern const struct command cmd_predict;
extern const struct command cmd_import;

#endif
