/* augment stages: the stage catalogue, from the table the parser reads. */
#include <string.h>

#include "cli.h"

static bool opt_markdown;

static const struct opt stages_opts[] = {
	{ "markdown", 0, OPT_FLAG, &opt_markdown, NULL, "print a Markdown table (the README's stage reference)" },
	{ 0 },
};

static const char *type_name(aug_param_type t)
{
	static const char *const names[] = { "prob", "number", "int", "WxH", "a:b", "choice", "fill", "list" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void range_text(const aug_param_info *pi, char *buf, size_t n)
{
	switch (pi->type) {
	case AUG_PARAM_CHOICE:
		snprintf(buf, n, "%s", pi->choices);
		break;
	case AUG_PARAM_FILL:
		snprintf(buf, n, "0..255, R,G,B, %s", pi->choices);
		break;
	case AUG_PARAM_LIST:
		snprintf(buf, n, "%g..%g each, or %s", pi->min, pi->max, pi->choices);
		break;
	default:
		snprintf(buf, n, "%g..%g", pi->min, pi->max);
		break;
	}
}

/* Markdown table cells: a '|' would end the cell. */
static void md_cell(const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			putchar('\\');
		putchar(*s);
	}
}

static int run_stages(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (int i = 0; i < aug_stage_info_count(); i++) {
		const aug_stage_info *s = aug_stage_info_at(i);

		if (opt_markdown) {
			printf("### `%s`\n\n%s. Source: %s.\n\n| parameter | type | default | range | meaning |\n"
			       "|---|---|---|---|---|\n",
			       s->name, s->summary, s->reference);
		} else {
			printf("%s%s — %s\n    source: %s\n", i ? "\n" : "", s->name, s->summary, s->reference);
		}
		for (int k = 0; k < s->param_count; k++) {
			const aug_param_info *pi = &s->params[k];
			char range[96];

			range_text(pi, range, sizeof(range));
			if (opt_markdown) {
				printf("| `%s` | %s | %s | ", pi->name, type_name(pi->type),
				       pi->default_text ? pi->default_text : "—");
				md_cell(range);
				printf(" | ");
				md_cell(pi->help);
				printf(" |\n");
			}
			else
				printf("    %-11s %-7s default %-10s range %-26s %s\n", pi->name, type_name(pi->type),
				       pi->default_text ? pi->default_text : "-", range, pi->help);
		}
		if (opt_markdown)
			printf("\n");
	}
	return 0;
}

const struct command cmd_stages = {
	.name = "stages",
	.summary = "list every stage with its parameters, defaults and ranges",
	.usage = "[--markdown]",
	.description = "The table printed is the one the spec parser reads.",
	.opts = stages_opts,
	.min_args = 0,
	.max_args = 0,
	.run = run_stages,
};
