// The active probe at allocation (issue 5): before an ADD hands out an address, the agent
// sends RFC 5227 ARP probes (IPv4) or RFC 4862 DAD solicitations (IPv6) for it from the
// master and listens, through the conflict watcher, for anyone answering. An answer means an
// outside host uses the address: the ADD gives it back and takes another (ipam_api_probe.cpp),
// and the monitor files the answer as a squatter, which quarantines the address.
//
// What the watch already knows is not asked again: an address the monitor saw squatted
// within the known window counts as answered at once, without a probe.
//
// Probing never makes an ADD fail by itself: an address that cannot be probed (the master is
// gone, the send fails) is handed out as if nobody answered, with a warning and
// ipfence_conflict_probes_total{result="error"}; the passive watch still covers it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/conflict/probe_book.h"
#include "ipam/conflict_probe_settings.h"
#include "ipam/ip_address.h"
#include "ipam/result.h"

namespace prometheus {
class Counter;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace ipfence::agent {

struct ProbeTarget {
  ipam::IpAddress ip;
  std::string pool;
  ipam::ConflictProbeSettings settings;
};

struct ProbeAnswer {
  ipam::IpAddress ip;
  std::string pool;
  datapath::Mac mac;
  bool known = false;                         // from an earlier sighting: no probe was sent
  std::optional<datapath::WatchEvent> event;  // the answering frame, unless known
};

class ConflictProber {
 public:
  // The outside world, replaceable in unit tests.
  struct Io {
    // Sends one probe for an address out of an interface (ProbeSocket::send_probe).
    std::function<Status(const std::string& ifname, const ipam::IpAddress& ip)> send;
    // Clears the watcher's dedup entry of an address (Watcher::forget).
    std::function<Status(const ipam::IpAddress& ip)> forget;
    // Hands an answering frame to the conflict monitor (ConflictMonitor::submit).
    std::function<void(const datapath::WatchEvent& event)> report;
  };

  // `known_window`: how recent a squatter sighting must be to skip the probe.
  // `registry` may be null (no metrics).
  ConflictProber(ProbeBook& book, Io io, std::chrono::milliseconds known_window,
                 prometheus::Registry* registry);

  // Probes every target from `master` (their probes interleaved, all in one wait: a
  // dual-stack ADD waits once). Returns the answered targets; empty means go ahead.
  std::vector<ProbeAnswer> probe(const std::string& master,
                                 const std::vector<ProbeTarget>& targets);

  // After the ADD gave the answered addresses back: the monitor files each answer now, as a
  // squatter of a free address (and quarantines it). Before, it would have seen the ADD's
  // claim and filed a conflict with a pod that never got the address.
  void report(const std::vector<ProbeAnswer>& answers);

 private:
  void count(const std::string& pool, const char* result);

  ProbeBook& book_;
  Io io_;
  std::chrono::milliseconds known_window_;
  prometheus::Family<prometheus::Counter>* probes_ = nullptr;
};

}  // namespace ipfence::agent
