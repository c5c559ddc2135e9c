#include "agent/store_watcher.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/cni_conf_writer.h"
#include "agent_test_support.h"
#include "ipam/store/memory_store.h"

namespace ipfence::agent {
namespace {

using testing::TempDir;

class CountingListener final : public StateListener {
 public:
  void observe(const ipam::ClusterState& state, const ipam::Allocator::CatchUp&) override {
    ++observed;
    pools = state.pools().size();
  }
  void apply() override { ++applied; }
  int observed = 0;
  int applied = 0;
  std::size_t pools = 0;
};

class StoreWatcherTest : public ::testing::Test {
 protected:
  StoreWatcherTest() : allocator_(store_, options()), shared_(allocator_) {}
  static ipam::Allocator::Options options() {
    ipam::Allocator::Options o;
    o.node = "node1";
    return o;
  }

  store::MemoryStore store_;
  ipam::Allocator allocator_;
  SharedAllocator shared_;
};

TEST_F(StoreWatcherTest, NotifiesFirstThenOnlyOnChanges) {
  CountingListener listener;
  StoreWatcher watcher(shared_, {&listener});
  watcher.poll_once();
  EXPECT_EQ(listener.observed, 1);  // start-up: always
  watcher.poll_once();
  EXPECT_EQ(listener.observed, 1);  // nothing changed
  EXPECT_EQ(listener.applied, 2);   // apply runs every round (retries)

  testing::apply_yaml(store_, testing::kSeedPool);
  watcher.poll_once();
  EXPECT_EQ(listener.observed, 2);
  EXPECT_EQ(listener.pools, 1u);
}

TEST_F(StoreWatcherTest, NoticesChangesWhoseEventsAnAllocationConsumed) {
  CountingListener listener;
  StoreWatcher watcher(shared_, {&listener});
  watcher.poll_once();
  testing::apply_yaml(store_, testing::kSeedReserved);
  testing::apply_yaml(store_, testing::kSeedPool);
  // allocate() catches up first and keeps the events to itself.
  ipam::AllocateRequest request;
  request.identity.container_id = "c1";
  request.identity.ifname = "eth0";
  request.ipv4_pools = {"test-ippool"};
  auto allocated = shared_.with([&](ipam::Allocator& a) { return a.allocate(request); });
  ASSERT_TRUE(allocated.ok()) << allocated.error().message;
  watcher.poll_once();
  EXPECT_EQ(listener.observed, 2);
  EXPECT_EQ(listener.pools, 1u);
}

TEST_F(StoreWatcherTest, TheThreadWritesConflistsOfAppliedMultusConfigs) {
  TempDir dir;
  CniConfWriter writer({.dir = dir / "net.d", .agent_socket = "", .on_error = nullptr});
  CniConfListener conf(writer);
  StoreWatcher watcher(shared_, {&conf}, std::chrono::milliseconds(10));
  watcher.start();
  const std::string file = dir / "net.d/macvlan-ens192.conflist";
  testing::apply_yaml(store_, testing::kSeedMultus);
  EXPECT_TRUE(
      testing::wait_until([&] { return std::filesystem::exists(file); }, std::chrono::seconds(2)));
  auto removed =
      ipam::ObjectService(store_).remove(ipam::Kind::multusconfig, "kube-system", "macvlan-ens192");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE(
      testing::wait_until([&] { return !std::filesystem::exists(file); }, std::chrono::seconds(2)));
  watcher.stop();
}

}  // namespace
}  // namespace ipfence::agent
