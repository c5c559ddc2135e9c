// The active conflict probe: its frames byte by byte, the shared book of expected answers,
// the prober against a fake wire (what it sends, how long it listens, what it concludes), the
// ADD path that gives an answered address back and takes the next one, the monitor filing an
// answer as a squatter (the flags: config_test.cpp). The real wire (macvlan, an outside host's
// kernel answering) is tests/e2e/conflict_probe_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "agent/conflict/conflict_monitor.h"
#include "agent/conflict/conflict_prober.h"
#include "agent/conflict/probe_book.h"
#include "agent/conflict/probe_frames.h"
#include "agent/ipam_api.h"
#include "agent/metrics.h"
#include "agent_test_support.h"
#include "ipam/store/memory_store.h"

namespace ipfence::agent {
namespace {

using datapath::Mac;
using ipam::IpAddress;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

IpAddress ip(const std::string& text) {
  return *IpAddress::parse(text);
}
Mac mac(const std::string& text) {
  return *Mac::parse(text);
}

const Mac kMaster = *Mac::parse("02:00:00:00:00:01");
const Mac kOutside = *Mac::parse("02:aa:bb:cc:dd:01");

datapath::WatchEvent answer(const std::string& address, const Mac& from,
                            datapath::WatchKind kind = datapath::WatchKind::arp_reply) {
  datapath::WatchEvent e;
  e.master = "ens192";
  e.ip = ip(address);
  e.mac = from;
  e.kind = kind;
  return e;
}

// --- frames ----------------------------------------------------------------------------------

TEST(ProbeFramesTest, ArpProbeIsRfc5227) {
  const std::vector<std::uint8_t> want = {
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0,   0,
      0,    0x01, 0x08, 0x06,                                     // broadcast, ARP
      0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01,             // Ethernet/IPv4, request
      0x02, 0,    0,    0,    0,    0x01, 0,    0,    0,   0,     // sender: our MAC, 0.0.0.0
      0,    0,    0,    0,    0,    0,    10,   6,    168, 133};  // target: ?, the candidate
  EXPECT_EQ(arp_probe_frame(kMaster, ip("10.6.168.133")), want);
  EXPECT_EQ(probe_frame(kMaster, ip("10.6.168.133")), want);
}

// The one's-complement sum over pseudo-header and message, checksum included, is 0xffff.
std::uint16_t verify_icmpv6(const std::vector<std::uint8_t>& f) {
  std::uint32_t sum = 0;
  auto add = [&](std::size_t from, std::size_t n) {
    for (std::size_t i = from; i < from + n; i += 2) sum += f[i] << 8 | f[i + 1];
  };
  add(22, 32);  // source and destination address
  sum += 24 + 58;
  add(54, 24);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

TEST(ProbeFramesTest, DadSolicitationIsRfc4862) {
  const auto f = dad_probe_frame(kMaster, ip("2001:db8::a:bc:de01"));
  ASSERT_EQ(f.size(), 78u);
  EXPECT_EQ(std::vector<std::uint8_t>(f.begin(), f.begin() + 14),
            (std::vector<std::uint8_t>{0x33, 0x33, 0xff, 0xbc, 0xde, 0x01, 0x02, 0, 0, 0, 0, 0x01,
                                       0x86, 0xdd}));
  EXPECT_EQ(f[14], 0x60);
  EXPECT_EQ(f[18] << 8 | f[19], 24);  // payload length
  EXPECT_EQ(f[20], 58);               // ICMPv6
  EXPECT_EQ(f[21], 255);              // hop limit
  EXPECT_EQ(std::vector<std::uint8_t>(f.begin() + 22, f.begin() + 38),
            std::vector<std::uint8_t>(16, 0));  // from ::
  EXPECT_EQ(std::vector<std::uint8_t>(f.begin() + 38, f.begin() + 54),
            (std::vector<std::uint8_t>{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0xbc,
                                       0xde, 0x01}));  // solicited-node group
  EXPECT_EQ(f[54], 135);                               // neighbour solicitation
  EXPECT_EQ(f[55], 0);
  const auto target = ip("2001:db8::a:bc:de01").to_bytes();
  EXPECT_EQ(std::vector<std::uint8_t>(f.begin() + 62, f.end()),
            std::vector<std::uint8_t>(target.begin(), target.end()));
  EXPECT_EQ(verify_icmpv6(f), 0xffff);
  EXPECT_EQ(probe_frame(kMaster, ip("2001:db8::a:bc:de01")), f);
}

// --- the book --------------------------------------------------------------------------------

TEST(ProbeBookTest, AnAnswerWakesOnlyTheExpectationForItsAddress) {
  ProbeBook book(200ms);
  auto a = book.expect({ip("10.6.168.133")});
  auto b = book.expect({ip("10.6.168.134")});
  EXPECT_TRUE(book.probed_lately(ip("10.6.168.133")));
  EXPECT_FALSE(book.probed_lately(ip("10.6.168.135")));
  std::thread wire([&] {
    std::this_thread::sleep_for(20ms);
    book.observe(answer("10.6.168.133", kOutside));
  });
  const auto started = ProbeBook::Clock::now();
  auto got = a->wait_until(started + 5s);
  wire.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ip, ip("10.6.168.133"));
  EXPECT_EQ(got[0].mac, kOutside);
  EXPECT_LT(ProbeBook::Clock::now() - started, 4s);  // woken, not timed out
  EXPECT_TRUE(b->wait_until(ProbeBook::Clock::now() + 10ms).empty());
  // Answered lately, after its expectation is gone, until answered_for passes.
  a.reset();
  EXPECT_TRUE(book.probed_lately(ip("10.6.168.133")));
  std::this_thread::sleep_for(250ms);
  EXPECT_FALSE(book.probed_lately(ip("10.6.168.133")));
}

TEST(ProbeBookTest, SquattersAreRememberedForTheWindowAndBounded) {
  ProbeBook book;
  book.note_squatter(ip("10.6.168.135"), kOutside);
  EXPECT_EQ(book.squatted_within(ip("10.6.168.135"), 60s), kOutside);
  EXPECT_FALSE(book.squatted_within(ip("10.6.168.136"), 60s).has_value());
  std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(book.squatted_within(ip("10.6.168.135"), 1ms).has_value());
  // A flood of random senders keeps at most kMaxRemembered; the oldest go first.
  for (std::uint32_t i = 0; i < ProbeBook::kMaxRemembered + 10; ++i)
    book.note_squatter(IpAddress(ipam::IpFamily::v4, 0x0a070000u + i), kOutside);
  EXPECT_FALSE(book.squatted_within(ip("10.6.168.135"), 60s).has_value());
  EXPECT_TRUE(book.squatted_within(IpAddress(ipam::IpFamily::v4, 0x0a070000u + 4100), 60s));
}

// --- the prober on a fake wire ---------------------------------------------------------------

struct FakeWire {
  ProbeBook book;
  std::vector<std::pair<std::string, IpAddress>> sent;
  std::vector<IpAddress> forgotten;
  std::vector<datapath::WatchEvent> reported;
  std::map<IpAddress, Mac> hosts;  // outside hosts answer probes for their address
  bool fail_sends = false;

