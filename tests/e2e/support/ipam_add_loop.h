// ADD then DEL through the real ipfence IPAM plugin, over and over on a thread of its own,
// until stopped: what a node's runtime does when pods come and go, for tests and benchmarks
// that load the agent in other ways meanwhile (the ARP flood). Records every ADD's and DEL's
// wall time and every failure with the plugin's error.
//
// The plugin is exec'd in the caller's network namespace, not under `ip netns exec`: IPAM
// only talks to the agent over its unix socket (a path), and `ip netns exec` would add its
// own start-up (a mount namespace, /sys remounted) to every figure.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/support/cni_runtime.h"

namespace ipfence::e2e {

struct IpamLoopResult {
  std::vector<double> add_ms;  // one per ADD, in order
  std::vector<double> del_ms;
  std::vector<std::string> failures;   // "ADD <container>: <output>"
  std::vector<std::string> addresses;  // what each successful ADD got
  std::size_t rounds() const { return add_ms.size(); }
};

// The p-th percentile (0..1) of `values`, nearest rank; 0 when empty.
double percentile(std::vector<double> values, double p);

class IpamAddLoop {
 public:
  // `netconf`: the plugin's config as a runtime hands it over (direct_netconf()); `pod_netns`:
  // a path given as CNI_NETNS (IPAM does not enter it). Container ids are `prefix`-<n>.
  IpamAddLoop(nlohmann::json netconf, std::string pod_netns, std::string prefix = "loop");
  ~IpamAddLoop();  // stops the loop
  IpamAddLoop(const IpamAddLoop&) = delete;
  IpamAddLoop& operator=(const IpamAddLoop&) = delete;

  // Runs `rounds` ADD+DEL pairs on the calling thread.
  void run_rounds(std::size_t rounds);
  // Runs pairs on a thread until stop().
  void start();
  void stop();
  // A copy of what was recorded so far; clear() forgets it.
  IpamLoopResult result() const;
  void clear();

 private:
  void round();

  CniRuntime runtime_;
  nlohmann::json netconf_;
  std::string pod_netns_;
  std::string prefix_;
  std::size_t next_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  IpamLoopResult result_;
  std::thread thread_;
};

}  // namespace ipfence::e2e
