/* Status codes and the per-thread detail messages. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const status_text[AUG_STATUS_COUNT] = {
	[AUG_OK] = "success",
	[AUG_ENOMEM] = "out of memory",
	[AUG_EINVAL] = "invalid argument",
	[AUG_EIO] = "input/output error",
	[AUG_ECORRUPT] = "corrupt data",
	[AUG_ETRUNCATED] = "truncated data",
	[AUG_EUNSUPPORTED] = "unsupported format or feature",
	[AUG_ELIMIT] = "limit exceeded",
	[AUG_ESPEC] = "bad spec",
	[AUG_EWARNING] = "warning treated as error",
	[AUG_ESTATE] = "wrong state",
};

/* Messages are per thread: worker threads decoding different files must not
 * overwrite each other's message (TurboJPEG keeps one per handle and one per
 * thread for the same reason). */
static _Thread_local char error_buf[1024];
static _Thread_local char warning_buf[512];

const char *aug_strerror(aug_status status)
{
	if ((unsigned)status >= AUG_STATUS_COUNT)
		return "unknown status";
	return status_text[status];
}

const char *aug_error_message(void)
{
	return error_buf;
}

const char *aug_warning_message(void)
{
	return warning_buf;
}

void aug_warning_clear(void)
{
	warning_buf[0] = '\0';
}

aug_status aug__vfail(aug_status status, const char *func, const char *fmt, va_list ap)
{
	int n = snprintf(error_buf, sizeof(error_buf), "%s(): ", func);

	if (n < 0 || (size_t)n >= sizeof(error_buf))
		n = 0;
	vsnprintf(error_buf + n, sizeof(error_buf) - (size_t)n, fmt, ap);
	return status;
}

aug_status aug__fail(aug_status status, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	aug__vfail(status, func, fmt, ap);
	va_end(ap);
	return status;
}

void aug__warn(const char *func, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(warning_buf, sizeof(warning_buf), "%s(): ", func);

	if (n < 0 || (size_t)n >= sizeof(warning_buf))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(warning_buf + n, sizeof(warning_buf) - (size_t)n, fmt, ap);
	va_end(ap);
}

const char *aug_version(void)
{
	return AUG_VERSION_STRING;
}
