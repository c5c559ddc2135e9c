// How the agent probes an address before handing it out (issue 5, "active probe at
// allocation"): RFC 5227 ARP probes for IPv4, RFC 4862 DAD neighbour solicitations for IPv6,
// sent from the master; an answer seen by the conflict watcher means an outside host uses
// the address.
//
// Agent-wide defaults come from flags (--conflict-probe, --conflict-probe-count,
// --conflict-probe-timeout-ms); a SpiderIPPool overrides them with the annotation
//
//   ipfence.io/conflict-probe: '{"enabled": true, "count": 2, "timeoutMs": 100}'
//
// (any subset of the keys; the rest come from the agent). An annotation rather than a spec
// field: Spiderpool's CRD schema would prune an unknown spec field, annotations survive.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "ipam/model.h"
#include "ipam/result.h"

namespace ipfence::ipam {

inline constexpr const char* kConflictProbeAnnotation = "ipfence.io/conflict-probe";

struct ConflictProbeSettings {
  bool enabled = false;
  // Probes per address, spread evenly over the timeout (RFC 5227 sends 3 over 1-2 s; an ADD
  // cannot wait that long, and a host that has the address answers the first one).
  int count = 2;
  // How long to listen for an answer after the first probe: every ADD that probes waits
  // this long when nobody answers.
  std::chrono::milliseconds timeout{100};
  bool operator==(const ConflictProbeSettings&) const = default;
};

inline constexpr int kMaxConflictProbeCount = 10;
inline constexpr int kMaxConflictProbeTimeoutMs = 5000;

// Checks count and timeout; messages name them by the given keys ("conflict-probe-count").
Status check_conflict_probe_settings(const ConflictProbeSettings& settings,
                                     const std::string& count_key, const std::string& timeout_key);

// The pool's annotation applied over `defaults`; the defaults when the pool has none.
// invalid_argument, naming the annotation and key, when it is not valid.
Result<ConflictProbeSettings> conflict_probe_settings(const SpiderIPPool& pool,
                                                      const ConflictProbeSettings& defaults);

}  // namespace ipfence::ipam
