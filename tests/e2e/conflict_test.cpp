// Conflict detection end to end (issue 5): the real agent with the guard and the conflict
// watcher on its master, pods through the real macvlan plugin, and an outside host (the far
// end of the master's veth) that sends ARP claiming addresses. What the agent makes of it
// must show in /metrics, its log, `ipfencectl get conflicts` and the next allocation, and a
// real Prometheus must be able to scrape and query it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

class ConflictE2eTest : public ::testing::Test {
 protected:
  // The seed's objects with a pool of 10 IPs: 10.6.168.131-140, of which 131-132 reserved.
  void start(const std::string& tag, const std::vector<std::string>& extra_args = {}) {
    bpffs_ = std::make_unique<BpffsMount>();
    AgentNodeOptions options;
    options.extra_agent_args = {bpffs_->agent_flag(), "--conflict-dedup-seconds=1"};
    options.extra_agent_args.insert(options.extra_agent_args.end(), extra_args.begin(),
                                    extra_args.end());
    node_ = std::make_unique<AgentNode>(unique_name(tag), options);
    master_ = node_->topology().master();
    node_->apply(seed_multus_config(master_));
    node_->apply(reservedip_yaml("test-reservedip", {"10.6.168.131-10.6.168.132"}));
    node_->apply(ippool_yaml("test-ippool", "10.6.0.0/16", {"10.6.168.131-10.6.168.140"}));
    runtime_ = std::make_unique<CniRuntime>(node_->runtime("macvlan-" + master_));
    outside_mac_ = link_mac(node_->topology().outside(), "wire0");
    ASSERT_TRUE(wait_until(
        [&] { return node_->agent().log().find("conflict watch: watching") != std::string::npos; },
        std::chrono::seconds(5)))
        << node_->agent().log();
    // The watcher reports only addresses in the guard's pool and reserved maps, which the
    // agent fills when it sees the objects applied above: wait until both are there.
    ASSERT_TRUE(wait_until(
        [&] {
          json guards = get_guards(*node_);
          return guards.value("poolPrefixes", 0) > 0 && guards.value("reservedPrefixes", 0) > 0;
        },
        std::chrono::seconds(5)))
        << get_guards(*node_).dump();
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << "agent log:\n" << node_->agent().log();
    prometheus_.reset();
    runtime_.reset();
    node_.reset();
    bpffs_.reset();
  }

  std::string add_pod(const std::string& name) {
    const Netns& ns = node_->topology().add_pod(name);
    CniCall call = pod_attachment(ns, name, "test-app-" + name);
    call.cni_args = {{"ipam.spidernet.io/ippool", R"({"ipv4": ["test-ippool"]})"}};
    CniOutcome added = runtime_->add(call);
    if (!added.ok()) throw std::runtime_error("ADD " + name + ": " + added.output.dump());
    return without_prefix(result_address(added));
  }

  // An ARP frame from the outside host: op 2 (reply) claiming `ip` as its own, or op 1 with
  // sender 0.0.0.0 (an RFC 5227 probe for `ip`).
  void claim_from_outside(const std::string& ip) {
    send_frame(node_->topology().outside().name(), "wire0",
               arp_frame(2, outside_mac_, kBroadcast, ip, "10.6.0.2"));
  }
  void probe_from_outside(const std::string& ip) {
    send_frame(node_->topology().outside().name(), "wire0",
               arp_frame(1, outside_mac_, kBroadcast, "0.0.0.0", ip));
  }

  double conflicts(const std::string& kind) {
    return metric_value(agent_metrics(*node_), "ipfence_conflicts_total",
                        {{"master", master_}, {"pool", "test-ippool"}, {"kind", kind}})
        .value_or(0);
  }
  // Waits for the counter of `kind` to reach `at_least`; returns how long it took.
  milliseconds wait_for_conflicts(const std::string& kind, double at_least,
                                  milliseconds timeout = milliseconds(3000)) {
    const auto started = Clock::now();
    EXPECT_TRUE(wait_until([&] { return conflicts(kind) >= at_least; }, timeout))
        << "ipfence_conflicts_total{kind=" << kind << "} stayed at " << conflicts(kind);
    return std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  }

