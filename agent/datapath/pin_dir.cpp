#include "agent/datapath/pin_dir.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <cerrno>
#include <filesystem>

#include "agent/datapath/os_error.h"

namespace ipfence::datapath {

Status prepare_pin_dir(const std::string& dir) {
  std::filesystem::path probe = std::filesystem::absolute(dir);
  std::error_code ec;
  while (!std::filesystem::exists(probe, ec) && probe.has_parent_path() &&
         probe != probe.parent_path()) {
    probe = probe.parent_path();
  }
  struct statfs fs {};
  if (::statfs(probe.c_str(), &fs) != 0) return os_error("statfs " + probe.string(), errno);
  if (static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC) {
    return make_error(
        ErrorCode::invalid_argument,
        "pin dir " + dir + " is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::io, "create pin dir " + dir + ": " + ec.message());
  return {};
}

bpf_object_open_opts pinned_open_opts(const std::string& pin_dir) {
  bpf_object_open_opts opts{};
  opts.sz = sizeof(opts);
  opts.pin_root_path = pin_dir.empty() ? nullptr : pin_dir.c_str();
  return opts;
}

}  // namespace ipfence::datapath