  ConflictProber::Io io() {
    return {.send = [this](const std::string& ifname, const IpAddress& target) -> Status {
              if (fail_sends)
                return make_error(ErrorCode::io,
                                  "conflict probe: interface " + ifname + ": No such device");
              sent.emplace_back(ifname, target);
              if (auto host = hosts.find(target); host != hosts.end())
                book.observe(answer(target.to_string(), host->second));
              return {};
            },
            .forget = [this](const IpAddress& target) -> Status {
              forgotten.push_back(target);
              return {};
            },
            .report = [this](const datapath::WatchEvent& event) { reported.push_back(event); }};
  }
};

const ipam::ConflictProbeSettings kTwoIn100ms{.enabled = true, .count = 2, .timeout = 100ms};

TEST(ConflictProberTest, SilenceMeansClearAfterEveryProbeAndTheWholeTimeout) {
  FakeWire wire;
  Metrics metrics;
  ConflictProber prober(wire.book, wire.io(), 60s, &metrics.registry());
  const auto started = std::chrono::steady_clock::now();
  auto answers = prober.probe(
      "ens192", {{ip("10.6.168.133"), "p4", kTwoIn100ms}, {ip("2001:db8::5"), "p6", kTwoIn100ms}});
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(answers.empty());
  EXPECT_GE(took, 100ms);  // silence is only evidence after the whole timeout
  EXPECT_EQ(wire.sent.size(), 4u);
  EXPECT_EQ(wire.sent[0], (std::pair<std::string, IpAddress>{"ens192", ip("10.6.168.133")}));
  EXPECT_THAT(wire.forgotten, ElementsAre(ip("10.6.168.133"), ip("2001:db8::5")));
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("ipfence_conflict_probes_total{pool=\"p4\",result=\"clear\"} 1"));
  EXPECT_THAT(text, HasSubstr("ipfence_conflict_probes_total{pool=\"p6\",result=\"clear\"} 1"));
}

TEST(ConflictProberTest, AnAnswerEndsTheProbeAtOnce) {
  FakeWire wire;
  wire.hosts[ip("10.6.168.133")] = kOutside;
  Metrics metrics;
  ConflictProber prober(wire.book, wire.io(), 60s, &metrics.registry());
  const ipam::ConflictProbeSettings slow{.enabled = true, .count = 3, .timeout = 3000ms};
  const auto started = std::chrono::steady_clock::now();
  auto answers = prober.probe("ens192", {{ip("10.6.168.133"), "p4", slow}});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2000ms);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].ip, ip("10.6.168.133"));
  EXPECT_EQ(answers[0].mac, kOutside);
  EXPECT_FALSE(answers[0].known);
  EXPECT_EQ(wire.sent.size(), 1u);  // no second probe after the answer
  EXPECT_THAT(metrics.render(),
              HasSubstr("ipfence_conflict_probes_total{pool=\"p4\",result=\"answered\"} 1"));
}

