#include "ipam/store/file_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ipfence::store {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  // close() errors are not actionable here: data that matters was fsynced before.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Error io_error(std::string_view action, const std::string& path, int err) {
  return make_error(ErrorCode::io, std::string(action) + " " + path + ": " + std::strerror(err));
}

Result<UniqueFd> open_file(const std::string& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return io_error("open", path, errno);
  return UniqueFd(fd);
}

Result<bool> file_exists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return io_error("stat", path, errno);
}

Result<std::string> read_at(int fd, const std::string& path, off_t offset, std::size_t length) {
  std::string data(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, data.data() + done, length - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("read", path, errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

Result<std::string> read_from(int fd, const std::string& path, off_t offset) {
  std::string data;
  // Reserving the size up front spares a 45 MB snapshot the copies of a growing string.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > offset)
    data.reserve(static_cast<std::size_t>(st.st_size - offset));
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("read", path, errno);
    if (n == 0) return data;
    data.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
}

Result<std::string> read_file(const std::string& path) {
  IPF_ASSIGN_OR_RETURN(auto fd, open_file(path, O_RDONLY));
  return read_from(fd.get(), path, 0);
}

Status write_at(int fd, const std::string& path, std::string_view data, off_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("write", path, errno);
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += n;
  }
  return {};
}

Status sync_data(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return io_error("fdatasync", path, errno);
  return {};
}

Status sync_dir(const std::string& dir) {
  IPF_ASSIGN_OR_RETURN(auto fd, open_file(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) return io_error("fsync directory", dir, errno);
  return {};
}

Status make_dirs(const std::string& path, mode_t mode) {
  // Create each missing component from the root down; EEXIST means another process won.
  for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const bool leaf = slash == std::string::npos;
    const std::string part = leaf ? path : path.substr(0, slash);
    if (!part.empty() && part.back() != '/' && ::mkdir(part.c_str(), leaf ? mode : 0755) != 0 &&
        errno != EEXIST)
      return io_error("create directory", part, errno);
    if (leaf) break;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error("stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return io_error("use as store directory", path, ENOTDIR);
  return {};
}

Status write_file_atomic(const std::string& dir, const std::string& name, std::string_view data,
                         const CrashHook& hook, std::string_view tag) {
  return write_file_atomic(dir, name, std::vector<std::string_view>{data}, hook, tag);
}

Status write_file_atomic(const std::string& dir, const std::string& name,
                         const std::vector<std::string_view>& pieces, const CrashHook& hook,
                         std::string_view tag) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  {
    // O_TRUNC: a .tmp left by a crash is just overwritten.
    IPF_ASSIGN_OR_RETURN(auto fd, open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC));
    if (hook) {
      // Leave a half-written temp file behind when the test kills us here.
      std::size_t total = 0;
      for (auto piece : pieces) total += piece.size();
      std::size_t half = total / 2;
      off_t at = 0;
      for (auto piece : pieces) {
        const auto part = piece.substr(0, std::min(piece.size(), half));
        IPF_TRY(write_at(fd.get(), tmp, part, at));
        at += static_cast<off_t>(part.size());
        half -= part.size();
      }
      hook(std::string(tag) + ".partial");
    }
    off_t at = 0;
    for (auto piece : pieces) {
      IPF_TRY(write_at(fd.get(), tmp, piece, at));
      at += static_cast<off_t>(piece.size());
    }
    if (::fsync(fd.get()) != 0) return io_error("fsync", tmp, errno);
  }
  if (hook) hook(std::string(tag) + ".synced");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("rename to " + path, tmp, errno);
  IPF_TRY(sync_dir(dir));
  if (hook) hook(std::string(tag) + ".renamed");
  return {};
}

Result<FileLock> FileLock::acquire(int fd, const std::string& path, bool exclusive) {
  int rc;
  do {
    rc = ::flock(fd, exclusive ? LOCK_EX : LOCK_SH);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return io_error("lock", path, errno);
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::flock(fd_, LOCK_UN);
}

}  // namespace ipfence::store
