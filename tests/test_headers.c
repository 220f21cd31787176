/* Every public header compiles on its own, with -Wall -Wextra -Werror, as C
 * and as C++ when a C++ compiler is present. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static int compile_alone(const char *header, const char *lang, const char *compiler)
{
	char cmd[8192];
	char *out = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "printf '#include <%s>\\n#include <%s>\\nint augment_header_probe;\\n' | "
		 "%s -x %s -fsyntax-only -Wall -Wextra -Wpedantic -Werror -I'%s' -",
		 header, header, compiler, lang, src_path("include"));
	rc = run_capture(cmd, &out);
	if (rc != 0)
		cr_log_error("%s as %s: %s", header, lang, out);
	free(out);
	return rc;
}

Test(headers, each_compiles_alone_and_twice)
{
	DIR *d = opendir(src_path("include/augment"));
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	cr_assert_eq(compile_alone("augment.h", "c", AUG_CC " -std=c17"), 0);
	while ((e = readdir(d))) {
		char h[512];
		size_t len = strlen(e->d_name);

		if (len < 3 || strcmp(e->d_name + len - 2, ".h") != 0)
			continue;
		snprintf(h, sizeof(h), "augment/%s", e->d_name);
		cr_assert_eq(compile_alone(h, "c", AUG_CC " -std=c17"), 0, "%s", h);
		cr_assert_eq(compile_alone(h, "c", AUG_CC " -std=c99"), 0, "%s as C99", h);
		n++;
	}
	closedir(d);
	cr_assert_geq(n, 2, "found only %d headers", n);
}

Test(headers, compile_as_cplusplus)
{
	if (run_capture("command -v g++ || command -v clang++", NULL) != 0)
		cr_skip_test("no C++ compiler");
	cr_assert_eq(compile_alone("augment.h", "c++", "$(command -v g++ || command -v clang++)"), 0);
}
