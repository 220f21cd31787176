/* Whole-file reads with a size limit, and atomic writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_MAX_FILE ((size_t)1 << 30)

aug_status aug__open_regular(const char *path, const char *func, int *fd, struct stat *sb)
{
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer forever. It changes nothing for regular files. */
	int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	*fd = -1;
	if (f < 0)
		return aug__fail(AUG_EIO, func, "%s: %s", path, strerror(errno));
	if (fstat(f, sb) != 0) {
		aug_status st = aug__fail(AUG_EIO, func, "%s: %s", path, strerror(errno));

		close(f);
		return st;
	}
	if (!S_ISREG(sb->st_mode)) {
		close(f);
		return aug__fail(AUG_EIO, func, "%s: not a regular file", path);
	}
	*fd = f;
	return AUG_OK;
}

aug_status aug_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *len)
{
	struct stat sb;
	uint8_t *buf = NULL;
	size_t size, got = 0;
	aug_status st = AUG_OK;
	int fd;

	*out = NULL;
	*len = 0;
	if (max_bytes == 0)
		max_bytes = DEFAULT_MAX_FILE;
	st = aug__open_regular(path, __func__, &fd, &sb);
	if (st)
		return st;
	if ((uint64_t)sb.st_size > max_bytes) {
		st = aug__fail(AUG_ELIMIT, __func__, "%s: %lld bytes, over the limit of %zu",
			       path, (long long)sb.st_size, max_bytes);
		goto out_close;
	}
	size = (size_t)sb.st_size;
	/* One spare byte so a file that grew since fstat is noticed, not cut. */
	buf = malloc(size + 1);
	if (!buf) {
		st = aug__fail(AUG_ENOMEM, __func__, "%s: no memory for %zu bytes", path, size);
		goto out_close;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, size + 1 - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			st = aug__fail(AUG_EIO, __func__, "%s: %s", path, strerror(errno));
			goto out_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > size) {
			st = aug__fail(AUG_EIO, __func__, "%s: the file grew while being read", path);
			goto out_free;
		}
	}
	if (got < size) {
		/* Another program is rewriting it: what was read is neither the
		 * old file nor the new one. */
		st = aug__fail(AUG_EIO, __func__, "%s: the file shrank while being read (%zu of %zu bytes)", path, got,
			       size);
		goto out_free;
	}
	*out = buf;
	*len = got;
	close(fd);
	return AUG_OK;

out_free:
	free(buf);
out_close:
	close(fd);
	return st;
}

static aug_status write_all(int fd, const char *path, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return aug__fail(AUG_EIO, "aug_file_write_atomic", "%s: %s", path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return AUG_OK;
}

/* The fast way, where the system has it: the bytes go into an unnamed file
 * made with O_TMPFILE in the target's folder, and linkat() gives it its
 * name once it is complete. The folder is locked only for that one link,
 * not for making the inode (the expensive part on ext4, and the part two
 * threads writing into one folder queued for), and a writer killed half way
 * leaves nothing behind. Returns true when it has the last word (written,
 * or failed in a way the other method would not mend), false when the
 * other method must do the work: no O_TMPFILE here, no /proc to link
 * through, or a file already there (linkat() never replaces one). */
static bool write_unnamed(const char *path, const void *buf, size_t len, aug_status *st)
{
	const char *slash = strrchr(path, '/');
	char dir[4096], proc[64];
	int fd;

	if (!slash) {
		strcpy(dir, ".");
	} else {
		size_t dlen = slash == path ? 1 : (size_t)(slash - path);

		if (dlen >= sizeof(dir))
			return false;
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	*st = write_all(fd, path, buf, len);
	/* Like the other method: 0644 whatever the umask. */
	if (!*st && fchmod(fd, 0644) != 0)
		*st = aug__fail(AUG_EIO, "aug_file_write_atomic", "%s: %s", path, strerror(errno));
	if (*st) {
		close(fd);
		return true;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0) {
		close(fd);
		return false;
	}
	if (close(fd) != 0) {
		*st = aug__fail(AUG_EIO, "aug_file_write_atomic", "%s: %s", path, strerror(errno));
		unlink(path);
	}
	return true;
}

aug_status aug_file_write_atomic(const char *path, const void *buf, size_t len)
{
	size_t plen = strlen(path);
	char *tmp;
	aug_status st;
	int fd;

	/* No fsync: the rename makes the write atomic against a killed process,
	 * which is what resuming relies on; an fsync per image would cost more
	 * than the augmentation itself. Power loss is the filesystem's business.
	 *
	 * Where write_unnamed() cannot (see there), a named temporary
	 * "<path>.tmp.XXXXXX": same folder, so rename() is atomic; unique, so
	 * two writers never share a temporary. Names ending ".tmp.*" are what an
	 * interrupted run can leave; `augment run` removes them on restart. */
	st = AUG_OK;
	if (write_unnamed(path, buf, len, &st))
		return st;
	tmp = malloc(plen + 12);
	if (!tmp)
		return aug__fail(AUG_ENOMEM, __func__, "%s: no memory", path);
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", 12);
	fd = mkstemp(tmp);
	if (fd < 0) {
		st = aug__fail(AUG_EIO, __func__, "%s: cannot create a temporary file: %s", path, strerror(errno));
		free(tmp);
		return st;
	}
	st = write_all(fd, path, buf, len);
	/* mkstemp makes 0600 files; images are meant to be read by others. */
	if (!st && fchmod(fd, 0644) != 0)
		st = aug__fail(AUG_EIO, __func__, "%s: %s", path, strerror(errno));
	if (close(fd) != 0 && !st)
		st = aug__fail(AUG_EIO, __func__, "%s: %s", path, strerror(errno));
	if (!st && rename(tmp, path) != 0)
		st = aug__fail(AUG_EIO, __func__, "%s: %s", path, strerror(errno));
	if (st)
		unlink(tmp);
	free(tmp);
	return st;
}

int aug_file_remove_temporaries(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	size_t blen = strlen(base);
	char *dir;
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (blen == 0)
		return 0;
	dir = slash ? strndup(path, dlen ? dlen : 1) : strdup(".");
	if (!dir)
		return 0;
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		char *p;

		/* exactly base + ".tmp." + the 6 characters mkstemp() chose */
		if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".tmp.", 5) != 0 ||
		    strlen(e->d_name + blen) != 11)
			continue;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
			break;
		n += unlink(p) == 0;
		free(p);
	}
	if (d)
		closedir(d);
	free(dir);
	return n;
}
