// The IPAM handlers' synchronous hook into the datapath (agent/lease_sink.h): what they hand
// over on allocate, release and GC, and that an allocation the guard cannot enforce is rolled
// back and answered with 500.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/ipam_api.h"
#include "agent/lease_sink.h"
#include "agent/metrics.h"
#include "agent_test_support.h"
#include "ipam/store/memory_store.h"

namespace ipfence::agent {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class RecordingSink final : public LeaseSink {
 public:
  Status on_allocated(const std::vector<ipam::Allocation>& leases, std::int64_t revision) override {
    allocated.insert(allocated.end(), leases.begin(), leases.end());
    allocated_revision = revision;
    if (fail) return make_error(ErrorCode::io, "update ipf_leases: Operation not permitted");
    return {};
  }
  Status on_released(const std::vector<ipam::Allocation>& leases, std::int64_t revision) override {
    released.insert(released.end(), leases.begin(), leases.end());
    released_revision = revision;
    return {};
  }

  bool fail = false;
  std::vector<ipam::Allocation> allocated, released;
  std::int64_t allocated_revision = 0, released_revision = 0;
};

class DatapathLeaseSinkTest : public ::testing::Test {
 protected:
  DatapathLeaseSinkTest()
      : allocator_(store_, options()),
        shared_(allocator_),
        api_(shared_, metrics_,
             {.node = "node1", .version = "test", .metrics_addr = "off", .guard_status = {}},
             sink_) {}

  static ipam::Allocator::Options options() {
    ipam::Allocator::Options o;
    o.node = "node1";
    return o;
  }

  void SetUp() override {
    testing::apply_yaml(store_, testing::kSeedReserved);
    testing::apply_yaml(store_, testing::kSeedPool);
    ASSERT_TRUE(allocator_.resync().ok());
  }

  static HttpRequest post(const std::string& path, const json& body) {
    return {"POST", path, body.dump()};
  }
  static json allocate_body(const std::string& container) {
    return {{"containerID", container},   {"ifname", "eth0"},   {"netns", "/var/run/netns/p1"},
            {"mac", "aa:bb:cc:dd:ee:01"}, {"master", "ens192"}, {"ipv4Pools", {"test-ippool"}}};
  }
  std::size_t allocated_in_store() {
    return shared_.with(
        [](ipam::Allocator& a) { return a.state().pool("test-ippool")->allocations.size(); });
  }

