// ConflictBook on a memory store, with the allocator on the same store: sightings are counted
// per (IP, MAC); a squatted address is quarantined and never allocated until released; a held
// address is never quarantined; a pool is never quarantined beyond its limit.
#include "ipam/conflict_book.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipam/clock.h"
#include "ipam_fixture.h"

namespace ipfence::ipam {
namespace {

using ::testing::HasSubstr;
using testing::IpamFixture;
using namespace std::chrono_literals;

constexpr const char* kPool = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: test-ippool
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.168.131-10.6.168.134
)";

class ConflictBookTest : public IpamFixture {
 protected:
  ConflictBookTest() : book_(store_) { apply(kPool); }

  Sighting squatter(const std::string& ip, std::chrono::system_clock::time_point when = now()) {
    return Sighting{.ip = ip,
                    .mac = "02:aa:bb:cc:dd:01",
                    .kind = ConflictKind::squatter,
                    .pool = "test-ippool",
                    .holder = "",
                    .holder_mac = "",
                    .node = "node1",
                    .master = "ens192",
                    .when = when};
  }
  static std::chrono::system_clock::time_point now() { return std::chrono::system_clock::now(); }
  const ClusterState& state() {
    EXPECT_TRUE(allocator_.catch_up().ok());
    return allocator_.state();
  }

  ConflictBook book_;
};

TEST_F(ConflictBookTest, SightingsOfOneIpAndMacAreCountedInOneRecord) {
  auto t0 = std::chrono::system_clock::time_point(1'800'000'000s);
  Sighting s = squatter("10.6.168.133", t0);
  s.kind = ConflictKind::pod;
  s.holder = "default/pod-a";
  s.holder_mac = "02:00:00:00:00:0a";
  auto first = book_.record(s);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->count, 1u);
  s.when = t0 + 10s;
  s.node = "node2";
  auto second = book_.record(s);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->count, 2u);
  EXPECT_EQ(second->first_seen, rfc3339(t0));
  EXPECT_EQ(second->last_seen, rfc3339(t0 + 10s));
  EXPECT_EQ(second->node, "node2");

  const auto& conflicts = state().conflicts();
  ASSERT_EQ(conflicts.size(), 1u);
  const ConflictRecord& stored = conflicts.at("conflicts/10.6.168.133/02:aa:bb:cc:dd:01").record;
  EXPECT_EQ(stored, *second);
  EXPECT_EQ(stored.kind, ConflictKind::pod);
  EXPECT_EQ(stored.holder, "default/pod-a");
}

TEST_F(ConflictBookTest, AQuarantinedIpIsSkippedRefusedAndCountedUntilReleased) {
  auto q = book_.quarantine(squatter("10.6.168.131"), state().quarantined_count("test-ippool"), 16);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(*q, ConflictBook::QuarantineOutcome::quarantined);

  PoolCounts counts = state().counts("test-ippool");
  EXPECT_EQ(counts.quarantined, 1u);
  EXPECT_EQ(counts.available, 3u);
  EXPECT_EQ(counts.total,
            counts.allocated + counts.reserved + counts.quarantined + counts.available);

  // Next-fit skips it...
  EXPECT_EQ(allocate_ip("a", {"test-ippool"}), "10.6.168.132");
  // ...and asking for it by name says why and what to do.
  AllocateRequest wanted = request("b", {"test-ippool"});
  wanted.ips = {"10.6.168.131"};
  auto refused = allocator_.allocate(wanted);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::ip_unavailable);
  EXPECT_THAT(refused.error().message,
              HasSubstr("IP 10.6.168.131 is not available in IPPool test-ippool: it is "
                        "quarantined: a host with MAC 02:aa:bb:cc:dd:01 outside the cluster uses "
                        "it (release it with `ipfencectl quarantine release 10.6.168.131`"));

  // Exhaustion names the quarantined addresses.
  EXPECT_EQ(allocate_ip("c", {"test-ippool"}), "10.6.168.133");
  EXPECT_EQ(allocate_ip("d", {"test-ippool"}), "10.6.168.134");
  auto exhausted = allocator_.allocate(request("e", {"test-ippool"}));
  ASSERT_FALSE(exhausted.ok());
  EXPECT_EQ(exhausted.error().code, ErrorCode::exhausted);
  EXPECT_THAT(exhausted.error().message,
              HasSubstr("IPPool test-ippool: all IPs have been exhausted (4 IPs: 3 allocated, 1 "
                        "quarantined (used by outside hosts))"));

  // Released by hand, it is handed out again.
  auto released = book_.release("10.6.168.131");
  ASSERT_TRUE(released.ok()) << released.error().message;
  EXPECT_EQ(released->mac, "02:aa:bb:cc:dd:01");
  EXPECT_EQ(allocate_ip("e", {"test-ippool"}), "10.6.168.131");
}

