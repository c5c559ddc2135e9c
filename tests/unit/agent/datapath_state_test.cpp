// The guard's desired state from the agent's view (agent/datapath_state.h): which leases,
// MACs, ranges and masters a node's guard gets, computed on a ClusterState that real
// allocations on a memory store built.
#include "agent/datapath_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "agent_test_support.h"
#include "ipam/allocator.h"
#include "ipam/store/memory_store.h"

namespace ipfence::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr const char* kVlanMultus = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: macvlan-vlan100
  namespace: kube-system
spec:
  cniType: macvlan
  macvlan:
    master:
    - ens193
    vlanID: 100
)";

constexpr const char* kV6Pool = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: v6-pool
spec:
  subnet: fd00:6::/64
  ips:
  - fd00:6::10-fd00:6::12
  excludeIPs:
  - fd00:6::11
)";

ipam::IpAddress ip(const char* text) {
  return *ipam::IpAddress::parse(text);
}

ipam::IpRange range(const char* text) {
  return *ipam::IpRange::parse(text);
}

std::vector<std::string> lease_texts(const std::vector<PodLease>& leases) {
  std::vector<std::string> out;
  for (const auto& l : leases) out.push_back(l.ip.to_string() + "=" + l.mac.to_string());
  return out;
}

datapath::Mac mac(const char* text) {
  return *datapath::Mac::parse(text);
}

std::vector<std::string> master_texts(const std::vector<MasterWant>& masters) {
  std::vector<std::string> out;
  for (const auto& m : masters)
    out.push_back(m.master + (m.vlan_id ? "." + std::to_string(m.vlan_id) : "") + " <- " +
                  m.source);
  return out;
}

class DatapathStateTest : public ::testing::Test {
 protected:
  DatapathStateTest() : node1_(store_, options("node1")), node2_(store_, options("node2")) {}

  static ipam::Allocator::Options options(const std::string& node) {
    ipam::Allocator::Options o;
    o.node = node;
    return o;
  }

  void SetUp() override {
    testing::apply_yaml(store_, testing::kSeedMultus);
    testing::apply_yaml(store_, kVlanMultus);
    testing::apply_yaml(store_, testing::kSeedReserved);
    // A pool big enough for the allocations below, around the seed's reserved IPs.
    testing::apply_yaml(store_, R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: test-ippool
spec:
  subnet: 10.6.0.0/16
  gateway: 10.6.0.1
  ips:
  - 10.6.168.131-10.6.168.140
  excludeIPs:
  - 10.6.168.139
)");
    testing::apply_yaml(store_, kV6Pool);
    ASSERT_TRUE(node1_.resync().ok());
    ASSERT_TRUE(node2_.resync().ok());
  }

  // Allocates `wanted` to container `id` on `allocator`'s node.
  void allocate(ipam::Allocator& allocator, const std::string& id, const std::string& wanted,
                const std::string& mac, const std::string& master, const std::string& netns = "") {
    ipam::AllocateRequest request;
    request.identity.container_id = id;
    request.identity.ifname = "eth0";
    request.identity.mac = mac;
    request.identity.master = master;
    request.identity.netns = netns;
    if (wanted.find(':') != std::string::npos)
      request.ipv6_pools = {"v6-pool"};
    else
      request.ipv4_pools = {"test-ippool"};
    request.ips = {wanted};
    auto allocated = allocator.allocate(request);
    ASSERT_TRUE(allocated.ok()) << allocated.error().message;
  }

  GuardInputs desired(const std::vector<std::string>& config_masters = {}) {
    auto caught = node1_.catch_up();
    EXPECT_TRUE(caught.ok());
    return desired_from_state(node1_.state(), "node1", config_masters);
  }

  store::MemoryStore store_;
  ipam::Allocator node1_;
  ipam::Allocator node2_;
};

