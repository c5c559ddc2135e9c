// An ARP flood from the outside host, for the conflict watcher's flood test and benchmark
// (issue 5: "100,000 ARP frames per second for 10 s with random sender IPs from the pool").
//
// One thread, one AF_PACKET socket inside the test's outside namespace, frames handed to the
// kernel with sendmmsg in batches of kBatch and paced against the clock: it sends what is
// due by now, and sleeps when ahead. A batch is one system call, so the rate is limited by
// the kernel's per-frame work (on a veth the receive side, including the master's TC ingress
// watcher, runs on the sending CPU), not by syscall overhead. When the target rate is out of
// reach the flood sends as fast as it can and the report says what it achieved.
//
// Frames alternate between an RFC 5227 announcement (request, sender = target = the address)
// and a request for `target_ip` (sender = the address): both claim the sender address, which
// is what the watcher reports. The sender MAC is fixed by default: one host flooding, as a
// misconfigured or scanning host does; the watcher deduplicates per (address, MAC), so this
// is the case dedup is for. With `random_macs` every frame comes from a new locally
// administered MAC, which the watcher reports at once by design (a new MAC on an address is
// the news): the spoofing worst case, for what it costs the agent and its store.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/support/enforcement.h"

namespace ipfence::e2e {

struct ArpFloodOptions {
  std::string netns;   // the outside host's namespace
  std::string ifname;  // its end of the wire
  // Inclusive IPv4 ranges ("10.6.168.1-10.6.171.254" or a single address) sender addresses
  // are drawn from, uniformly over all their addresses.
  std::vector<std::string> ranges;
  double rate = 100'000;  // frames per second
  std::chrono::milliseconds duration{10'000};
  Mac mac{0x02, 0xf1, 0x00, 0x00, 0x00, 0x01};  // the flooding host (fixed MAC)
  bool random_macs = false;
  std::string target_ip = "10.6.0.1";  // target of the plain requests
  std::uint64_t seed = 1;
};

struct ArpFloodReport {
  std::uint64_t frames = 0;       // accepted by the kernel
  std::uint64_t send_errors = 0;  // frames sendmmsg did not take (ENOBUFS and the like)
  std::uint64_t distinct_ips = 0;
  std::chrono::nanoseconds elapsed{0};
  double rate() const;  // frames per second actually sent
  std::string describe() const;
};

class ArpFlood {
 public:
  static constexpr unsigned kBatch = 64;

  // Starts flooding at once, on its own thread; throws when the socket cannot be made.
  explicit ArpFlood(ArpFloodOptions options);
  ~ArpFlood();  // stops the thread, closes the socket
  ArpFlood(const ArpFlood&) = delete;
  ArpFlood& operator=(const ArpFlood&) = delete;

  // Waits until the duration is over (or stops early) and returns what was sent.
  ArpFloodReport wait();
  void stop() { stop_ = true; }
  std::uint64_t frames_so_far() const { return frames_; }

 private:
  struct Range {
    std::uint32_t first;
    std::uint32_t size;
  };
  void run();

  ArpFloodOptions options_;
  std::vector<Range> ranges_;
  std::uint64_t addresses_ = 0;
  int ifindex_ = 0;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> frames_{0};
  ArpFloodReport report_;
  std::thread thread_;
};

}  // namespace ipfence::e2e