  store::MemoryStore store_;
  ipam::Allocator allocator_;
  SharedAllocator shared_;
  Metrics metrics_;
  RecordingSink sink_;
  IpamApi api_;
};

TEST_F(DatapathLeaseSinkTest, AllocateHandsOverTheLeaseBeforeReplying) {
  HttpResponse reply = api_.allocate(post("/v1/ipam/allocate", allocate_body("c1")));
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(sink_.allocated.size(), 1u);
  const ipam::Allocation& lease = sink_.allocated.front();
  EXPECT_EQ(lease.ip, "10.6.168.133");
  EXPECT_EQ(lease.mac, "aa:bb:cc:dd:ee:01");
  EXPECT_EQ(lease.master, "ens192");
  EXPECT_EQ(lease.netns, "/var/run/netns/p1");
  EXPECT_EQ(lease.ifname, "eth0");
  EXPECT_EQ(lease.node, "node1");
  EXPECT_EQ(sink_.allocated_revision, allocator_.state().revision());
}

TEST_F(DatapathLeaseSinkTest, ReleaseAndGcTakeTheLeaseAwayWithThePodsInterface) {
  ASSERT_EQ(api_.allocate(post("/v1/ipam/allocate", allocate_body("c1"))).status, 200);
  HttpResponse reply =
      api_.release(post("/v1/ipam/release", {{"containerID", "c1"}, {"ifname", "eth0"}}));
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(sink_.released.size(), 1u);
  EXPECT_EQ(sink_.released[0].ip, "10.6.168.133");
  EXPECT_EQ(sink_.released[0].netns, "/var/run/netns/p1");  // read before the release
  EXPECT_EQ(sink_.released[0].ifname, "eth0");
  EXPECT_EQ(sink_.released_revision, allocator_.state().revision());

  // Releasing again releases nothing and tells the sink nothing.
  sink_.released.clear();
  EXPECT_EQ(
      api_.release(post("/v1/ipam/release", {{"containerID", "c1"}, {"ifname", "eth0"}})).status,
      200);
  EXPECT_TRUE(sink_.released.empty());

  json body = allocate_body("c2");
  body["network"] = "macvlan-ens192";
  ASSERT_EQ(api_.allocate(post("/v1/ipam/allocate", body)).status, 200);
  HttpResponse gc = api_.gc(
      post("/v1/ipam/gc", {{"network", "macvlan-ens192"}, {"validAttachments", json::array()}}));
  ASSERT_EQ(gc.status, 200) << gc.body;
  ASSERT_EQ(sink_.released.size(), 1u);
  EXPECT_EQ(sink_.released[0].ip, "10.6.168.133");
  EXPECT_EQ(sink_.released[0].container_id, "c2");
}

TEST_F(DatapathLeaseSinkTest, AnAllocationTheGuardCannotEnforceIsRolledBack) {
  sink_.fail = true;
  HttpResponse reply = api_.allocate(post("/v1/ipam/allocate", allocate_body("c1")));
  EXPECT_EQ(reply.status, 500);
  json error = json::parse(reply.body)["error"];
  EXPECT_EQ(error["code"], "internal");
  EXPECT_EQ(error["message"],
            "the eBPF guard could not enforce the lease (update ipf_leases: Operation not "
            "permitted), so the allocation was rolled back; see the agent log");
  EXPECT_EQ(allocated_in_store(), 0u);
  // The sink is told to forget what it may have half-added.
  ASSERT_EQ(sink_.released.size(), 1u);
  EXPECT_EQ(sink_.released[0].ip, "10.6.168.133");
  EXPECT_THAT(
      metrics_.render(),
      HasSubstr("ipfence_ipam_allocations_total{pool=\"test-ippool\",result=\"internal\"} 1"));

  // The IP is free again: the next allocation, with the guard working, gets it.
  sink_.fail = false;
  HttpResponse retry = api_.allocate(post("/v1/ipam/allocate", allocate_body("c1")));
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_THAT(retry.body, HasSubstr("10.6.168.133/16"));
}

TEST_F(DatapathLeaseSinkTest, ARepeatedAllocationIsNotReleasedWhenTheGuardFails) {
  ASSERT_EQ(api_.allocate(post("/v1/ipam/allocate", allocate_body("c1"))).status, 200);
  sink_.fail = true;
  HttpResponse reply = api_.allocate(post("/v1/ipam/allocate", allocate_body("c1")));
  EXPECT_EQ(reply.status, 500);
  EXPECT_THAT(reply.body, HasSubstr("the allocation was kept: an earlier request made it"));
  EXPECT_EQ(allocated_in_store(), 1u);
}

TEST_F(DatapathLeaseSinkTest, StatusCarriesTheGuardSection) {
  HttpResponse off = api_.status({"GET", "/v1/status", ""});
  EXPECT_EQ(json::parse(off.body)["guard"], json({{"enabled", false}}));

  IpamApi with_guard(shared_, metrics_,
                     {.node = "node1",
                      .version = "test",
                      .metrics_addr = "off",
                      .guard_status =
                          [] {
                            return json{{"enabled", true},
                                        {"pinDir", "/sys/fs/bpf/ipfence"},
                                        {"masters", {"ens192"}}};
                          }},
                     sink_);
  json status = json::parse(with_guard.status({"GET", "/v1/status", ""}).body);
  EXPECT_EQ(status["guard"]["masters"], json({"ens192"}));
}

}  // namespace
}  // namespace ipfence::agent
