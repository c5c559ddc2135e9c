// Scratch environments for the privileged guard tests, cleaned up on every path:
//   PrivateBpffs - a bpf filesystem of our own for pinned maps. The process first moves to a
//                  private mount namespace, so the mount (and every pin in it) disappears with
//                  the process even if it crashes; the destructor unmounts it anyway.
//   TestNetns    - a fresh network namespace held by an fd (no /run/netns entry to leak):
//                  closing the fd, or the process dying, deletes it and every link inside.
// Nothing here touches the machine's own interfaces or mounts.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "agent/datapath/netns.h"
#include "agent/unique_fd.h"

namespace ipfence::testing {

class PrivateBpffs {
 public:
  PrivateBpffs() {
    // A private mount namespace needs a single-threaded caller; if that fails the mount is
    // still removed by the destructor.
    if (::unshare(CLONE_NEWNS) == 0) ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    std::string templ = "/tmp/ipfence-test-" + std::to_string(::getpid()) + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return;
    }
    dir_ = templ;
    if (::mount("bpf", dir_.c_str(), "bpf", 0, "mode=0700") != 0) {
      error_ = std::string("mount bpffs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~PrivateBpffs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  PrivateBpffs(const PrivateBpffs&) = delete;
  PrivateBpffs& operator=(const PrivateBpffs&) = delete;

  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string pin_dir() const { return dir_ + "/ipfence"; }

 private:
  std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

class TestNetns {
 public:
  TestNetns() {
    std::thread maker([this] {
      if (::unshare(CLONE_NEWNET) != 0) return;
      fd_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    });
    maker.join();
  }
  bool ok() const { return static_cast<bool>(fd_); }
  // A path that names the netns for as long as this object lives.
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_.get()); }
  // The same through our pid, for commands we run (`ip link ... netns <path>`): their
  // /proc/self is their own, and the fd is close-on-exec.
  std::string process_path() const {
    return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_.get());
  }

 private:
  agent::UniqueFd fd_;
};

// Runs a shell command (iproute2, tc) on the calling thread, i.e. in its network namespace,
// and returns its standard output; `ok` says whether it exited 0.
inline std::string run_command(const std::string& cmd, bool* ok = nullptr) {
  std::string out;
  FILE* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    if (ok) *ok = false;
    return out;
  }
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  const int status = ::pclose(pipe);
  if (ok) *ok = status == 0;
  return out;
}

}  // namespace ipfence::testing
