#include "tests/e2e/support/netns.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "tests/e2e/support/process.h"

namespace ipfence::e2e {

Netns::Netns(std::string name) : name_(std::move(name)) {
  sh_result("ip netns delete " + name_);  // a leftover of a crashed earlier run
  ipfence::e2e::sh("ip netns add " + name_);
  sh("ip link set lo up");
}

Netns::~Netns() {
  if (!name_.empty()) sh_result("ip netns delete " + name_);
}

std::string Netns::sh(const std::string& command) const {
  return ipfence::e2e::sh("ip netns exec " + name_ + " sh -c '" + command + "'");
}

NodeTopology::NodeTopology(const std::string& tag, const std::string& master,
                           const std::string& outside_cidr)
    : tag_(tag), master_(master), node_(tag + "-node"), outside_(tag + "-out") {
  node_.sh("ip link add " + master_ + " type veth peer name wire0 netns " + outside_.name());
  node_.sh("ip link set " + master_ + " up");
  outside_.sh("ip link set wire0 up && ip addr add " + outside_cidr + " dev wire0");
}

const Netns& NodeTopology::add_pod(const std::string& name) {
  pods_.emplace_back(tag_ + "-" + name);
  return pods_.back();
}

namespace {

// "ipf<pid>-..." namespaces whose process is gone were left by a crashed test run.
void sweep_dead_namespaces() {
  ProcessResult listed = sh_result("ip netns list");
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) {
    std::string name = line.substr(0, line.find(' '));
    if (name.rfind("ipf", 0) != 0) continue;
    auto dash = name.find('-');
    std::string pid = name.substr(3, dash == std::string::npos ? 0 : dash - 3);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (access(("/proc/" + pid).c_str(), F_OK) != 0) sh_result("ip netns delete " + name);
  }
}

}  // namespace

std::string unique_name(const std::string& suffix) {
  static const bool swept = (sweep_dead_namespaces(), true);
  (void)swept;
  return "ipf" + std::to_string(getpid()) + "-" + suffix;
}

}  // namespace ipfence::e2e
