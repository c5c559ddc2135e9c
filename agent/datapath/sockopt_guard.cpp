#include "agent/datapath/sockopt_guard.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/libbpf_log.h"
#include "agent/datapath/pin_dir.h"
#include "agent/unique_fd.h"
#include "sockopt_guard.skel.h"

namespace ipfence::datapath {
namespace {

struct SkeletonDeleter {
  void operator()(sockopt_guard_bpf* skel) const { sockopt_guard_bpf__destroy(skel); }
};
using Skeleton = std::unique_ptr<sockopt_guard_bpf, SkeletonDeleter>;

// An open cgroup v2 directory and its id (what a cgroup link's info names).
struct Cgroup {
  agent::UniqueFd fd;
  std::uint64_t id = 0;
};

Result<Cgroup> open_cgroup(const std::string& path) {
  Cgroup out;
  out.fd.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!out.fd) {
    const int err = errno;
    return make_error(err == ENOENT || err == ENOTDIR ? ErrorCode::invalid_argument : ErrorCode::io,
                      "cgroup " + path + ": " + std::strerror(err));
  }
  struct statfs fs {};
  if (::fstatfs(out.fd.get(), &fs) != 0) return os_error("statfs " + path, errno);
  if (static_cast<unsigned long>(fs.f_type) != CGROUP2_SUPER_MAGIC) {
    return make_error(ErrorCode::invalid_argument,
                      "cgroup " + path +
                          " is not a cgroup v2 directory (cgroup/setsockopt programs attach "
                          "only to the unified hierarchy; see `mount -t cgroup2`)");
  }
  // The cgroup id is the kernfs node id, which is what name_to_handle_at returns as the
  // handle on cgroup2 (and what bpf_link_info.cgroup.cgroup_id reports).
  struct {
    file_handle handle;
    unsigned char bytes[sizeof(std::uint64_t)];
  } h{};
  h.handle.handle_bytes = sizeof(std::uint64_t);
  int mount_id = 0;
  if (::name_to_handle_at(out.fd.get(), "", &h.handle, &mount_id, AT_EMPTY_PATH) != 0)
    return os_error("name_to_handle_at " + path, errno);
  std::memcpy(&out.id, h.handle.f_handle, sizeof out.id);
  return out;
}

Result<bpf_link_info> link_info(int fd) {
  bpf_link_info info{};
  __u32 len = sizeof(info);
  const int err = bpf_obj_get_info_by_fd(fd, &info, &len);
  if (err != 0) return os_error("bpf_obj_get_info_by_fd (link)", err);
  return info;
}

Result<std::uint32_t> prog_id_of(int fd) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  const int err = bpf_obj_get_info_by_fd(fd, &info, &len);
  if (err != 0) return os_error("bpf_obj_get_info_by_fd (program)", err);
  return info.id;
}

std::string link_pin(const std::string& pin_dir) {
  return pin_dir + "/" + kSockoptLinkPin;
}

// The link pinned at `path`, or an empty fd when there is none. Anything else pinned there
// (not a setsockopt link on a cgroup) is refused rather than replaced.
Result<agent::UniqueFd> pinned_link(const std::string& path) {
  agent::UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd) {
    if (errno == ENOENT) return agent::UniqueFd();
    return os_error("open pinned link " + path, errno);
  }
  IPF_ASSIGN_OR_RETURN(bpf_link_info info, link_info(fd.get()));
  if (info.type != BPF_LINK_TYPE_CGROUP || info.cgroup.attach_type != BPF_CGROUP_SETSOCKOPT) {
    return make_error(ErrorCode::corrupt, "pinned " + path +
                                              " is not a cgroup setsockopt link; remove it to "
                                              "start afresh");
  }
  return fd;
}

Status detach_link(int fd, const std::string& pin) {
  const int err = bpf_link_detach(fd);
  if (err != 0) return os_error("detach link " + pin, err);
  if (!pin.empty() && ::unlink(pin.c_str()) != 0 && errno != ENOENT)
    return os_error("unpin " + pin, errno);
  return {};
}

}  // namespace

