// The conflict classifier against a real view (pools, reserved IPs, allocations with MACs),
// and the monitor end to end on a memory store: metrics, store records, quarantine, the
// quiet-period release, the bounded queue. The watcher itself (BPF) is tested in tests/bpf/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "agent/conflict/classifier.h"
#include "agent/conflict/conflict_metrics.h"
#include "agent/conflict/conflict_monitor.h"
#include "agent/conflict/record_limit.h"
#include "agent/metrics.h"
#include "agent_test_support.h"
#include "ipam/allocator.h"
#include "ipam/clock.h"
#include "ipam/store/memory_store.h"

namespace ipfence::agent {
namespace {

using datapath::WatchEvent;
using datapath::WatchKind;
using ipam::ConflictKind;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kPool = R"(
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
)";

constexpr const char* kReserved = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderReservedIP
metadata:
  name: test-reservedip
spec:
  ips:
  - 10.6.168.131
  - 10.6.200.9
)";

const std::string kPodMac = "02:00:00:00:00:0a";
const std::string kOutsideMac = "02:aa:bb:cc:dd:01";

WatchEvent event(const std::string& ip, const std::string& mac,
                 WatchKind kind = WatchKind::arp_reply) {
  WatchEvent e;
  e.master = "ens192";
  e.ip = *ipam::IpAddress::parse(ip);
  e.mac = *datapath::Mac::parse(mac);
  e.kind = kind;
  return e;
}

class ConflictTest : public ::testing::Test {
 protected:
  ConflictTest()
      : allocator_(store_, ipam::Allocator::Options{.node = "node1"}), shared_(allocator_) {
    testing::apply_yaml(store_, kPool);
    testing::apply_yaml(store_, kReserved);
    // A pod on another node holds .132 with kPodMac (the allocator on node2 wrote it).
    ipam::Allocator node2(store_, ipam::Allocator::Options{.node = "node2"});
    ipam::AllocateRequest r;
    r.identity.container_id = "c1";
    r.identity.ifname = "eth0";
    r.identity.pod_namespace = "default";
    r.identity.pod_name = "pod-a";
    r.identity.mac = kPodMac;
    r.ipv4_pools = {"test-ippool"};
    auto allocated = node2.allocate(r);
    EXPECT_TRUE(allocated.ok()) << allocated.error().message;
    EXPECT_EQ(allocated->ips.front().ip.to_string(), "10.6.168.132");
    EXPECT_TRUE(allocator_.catch_up().ok());
  }

  const ipam::ClusterState& state() {
    EXPECT_TRUE(allocator_.catch_up().ok());
    return allocator_.state();
  }

  store::MemoryStore store_;
  ipam::Allocator allocator_;
  SharedAllocator shared_;
};

// --- classifier ------------------------------------------------------------------------------

TEST_F(ConflictTest, ClassifiesEveryKindAndSaysNothingAboutTheRest) {
  struct Case {
    std::string ip, mac;
    WatchKind frame;
    std::optional<ConflictKind> want;
    std::string pool;
  };
  const std::vector<Case> cases = {
      // A pod's IP from another MAC: a conflict with the pod, a probe if it only probes.
      {"10.6.168.132", kOutsideMac, WatchKind::arp_reply, ConflictKind::pod, "test-ippool"},
      {"10.6.168.132", kOutsideMac, WatchKind::arp_announcement, ConflictKind::pod, "test-ippool"},
      {"10.6.168.132", kOutsideMac, WatchKind::arp_probe, ConflictKind::probe, "test-ippool"},
      // The pod itself (on another node, seen over the wire), in any spelling of its MAC.
      {"10.6.168.132", kPodMac, WatchKind::arp_request, std::nullopt, "test-ippool"},
      {"10.6.168.132", "02-00-00-00-00-0A", WatchKind::arp_reply, std::nullopt, "test-ippool"},
      // A free pool IP in use: a squatter; only probed for: nothing yet.
      {"10.6.168.135", kOutsideMac, WatchKind::arp_reply, ConflictKind::squatter, "test-ippool"},
      {"10.6.168.135", kOutsideMac, WatchKind::arp_probe, std::nullopt, "test-ippool"},
      // Reserved, in the pool or outside any pool: expected.
      {"10.6.168.131", kOutsideMac, WatchKind::arp_reply, ConflictKind::reserved, "test-ippool"},
      {"10.6.200.9", kOutsideMac, WatchKind::arp_request, ConflictKind::reserved, ""},
      // Excluded, or outside every pool: not ours to judge.
      {"10.6.168.139", kOutsideMac, WatchKind::arp_reply, std::nullopt, "test-ippool"},
      {"10.6.0.1", kOutsideMac, WatchKind::arp_reply, std::nullopt, ""},
      {"10.6.201.1", kOutsideMac, WatchKind::arp_reply, std::nullopt, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ip + " " + c.mac + " " + std::string(datapath::watch_kind_name(c.frame)));
    Classification got = classify(state(), event(c.ip, c.mac, c.frame));
    EXPECT_EQ(got.kind, c.want);
    EXPECT_EQ(got.pool, c.pool);
  }
  Classification pod = classify(state(), event("10.6.168.132", kOutsideMac));
  EXPECT_EQ(pod.holder, "default/pod-a");
  EXPECT_EQ(pod.holder_mac, kPodMac);
  EXPECT_EQ(pod.holder_node, "node2");
}

