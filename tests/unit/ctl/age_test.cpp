#include "ctl/age.h"

#include <gtest/gtest.h>

#include "ipam/clock.h"

namespace ipfence::ctl {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(HumanDuration, FollowsKubectl) {
  struct Case {
    seconds elapsed;
    const char* text;
  };
  const Case cases[] = {
      {seconds(-2), "<invalid>"},
      {seconds(-1), "0s"},  // clock skew of a second is "now"
      {seconds(0), "0s"},
      {seconds(17), "17s"},
      {seconds(119), "119s"},
      {minutes(2), "2m"},
      {minutes(2) + seconds(18), "2m18s"},  // the seed's "2m18s"
      {minutes(9) + seconds(59), "9m59s"},
      {minutes(10) + seconds(30), "10m"},
      {minutes(179), "179m"},
      {hours(3), "3h"},
      {hours(3) + minutes(5), "3h5m"},
      {hours(7) + minutes(59) + seconds(59), "7h59m"},
      {hours(8) + minutes(30), "8h"},
      {hours(47), "47h"},
      {hours(48), "2d"},
      {days(3) + hours(4), "3d4h"},
      {days(8), "8d"},
      {days(729), "729d"},
      {days(730), "2y"},
      {days(733), "2y3d"},
      {days(365 * 8 + 100), "8y"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(human_duration(c.elapsed), c.text) << c.elapsed.count() << "s";
  }
}

TEST(AgeSince, MeasuresFromTheTimestamp) {
  const auto created = parse_rfc3339("2026-11-26T09:44:17Z");
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(age_since("2026-11-26T09:44:17Z", *created + minutes(4) + seconds(23)), "4m23s");
  // Fractions of a second are truncated, as kubectl does.
  EXPECT_EQ(age_since("2026-11-26T09:44:17.900Z", *created + seconds(18)), "17s");
  EXPECT_EQ(age_since("2026-11-26T09:44:17Z", *created + days(4)), "4d");
}

TEST(AgeSince, UnknownWhenUnparsable) {
  const auto now = Clock::now();
  EXPECT_EQ(age_since("", now), "<unknown>");
  EXPECT_EQ(age_since("yesterday", now), "<unknown>");
}

}  // namespace
}  // namespace ipfence::ctl
