/* fileio: bounded whole-file reads; atomic replacement. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

int kw_write_file_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    return kw_write_file_atomic_mode(path, data, len, 0640, err, errlen);
}

int kw_write_file_atomic_mode(const char *path, const char *data, size_t len, mode_t mode, char *err, size_t errlen)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int rc = -1;
    if (off == len && fsync(fd) == 0) {
        if (close(fd) == 0 && rename(tmp, path) == 0)
            rc = 0;
        fd = -1;
    }
    if (rc == 0) { /* make the rename itself durable */
        char dir[4096];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? (slash == path ? "/" : path) : ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, off < len ? "short write" : strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
    }
    return rc;
}

char *kw_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e != ENOENT)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        snprintf(err, errlen, "%s: %s", path, "not a regular file of at most the allowed size");
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    size_t cap = (size_t)st.st_size, off = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    while (off < cap) {
        ssize_t n = read(fd, buf + off, cap - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    buf[off] = '\0';
    if (len)
        *len = off;
    return buf;
}

const char *kw_file_move_aside(const char *path, char *aside, size_t len)
{
    if (snprintf(aside, len, "%s.damaged", path) >= (int)len || rename(path, aside) != 0)
        return NULL;
    return aside;
}