// --- monitor ---------------------------------------------------------------------------------

class ConflictMonitorTest : public ConflictTest {
 protected:
  ConflictMonitorTest() : conflict_metrics_(metrics_.registry()) {
    log_sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    previous_logger_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", log_sink_));
  }
  ~ConflictMonitorTest() override { spdlog::set_default_logger(previous_logger_); }

  ConflictMonitor& monitor(ConflictMonitorOptions options = {}) {
    options.node = "node1";
    if (!options.now) options.now = [this] { return now_; };
    monitor_ = std::make_unique<ConflictMonitor>(shared_, store_, conflict_metrics_, options);
    return *monitor_;
  }

  Metrics metrics_;
  ConflictMetrics conflict_metrics_;
  std::unique_ptr<ConflictMonitor> monitor_;
  std::chrono::system_clock::time_point now_{1'800'000'000s};
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> log_sink_;
  std::shared_ptr<spdlog::logger> previous_logger_;
};

TEST_F(ConflictMonitorTest, APodConflictIsCountedRecordedAndLoggedAsOneJsonLine) {
  ConflictMonitor& m = monitor();
  m.submit(event("10.6.168.132", kOutsideMac));
  m.submit(event("10.6.168.132", kOutsideMac));
  m.drain();

  const std::string text = metrics_.render();
  EXPECT_THAT(text, HasSubstr("ipfence_conflicts_total{kind=\"pod\",master=\"ens192\",pool=\"test-"
                              "ippool\"} 2"));
  EXPECT_THAT(text, HasSubstr("ipfence_conflict_active{ip=\"10.6.168.132\",kind=\"pod\",mac=\"" +
                              kOutsideMac + "\",pool=\"test-ippool\"} 1"));
  EXPECT_THAT(text, HasSubstr("ipfence_watch_events_total{type=\"arp_reply\"} 2"));

  const auto& conflicts = state().conflicts();
  ASSERT_EQ(conflicts.size(), 1u);
  const ipam::ConflictRecord& r = conflicts.begin()->second.record;
  EXPECT_EQ(r.ip, "10.6.168.132");
  EXPECT_EQ(r.mac, kOutsideMac);
  EXPECT_EQ(r.kind, ConflictKind::pod);
  EXPECT_EQ(r.holder, "default/pod-a");
  EXPECT_EQ(r.holder_mac, kPodMac);
  EXPECT_EQ(r.node, "node1");
  EXPECT_EQ(r.count, 2u);

  // One JSON line per sighting.
  std::istringstream lines(log_.str());
  int json_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    auto brace = line.find('{');
    if (brace == std::string::npos) continue;
    auto j = nlohmann::json::parse(line.substr(brace), nullptr, false);
    if (j.is_discarded() || j.value("event", "") != "conflict") continue;
    ++json_lines;
    EXPECT_EQ(j["kind"], "pod");
    EXPECT_EQ(j["ip"], "10.6.168.132");
    EXPECT_EQ(j["holder"], "default/pod-a");
    EXPECT_EQ(j["holderNode"], "node2");
    EXPECT_EQ(j["frame"], "arp_reply");
  }
  EXPECT_EQ(json_lines, 2) << log_.str();
}

TEST_F(ConflictMonitorTest, ASquatterIsQuarantinedAndTheNextAllocationSkipsIt) {
  ConflictMonitor& m = monitor();
  // .133 is the next IP next-fit would hand out.
  m.submit(event("10.6.168.133", kOutsideMac));
  m.drain();
  EXPECT_NE(state().quarantined("test-ippool", *ipam::IpAddress::parse("10.6.168.133")), nullptr);
  metrics_.refresh_pools(state());
  EXPECT_THAT(metrics_.render(),
              HasSubstr("ipfence_pool_ips{pool=\"test-ippool\",state=\"quarantined\"} 1"));
  EXPECT_THAT(metrics_.render(), HasSubstr("ipfence_quarantined_ips{pool=\"test-ippool\"} 1"));
  EXPECT_THAT(log_.str(), HasSubstr("\"quarantine\":\"quarantined\""));

  ipam::AllocateRequest r;
  r.identity.container_id = "c2";
  r.identity.ifname = "eth0";
  r.ipv4_pools = {"test-ippool"};
  auto next = allocator_.allocate(r);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->ips.front().ip.to_string(), "10.6.168.134");
}

