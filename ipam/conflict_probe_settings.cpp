#include "ipam/conflict_probe_settings.h"

#include <nlohmann/json.hpp>

namespace ipfence::ipam {
namespace {

Error invalid(const std::string& message) {
  return make_error(ErrorCode::invalid_argument, message);
}

// One range rule per key, for the flags and the annotation alike.
Status check_probe_count(const std::string& key, long long count) {
  if (count < 1 || count > kMaxConflictProbeCount)
    return invalid(key + ": " + std::to_string(count) + " is not in 1.." +
                   std::to_string(kMaxConflictProbeCount));
  return {};
}

Status check_probe_timeout(const std::string& key, long long ms) {
  if (ms < 1 || ms > kMaxConflictProbeTimeoutMs)
    return invalid(key + ": " + std::to_string(ms) + " is not in 1.." +
                   std::to_string(kMaxConflictProbeTimeoutMs) +
                   " (every probing ADD waits this long when nobody answers)");
  return {};
}

}  // namespace

Status check_conflict_probe_settings(const ConflictProbeSettings& settings,
                                     const std::string& count_key, const std::string& timeout_key) {
  IPF_TRY(check_probe_count(count_key, settings.count));
  return check_probe_timeout(timeout_key, settings.timeout.count());
}

Result<ConflictProbeSettings> conflict_probe_settings(const SpiderIPPool& pool,
                                                      const ConflictProbeSettings& defaults) {
  auto it = pool.metadata.annotations.find(kConflictProbeAnnotation);
  if (it == pool.metadata.annotations.end()) return defaults;
  const std::string where = std::string("metadata.annotations[") + kConflictProbeAnnotation + "]";
  const std::string hint =
      "; write it as a JSON object, e.g. '{\"enabled\": true, \"count\": 2, \"timeoutMs\": 100}'";
  nlohmann::json doc = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid(where + ": not valid JSON" + hint);
  if (!doc.is_object()) return invalid(where + ": not a JSON object" + hint);
  ConflictProbeSettings out = defaults;
  for (const auto& [key, value] : doc.items()) {
    if (key == "enabled") {
      if (!value.is_boolean()) return invalid(where + ".enabled: must be true or false");
      out.enabled = value.get<bool>();
    } else if (key == "count") {
      if (!value.is_number_integer())
        return invalid(where + ".count: must be a whole number of probes");
      const auto count = value.get<long long>();
      IPF_TRY(check_probe_count(where + ".count", count));
      out.count = static_cast<int>(count);
    } else if (key == "timeoutMs") {
      if (!value.is_number_integer())
        return invalid(where + ".timeoutMs: must be a whole number of milliseconds");
      const auto ms = value.get<long long>();
      IPF_TRY(check_probe_timeout(where + ".timeoutMs", ms));
      out.timeout = std::chrono::milliseconds(ms);
    } else {
      return invalid(where + ": unknown key \"" + key + "\" (known: enabled, count, timeoutMs)");
    }
  }
  return out;  // the defaults were checked where they came from (the flags)
}

}  // namespace ipfence::ipam
