#include "agent/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/unique_fd.h"

namespace ipfence::agent {
namespace {

Error os_error(const std::string& what, int err) {
  return make_error(ErrorCode::io, what + ": " + std::strerror(err));
}

Status sync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return os_error("open directory " + dir, errno);
  if (::fsync(fd.get()) != 0) return os_error("fsync directory " + dir, errno);
  return {};
}

Status write_all(int fd, const std::string& path, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("write " + path, errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty() || path == "/" || path == ".") return {};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return make_error(ErrorCode::io, path + " exists and is not a directory");
  }
  IPF_TRY(make_dirs(parent_of(path), mode));
  if (::mkdir(path.c_str(), mode) != 0) {
    if (errno == EEXIST) return {};  // created by someone else meanwhile: theirs, keep it
    return os_error("create directory " + path, errno);
  }
  // mkdir applies the umask; the mode asked for is what other tools expect to see.
  if (::chmod(path.c_str(), mode) != 0) return os_error("chmod " + path, errno);
  return {};
}

Result<std::string> read_whole_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return os_error("open " + path, errno);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("read " + path, errno);
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  // A hidden name without the target's extension: whoever scans the directory (libcni loads
  // *.conf, *.conflist and *.json) never picks up the half-written file.
  const auto slash = path.rfind('/');
  const std::size_t base = slash == std::string::npos ? 0 : slash + 1;
  const std::string tmp = path.substr(0, base) + "." + path.substr(base) + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return os_error("create " + tmp, errno);
  auto fail = [&](Error error) {
    ::unlink(tmp.c_str());
    return error;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail(os_error("chmod " + tmp, errno));
  if (auto written = write_all(fd.get(), tmp, data); !written) return fail(written.error());
  if (::fsync(fd.get()) != 0) return fail(os_error("fsync " + tmp, errno));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(os_error("rename " + tmp + " to " + path, errno));
  return sync_dir(parent_of(path));
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return os_error("remove " + path, errno);
  }
  return sync_dir(parent_of(path));
}

}  // namespace ipfence::agent
