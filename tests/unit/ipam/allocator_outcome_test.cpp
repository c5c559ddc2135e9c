// Commits whose outcome is unknown (allocator.h): the allocator reads back what the store
// holds and neither loses nor duplicates an allocation, and a retried ADD after a failure
// gets the IP that was applied.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "allocator_flaky_store.h"
#include "ipam/allocator.h"
#include "ipam_fixture.h"

namespace ipfence::ipam::testing {
namespace {

using ::testing::HasSubstr;
using Commit = FlakyStore::Commit;

constexpr const char* kPool = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: p}
spec: {subnet: 10.9.0.0/24, ips: [10.9.0.1-10.9.0.20]}
)";

class AllocatorOutcomeTest : public IpamFixture {
 public:
  AllocatorOutcomeTest()
      : flaky_(store_), flaky_allocator_(flaky_, Allocator::Options{.node = "n1"}) {
    apply(kPool);
    // Loaded while the store answers: later failures hit the allocation, not the first list.
    EXPECT_TRUE(flaky_allocator_.catch_up().ok());
  }

  std::vector<std::string> keys_under(const std::string& prefix) {
    std::vector<std::string> out;
    auto listed = store_.list(prefix);
    for (const auto& kv : listed->kvs) out.push_back(kv.key);
    return out;
  }

  FlakyStore flaky_;
  Allocator flaky_allocator_;
};

TEST_F(AllocatorOutcomeTest, AppliedCommitWhoseAnswerWasLostReturnsTheAppliedIp) {
  flaky_.next_commit(Commit::apply_then_fail);
  auto r = flaky_allocator_.allocate(request("a", {"p"}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->existing);
  ASSERT_EQ(r->ips.size(), 1u);
  EXPECT_EQ(r->ips[0].ip.to_string(), "10.9.0.1");
  EXPECT_EQ(keys_under("ips/"), std::vector<std::string>{"ips/p/10.9.0.1"});
  EXPECT_EQ(keys_under("attachments/"), std::vector<std::string>{"attachments/a/eth0"});
  EXPECT_EQ(flaky_.commits(), 1);  // read back, not committed again
  // The view holds it: the next request gets the next IP with one commit.
  auto next = flaky_allocator_.allocate(request("b", {"p"}));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->ips[0].ip.to_string(), "10.9.0.2");
  EXPECT_EQ(flaky_.commits(), 2);
}

TEST_F(AllocatorOutcomeTest, LostAnswerAndUnreadableStoreFailWith11ThenTheRetriedAddGetsTheSameIp) {
  // The store applies the transaction, the answer is lost, and reading back fails too: the
  // caller cannot know, so the ADD fails as "try again" (CNI code 11).
  flaky_.next_commit(Commit::apply_then_fail);
  flaky_.set_reads_fail(true);
  flaky_.set_watch_paused(true);  // and the watch has not told either
  auto failed = flaky_allocator_.allocate(request("a", {"p"}));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::unavailable);
  EXPECT_EQ(cni_error_code(failed.error().code), 11);
  EXPECT_THAT(failed.error().message, HasSubstr("outcome is unknown"));
  EXPECT_THAT(failed.error().message, HasSubstr("retried ADD returns the same IPs"));

  // The runtime retries the ADD once the store answers: the same IP, no second key.
  flaky_.set_reads_fail(false);
  auto retried = flaky_allocator_.allocate(request("a", {"p"}));
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_TRUE(retried->existing);
  EXPECT_EQ(retried->ips[0].ip.to_string(), "10.9.0.1");
  EXPECT_EQ(keys_under("ips/"), std::vector<std::string>{"ips/p/10.9.0.1"});

  // Once the watch catches up nothing changes, and the next pod gets the next IP.
  flaky_.set_watch_paused(false);
  auto next = flaky_allocator_.allocate(request("b", {"p"}));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->ips[0].ip.to_string(), "10.9.0.2");
  EXPECT_EQ(keys_under("ips/").size(), 2u);
}

