#include "agent/datapath/codes.h"

namespace ipfence::datapath {

std::string_view mode_name(Mode mode) {
  return mode == Mode::monitor ? "monitor" : "enforce";
}

std::string_view policy_name(ReservedPolicy policy) {
  return policy == ReservedPolicy::drop ? "drop" : "grandfather";
}

std::string_view reason_name(Reason reason) {
  switch (reason) {
    case Reason::none:
      return "none";
    case Reason::reserved:
      return "reserved";
    case Reason::unallocated:
      return "unallocated";
    case Reason::mac_mismatch:
      return "mac_mismatch";
    case Reason::spoofed:
      return "spoofed";
    case Reason::malformed:
      return "malformed";
    case Reason::reserved_in_use:
      return "reserved_in_use";
  }
  return "unknown";
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::passed:
      return "passed";
    case Verdict::dropped:
      return "dropped";
    case Verdict::monitored:
      return "monitored";
  }
  return "unknown";
}

std::optional<Mode> mode_from_name(std::string_view name) {
  if (name == "enforce") return Mode::enforce;
  if (name == "monitor") return Mode::monitor;
  return std::nullopt;
}

std::optional<ReservedPolicy> policy_from_name(std::string_view name) {
  if (name == "grandfather") return ReservedPolicy::grandfather;
  if (name == "drop") return ReservedPolicy::drop;
  return std::nullopt;
}

}  // namespace ipfence::datapath