TEST_F(ConflictMonitorTest, QuarantineCanBeTurnedOffAndIsLimitedPerPool) {
  ConflictMonitorOptions no_quarantine;
  no_quarantine.quarantine = false;
  ConflictMonitor& off = monitor(no_quarantine);
  off.submit(event("10.6.168.133", kOutsideMac));
  off.drain();
  EXPECT_TRUE(state().quarantine().empty());
  EXPECT_EQ(state().conflicts().size(), 1u);  // still recorded as a squatter

  ConflictMonitorOptions one_per_pool;
  one_per_pool.max_quarantined_per_pool = 1;
  ConflictMonitor& limited = monitor(one_per_pool);
  limited.submit(event("10.6.168.134", kOutsideMac));
  limited.submit(event("10.6.168.135", kOutsideMac));
  limited.drain();
  EXPECT_EQ(state().quarantine().size(), 1u);
  EXPECT_THAT(metrics_.render(),
              HasSubstr("ipfence_quarantine_skipped_total{pool=\"test-ippool\"} 1"));
}

TEST_F(ConflictMonitorTest, AReservedIpInUseIsCountedButIsNoConflict) {
  ConflictMonitor& m = monitor();
  m.submit(event("10.6.168.131", kOutsideMac));
  m.drain();
  const std::string text = metrics_.render();
  EXPECT_THAT(text, HasSubstr("ipfence_conflicts_total{kind=\"reserved\",master=\"ens192\",pool="
                              "\"test-ippool\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("ipfence_conflict_active{")));
  EXPECT_TRUE(state().conflicts().empty());
  EXPECT_TRUE(state().quarantine().empty());
  EXPECT_THAT(log_.str(), Not(HasSubstr("\"event\":\"conflict\"")));
}

TEST_F(ConflictMonitorTest, QuietQuarantinesAreReleasedAndActiveSeriesExpire) {
  ConflictMonitorOptions options;
  options.quiet_period = 600s;
  options.active_for = 0s;
  options.quiet_sweep_interval = 0ms;
  ConflictMonitor& m = monitor(options);
  m.submit(event("10.6.168.133", kOutsideMac));
  m.drain();
  ASSERT_EQ(state().quarantine().size(), 1u);
  now_ += 599s;
  m.sweep();
  EXPECT_EQ(state().quarantine().size(), 1u);
  EXPECT_THAT(metrics_.render(), Not(HasSubstr("ipfence_conflict_active{")));  // active_for 0
  now_ += 2s;
  m.sweep();
  EXPECT_TRUE(state().quarantine().empty());
  EXPECT_THAT(log_.str(), HasSubstr("quarantine: released 10.6.168.133 in pool test-ippool"));
}

TEST_F(ConflictMonitorTest, AFullQueueDropsAndCountsInsteadOfBlocking) {
  ConflictMonitorOptions small_queue;
  small_queue.queue_limit = 2;
  ConflictMonitor& m = monitor(small_queue);
  for (int i = 0; i < 5; ++i) m.submit(event("10.6.168.132", kOutsideMac));
  EXPECT_THAT(metrics_.render(), HasSubstr("ipfence_watch_events_lost_total 3"));
  m.drain();
  EXPECT_EQ(state().conflicts().begin()->second.record.count, 2u);
}

TEST_F(ConflictMonitorTest, TheWorkerThreadHandlesEventsAndStopsCleanly) {
  ConflictMonitor& m = monitor();
  m.start();
  m.submit(event("10.6.168.132", kOutsideMac));
  EXPECT_TRUE(testing::wait_until([&] { return !state().conflicts().empty(); },
                                  std::chrono::milliseconds(2000)));
  m.stop();
}

}  // namespace
}  // namespace ipfence::agent

namespace ipfence::agent {
namespace {

// A flood from a new MAC per frame on one address keeps the latest kMaxMacsPerAddress MACs
// (agent/conflict/record_limit.h) in the store and as active series, not one per MAC.
TEST_F(ConflictMonitorTest, AnAddressKeepsRecordsAndActiveSeriesOfItsLatestMacsOnly) {
  ConflictMonitor& m = monitor();
  const int macs = static_cast<int>(kMaxMacsPerAddress) + 3;
  auto mac = [](int i) {
    char text[18];
    std::snprintf(text, sizeof text, "02:aa:00:00:00:%02x", i);
    return std::string(text);
  };
  for (int i = 0; i < macs; ++i) {
    now_ += 1s;
    m.submit(event("10.6.168.132", mac(i)));
    m.drain();
  }
  std::vector<std::string> kept;
  for (const auto& [key, stored] : state().conflicts()) kept.push_back(stored.record.mac);
  EXPECT_EQ(kept.size(), kMaxMacsPerAddress);
  for (int i = 0; i < macs; ++i)
    EXPECT_EQ(std::count(kept.begin(), kept.end(), mac(i)), i < 3 ? 0 : 1) << mac(i);
  const std::string text = metrics_.render();
  std::size_t series = 0;
  for (auto at = text.find("ipfence_conflict_active{ip=\"10.6.168.132\""); at != std::string::npos;
       at = text.find("ipfence_conflict_active{ip=\"10.6.168.132\"", at + 1))
    ++series;
  EXPECT_EQ(series, kMaxMacsPerAddress);
  EXPECT_THAT(text, Not(HasSubstr("mac=\"" + mac(0) + "\"")));
  EXPECT_THAT(text, HasSubstr("mac=\"" + mac(macs - 1) + "\""));
}

}  // namespace
}  // namespace ipfence::agent
