// cbfile.c: file-system calls the Swift overlays do not expose (cbfile.h).
#define _GNU_SOURCE
#include "cbfile.h"

#include <errno.h>
#include <fcntl.h>

int cb_begin_writeback(int fd, int64_t offset, int64_t count) {
#if defined(__linux__)
    return sync_file_range(fd, (off64_t)offset, (off64_t)count, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)count;
    errno = ENOSYS;
    return -1;
#endif
}
