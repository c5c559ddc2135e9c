// What conflict probing shares between threads: the addresses ADDs are probing right now
// (the watcher's reader thread wakes the ADD that waits for an answer), the addresses an
// answer came for lately (so the conflict monitor files the answer as a squatter, not as a
// conflict with the pod that was never handed the address), and outside hosts the monitor
// saw squatting lately (so an ADD skips such an address without probing: what the watch
// already knows is not asked again).
//
// Bounded: waiters exist only while an ADD waits; the two "lately" tables keep at most
// kMaxRemembered addresses each, oldest dropped first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "agent/datapath/watch_event.h"
#include "ipam/ip_address.h"

namespace ipfence::agent {

class ProbeBook {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxRemembered = 4096;

  struct Answer {
    ipam::IpAddress ip;
    datapath::Mac mac;
    datapath::WatchEvent event;  // the frame that answered, for the monitor
  };

  // While alive, frames about the expected addresses count as answers.
  class Expectation {
   public:
    ~Expectation();
    Expectation(const Expectation&) = delete;
    Expectation& operator=(const Expectation&) = delete;
    // Waits until an answer arrived or `deadline`; returns every answer so far.
    std::vector<Answer> wait_until(Clock::time_point deadline);

   private:
    friend class ProbeBook;
    Expectation(ProbeBook& book, std::vector<ipam::IpAddress> ips);
    ProbeBook& book_;
    std::vector<ipam::IpAddress> ips_;
    std::vector<Answer> answers_;  // guarded by book_.mu_
  };

  // `answered_for`: how long an answered address stays "lately answered".
  explicit ProbeBook(std::chrono::milliseconds answered_for = std::chrono::seconds(10));

  std::unique_ptr<Expectation> expect(std::vector<ipam::IpAddress> ips);

  // Every watcher event (the reader thread): completes the expectations it answers. True if
  // it did: the ADD that waited hands it to the monitor once it gave the address back
  // (ConflictProber::report), so that the monitor sees a free address, not the ADD's claim.
  bool observe(const datapath::WatchEvent& event);

  // True while `ip` is being probed or was answered within answered_for.
  bool probed_lately(const ipam::IpAddress& ip);

  // The monitor saw `ip` used by an outside host (squatter) at `when`.
  void note_squatter(const ipam::IpAddress& ip, const datapath::Mac& mac);
  // The MAC of a squatter seen within `window`, if any.
  std::optional<datapath::Mac> squatted_within(const ipam::IpAddress& ip,
                                               std::chrono::milliseconds window);

 private:
  struct Seen {
    datapath::Mac mac;
    Clock::time_point when;
  };
  static void remember(std::map<ipam::IpAddress, Seen>& table, const ipam::IpAddress& ip,
                       Seen seen);

  std::chrono::milliseconds answered_for_;
  std::mutex mu_;
  std::condition_variable answered_cv_;
  std::multimap<ipam::IpAddress, Expectation*> waiting_;
  std::map<ipam::IpAddress, Seen> answered_;
  std::map<ipam::IpAddress, Seen> squatters_;
};

}  // namespace ipfence::agent
