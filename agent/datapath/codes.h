// C++ names for the codes in bpf/abi.h: enforcement modes, reserved-in-use policies, and the
// (reason, verdict) pairs that counters are keyed by. The numeric values are the ABI's.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "bpf/abi.h"

namespace ipfence::datapath {

enum class Mode : std::uint8_t {
  enforce = IPF_MODE_ENFORCE,  // drop what the rules reject
  monitor = IPF_MODE_MONITOR,  // pass it, count it as monitored
};

enum class ReservedPolicy : std::uint8_t {
  grandfather = IPF_POLICY_GRANDFATHER,  // a lease on a reserved IP keeps working
  drop = IPF_POLICY_DROP,                // the reservation wins
};

enum class Reason : std::uint8_t {
  none = IPF_REASON_NONE,
  reserved = IPF_REASON_RESERVED,
  unallocated = IPF_REASON_UNALLOCATED,
  mac_mismatch = IPF_REASON_MAC_MISMATCH,
  spoofed = IPF_REASON_SPOOFED,
  malformed = IPF_REASON_MALFORMED,
  reserved_in_use = IPF_REASON_RESERVED_IN_USE,
};

enum class Verdict : std::uint8_t {
  passed = IPF_VERDICT_PASSED,
  dropped = IPF_VERDICT_DROPPED,
  monitored = IPF_VERDICT_MONITORED,
};

// Lower-case names as used in flags, metrics labels and logs ("enforce", "mac_mismatch").
std::string_view mode_name(Mode mode);
std::string_view policy_name(ReservedPolicy policy);
std::string_view reason_name(Reason reason);
std::string_view verdict_name(Verdict verdict);
std::optional<Mode> mode_from_name(std::string_view name);
std::optional<ReservedPolicy> policy_from_name(std::string_view name);

}  // namespace ipfence::datapath