TEST_F(DatapathStateTest, LeasesAreThisNodesAllocationsWithAMac) {
  allocate(node1_, "a", "10.6.168.133", "AA:BB:CC:00:00:01", "ens192", "/var/run/netns/a");
  allocate(node1_, "b", "fd00:6::12", "aa:bb:cc:00:00:01", "ens192", "/var/run/netns/a");
  allocate(node1_, "c", "10.6.168.134", "", "ens192");                   // no MAC: no lease
  allocate(node2_, "d", "10.6.168.135", "aa:bb:cc:00:00:04", "ens192");  // another node
  allocate(node1_, "e", "10.6.168.136", "not-a-mac", "ens192");          // unusable MAC

  GuardInputs in = desired();
  EXPECT_THAT(lease_texts(in.leases),
              ElementsAre("10.6.168.133=aa:bb:cc:00:00:01", "fd00:6::12=aa:bb:cc:00:00:01"));
  EXPECT_THAT(in.bad_macs, ElementsAre("10.6.168.136 (not-a-mac)"));
  EXPECT_EQ(in.pods, (std::vector<PodInterface>{{"/var/run/netns/a", "eth0"}}));
  EXPECT_EQ(in.revision, node1_.state().revision());
}

TEST_F(DatapathStateTest, RangesAreReservedIpsAndUsablePoolRanges) {
  GuardInputs in = desired();
  EXPECT_THAT(in.reserved, ElementsAre(range("10.6.168.131-10.6.168.132")));
  // Usable: ips - excludeIPs - gateway, per pool.
  EXPECT_THAT(in.pools, ElementsAre(range("10.6.168.131-10.6.168.138"), range("10.6.168.140"),
                                    range("fd00:6::10"), range("fd00:6::12")));
}

TEST_F(DatapathStateTest, MastersFromMultusConfigsFlagsAndThisNodesAllocations) {
  allocate(node1_, "a", "10.6.168.133", "aa:bb:cc:00:00:01", "ens225");
  allocate(node1_, "b", "10.6.168.134", "aa:bb:cc:00:00:02", "ens192");  // known already
  allocate(node2_, "c", "10.6.168.135", "aa:bb:cc:00:00:03", "ens299");  // not this node's

  GuardInputs in = desired({"ens224", "ens192"});
  EXPECT_THAT(master_texts(in.masters),
              ElementsAre("ens192 <- SpiderMultusConfig kube-system/macvlan-ens192",
                          "ens193.100 <- SpiderMultusConfig kube-system/macvlan-vlan100",
                          "ens224 <- --masters", "ens225 <- allocations on this node"));
}

TEST_F(DatapathStateTest, NothingForAnEmptyStore) {
  store::MemoryStore empty;
  ipam::Allocator allocator(empty, options("node1"));
  ASSERT_TRUE(allocator.resync().ok());
  GuardInputs in = desired_from_state(allocator.state(), "node1", {});
  EXPECT_THAT(in.leases, IsEmpty());
  EXPECT_THAT(in.reserved, IsEmpty());
  EXPECT_THAT(in.pools, IsEmpty());
  EXPECT_THAT(in.masters, IsEmpty());
}

TEST(ResolveMasterTest, VlanInterfaceWhenItExistsElseTheMaster) {
  const std::set<std::string> links{"ens192", "ens192.100", "ens193"};
  const auto exists = [&](const std::string& name) { return links.contains(name); };
  std::string note;
  EXPECT_EQ(resolve_master({"ens192", 0, "x"}, exists, &note), "ens192");
  EXPECT_EQ(note, "");
  EXPECT_EQ(resolve_master({"ens192", 100, "x"}, exists, &note), "ens192.100");
  EXPECT_EQ(note, "vlan 100: guarding ens192.100");
  EXPECT_EQ(resolve_master({"ens193", 200, "x"}, exists, &note), "ens193");
  EXPECT_EQ(note,
            "vlan 200: ens193.200 does not exist, guarding ens193 (its frames leave through it)");
  EXPECT_EQ(resolve_master({"ens193", 200, "x"}, exists), "ens193");  // no note wanted
}

