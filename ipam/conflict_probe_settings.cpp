#include "ipam/conflict_probe_settings.h"

#include <nlohmann/json.hpp>

namespace ipfence::ipam {
namespace {

Error invalid(const std::string& message) {
  return make_error(ErrorCode::invalid_argument, message);
}

}  // namespace

Status check_conflict_probe_settings(const ConflictProbeSettings& settings,
                                     const std::string& where) {
  if (settings.count < 1 || settings.count > kMaxConflictProbeCount)
    return invalid(where + "count: " + std::to_string(settings.count) + " is not in 1.." +
                   std::to_string(kMaxConflictProbeCount));
  const auto ms = settings.timeout.count();
  if (ms < 1 || ms > kMaxConflictProbeTimeoutMs)
    return invalid(where + "timeoutMs: " + std::to_string(ms) + " is not in 1.." +
                   std::to_string(kMaxConflictProbeTimeoutMs) +
                   " (every probing ADD waits this long when nobody answers)");
  return {};
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
      if (count < 1 || count > kMaxConflictProbeCount)
        return invalid(where + ".count: " + std::to_string(count) + " is not in 1.." +
                       std::to_string(kMaxConflictProbeCount));
      out.count = static_cast<int>(count);
    } else if (key == "timeoutMs") {
      if (!value.is_number_integer())
        return invalid(where + ".timeoutMs: must be a whole number of milliseconds");
      const auto ms = value.get<long long>();
      if (ms < 1 || ms > kMaxConflictProbeTimeoutMs)
        return invalid(where + ".timeoutMs: " + std::to_string(ms) + " is not in 1.." +
                       std::to_string(kMaxConflictProbeTimeoutMs));
      out.timeout = std::chrono::milliseconds(ms);
    } else {
      return invalid(where + ": unknown key \"" + key + "\" (known: enabled, count, timeoutMs)");
    }
  }
  IPF_TRY(check_conflict_probe_settings(out, where + "."));
  return out;
}

}  // namespace ipfence::ipam