std::string_view sockopt_option_name(SockoptOption option) {
  switch (option) {
    case SockoptOption::packet_qdisc_bypass:
      return "packet_qdisc_bypass";
    case SockoptOption::xdp:
      return "xdp";
  }
  return "unknown";
}

std::string find_pods_cgroup(const std::vector<std::string>& candidates) {
  for (const auto& dir : candidates) {
    struct statfs fs {};
    if (::statfs(dir.c_str(), &fs) == 0 &&
        static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC &&
        std::filesystem::is_directory(dir))
      return dir;
  }
  return "";
}

struct SockoptGuard::Impl {
  SockoptGuardOptions options;
  Skeleton skel;
  agent::UniqueFd link;  // pinned when there is a pin dir; else the attachment's only owner
  std::uint32_t replaced_prog_id = 0;

  int map_fd(bpf_map* map) const { return bpf_map__fd(map); }
  int netns_fd() const { return map_fd(skel->maps.ipf_sockopt_ns); }
  int counters_fd() const { return map_fd(skel->maps.ipf_sockopt_cnt); }
};

SockoptGuard::SockoptGuard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SockoptGuard::SockoptGuard(SockoptGuard&&) noexcept = default;
SockoptGuard& SockoptGuard::operator=(SockoptGuard&&) noexcept = default;
SockoptGuard::~SockoptGuard() = default;

Result<SockoptGuard> SockoptGuard::open(const SockoptGuardOptions& options) {
  IPF_ASSIGN_OR_RETURN(Cgroup cgroup, open_cgroup(options.cgroup));
  if (!options.pin_dir.empty()) IPF_TRY(prepare_pin_dir(options.pin_dir));

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  LibbpfCapture log;
  bpf_object_open_opts open_opts = pinned_open_opts(impl->options.pin_dir);
  impl->skel.reset(sockopt_guard_bpf__open_opts(&open_opts));
  if (!impl->skel) return with_log(os_error("open sockopt guard BPF object", errno), log);
  if (options.pin_dir.empty()) {
    bpf_map__set_pin_path(impl->skel->maps.ipf_sockopt_ns, nullptr);
    bpf_map__set_pin_path(impl->skel->maps.ipf_sockopt_cnt, nullptr);
  }
  if (const int err = sockopt_guard_bpf__load(impl->skel.get()); err != 0) {
    // Pinned maps of another layout fail here too (libbpf: "couldn't reuse pinned map").
    return with_log(os_error("load sockopt guard BPF program (needs Linux 5.15+ for "
                             "bpf_get_netns_cookie in cgroup/setsockopt)",
                             err),
                    log);
  }
  const int prog = bpf_program__fd(impl->skel->progs.ipf_sockopt_guard);

  const std::string pin = options.pin_dir.empty() ? std::string() : link_pin(options.pin_dir);
  if (!pin.empty()) {
    IPF_ASSIGN_OR_RETURN(agent::UniqueFd old, pinned_link(pin));
    if (old) {
      IPF_ASSIGN_OR_RETURN(bpf_link_info info, link_info(old.get()));
      if (info.cgroup.cgroup_id == cgroup.id) {
        // Ours, on the same cgroup: swap the program in place, no gap and no second link.
        const int err = bpf_link_update(old.get(), prog, nullptr);
        if (err != 0) return with_log(os_error("replace the program of " + pin, err), log);
        impl->replaced_prog_id = info.prog_id;
        impl->link = std::move(old);
        return SockoptGuard(std::move(impl));
      }
      // Pinned by a run with another cgroup: that attachment goes, this one comes.
      IPF_TRY(detach_link(old.get(), pin));
    }
  }
  agent::UniqueFd link(bpf_link_create(prog, cgroup.fd.get(), BPF_CGROUP_SETSOCKOPT, nullptr));
  if (!link) {
    return with_log(os_error("attach sockopt guard to cgroup " + options.cgroup, errno), log);
  }
  if (!pin.empty()) {
    if (const int err = bpf_obj_pin(link.get(), pin.c_str()); err != 0) {
      // Unpinned, the link would go with this process: refuse instead of pretending.
      (void)bpf_link_detach(link.get());
      return os_error("pin link " + pin, err);
    }
  }
  impl->link = std::move(link);
  return SockoptGuard(std::move(impl));
}

