/* fileio: whole-file reads with a size limit, and writes that replace a
 * file so that a crash leaves either the old contents or the new, never a
 * mix (write PATH.tmp, fsync, rename). */
#ifndef KW_FILEIO_H
#define KW_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Write len bytes of data to path atomically (mode 0640), the rename made
 * durable by an fsync of the directory. Returns 0, or -1 with "path:
 * reason" in err. */
int kw_write_file_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);
/* The same with the new file's mode (before the umask), for files only
 * their owner may read. */
int kw_write_file_atomic_mode(const char *path, const char *data, size_t len, mode_t mode, char *err, size_t errlen);

/* The contents of path, NUL-terminated, in a malloc'd buffer (length in
 * *len when len is not NULL). NULL when the file is missing (errno ENOENT,
 * err empty), larger than max bytes or unreadable (err says why). */
char *kw_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* Keep a file that does not load as path + ".damaged" (replacing an older
 * one), so the next save does not destroy what shows how it was damaged.
 * Returns the new name in aside (capacity len), or NULL when it could not
 * be moved. */
const char *kw_file_move_aside(const char *path, char *aside, size_t len);

#endif
