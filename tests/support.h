/* Helpers shared by the test suites. */
#ifndef AUG_TESTS_SUPPORT_H
#define AUG_TESTS_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>

/* Path of a file under the source tree (static buffer per call slot). */
const char *src_path(const char *rel);

/* A fresh empty temporary directory; removed by rm_rf(). Caller frees. */
char *make_tmpdir(void);

/* Remove a tree. */
void rm_rf(const char *path);

/* Run a shell command; return its exit status (or -1), capturing stdout+stderr
 * into *out (caller frees) when out is not NULL. */
int run_capture(const char *cmd, char **out);

/* Run `augment <args>` (the CLI under test; args is a shell fragment),
 * capturing stdout and stderr into *out (caller frees). */
int cli(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Regular files under a folder, recursively. */
int count_files(const char *dir);

/* Read a whole file; NULL when it cannot be read. Caller frees. */
uint8_t *slurp(const char *path, size_t *len);

/* Write a whole file; 0 on success. */
int spit(const char *path, const void *buf, size_t len);

/* Whether this is the AddressSanitizer build. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* LeakSanitizer reports at process exit, after Criterion has counted the
 * test, so a leak would not fail it: tests written with CTest end with an
 * explicit leak check (ASan builds only), and scripts/run-tests also fails a
 * suite whose output holds a LeakSanitizer report. */
#if UNDER_ASAN
#include <sanitizer/lsan_interface.h>
static inline void leak_check(void)
{
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see LeakSanitizer's report)");
}
#else
static inline void leak_check(void)
{
}
#endif

/* A Criterion test whose body is followed by the leak check. */
#define CTest(suite, name) \
	static void suite##__##name(void); \
	Test(suite, name, .timeout = 300) \
	{ \
		suite##__##name(); \
		leak_check(); \
	} \
	static void suite##__##name(void)

#endif