TEST(ConflictProberTest, WhatTheWatchSawLatelyIsNotProbedAgain) {
  FakeWire wire;
  Metrics metrics;
  ConflictProber prober(wire.book, wire.io(), 60s, &metrics.registry());
  wire.book.note_squatter(ip("10.6.168.134"), kOutside);
  auto answers = prober.probe("ens192", {{ip("10.6.168.134"), "p4", kTwoIn100ms}});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].known);
  EXPECT_EQ(answers[0].mac, kOutside);
  EXPECT_TRUE(wire.sent.empty());
  EXPECT_THAT(metrics.render(),
              HasSubstr("ipfence_conflict_probes_total{pool=\"p4\",result=\"known\"} 1"));
}

TEST(ConflictProberTest, AProbeThatCannotBeSentLetsTheAddressGoOut) {
  FakeWire wire;
  wire.fail_sends = true;
  Metrics metrics;
  ConflictProber prober(wire.book, wire.io(), 60s, &metrics.registry());
  EXPECT_TRUE(prober.probe("gone0", {{ip("10.6.168.133"), "p4", kTwoIn100ms}}).empty());
  EXPECT_THAT(metrics.render(),
              HasSubstr("ipfence_conflict_probes_total{pool=\"p4\",result=\"error\"} 1"));
}

// --- the ADD path ----------------------------------------------------------------------------

constexpr const char* kProbedPool = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: probed
  annotations:
    ipfence.io/conflict-probe: '{"enabled": true, "count": 1, "timeoutMs": 20}'
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.168.131-10.6.168.134
)";

class ProbedAllocateTest : public ::testing::Test {
 protected:
  ProbedAllocateTest()
      : allocator_(store_, ipam::Allocator::Options{.node = "node1"}),
        shared_(allocator_),
        api_(shared_, metrics_,
             {.node = "node1", .version = "test", .metrics_addr = "off", .guard_status = {}}),
        prober_(wire_.book, wire_.io(), 60s, &metrics_.registry()) {
    testing::apply_yaml(store_, kProbedPool);
    EXPECT_TRUE(allocator_.resync().ok());
    api_.enable_conflict_probe(prober_, ipam::ConflictProbeSettings{});  // off but for the pool
  }

  HttpResponse allocate(const std::string& container, const std::string& wanted = "") {
    json body = {{"containerID", container},
                 {"ifname", "eth0"},
                 {"master", "ens192"},
                 {"ipv4Pools", {"probed"}}};
    if (!wanted.empty()) body["ips"] = {wanted};
    return api_.allocate({"POST", "/v1/ipam/allocate", body.dump()});
  }
  static std::string ip_of(const HttpResponse& reply) {
    return json::parse(reply.body)["ips"][0]["address"].get<std::string>();
  }
  std::size_t allocations() {
    return shared_.with([](ipam::Allocator& a) {
      EXPECT_TRUE(a.catch_up().ok());
      return a.state().pool("probed")->allocations.size();
    });
  }

  store::MemoryStore store_;
  ipam::Allocator allocator_;
  SharedAllocator shared_;
  Metrics metrics_;
  IpamApi api_;
  FakeWire wire_;
  ConflictProber prober_;
};

TEST_F(ProbedAllocateTest, AnAnsweredAddressIsGivenBackAndTheNextOneHandedOut) {
  wire_.hosts[ip("10.6.168.131")] = kOutside;
  wire_.hosts[ip("10.6.168.132")] = mac("02:aa:bb:cc:dd:02");
  HttpResponse reply = allocate("c1");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(ip_of(reply), "10.6.168.133/16");
  EXPECT_EQ(wire_.sent.size(), 3u);  // .131 answered, .132 answered, .133 silent
  EXPECT_EQ(allocations(), 1u);      // the answered claims were given back
  // Each answer went on to the monitor after its claim was given back.
  ASSERT_EQ(wire_.reported.size(), 2u);
  EXPECT_EQ(wire_.reported[0].ip, ip("10.6.168.131"));
  EXPECT_EQ(wire_.reported[1].mac, mac("02:aa:bb:cc:dd:02"));
}

