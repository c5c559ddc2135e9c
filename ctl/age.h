// Ages as kubectl prints them in its AGE column ("17s", "2m18s", "4h", "12d"), from the RFC
// 3339 timestamps ipfence stores. kubectl's rule (apimachinery's HumanDuration): the more time
// has passed, the coarser the unit, with a second unit only while it still says something.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace ipfence::ctl {

using Clock = std::chrono::system_clock;

// "5s", "2m18s", "10m", "7h59m", "8h", "3d4h", "30d", "2y3d", "9y". A duration below -1s is
// "<invalid>" and -1s shows as "0s": kubectl tolerates a little clock skew between machines.
std::string human_duration(std::chrono::seconds elapsed);

// The AGE cell for an object created at `created` (RFC 3339, see ipam/clock.h):
// "<unknown>" when it cannot be parsed, kubectl's text for a missing creationTimestamp.
std::string age_since(std::string_view created, Clock::time_point now);

}  // namespace ipfence::ctl
