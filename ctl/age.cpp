#include "ctl/age.h"

#include <cstdint>
#include <optional>

#include "ipam/clock.h"

namespace ipfence::ctl {

namespace {

std::string with_units(std::int64_t major, const char* major_unit, std::int64_t minor,
                       const char* minor_unit) {
  std::string text = std::to_string(major) + major_unit;
  if (minor != 0) text += std::to_string(minor) + minor_unit;
  return text;
}

}  // namespace

std::string human_duration(std::chrono::seconds elapsed) {
  const std::int64_t seconds = elapsed.count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const std::int64_t minutes = seconds / 60;
  if (minutes < 10) return with_units(minutes, "m", seconds % 60, "s");
  if (minutes < 3 * 60) return std::to_string(minutes) + "m";
  const std::int64_t hours = minutes / 60;
  if (hours < 8) return with_units(hours, "h", minutes % 60, "m");
  if (hours < 48) return std::to_string(hours) + "h";
  const std::int64_t days = hours / 24;
  if (hours < 24 * 8) return with_units(days, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return std::to_string(days) + "d";
  if (hours < 24 * 365 * 8) return with_units(days / 365, "y", days % 365, "d");
  return std::to_string(days / 365) + "y";
}

std::string age_since(std::string_view created, Clock::time_point now) {
  const std::optional<Clock::time_point> start = parse_rfc3339(created);
  if (!start) return "<unknown>";
  // Truncated toward zero, like Go's int(d.Seconds()).
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *start));
}

}  // namespace ipfence::ctl
