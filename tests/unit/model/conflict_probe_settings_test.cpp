#include "ipam/conflict_probe_settings.h"

#include <gtest/gtest.h>

#include "ipam/validation.h"

namespace ipfence::ipam {
namespace {

SpiderIPPool pool_with(const std::optional<std::string>& annotation) {
  SpiderIPPool pool;
  pool.metadata.name = "p";
  pool.spec.subnet = "10.6.0.0/16";
  pool.spec.ips = {"10.6.168.131-10.6.168.133"};
  if (annotation) pool.metadata.annotations[kConflictProbeAnnotation] = *annotation;
  return pool;
}

TEST(ConflictProbeSettingsTest, NoAnnotationGivesTheAgentDefaults) {
  ConflictProbeSettings defaults{
      .enabled = true, .count = 3, .timeout = std::chrono::milliseconds(40)};
  auto got = conflict_probe_settings(pool_with(std::nullopt), defaults);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, defaults);
}

TEST(ConflictProbeSettingsTest, AnnotationOverridesOnlyTheKeysItNames) {
  ConflictProbeSettings defaults{};
  auto got = conflict_probe_settings(pool_with(R"({"enabled": true, "timeoutMs": 250})"), defaults);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->count, 2);
  EXPECT_EQ(got->timeout, std::chrono::milliseconds(250));

  ConflictProbeSettings on{.enabled = true, .count = 2, .timeout = std::chrono::milliseconds(100)};
  auto off = conflict_probe_settings(pool_with(R"({"enabled": false})"), on);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled);
}

TEST(ConflictProbeSettingsTest, BadAnnotationsNameTheKeyAndWhatToDo) {
  struct Case {
    const char* annotation;
    const char* message;
  } cases[] = {
      {"{enabled",
       "metadata.annotations[ipfence.io/conflict-probe]: not valid JSON; write it as a "
       "JSON object, e.g. '{\"enabled\": true, \"count\": 2, \"timeoutMs\": 100}'"},
      {"[1]",
       "metadata.annotations[ipfence.io/conflict-probe]: not a JSON object; write it as a "
       "JSON object, e.g. '{\"enabled\": true, \"count\": 2, \"timeoutMs\": 100}'"},
      {R"({"enabled": "yes"})",
       "metadata.annotations[ipfence.io/conflict-probe].enabled: must be true or false"},
      {R"({"count": 0})",
       "metadata.annotations[ipfence.io/conflict-probe].count: 0 is not in 1..10"},
      {R"({"count": 1.5})",
       "metadata.annotations[ipfence.io/conflict-probe].count: must be a whole number of probes"},
      {R"({"timeoutMs": 60000})",
       "metadata.annotations[ipfence.io/conflict-probe].timeoutMs: 60000 is not in 1..5000 "
       "(every probing ADD waits this long when nobody answers)"},
      {R"({"retries": 3})",
       "metadata.annotations[ipfence.io/conflict-probe]: unknown key "
       "\"retries\" (known: enabled, count, timeoutMs)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.annotation);
    auto got = conflict_probe_settings(pool_with(c.annotation), ConflictProbeSettings{});
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(got.error().message, c.message);
  }
}

// Refused at apply (validate_pool), not at the first ADD that reads it.
TEST(ConflictProbeSettingsTest, PoolValidationRefusesABadAnnotation) {
  SpiderIPPool pool = pool_with(R"({"count": 99})");
  auto validated = validate_pool(pool);
  ASSERT_FALSE(validated.ok());
  EXPECT_EQ(validated.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(validated.error().message,
            "metadata.annotations[ipfence.io/conflict-probe].count: 99 is not in 1..10");
  SpiderIPPool good = pool_with(R"({"enabled": true})");
  EXPECT_TRUE(validate_pool(good).ok());
}

TEST(ConflictProbeSettingsTest, FlagValuesAreChecked) {
  auto bad = check_conflict_probe_settings(
      ConflictProbeSettings{.enabled = true, .count = 2, .timeout = std::chrono::milliseconds(0)},
      "conflict-probe-count", "conflict-probe-timeout-ms");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(
      bad.error().message,
      "conflict-probe-timeout-ms: 0 is not in 1..5000 (every probing ADD waits this long when "
      "nobody answers)");
}

}  // namespace
}  // namespace ipfence::ipam
