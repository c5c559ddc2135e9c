#include "tests/e2e/support/netns.h"

#include <unistd.h>

#include <cstdio>

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

std::string unique_name(const std::string& suffix) {
  return "ipf" + std::to_string(getpid()) + "-" + suffix;
}

}  // namespace ipfence::e2e