TEST_F(ConflictBookTest, AQuarantineIsRefreshedByNewSightings) {
  auto t0 = std::chrono::system_clock::time_point(1'800'000'000s);
  ASSERT_EQ(
      *book_.quarantine(squatter("10.6.168.132", t0), state().quarantined_count("test-ippool"), 16),
      ConflictBook::QuarantineOutcome::quarantined);
  ASSERT_EQ(*book_.quarantine(squatter("10.6.168.132", t0 + 30s),
                              state().quarantined_count("test-ippool"), 16),
            ConflictBook::QuarantineOutcome::refreshed);
  const auto& q = state().quarantine().at("quarantine/test-ippool/10.6.168.132").record;
  EXPECT_EQ(q.since, rfc3339(t0));
  EXPECT_EQ(q.last_seen, rfc3339(t0 + 30s));
}

TEST_F(ConflictBookTest, AnIpAPodHoldsIsNeverQuarantined) {
  ASSERT_EQ(allocate_ip("a", {"test-ippool"}), "10.6.168.131");
  auto q = book_.quarantine(squatter("10.6.168.131"), state().quarantined_count("test-ippool"), 16);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(*q, ConflictBook::QuarantineOutcome::held);
  EXPECT_TRUE(state().quarantine().empty());
}

TEST_F(ConflictBookTest, APoolIsNotQuarantinedBeyondItsLimit) {
  ASSERT_EQ(
      *book_.quarantine(squatter("10.6.168.131"), state().quarantined_count("test-ippool"), 2),
      ConflictBook::QuarantineOutcome::quarantined);
  ASSERT_EQ(
      *book_.quarantine(squatter("10.6.168.132"), state().quarantined_count("test-ippool"), 2),
      ConflictBook::QuarantineOutcome::quarantined);
  EXPECT_EQ(
      *book_.quarantine(squatter("10.6.168.133"), state().quarantined_count("test-ippool"), 2),
      ConflictBook::QuarantineOutcome::limit_reached);
  // Refreshing one already quarantined is not limited.
  EXPECT_EQ(
      *book_.quarantine(squatter("10.6.168.131"), state().quarantined_count("test-ippool"), 2),
      ConflictBook::QuarantineOutcome::refreshed);
  EXPECT_EQ(state().counts("test-ippool").quarantined, 2u);
}

TEST_F(ConflictBookTest, AQuietPeriodReleasesOnlyWhatWasNotSeenSince) {
  auto t0 = std::chrono::system_clock::time_point(1'800'000'000s);
  ASSERT_TRUE(
      book_.quarantine(squatter("10.6.168.131", t0), state().quarantined_count("test-ippool"), 16)
          .ok());
  ASSERT_TRUE(book_
                  .quarantine(squatter("10.6.168.132", t0 + 500s),
                              state().quarantined_count("test-ippool"), 16)
                  .ok());
  auto released = book_.release_quiet(state().quarantine(), 600s, t0 + 601s);
  ASSERT_TRUE(released.ok()) << released.error().message;
  ASSERT_EQ(released->size(), 1u);
  EXPECT_EQ(released->front().ip, "10.6.168.131");
  EXPECT_EQ(state().quarantine().size(), 1u);
  EXPECT_EQ(state().counts("test-ippool").quarantined, 1u);
}

TEST_F(ConflictBookTest, ReleasingWhatIsNotQuarantinedSaysSo) {
  auto missing = book_.release("10.6.168.133");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  EXPECT_EQ(missing.error().message,
            "IP 10.6.168.133 is not quarantined (see `ipfencectl get conflicts`)");
  auto garbage = book_.release("10.6.168");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(garbage.error().message, "quarantine release: '10.6.168' is not an IP address");
}

}  // namespace
}  // namespace ipfence::ipam
