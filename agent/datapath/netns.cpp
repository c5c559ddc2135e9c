#include "agent/datapath/netns.h"

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <thread>

#include "agent/datapath/os_error.h"
#include "agent/unique_fd.h"

namespace ipfence::datapath {

Status run_in_netns(const std::string& netns_path, const std::function<Status()>& fn) {
  if (netns_path.empty()) return fn();
  agent::UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return os_error("open netns " + netns_path, errno);
  Status result;
  std::thread worker([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = os_error("setns " + netns_path, errno);
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

}  // namespace ipfence::datapath
