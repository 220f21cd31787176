/* Helpers shared by the test suites. */
#ifndef AUG_TESTS_SUPPORT_H
#define AUG_TESTS_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file under the source tree (static buffer per call slot). */
const char *src_path(const char *rel);

/* A fresh empty temporary directory; removed by rm_rf(). Caller frees. */
char *make_tmpdir(void);

/* Remove a tree. */
void rm_rf(const char *path);

/* Run a shell command; return its exit status (or -1), capturing stdout+stderr
 * into *out (caller frees) when out is not NULL. */
int run_capture(const char *cmd, char **out);

/* Read a whole file; NULL when it cannot be read. Caller frees. */
uint8_t *slurp(const char *path, size_t *len);

/* Write a whole file; 0 on success. */
int spit(const char *path, const void *buf, size_t len);

#endif