  std::string outside_mac_text() const { return format_mac(outside_mac_); }

  // The size of the watcher's ring buffer as the kernel has it: bpftool reads the pin.
  std::int64_t ring_buffer_bytes() const {
    ProcessResult shown =
        run_process({"bpftool", "-j", "map", "show", "pinned", bpffs_->dir() + "/ipf_watch_rb"});
    if (shown.exit_code != 0) throw std::runtime_error("bpftool map show: " + shown.err);
    const json map = json::parse(shown.out);
    if (map.value("type", "") != "ringbuf") throw std::runtime_error("not a ringbuf: " + shown.out);
    return map.value("max_entries", std::int64_t{0});
  }

  std::unique_ptr<BpffsMount> bpffs_;
  std::unique_ptr<AgentNode> node_;
  std::unique_ptr<CniRuntime> runtime_;
  std::unique_ptr<ChildProcess> prometheus_;
  std::string master_;
  Mac outside_mac_{};
};

TEST_F(ConflictE2eTest, AnOutsideHostClaimingAPodIpShowsInMetricsLogAndCtlWithin1s) {
  start("cfpod");
  const std::string pod_ip = add_pod("a");
  EXPECT_EQ(pod_ip, "10.6.168.133");

  claim_from_outside(pod_ip);
  milliseconds took = wait_for_conflicts("pod", 1);
  EXPECT_LT(took.count(), 1000) << "detection took " << took.count() << " ms";
  const std::string metrics = agent_metrics(*node_);
  EXPECT_EQ(
      metric_value(
          metrics, "ipfence_conflict_active",
          {{"ip", pod_ip}, {"mac", outside_mac_text()}, {"pool", "test-ippool"}, {"kind", "pod"}}),
      1.0)
      << metrics;
  EXPECT_GE(
      metric_value(metrics, "ipfence_watch_events_total", {{"type", "arp_reply"}}).value_or(0),
      1.0);

  // One JSON line in the log, naming the holder pod.
  ASSERT_TRUE(wait_until(
      [&] { return node_->agent().log().find("\"event\":\"conflict\"") != std::string::npos; },
      milliseconds(1000)));
  const std::string log = node_->agent().log();
  const auto at = log.find("\"event\":\"conflict\"");
  const auto begin = log.rfind('{', at);
  json logged = json::parse(log.substr(begin, log.find('\n', at) - begin));
  EXPECT_EQ(logged["kind"], "pod");
  EXPECT_EQ(logged["ip"], pod_ip);
  EXPECT_EQ(logged["mac"], outside_mac_text());
  EXPECT_EQ(logged["holder"], "default/test-app-a");
  EXPECT_EQ(logged["master"], master_);

  // ipfencectl reads the record the agent stored.
  ASSERT_TRUE(wait_until(
      [&] {
        return node_->ctl({"get", "conflicts"}).out.find(pod_ip) != std::string::npos;
      },
      milliseconds(1000)));
  ProcessResult listed = node_->ctl({"get", "conflicts", pod_ip, "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json items = json::parse(listed.out)["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["kind"], "pod");
  EXPECT_EQ(items[0]["holder"], "default/test-app-a");
  EXPECT_EQ(items[0]["node"], "node1");

  // An RFC 5227 probe for the pod's address is a probe, not a claim.
  probe_from_outside(pod_ip);
  wait_for_conflicts("probe", 1);
}

TEST_F(ConflictE2eTest, ASquattersIpIsQuarantinedAndTheNextAddGetsAnotherIp) {
  start("cfsquat");
  // Next-fit would hand out .133 next (131-132 are reserved).
  claim_from_outside("10.6.168.133");
  wait_for_conflicts("squatter", 1);
  ASSERT_TRUE(wait_until(
      [&] {
        return metric_value(agent_metrics(*node_), "ipfence_pool_ips",
                            {{"pool", "test-ippool"}, {"state", "quarantined"}}) == 1.0;
      },
      milliseconds(2000)))
      << agent_metrics(*node_);
  EXPECT_EQ(add_pod("a"), "10.6.168.134");
  ProcessResult listed = node_->ctl({"get", "conflicts"});
  EXPECT_THAT(listed.out, HasSubstr("squatter (quarantined)"));

  // Released by hand, the address is handed out again (next-fit wraps round to it).
  ProcessResult released = node_->ctl({"quarantine", "release", "10.6.168.133"});
  ASSERT_EQ(released.exit_code, 0) << released.err;
  std::vector<std::string> ips;
  for (int i = 0; i < 7; ++i) ips.push_back(add_pod("p" + std::to_string(i)));
  EXPECT_THAT(ips, ::testing::Contains("10.6.168.133"));
}

TEST_F(ConflictE2eTest, AReservedIpInUseOutsideIsCountedButNotAConflict) {
  start("cfresv");
  EXPECT_EQ(ring_buffer_bytes(), 128 * 1024);  // the default
  claim_from_outside("10.6.168.131");
  wait_for_conflicts("reserved", 1);
  const std::string metrics = agent_metrics(*node_);
  EXPECT_EQ(metrics.find("ipfence_conflict_active{"), std::string::npos) << metrics;
  ProcessResult listed = node_->ctl({"get", "conflicts"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.err, "No conflicts found.\n");
  EXPECT_THAT(node_->agent().log(), Not(HasSubstr("\"event\":\"conflict\"")));
}

// --conflict-ring-kib sizes the watcher's ring buffer, and reports still come through it.
TEST_F(ConflictE2eTest, TheRingBufferHasTheSizeOfConflictRingKib) {
  start("cfring", {"--conflict-ring-kib=64"});
  EXPECT_EQ(ring_buffer_bytes(), 64 * 1024);
  claim_from_outside("10.6.168.131");
  wait_for_conflicts("reserved", 1);
}

// promtool accepts the agent's exposition, and a real Prometheus scraping the agent (inside
// the node namespace, on loopback, every 200 ms) answers a PromQL query with the conflict.
TEST_F(ConflictE2eTest, PrometheusScrapesAndQueriesTheConflictCounter) {
  start("cfprom");
  const std::string pod_ip = add_pod("a");
  claim_from_outside(pod_ip);
  wait_for_conflicts("pod", 1);

  const std::string exposition = agent_metrics(*node_);
  ProcessResult lint = run_process({"promtool", "check", "metrics"}, {}, exposition);
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;

  const std::string dir = node_->dir() + "/prometheus";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 200ms\n  evaluation_interval: 200ms\n"
      << "scrape_configs:\n  - job_name: ipfence-agent\n    static_configs:\n"
      << "      - targets: ['" << node_->metrics_addr() << "']\n";
  const std::string web = "127.0.0.1:19090";
  std::vector<std::string> argv = node_->topology().node().exec_prefix();
  argv.insert(argv.end(), {"prometheus", "--config.file=" + dir + "/prometheus.yml",
                           "--storage.tsdb.path=" + dir + "/data", "--web.listen-address=" + web,
                           "--log.level=warn"});
  prometheus_ = std::make_unique<ChildProcess>(argv, dir + "/prometheus.log");
  json answer;
  const bool answered = wait_until(
      [&] {
        ProcessResult r =
            run_process({"ip", "netns", "exec", node_->topology().node().name(), "curl", "-s", "-m",
                         "2", "http://" + web + "/api/v1/query", "--data-urlencode",
                         "query=ipfence_conflicts_total{kind=\"pod\"}"});
        if (r.exit_code != 0) return false;
        answer = json::parse(r.out, nullptr, false);
        return !answer.is_discarded() && answer.value("status", "") == "success" &&
               !answer["data"]["result"].empty();
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(answered) << answer.dump() << "\nprometheus log:\n" << prometheus_->log();
  const json& sample = answer["data"]["result"][0];
  EXPECT_EQ(sample["metric"]["pool"], "test-ippool");
  EXPECT_EQ(sample["metric"]["job"], "ipfence-agent");
  EXPECT_GE(std::stod(sample["value"][1].get<std::string>()), 1.0);
}

}  // namespace
}  // namespace ipfence::e2e
