// Opening the watcher on a pin dir of its own bpffs: it uses the guard's pinned tries (the very
// maps, so a guard sync is seen at once), pins its own maps next to them, and a second watcher
// adopts those (counters go on, the dedup state stays). It refuses a pin dir without the
// guard's maps, a pinned map of another layout, and options that cannot work.
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/datapath/bpf_map.h"
#include "tests/bpf/test_env.h"
#include "tests/bpf/watch_world.h"

namespace ipfence::testing {
namespace {

using namespace std::chrono_literals;
using datapath::GuardMap;
using datapath::WatchMap;

std::uint32_t id_of(int fd) {
  auto info = datapath::map_info(fd);
  return info.ok() ? info->id : 0;
}

class WatchPinTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bpffs_.ok()) << bpffs_.error(); }

  std::optional<Guard> pinned_guard() {
    datapath::GuardOptions o;
    o.pin_dir = bpffs_.pin_dir();
    auto g = Guard::open(o);
    EXPECT_TRUE(g.ok()) << g.error().message;
    if (!g.ok()) return std::nullopt;
    EXPECT_TRUE(g->set_pools(watch_pools()).ok());
    return std::move(*g);
  }

  WatchOptions options() const {
    WatchOptions o;
    o.pin_dir = bpffs_.pin_dir();
    return o;
  }

  bool pinned(const char* name) const {
    return std::filesystem::exists(bpffs_.pin_dir() + "/" + name);
  }

  PrivateBpffs bpffs_;  // first: it may unshare the mount namespace while single-threaded
};

TEST_F(WatchPinTest, SharesTheGuardsTriesPinsItsOwnMapsAndIsAdopted) {
  auto guard = pinned_guard();
  ASSERT_TRUE(guard.has_value());
  std::map<WatchMap, std::uint32_t> own_ids;
  {
    auto w = Watcher::open(options());
    ASSERT_TRUE(w.ok()) << w.error().message;
    Watcher& watcher = **w;
    EXPECT_TRUE((*w)->warnings().empty());
    for (const char* name : {"ipf_watch_rb", "ipf_watch_seen", "ipf_watch_cnt"})
      EXPECT_TRUE(pinned(name)) << name;
    // The guard's maps themselves, not copies.
    EXPECT_EQ(id_of(watcher.map_fd(WatchMap::pools_v4)), guard->map_id(GuardMap::pools_v4));
    EXPECT_EQ(id_of(watcher.map_fd(WatchMap::pools_v6)), guard->map_id(GuardMap::pools_v6));
    EXPECT_EQ(id_of(watcher.map_fd(WatchMap::reserved_v4)), guard->map_id(GuardMap::reserved_v4));
    EXPECT_EQ(id_of(watcher.map_fd(WatchMap::reserved_v6)), guard->map_id(GuardMap::reserved_v6));
    for (WatchMap m : {WatchMap::events, WatchMap::seen, WatchMap::counters})
      own_ids[m] = id_of(watcher.map_fd(m));

    // A range the guard learns after the watcher loaded is in scope at once.
    const Bytes frame = arp_frame(L2{kOutsider, {}}, 2, ip("10.9.0.5"), ip("10.9.0.1"));
    EXPECT_EQ(run_watch(watcher, frame).delta.out_of_scope, 1u);
    auto pools = watch_pools();
    pools.push_back(ipam::IpRange::parse("10.9.0.0/24").value());
    ASSERT_TRUE(guard->set_pools(pools).ok());
    EXPECT_EQ(run_watch(watcher, frame).events.size(), 1u);
  }
  // The next agent's watcher: same maps, counters go on, the pair is still deduplicated.
  auto again = Watcher::open(options());
  ASSERT_TRUE(again.ok()) << again.error().message;
  for (const auto& [m, id] : own_ids) EXPECT_EQ(id_of((*again)->map_fd(m)), id);
  const WatchCounters c = read_counters(**again);
  EXPECT_EQ(c.sent, 1u);
  EXPECT_EQ(c.out_of_scope, 1u);
  EXPECT_EQ(c.delivered, 0u);  // this object's reader has read nothing yet
  const WatchRun r =
      run_watch(**again, arp_frame(L2{kOutsider, {}}, 2, ip("10.9.0.5"), ip("10.9.0.1")));
  EXPECT_EQ(r.delta.suppressed, 1u);
}

TEST_F(WatchPinTest, APinnedRingBufferOfAnotherSizeIsAdoptedWithAWarning) {
  auto guard = pinned_guard();
  ASSERT_TRUE(guard.has_value());
  WatchOptions small = options();
  small.ringbuf_bytes = 1u << 16;
  ASSERT_TRUE(Watcher::open(small).ok());
  auto big = Watcher::open(options());  // 1 MiB configured
  ASSERT_TRUE(big.ok()) << big.error().message;
  ASSERT_EQ((*big)->warnings().size(), 1u);
  EXPECT_NE((*big)->warnings()[0].find("ipf_watch_rb keeps its size 65536"), std::string::npos)
      << (*big)->warnings()[0];
}

TEST_F(WatchPinTest, RefusesAPinDirWithoutTheGuardsMaps) {
  auto w = Watcher::open(options());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::not_found);
  EXPECT_NE(w.error().message.find("open the guard first"), std::string::npos) << w.error().message;
  EXPECT_FALSE(pinned("ipf_watch_rb"));  // refused before anything was pinned
}

TEST_F(WatchPinTest, RefusesAPinnedMapOfAnotherLayout) {
  auto guard = pinned_guard();
  ASSERT_TRUE(guard.has_value());
  // An ipf_watch_seen keyed by 16 bytes, as a version with another ABI might have left.
  const int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "ipf_watch_seen", 16, 8, 128, nullptr);
  ASSERT_GE(fd, 0);
  const std::string path = bpffs_.pin_dir() + "/ipf_watch_seen";
  ASSERT_EQ(bpf_obj_pin(fd, path.c_str()), 0);
  ::close(fd);
  auto w = Watcher::open(options());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::corrupt);
  EXPECT_NE(w.error().message.find("another layout"), std::string::npos) << w.error().message;
}

TEST_F(WatchPinTest, RefusesOptionsThatCannotWork) {
  auto guard = pinned_guard();
  ASSERT_TRUE(guard.has_value());
  auto refused = [](const WatchOptions& o) {
    auto w = Watcher::open(o);
    return !w.ok() && w.error().code == ErrorCode::invalid_argument;
  };
  WatchOptions o = options();
  o.ringbuf_bytes = 3000;  // not a power of 2
  EXPECT_TRUE(refused(o));
  o = options();
  o.ringbuf_bytes = 1024;  // less than a page
  EXPECT_TRUE(refused(o));
  o = options();
  o.dedup_entries = 0;
  EXPECT_TRUE(refused(o));
  o = options();
  o.dedup_interval = -1s;
  EXPECT_TRUE(refused(o));
  o = options();
  o.prefix_maps.pools_v4 = guard->map_fd(GuardMap::pools_v4);  // one of four
  EXPECT_TRUE(refused(o));
  o = options();
  o.pin_dir.clear();  // and no fds either
  EXPECT_TRUE(refused(o));
  o = options();
  o.pin_dir = "/proc/ipfence-watch";  // not bpffs
  EXPECT_TRUE(refused(o));
  // A map that is not a trie, given as one.
  o = options();
  o.prefix_maps = datapath::prefix_maps_of(*guard);
  o.prefix_maps.reserved_v6 = guard->map_fd(GuardMap::leases);
  EXPECT_TRUE(refused(o));
}

}  // namespace
}  // namespace ipfence::testing
