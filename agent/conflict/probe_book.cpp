#include "agent/conflict/probe_book.h"

#include <algorithm>

namespace ipfence::agent {

ProbeBook::ProbeBook(std::chrono::milliseconds answered_for) : answered_for_(answered_for) {}

ProbeBook::Expectation::Expectation(ProbeBook& book, std::vector<ipam::IpAddress> ips)
    : book_(book), ips_(std::move(ips)) {}

ProbeBook::Expectation::~Expectation() {
  std::lock_guard lock(book_.mu_);
  for (auto it = book_.waiting_.begin(); it != book_.waiting_.end();)
    it = it->second == this ? book_.waiting_.erase(it) : std::next(it);
}

std::vector<ProbeBook::Answer> ProbeBook::Expectation::wait_until(Clock::time_point deadline) {
  std::unique_lock lock(book_.mu_);
  book_.answered_cv_.wait_until(lock, deadline, [this] { return !answers_.empty(); });
  return answers_;
}

std::unique_ptr<ProbeBook::Expectation> ProbeBook::expect(std::vector<ipam::IpAddress> ips) {
  std::unique_ptr<Expectation> expectation(new Expectation(*this, ips));
  std::lock_guard lock(mu_);
  for (const auto& ip : ips) waiting_.emplace(ip, expectation.get());
  return expectation;
}

bool ProbeBook::observe(const datapath::WatchEvent& event) {
  bool woke = false;
  {
    std::lock_guard lock(mu_);
    auto [first, last] = waiting_.equal_range(event.ip);
    for (auto it = first; it != last; ++it) {
      it->second->answers_.push_back(Answer{event.ip, event.mac, event});
      woke = true;
    }
    if (woke) remember(answered_, event.ip, Seen{event.mac, Clock::now()});
  }
  if (woke) answered_cv_.notify_all();
  return woke;
}

bool ProbeBook::probed_lately(const ipam::IpAddress& ip) {
  std::lock_guard lock(mu_);
  if (waiting_.count(ip)) return true;
  auto it = answered_.find(ip);
  return it != answered_.end() && Clock::now() - it->second.when < answered_for_;
}

void ProbeBook::note_squatter(const ipam::IpAddress& ip, const datapath::Mac& mac) {
  std::lock_guard lock(mu_);
  remember(squatters_, ip, Seen{mac, Clock::now()});
}

std::optional<datapath::Mac> ProbeBook::squatted_within(const ipam::IpAddress& ip,
                                                        std::chrono::milliseconds window) {
  std::lock_guard lock(mu_);
  auto it = squatters_.find(ip);
  if (it == squatters_.end() || Clock::now() - it->second.when >= window) return std::nullopt;
  return it->second.mac;
}

void ProbeBook::remember(std::map<ipam::IpAddress, Seen>& table, const ipam::IpAddress& ip,
                         Seen seen) {
  table[ip] = seen;
  if (table.size() <= kMaxRemembered) return;
  // Full (a flood of random senders): drop the oldest. O(n), once per insert beyond the
  // bound only, and n is small.
  auto oldest = std::min_element(table.begin(), table.end(), [](const auto& a, const auto& b) {
    return a.second.when < b.second.when;
  });
  table.erase(oldest);
}

}  // namespace ipfence::agent