TEST_F(AllocatorOutcomeTest, RetriedAddWithTheWatchCaughtUpReturnsTheAppliedIp) {
  flaky_.next_commit(Commit::apply_then_fail);
  flaky_.set_reads_fail(true);
  ASSERT_FALSE(flaky_allocator_.allocate(request("a", {"p"})).ok());
  flaky_.set_reads_fail(false);
  auto retried = flaky_allocator_.allocate(request("a", {"p"}));
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_TRUE(retried->existing);
  EXPECT_EQ(retried->ips[0].ip.to_string(), "10.9.0.1");
  EXPECT_EQ(keys_under("ips/").size(), 1u);
}

TEST_F(AllocatorOutcomeTest, CommitThatNeverArrivedIsTriedAgainOnce) {
  flaky_.next_commit(Commit::fail_before_apply);
  auto r = flaky_allocator_.allocate(request("a", {"p"}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->existing);
  EXPECT_EQ(flaky_.commits(), 2);
  EXPECT_EQ(keys_under("ips/").size(), 1u);
}

TEST_F(AllocatorOutcomeTest, StoreThatKeepsFailingGivesUpAfterTheLimitWith11) {
  flaky_.next_commit(Commit::fail_before_apply, /*sticky=*/true);
  auto r = flaky_allocator_.allocate(request("a", {"p"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("flaky store unreachable"));
  EXPECT_EQ(flaky_.commits(), 2);  // Options::max_unknown_outcomes
  EXPECT_TRUE(keys_under("ips/").empty());
  EXPECT_TRUE(keys_under("attachments/").empty());
}

TEST_F(AllocatorOutcomeTest, ViewBehindTheStoreLearnsTheAttachmentInsteadOfRetryingBlindly) {
  // Another process (an earlier agent run, say) created the attachment; our watch lags.
  flaky_.set_watch_paused(true);
  ASSERT_TRUE(flaky_allocator_.catch_up().ok());
  ASSERT_EQ(allocate_ip("a", {"p"}), "10.9.0.1");  // the fixture's allocator, same store
  auto r = flaky_allocator_.allocate(request("a", {"p"}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->existing);
  EXPECT_EQ(r->ips[0].ip.to_string(), "10.9.0.1");
  EXPECT_LE(flaky_.commits(), 1);
}

TEST_F(AllocatorOutcomeTest, ReleaseWhoseAnswerWasLostIsDone) {
  ASSERT_TRUE(flaky_allocator_.allocate(request("a", {"p"})).ok());
  flaky_.next_commit(Commit::apply_then_fail);
  auto released = flaky_allocator_.release("a", "eth0");
  ASSERT_TRUE(released.ok()) << released.error().message;
  ASSERT_EQ(released->released.size(), 1u);
  EXPECT_EQ(released->released[0].ip, "10.9.0.1");
  EXPECT_TRUE(keys_under("ips/").empty());
  EXPECT_TRUE(keys_under("attachments/").empty());
  // The view agrees at once, without waiting for the watch.
  EXPECT_EQ(flaky_allocator_.state().attachment("a", "eth0"), nullptr);
  EXPECT_EQ(flaky_allocator_.state().counts("p").allocated, 0u);
}

TEST_F(AllocatorOutcomeTest, ReleaseWithUnknownOutcomeFailsWith11AndTheRetriedDelFinishes) {
  ASSERT_TRUE(flaky_allocator_.allocate(request("a", {"p"})).ok());
  flaky_.next_commit(Commit::fail_before_apply);
  flaky_.set_reads_fail(true);
  auto failed = flaky_allocator_.release("a", "eth0");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(cni_error_code(failed.error().code), 11);
  EXPECT_THAT(failed.error().message, HasSubstr("retry the DEL"));
  flaky_.set_reads_fail(false);
  auto retried = flaky_allocator_.release("a", "eth0");
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->released.size(), 1u);
  EXPECT_TRUE(keys_under("ips/").empty());
  // Applied and lost, then retried: the retry finds nothing left and succeeds.
  ASSERT_TRUE(flaky_allocator_.allocate(request("b", {"p"})).ok());
  flaky_.next_commit(Commit::apply_then_fail);
  flaky_.set_reads_fail(true);
  flaky_.set_watch_paused(true);
  ASSERT_FALSE(flaky_allocator_.release("b", "eth0").ok());
  flaky_.set_reads_fail(false);
  auto again = flaky_allocator_.release("b", "eth0");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(keys_under("ips/").empty());
  EXPECT_TRUE(keys_under("attachments/").empty());
  EXPECT_EQ(flaky_allocator_.state().attachment("b", "eth0"), nullptr);
}

// Two nodes on one store, each through its own flaky link, many ADDs and DELs with random
// failures, each retried until it succeeds, as a runtime does: every pod ends with one IP,
// no IP is held twice, and the store holds exactly the IP keys the attachments name (a pod
// whose ADD failed and was then deleted leaves nothing behind).
class RandomFailuresTest : public IpamFixture, public ::testing::WithParamInterface<int> {};

TEST_P(RandomFailuresTest, NeitherLoseNorDuplicate) {
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: big}
spec: {subnet: 10.10.0.0/24, ips: [10.10.0.1-10.10.0.200]}
)");
  FlakyStore first(store_), second(store_);
  Allocator node1(first, Allocator::Options{.node = "n1", .spread_cursors = true});
  Allocator node2(second, Allocator::Options{.node = "n2", .spread_cursors = true});
  struct Node {
    FlakyStore* link;
    Allocator* allocator;
  };
  std::array<Node, 2> nodes{Node{&first, &node1}, Node{&second, &node2}};
  std::mt19937 rng(GetParam());
  std::map<std::string, std::string> held;  // container -> IP, as the runtime saw it
  auto chaos = [&](FlakyStore& link) {
    const int roll = static_cast<int>(rng() % 10);
    link.next_commit(roll < 2   ? Commit::apply_then_fail
                     : roll < 4 ? Commit::fail_before_apply
                                : Commit::normal);
    link.set_reads_fail(rng() % 4 == 0);
    link.set_watch_paused(rng() % 3 == 0);
  };
  for (int step = 0; step < 400; ++step) {
    // A pod lives on one node: its ADDs and DELs go to that node's agent.
    const int pod = static_cast<int>(rng() % 60);
    Node& node = nodes[pod % 2];
    const std::string container = "c" + std::to_string(pod);
    bool add = held.count(container) == 0;
    for (int tries = 0;; ++tries) {
      ASSERT_LT(tries, 50) << "step " << step << " never succeeded";
      chaos(*node.link);
      if (add) {
        auto r = node.allocator->allocate(request(container, {"big"}));
        if (!r) {
          ASSERT_EQ(r.error().code, ErrorCode::unavailable) << r.error().message;
          // A runtime whose ADD failed may also give up on the pod: it then DELs (below).
          if (rng() % 2 == 0) add = false;
          continue;
        }
        held[container] = r->ips.at(0).ip.to_string();
      } else {
        auto r = node.allocator->release(container, "eth0");
        if (!r) {
          ASSERT_EQ(r.error().code, ErrorCode::unavailable) << r.error().message;
          continue;
        }
        held.erase(container);
      }
      break;
    }
  }
  std::set<std::string> ips;
  for (const auto& [container, ip] : held) EXPECT_TRUE(ips.insert(ip).second) << ip << " twice";
  std::set<std::string> stored_ips, stored_attachments, expected_attachments;
  auto listed_ips = store_.list("ips/big/");
  for (const auto& kv : listed_ips->kvs) stored_ips.insert(kv.key.substr(8));
  auto listed_attachments = store_.list("attachments/");
  for (const auto& kv : listed_attachments->kvs) stored_attachments.insert(kv.key);
  for (const auto& [container, ip] : held)
    expected_attachments.insert("attachments/" + container + "/eth0");
  EXPECT_EQ(stored_ips, ips);
  EXPECT_EQ(stored_attachments, expected_attachments);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomFailuresTest, ::testing::Range(1, 17));

}  // namespace
}  // namespace ipfence::ipam::testing
