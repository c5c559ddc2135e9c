#include "tests/e2e/support/ipam_add_loop.h"

#include <algorithm>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

IpamAddLoop::IpamAddLoop(nlohmann::json netconf, std::string pod_netns, std::string prefix)
    : runtime_(nlohmann::json::object(), AgentNode::cni_path()),
      netconf_(std::move(netconf)),
      pod_netns_(std::move(pod_netns)),
      prefix_(std::move(prefix)) {}

IpamAddLoop::~IpamAddLoop() {
  stop();
}

void IpamAddLoop::round() {
  const std::string id = prefix_ + "-" + std::to_string(next_++);
  CniCall call;
  call.container_id = id;
  call.netns = pod_netns_;
  call.args = {
      {"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", id}, {"K8S_POD_UID", "uid-" + id}};
  const std::string type = netconf_.at("ipam").at("type");
  auto start = std::chrono::steady_clock::now();
  CniOutcome added = runtime_.exec(type, "ADD", netconf_, call);
  const double add_ms = ms_since(start);
  start = std::chrono::steady_clock::now();
  CniOutcome deleted = runtime_.exec(type, "DEL", netconf_, call);
  const double del_ms = ms_since(start);
  std::lock_guard lock(mu_);
  result_.add_ms.push_back(add_ms);
  result_.del_ms.push_back(del_ms);
  if (added.ok())
    result_.addresses.push_back(without_prefix(result_address(added)));
  else
    result_.failures.push_back("ADD " + id + ": " + added.output.dump() + " " + added.stderr_text);
  if (!deleted.ok())
    result_.failures.push_back("DEL " + id + ": " + deleted.output.dump() + " " +
                               deleted.stderr_text);
}

void IpamAddLoop::run_rounds(std::size_t rounds) {
  for (std::size_t i = 0; i < rounds; ++i) round();
}

void IpamAddLoop::start() {
  stop();
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_) round();
  });
}

void IpamAddLoop::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

IpamLoopResult IpamAddLoop::result() const {
  std::lock_guard lock(mu_);
  return result_;
}

void IpamAddLoop::clear() {
  std::lock_guard lock(mu_);
  result_ = {};
}

}  // namespace ipfence::e2e
