#include "agent/conflict/conflict_prober.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace ipfence::agent {

ConflictProber::ConflictProber(ProbeBook& book, Io io, std::chrono::milliseconds known_window,
                               prometheus::Registry* registry)
    : book_(book), io_(std::move(io)), known_window_(known_window) {
  if (registry)
    probes_ = &prometheus::BuildCounter()
                   .Name("ipfence_conflict_probes_total")
                   .Help(
                       "Addresses probed (ARP probe / DAD) before an ADD handed them out, by "
                       "result: clear, answered (an outside host has it: another address was "
                       "taken), known (seen squatted lately: not probed), error (could not probe)")
                   .Register(*registry);
}

void ConflictProber::count(const std::string& pool, const char* result) {
  if (probes_) probes_->Add({{"pool", pool}, {"result", result}}).Increment();
}

std::vector<ProbeAnswer> ConflictProber::probe(const std::string& master,
                                               const std::vector<ProbeTarget>& targets) {
  std::vector<ProbeAnswer> answered;
  for (const auto& target : targets)
    if (auto mac = book_.squatted_within(target.ip, known_window_)) {
      answered.push_back(ProbeAnswer{target.ip, target.pool, *mac, true, std::nullopt});
      count(target.pool, "known");
    }
  if (!answered.empty()) return answered;

  std::vector<ipam::IpAddress> ips;
  for (const auto& target : targets) {
    ips.push_back(target.ip);
    // A host reported a moment ago would be deduplicated: its answer must get through.
    if (auto forgotten = io_.forget(target.ip); !forgotten)
      spdlog::warn("conflict probe: {}", forgotten.error().message);
  }
  auto expectation = book_.expect(ips);

  using Clock = ProbeBook::Clock;
  int rounds = 0;
  std::chrono::milliseconds timeout{0};
  for (const auto& target : targets) {
    rounds = std::max(rounds, target.settings.count);
    timeout = std::max(timeout, target.settings.timeout);
  }
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  std::set<ipam::IpAddress> failed;
  std::vector<ProbeBook::Answer> answers;
  for (int round = 0; round < rounds && answers.empty(); ++round) {
    for (const auto& target : targets) {
      if (round >= target.settings.count || failed.count(target.ip)) continue;
      if (auto sent = io_.send(master, target.ip); !sent) {
        failed.insert(target.ip);
        spdlog::warn("{}; handing {} out unprobed (the passive watch still covers it)",
                     sent.error().message, target.ip.to_string());
      }
    }
    if (failed.size() == targets.size()) break;
    // Probes spread evenly over the timeout; the last wait runs to its end.
    const auto next = round + 1 < rounds ? start + timeout * (round + 1) / rounds : deadline;
    answers = expectation->wait_until(next);
  }

  for (const auto& target : targets) {
    auto answer = std::find_if(answers.begin(), answers.end(),
                               [&](const auto& a) { return a.ip == target.ip; });
    if (answer != answers.end()) {
      answered.push_back(ProbeAnswer{target.ip, target.pool, answer->mac, false, answer->event});
      count(target.pool, "answered");
    } else if (failed.count(target.ip)) {
      count(target.pool, "error");
    } else if (answers.empty()) {
      count(target.pool, "clear");
    }  // else: cut short by the other family's answer; the retry probes again
  }
  return answered;
}

void ConflictProber::report(const std::vector<ProbeAnswer>& answers) {
  if (!io_.report) return;
  for (const auto& answer : answers)
    if (answer.event) io_.report(*answer.event);
}

}  // namespace ipfence::agent
