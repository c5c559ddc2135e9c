// The few file operations the agent needs besides the store: directories created with a
// known mode, whole-file reads, and crash-safe replacement of small files (CNI conflists).
// Errors are values (ErrorCode::io) naming the path and the OS reason.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "ipam/result.h"

namespace ipfence::agent {

// "/a/b" for "/a/b/c"; "/" for "/c"; "." for "c".
std::string parent_of(const std::string& path);

// mkdir -p; every directory created gets `mode` (regardless of the umask). Existing ones
// are left as they are.
Status make_dirs(const std::string& path, mode_t mode);

Result<std::string> read_whole_file(const std::string& path);

// Replaces `path` with `data` so that a reader sees the old or the new content, never a
// mix, even across a crash: write a temp file in the same directory, fsync, rename over
// `path`, fsync the directory. The temp name ends in ".tmp", which CNI runtimes skip.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode);

// unlink + fsync of the directory; a missing file is fine.
Status remove_file(const std::string& path);

}  // namespace ipfence::agent
