// The POSIX file operations the file store is built from: an owning fd, flock guards,
// whole reads and writes, fsync of files and directories, and atomic replacement of a file.
// Every error is ErrorCode::io naming the path and the OS reason.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/result.h"

namespace ipfence::store {

// Test hook: called at named points of the write path so a test can kill the process
// exactly there (see FileStore::Options::crash_hook). Empty in production.
using CrashHook = std::function<void(std::string_view point)>;

// Move-only owner of a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

Error io_error(std::string_view action, const std::string& path, int err);

// open(2) with O_CLOEXEC added; files are created 0600 (the store holds cluster state).
Result<UniqueFd> open_file(const std::string& path, int flags);
// Whether `path` exists; other stat errors are errors.
Result<bool> file_exists(const std::string& path);
// Everything from `offset` to the end of the file.
Result<std::string> read_from(int fd, const std::string& path, off_t offset);
// Up to `length` bytes at `offset` (fewer only at the end of the file).
Result<std::string> read_at(int fd, const std::string& path, off_t offset, std::size_t length);
Result<std::string> read_file(const std::string& path);
// The whole of `data` at `offset` (retries short writes and EINTR).
Status write_at(int fd, const std::string& path, std::string_view data, off_t offset);
Status sync_data(int fd, const std::string& path);
Status sync_dir(const std::string& dir);
// mkdir -p: missing parents get 0755, the leaf `mode` (the umask applies).
Status make_dirs(const std::string& path, mode_t mode);

// Replaces dir/name with `data` so that a crash at any moment leaves either the old or the
// new content: write dir/name.tmp, fsync it, rename over dir/name, fsync the directory.
// Calls hook("<tag>.partial" / ".synced" / ".renamed") on the way when a hook is set.
Status write_file_atomic(const std::string& dir, const std::string& name, std::string_view data,
                         const CrashHook& hook, std::string_view tag);
// The same for a file made of `pieces` one after the other (spares a copy of a large file).
Status write_file_atomic(const std::string& dir, const std::string& name,
                         const std::vector<std::string_view>& pieces, const CrashHook& hook,
                         std::string_view tag);

// flock(2) held for the guard's lifetime. flock locks belong to the open file description,
// so two FileStore instances in one process exclude each other like two processes do.
class FileLock {
 public:
  static Result<FileLock> acquire(int fd, const std::string& path, bool exclusive);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ipfence::store