Result<bool> SockoptGuard::detach_pinned(const std::string& pin_dir) {
  const std::string pin = link_pin(pin_dir);
  IPF_ASSIGN_OR_RETURN(agent::UniqueFd old, pinned_link(pin));
  if (!old) return false;
  IPF_TRY(detach_link(old.get(), pin));
  return true;
}

Status SockoptGuard::add_netns(std::uint64_t netns_cookie, Mode mode) {
  const ipf_sockopt_netns value{static_cast<__u8>(mode), {0, 0, 0, 0, 0, 0, 0}};
  const __u64 key = netns_cookie;
  return map_update(impl_->netns_fd(), key, value);
}

Status SockoptGuard::remove_netns(std::uint64_t netns_cookie) {
  const __u64 key = netns_cookie;
  return map_delete(impl_->netns_fd(), key);
}

Result<std::map<std::uint64_t, Mode>> SockoptGuard::netns() const {
  IPF_ASSIGN_OR_RETURN(auto entries, (map_entries<__u64, ipf_sockopt_netns>(impl_->netns_fd())));
  std::map<std::uint64_t, Mode> out;
  for (const auto& [cookie, value] : entries) out[cookie] = static_cast<Mode>(value.mode);
  return out;
}

Result<SyncStats> SockoptGuard::set_netns(const std::map<std::uint64_t, Mode>& desired) {
  IPF_ASSIGN_OR_RETURN(auto current, netns());
  SyncStats stats;
  for (const auto& [cookie, mode] : current) {
    if (desired.contains(cookie)) continue;
    IPF_TRY(remove_netns(cookie));
    ++stats.removed;
  }
  for (const auto& [cookie, mode] : desired) {
    const auto found = current.find(cookie);
    if (found != current.end() && found->second == mode) {
      ++stats.unchanged;
      continue;
    }
    IPF_TRY(add_netns(cookie, mode));
    ++(found == current.end() ? stats.added : stats.changed);
  }
  return stats;
}

Result<std::vector<SockoptCounter>> SockoptGuard::counters() const {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return os_error("libbpf_num_possible_cpus", cpus);
  std::vector<__u64> per_cpu(static_cast<std::size_t>(cpus));
  std::vector<SockoptCounter> out;
  for (Verdict verdict : {Verdict::dropped, Verdict::monitored}) {
    for (SockoptOption option : kSockoptOptions) {
      const __u32 slot =
          static_cast<__u32>(verdict) * IPF_SOCKOPT_OPTION_COUNT + static_cast<__u32>(option);
      const int err = bpf_map_lookup_elem(impl_->counters_fd(), &slot, per_cpu.data());
      if (err != 0) return os_error("read ipf_sockopt_cnt", err);
      std::uint64_t sum = 0;
      for (__u64 n : per_cpu) sum += n;
      out.push_back({option, verdict, sum});
    }
  }
  return out;
}

const std::string& SockoptGuard::cgroup() const {
  return impl_->options.cgroup;
}

int SockoptGuard::prog_fd() const {
  return bpf_program__fd(impl_->skel->progs.ipf_sockopt_guard);
}

std::uint32_t SockoptGuard::prog_id() const {
  const Result<std::uint32_t> id = prog_id_of(prog_fd());
  return id.ok() ? *id : 0;
}

std::uint32_t SockoptGuard::link_id() const {
  const Result<bpf_link_info> info = link_info(impl_->link.get());
  return info.ok() ? info->id : 0;
}

std::uint32_t SockoptGuard::replaced_prog_id() const {
  return impl_->replaced_prog_id;
}

}  // namespace ipfence::datapath
