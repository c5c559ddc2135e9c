// Wall-clock timestamps in the RFC 3339 form Kubernetes uses (UTC, "Z").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ipfence {

// "2026-11-26T09:40:49.123Z"
std::string rfc3339_now();
std::string rfc3339(std::chrono::system_clock::time_point time);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff...]Z" (what rfc3339() writes, and kubectl's form).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace ipfence