TEST(LeaseOverlayTest, FreshChangesWinOverAnOlderSnapshotUntilOneCatchesUp) {
  const std::vector<PodLease> old_snapshot{{ip("10.6.168.133"), mac("aa:bb:cc:00:00:01")}};
  LeaseOverlay overlay;
  overlay.add(ip("10.6.168.134"), mac("AA:BB:CC:00:00:02"), 11);  // allocated at revision 11
  overlay.remove(ip("10.6.168.133"), 12);                         // released at revision 12
  EXPECT_THAT(lease_texts(overlay.merge(old_snapshot)),
              ElementsAre("10.6.168.134=aa:bb:cc:00:00:02"));

  overlay.settle(10);  // a snapshot from before both: nothing settles
  EXPECT_THAT(lease_texts(overlay.merge(old_snapshot)),
              ElementsAre("10.6.168.134=aa:bb:cc:00:00:02"));

  overlay.settle(11);  // the allocation is in the store's view now; the release is not
  const std::vector<PodLease> at_11{{ip("10.6.168.133"), mac("aa:bb:cc:00:00:01")},
                                    {ip("10.6.168.134"), mac("aa:bb:cc:00:00:02")}};
  EXPECT_THAT(lease_texts(overlay.merge(at_11)), ElementsAre("10.6.168.134=aa:bb:cc:00:00:02"));
  EXPECT_FALSE(overlay.empty());

  overlay.settle(12);
  EXPECT_TRUE(overlay.empty());
}

}  // namespace
}  // namespace ipfence::agent

namespace ipfence::agent {
namespace {

TEST_F(DatapathStateTest, PodsOnlyWhenAsked) {
  allocate(node1_, "a", "10.6.168.133", "aa:bb:cc:00:00:01", "ens192", "/var/run/netns/b");
  allocate(node1_, "b", "10.6.168.134", "aa:bb:cc:00:00:02", "ens192", "/var/run/netns/a");
  allocate(node1_, "c", "10.6.168.135", "aa:bb:cc:00:00:03", "ens192", "/var/run/netns/a");
  GuardInputs with = desired();
  EXPECT_EQ(with.pods, (std::vector<PodInterface>{{"/var/run/netns/a", "eth0"},
                                                  {"/var/run/netns/b", "eth0"}}));
  GuardInputs without = desired_from_state(node1_.state(), "node1", {}, WithPods::no);
  EXPECT_THAT(without.pods, IsEmpty());
  EXPECT_EQ(lease_texts(without.leases), lease_texts(with.leases));
}

// Change sets: what another writer's store events did to node1's leases, as a watcher of
// node1 sees it (the agent's view; node1_ plays a second writer for node1, node2_ another node).
class DatapathChangesTest : public DatapathStateTest {
 protected:
  DatapathChangesTest() : watcher_(store_, options("node1")) {}
  void SetUp() override {
    DatapathStateTest::SetUp();
    ASSERT_TRUE(watcher_.resync().ok());
  }
  GuardInputs changes() {
    auto caught = watcher_.catch_up();
    EXPECT_TRUE(caught.ok());
    EXPECT_FALSE(caught->resynced);
    return desired_changes(watcher_.state(), "node1", {}, caught->events, masters_);
  }
  std::vector<std::string> change_texts(const std::vector<LeaseChange>& changes) {
    std::vector<std::string> out;
    for (const auto& c : changes)
      out.push_back(c.ip.to_string() + "=" + (c.mac ? c.mac->to_string() : "-"));
    return out;
  }

