// cbfile: file-system calls the Swift overlays do not expose.
#ifndef CBFILE_H
#define CBFILE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Starts writeback of bytes [offset, offset + count) of fd without waiting for it
/// (Linux sync_file_range with SYNC_FILE_RANGE_WRITE). A hint only: returns 0, or -1 with
/// errno set (always -1 with ENOSYS where the call does not exist).
int cb_begin_writeback(int fd, int64_t offset, int64_t count);

#ifdef __cplusplus
}
#endif

#endif