TEST_F(ProbedAllocateTest, AnAnsweredAddressAskedForByNameIsRefusedSayingWhy) {
  wire_.hosts[ip("10.6.168.132")] = kOutside;
  HttpResponse reply = allocate("c1", "10.6.168.132");
  EXPECT_EQ(reply.status, 422) << reply.body;
  json error = json::parse(reply.body)["error"];
  EXPECT_EQ(error["code"], "ip_unavailable");
  EXPECT_EQ(error["message"],
            "IP 10.6.168.132 is not available in IPPool probed: a host outside the cluster with "
            "MAC 02:aa:bb:cc:dd:01 uses it (it answered a conflict probe); free it there, then "
            "`ipfencectl quarantine release 10.6.168.132` if it was quarantined");
  EXPECT_EQ(allocations(), 0u);
}

TEST_F(ProbedAllocateTest, ExhaustionAfterAnswersNamesTheAnsweredAddresses) {
  for (const char* a : {"10.6.168.131", "10.6.168.132", "10.6.168.133", "10.6.168.134"})
    wire_.hosts[ip(a)] = kOutside;
  HttpResponse reply = allocate("c1");
  json error = json::parse(reply.body)["error"];
  EXPECT_EQ(error["code"], "exhausted") << reply.body;
  EXPECT_EQ(error["message"],
            "IPPool probed: all IPs have been exhausted (4 IPs); skipped 4 IP(s) that hosts "
            "outside the cluster answered a conflict probe for: 10.6.168.131 (MAC "
            "02:aa:bb:cc:dd:01), 10.6.168.132 (MAC 02:aa:bb:cc:dd:01), 10.6.168.133 (MAC "
            "02:aa:bb:cc:dd:01), 10.6.168.134 (MAC 02:aa:bb:cc:dd:01)");
  EXPECT_EQ(allocations(), 0u);
}

TEST_F(ProbedAllocateTest, ARetriedAddIsNotProbedAgain) {
  HttpResponse first = allocate("c1");
  ASSERT_EQ(first.status, 200) << first.body;
  HttpResponse again = allocate("c1");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(ip_of(first), ip_of(again));
  EXPECT_EQ(wire_.sent.size(), 1u);
}

// --- the monitor files an answer as a squatter -----------------------------------------------

TEST(ProbeAnswerMonitorTest, AnAnswerForAClaimedAddressIsASquatterAndQuarantined) {
  store::MemoryStore store;
  testing::apply_yaml(store, kProbedPool);
  ipam::Allocator allocator(store, ipam::Allocator::Options{.node = "node1"});
  ASSERT_TRUE(allocator.resync().ok());
  SharedAllocator shared(allocator);
  // The ADD's claim while it probes: the view says a pod holds .131.
  ipam::AllocateRequest claim;
  claim.identity.container_id = "c1";
  claim.identity.ifname = "eth0";
  claim.identity.mac = "02:00:00:00:00:0a";
  claim.ipv4_pools = {"probed"};
  ASSERT_TRUE(allocator.allocate(claim).ok());

  Metrics metrics;
  ConflictMetrics conflict_metrics(metrics.registry());
  ProbeBook book;
  ConflictMonitorOptions options;
  options.node = "node1";
  options.probes = &book;
  ConflictMonitor monitor(shared, store, conflict_metrics, options);
  // Before the claim is given back, the answer is only the ADD's: the monitor hears of it
  // from the ADD afterwards (ConflictProber::report). A late second answer, while the claim
  // still stands, is filed as a squatter all the same.
  auto expectation = book.expect({ip("10.6.168.131")});
  EXPECT_TRUE(book.observe(answer("10.6.168.131", kOutside)));
  EXPECT_FALSE(book.observe(answer("10.6.168.200", kOutside)));
  monitor.submit(answer("10.6.168.131", kOutside));
  monitor.drain();
  EXPECT_THAT(metrics.render(),
              HasSubstr("ipfence_conflicts_total{kind=\"squatter\",master=\"ens192\","
                        "pool=\"probed\"} 1"));
  ASSERT_TRUE(allocator.release("c1", "eth0").ok());
  monitor.submit(answer("10.6.168.131", kOutside));
  monitor.drain();

  EXPECT_THAT(metrics.render(),
              HasSubstr("ipfence_conflicts_total{kind=\"squatter\",master=\"ens192\","
                        "pool=\"probed\"} 2"));
  ASSERT_TRUE(allocator.catch_up().ok());
  EXPECT_NE(allocator.state().quarantined("probed", ip("10.6.168.131")), nullptr);
  EXPECT_EQ(book.squatted_within(ip("10.6.168.131"), 60s), kOutside);
}

}  // namespace
}  // namespace ipfence::agent