  ipam::Allocator watcher_;
  std::set<std::string> masters_;
};

TEST_F(DatapathChangesTest, NameEveryTouchedAddressWithWhatItHoldsNow) {
  allocate(node1_, "a", "10.6.168.133", "aa:bb:cc:00:00:01", "ens192");
  allocate(node2_, "b", "10.6.168.134", "aa:bb:cc:00:00:02", "ens192");  // another node's
  allocate(node1_, "c", "10.6.168.135", "not-a-mac", "ens224");          // unusable MAC
  allocate(node1_, "d", "10.6.168.136", "AA:BB:CC:00:00:04", "ens192");
  ASSERT_TRUE(node1_.release("d", "eth0").ok());  // put and deleted within one batch

  GuardInputs in = changes();
  EXPECT_FALSE(in.full);
  EXPECT_THAT(in.leases, IsEmpty());
  EXPECT_THAT(change_texts(in.lease_changes),
              ElementsAre("10.6.168.133=aa:bb:cc:00:00:01", "10.6.168.134=-", "10.6.168.135=-",
                          "10.6.168.136=-"));
  EXPECT_THAT(in.bad_macs, ElementsAre("10.6.168.135 (not-a-mac)"));
  EXPECT_THAT(masters_, ElementsAre("ens192", "ens224"));
  // Everything but the leases and pods is what a full snapshot says.
  const GuardInputs full = desired_from_state(watcher_.state(), "node1", {}, WithPods::no);
  EXPECT_EQ(master_texts(in.masters), master_texts(full.masters));
  EXPECT_EQ(in.pools, full.pools);
  EXPECT_EQ(in.reserved, full.reserved);
  EXPECT_EQ(in.revision, full.revision);
  EXPECT_THAT(in.pods, IsEmpty());

  // A batch without allocation events changes no lease, and keeps the known masters.
  testing::apply_yaml(store_, kV6Pool);  // the same pool again: no allocation event
  in = changes();
  EXPECT_THAT(in.lease_changes, IsEmpty());
  EXPECT_EQ(master_texts(in.masters), master_texts(full.masters));
}

// Rounds of allocations and releases by both writers: the first full snapshot plus every
// change set since, booked in order, is always the full snapshot of now.
TEST_F(DatapathChangesTest, AFullSnapshotPlusTheChangeSetsIsTheFullSnapshotOfNow) {
  std::set<std::string> full_masters;
  const GuardInputs first =
      desired_from_state(watcher_.state(), "node1", {}, WithPods::no, &full_masters);
  masters_ = full_masters;
  LeaseBook book;
  ASSERT_TRUE(book.set_pods(first.leases, nullptr));
  std::mt19937 rng(11);
  std::map<std::string, ipam::Allocator*> held;  // container -> who allocated it
  const std::vector<std::string> addresses{"10.6.168.133", "10.6.168.134", "10.6.168.135",
                                           "10.6.168.136", "10.6.168.137", "10.6.168.138",
                                           "10.6.168.140", "fd00:6::10",   "fd00:6::12"};
  int next_id = 0;
  for (int round = 0; round < 40; ++round) {
    for (int op = 0; op < 3; ++op) {
      if (!held.empty() && rng() % 2 == 0) {
        auto it = std::next(held.begin(), static_cast<long>(rng() % held.size()));
        ASSERT_TRUE(it->second->release(it->first, "eth0").ok());
        held.erase(it);
        continue;
      }
      ipam::Allocator& writer = rng() % 2 == 0 ? node1_ : node2_;
      ASSERT_TRUE(writer.catch_up().ok());
      const std::string& wanted = addresses[rng() % addresses.size()];
      bool taken = false;
      for (const auto& [name, pool] : writer.state().pools())
        if (pool.allocations.contains(ip(wanted.c_str()).value())) taken = true;
      if (taken) continue;
      const std::string id = "r" + std::to_string(next_id++);
      const std::string mac_text = "aa:bb:cc:00:01:" + std::to_string(10 + rng() % 80);
      allocate(writer, id, wanted, mac_text, rng() % 2 == 0 ? "ens192" : "ens224");
      held[id] = &writer;
    }
    const GuardInputs in = changes();
    for (const LeaseChange& c : in.lease_changes) {
      if (c.mac)
        book.put_pod(c.ip, *c.mac, nullptr);
      else
        book.erase_pod(c.ip, nullptr);
    }
    std::set<std::string> now_masters;
    const GuardInputs now =
        desired_from_state(watcher_.state(), "node1", {}, WithPods::no, &now_masters);
    std::vector<std::string> booked;
    for (const auto& l : book.leases())
      booked.push_back(l.ip.to_string() + "=" + l.mac.to_string());
    ASSERT_EQ(booked, lease_texts(now.leases)) << "round " << round;
    // Masters only grow between full passes: every one a full pass names is known.
    for (const auto& m : now_masters) ASSERT_TRUE(masters_.contains(m)) << m;
  }
}

}  // namespace
}  // namespace ipfence::agent
