// bench_cni: CNI ADD and DEL through the real macvlan plugin with ipfence IPAM against the
// same macvlan with host-local IPAM, on the same machine in the same run.
//
// One AgentNode (tests/e2e/support): a node network namespace with the macvlan master
// "ens192" (a veth to an outside namespace), the real ipfence-agent on a file store in a
// temp dir, a SpiderIPPool of 10,240 IPs and a SpiderReservedIP of 1,000 ranges inside it.
// Variants, all macvlan (bridge mode) with a default route via 10.6.0.1:
//   ipfence            ipam.type ipfence, pool bench-pool (reserved IPs are never handed out)
//   host-local         the pool's range as one host-local range (knows nothing of reserved IPs)
//   host-local+holes   (--holes) the pool minus the reserved IPs as 1,001 host-local ranges:
//                      the only way host-local can honour them; slow (host-local checks
//                      every pair of ranges for overlap), so run it with a small --pods
// Phases: N sequential ADD+DEL per variant in blocks whose variant order rotates (drift
// cancels), then N attachments with P workers in parallel (an ADD wave, then a DEL wave) in
// two rounds, A B C then C B A. Then the breakdown: the IPAM plugins alone (no macvlan), the
// plugins' start-up (CNI VERSION), and the agent's own time (its /metrics histogram and log).
//
// Plugins are exec'd from the node namespace as a runtime on the node does: the bench enters
// it (setns) and runs them directly (--ip-netns-exec runs each through `ip netns exec` as the
// e2e tests do, which adds a few ms per plugin call to every variant alike). The agent runs
// at --log-level=info and, when it has the eBPF guard, with --guard=off (IPAM only, as
// host-local) unless an --agent-arg names the guard.
// Needs root. Everything is created inside namespaces and a temp dir the bench owns and is
// removed again on exit; the machine's own interfaces are never touched.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/support/agent_node.h"

namespace {

using namespace ipfence::e2e;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// SIGINT/SIGTERM: stop at the next plugin call and clean up (agent, namespaces, temp dir).
std::atomic<bool> g_stop{false};

void check_stop() {
  if (g_stop) throw std::runtime_error("interrupted");
}

// The pool: 10.6.1.0 - 10.6.40.255 in 10.6.0.0/16; reserved: 1,000 ranges of 1-3 IPs, one
// in every 10 addresses, so the allocator's cursor runs into them all the time.
constexpr std::uint32_t kPoolFirst = (10u << 24) | (6u << 16) | (1u << 8);
constexpr std::uint32_t kPoolLast = (10u << 24) | (6u << 16) | (40u << 8) | 255u;
constexpr std::uint32_t kReservedRanges = 1000;
constexpr std::uint32_t kReservedStride = 10;
constexpr const char* kSubnet = "10.6.0.0/16";
constexpr const char* kGateway = "10.6.0.1";

struct Options {
  int pods = 200;
  int parallel = 16;
  int seq_block = 20;
  int alone = 100;   // IPAM-alone ADD+DEL pairs per variant (at most --pods)
  int startup = 50;  // VERSION execs per plugin
  bool holes = false;
  bool ip_netns_exec = false;
  std::vector<std::string> agent_args;  // --agent-arg, passed to ipfence-agent
};

std::string ip_text(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::optional<std::uint32_t> parse_ip(const std::string& text) {
  unsigned a, b, c, d;
  if (std::sscanf(text.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) return std::nullopt;
  return (a << 24) | (b << 16) | (c << 8) | d;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> reserved_ranges() {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (std::uint32_t i = 0; i < kReservedRanges; ++i) {
    std::uint32_t start = kPoolFirst + i * kReservedStride + (i * 5) % 7;
    out.emplace_back(start, start + i % 3);
  }
  return out;
}

// --- manifests and conflists ------------------------------------------------------------

std::string pool_yaml() {
  return "apiVersion: spiderpool.spidernet.io/v2beta1\n"
         "kind: SpiderIPPool\n"
         "metadata:\n"
         "  name: bench-pool\n"
         "spec:\n"
         "  subnet: " +
         std::string(kSubnet) + "\n  gateway: " + kGateway + "\n  ips:\n  - " +
         ip_text(kPoolFirst) + "-" + ip_text(kPoolLast) + "\n";
}

std::string reserved_yaml() {
  std::string yaml =
      "apiVersion: spiderpool.spidernet.io/v2beta1\n"
      "kind: SpiderReservedIP\n"
      "metadata:\n"
      "  name: bench-reserved\n"
      "spec:\n"
      "  ips:\n";
  for (auto [a, b] : reserved_ranges())
    yaml += "  - " + (a == b ? ip_text(a) : ip_text(a) + "-" + ip_text(b)) + "\n";
  return yaml;
}

json conflist(const std::string& name, const std::string& master, json ipam) {
  return {{"cniVersion", "1.0.0"},
          {"name", name},
          {"plugins", json::array({{{"type", "macvlan"},
                                    {"master", master},
                                    {"mode", "bridge"},
                                    {"ipam", std::move(ipam)}}})}};
}

json ipfence_ipam(const std::string& socket) {
  return {{"type", "ipfence"},
          {"socket", socket},
          {"default_ipv4_ippool", json::array({"bench-pool"})}};
}

json host_local_range(std::uint32_t first, std::uint32_t last) {
  return {{"subnet", kSubnet},
          {"rangeStart", ip_text(first)},
          {"rangeEnd", ip_text(last)},
          {"gateway", kGateway}};
}

// host-local returns the route without a gateway; macvlan fills in the IP's gateway, so the
// pod gets the same default route as with ipfence (whose pool has a gateway).
json host_local_ipam(const std::string& data_dir, bool holes) {
  json ranges = json::array();
  if (!holes) {
    ranges.push_back(host_local_range(kPoolFirst, kPoolLast));
  } else {
    std::uint32_t next = kPoolFirst;
    for (auto [a, b] : reserved_ranges()) {
      if (a > next) ranges.push_back(host_local_range(next, a - 1));
      next = b + 1;
    }
    if (next <= kPoolLast) ranges.push_back(host_local_range(next, kPoolLast));
  }
  return {{"type", "host-local"},
          {"dataDir", data_dir},
          {"ranges", json::array({ranges})},
          {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}};
}

// --- measurements -------------------------------------------------------------------------

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Nearest-rank percentile.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

struct Samples {
  std::vector<double> add, del, pair;  // ms per attachment
  double add_wall = 0, del_wall = 0;   // s, parallel waves
  int reserved_handed_out = 0;

  void merge(const Samples& o) {
    add.insert(add.end(), o.add.begin(), o.add.end());
    del.insert(del.end(), o.del.begin(), o.del.end());
    pair.insert(pair.end(), o.pair.begin(), o.pair.end());
    reserved_handed_out += o.reserved_handed_out;
  }
};

struct Variant {
  Variant(std::string label, std::string key, json conflist, bool is_ipfence = false)
      : label(std::move(label)),
        key(std::move(key)),
        conflist(std::move(conflist)),
        is_ipfence(is_ipfence) {}
  std::string label;
  std::string key;  // container ID prefix
  json conflist;
  bool is_ipfence = false;
  Samples seq, par;
  std::vector<double> alone;  // IPAM plugin alone, ADD+DEL ms
};

// The node's network namespace for this thread and the threads it starts later, restored
// when the guard goes away.
class EnterNetns {
 public:
  explicit EnterNetns(const std::string& path) {
    original_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (original_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
      std::string error = std::strerror(errno);
      if (target >= 0) ::close(target);
      if (original_ >= 0) ::close(original_);
      throw std::runtime_error("cannot enter " + path + ": " + error);
    }
    ::close(target);
  }
  ~EnterNetns() {
    if (::setns(original_, CLONE_NEWNET) != 0) std::perror("bench_cni: setns back");
    ::close(original_);
  }
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;

 private:
  int original_ = -1;
};

class Bench {
 public:
  Bench(Options options, AgentNode& node, std::vector<const Netns*> pods)
      : o_(options), node_(node), pods_(std::move(pods)), reserved_(kPoolLast - kPoolFirst + 1) {
    for (auto [a, b] : reserved_ranges())
      for (std::uint32_t ip = a; ip <= b; ++ip) reserved_[ip - kPoolFirst] = true;
  }

  std::vector<Variant>& variants() { return variants_; }
  std::string node_netns() const { return o_.ip_netns_exec ? node_.topology().node().name() : ""; }

  CniRuntime runtime(const Variant& v) const {
    return CniRuntime(v.conflist, AgentNode::cni_path(), node_netns());
  }

  CniCall call(const Variant& v, const std::string& phase, int pod) const {
    CniCall c;
    c.container_id = v.key + "-" + phase + "-" + std::to_string(pod);
    c.netns = pods_.at(pod)->path();
    c.ifname = "eth0";
    const std::string name = "bench-" + std::to_string(pod);
    c.args = {{"K8S_POD_NAMESPACE", "default"},
              {"K8S_POD_NAME", name},
              {"K8S_POD_UID", "uid-" + c.container_id},
              {"K8S_POD_INFRA_CONTAINER_ID", c.container_id}};
    return c;
  }

  // ADD; throws when it fails; counts a reserved IP handed out.
  double add(const Variant& v, CniRuntime& rt, const CniCall& c, Samples& s) const {
    check_stop();
    auto start = Clock::now();
    CniOutcome out = rt.add(c);
    double ms = ms_since(start);
    if (!out.ok())
      throw std::runtime_error(v.label + " ADD " + c.container_id +
                               " failed: " + out.output.dump() + " " + out.stderr_text);
    std::string address = out.output.at("ips").at(0).at("address");
    auto ip = parse_ip(address);
    if (ip && *ip >= kPoolFirst && *ip <= kPoolLast && reserved_[*ip - kPoolFirst])
      ++s.reserved_handed_out;
    s.add.push_back(ms);
    return ms;
  }

  double del(const Variant& v, CniRuntime& rt, const CniCall& c, Samples& s) const {
    check_stop();
    auto start = Clock::now();
    CniOutcome out = rt.del(c);
    double ms = ms_since(start);
    if (!out.ok())
      throw std::runtime_error(v.label + " DEL " + c.container_id +
                               " failed: " + out.output.dump() + " " + out.stderr_text);
    s.del.push_back(ms);
    return ms;
  }

  void warm_up() {
    for (auto& v : variants_) {
      CniRuntime rt = runtime(v);
      Samples ignored;
      for (int i = 0; i < 5; ++i) {
        CniCall c = call(v, "w", i % static_cast<int>(pods_.size()));
        add(v, rt, c, ignored);
        del(v, rt, c, ignored);
      }
    }
  }

  // Sequential: blocks of seq_block pods, ADD then DEL each; the variants' order rotates.
  void sequential() {
    const int blocks = (o_.pods + o_.seq_block - 1) / o_.seq_block;
    std::vector<CniRuntime> rts;
    for (auto& v : variants_) rts.push_back(runtime(v));
    for (int b = 0; b < blocks; ++b) {
      for (std::size_t k = 0; k < variants_.size(); ++k) {
        std::size_t i = (k + b) % variants_.size();
        Variant& v = variants_[i];
        AgentTime before = v.is_ipfence ? agent_time() : AgentTime{};
        for (int p = b * o_.seq_block; p < std::min(o_.pods, (b + 1) * o_.seq_block); ++p) {
          CniCall c = call(v, "s", p);
          double a = add(v, rts[i], c, v.seq);
          double d = del(v, rts[i], c, v.seq);
          v.seq.pair.push_back(a + d);
        }
        if (v.is_ipfence) agent_seq_ += agent_time() - before;
      }
    }
  }

  // Parallel: two rounds of pods/2 attachments (A B C, then C B A); per round an ADD wave
  // and a DEL wave with `parallel` workers, each owning every parallel-th pod.
  void parallel() {
    const int per_round = o_.pods / 2;
    for (int round = 0; round < 2; ++round) {
      for (std::size_t k = 0; k < variants_.size(); ++k) {
        Variant& v = variants_[round == 0 ? k : variants_.size() - 1 - k];
        AgentTime before = v.is_ipfence ? agent_time() : AgentTime{};
        parallel_round(v, "p" + std::to_string(round), per_round);
        if (v.is_ipfence) agent_par_ += agent_time() - before;
      }
    }
  }

  void parallel_round(Variant& v, const std::string& phase, int count) {
    const int workers = std::min(o_.parallel, count);
    std::vector<CniRuntime> rts;
    std::vector<Samples> samples(workers);
    for (int w = 0; w < workers; ++w) rts.push_back(runtime(v));
    std::vector<std::vector<double>> add_ms(workers);
    std::string error;
    std::mutex error_mu;
    auto wave = [&](bool is_add) {
      std::vector<std::thread> threads;
      auto start = Clock::now();
      for (int w = 0; w < workers; ++w)
        threads.emplace_back([&, w] {
          try {
            for (int p = w, n = 0; p < count; p += workers, ++n) {
              CniCall c = call(v, phase, p);
              if (is_add) {
                add_ms[w].push_back(add(v, rts[w], c, samples[w]));
              } else {
                double d = del(v, rts[w], c, samples[w]);
                samples[w].pair.push_back(add_ms[w].at(n) + d);
              }
            }
          } catch (const std::exception& e) {
            std::lock_guard lock(error_mu);
            if (error.empty()) error = e.what();
          }
        });
      for (auto& t : threads) t.join();
      return ms_since(start) / 1000.0;
    };
    v.par.add_wall += wave(true);
    if (!error.empty()) throw std::runtime_error(error);
    v.par.del_wall += wave(false);
    if (!error.empty()) throw std::runtime_error(error);
    for (const auto& s : samples) v.par.merge(s);
  }

  // The IPAM plugin alone, exec'd directly (no macvlan): ADD then DEL, variants interleaved.
  void ipam_alone() {
    std::vector<CniRuntime> rts;
    std::vector<json> configs;
    for (auto& v : variants_) {
      rts.push_back(runtime(v));
      json config = v.conflist.at("plugins").at(0);
      config["name"] = v.conflist.at("name");
      config["cniVersion"] = v.conflist.at("cniVersion");
      configs.push_back(config);
    }
    for (int i = 0; i < std::min(o_.alone, o_.pods); ++i)
      for (std::size_t k = 0; k < variants_.size(); ++k) {
        std::size_t j = (k + i) % variants_.size();
        Variant& v = variants_[j];
        const std::string type = configs[j].at("ipam").at("type");
        CniCall c = call(v, "i", i % static_cast<int>(pods_.size()));
        check_stop();
        auto start = Clock::now();
        CniOutcome a = rts[j].exec(type, "ADD", configs[j], c);
        CniOutcome d = rts[j].exec(type, "DEL", configs[j], c);
        v.alone.push_back(ms_since(start));
        if (!a.ok() || !d.ok())
          throw std::runtime_error(v.label + " IPAM alone failed: " + a.output.dump() +
                                   a.stderr_text + d.output.dump() + d.stderr_text);
      }
  }

  // Process start-up: CNI VERSION (no agent call, no file) per plugin binary.
  std::map<std::string, double> startup() {
    const std::vector<std::string> plugins{"ipfence", "host-local", "macvlan"};
    std::map<std::string, std::vector<double>> ms;
    CniRuntime rt = runtime(variants_.front());
    json config = {{"cniVersion", "1.0.0"}, {"name", "version"}};
    for (int i = 0; i < o_.startup; ++i)
      for (const auto& plugin : plugins) {
        auto start = Clock::now();
        CniOutcome out = rt.exec(plugin, "VERSION", config, CniCall{});
        ms[plugin].push_back(ms_since(start));
        if (!out.ok()) throw std::runtime_error(plugin + " VERSION failed: " + out.stderr_text);
      }
    std::map<std::string, double> p50;
    for (auto& [plugin, v] : ms) p50[plugin] = percentile(v, 50);
    // A bare fork+exec of /bin/true: the floor every plugin call pays.
    std::vector<double> floor;
    for (int i = 0; i < o_.startup; ++i) {
      auto start = Clock::now();
      run_process({"/bin/true"});
      floor.push_back(ms_since(start));
    }
    p50["/bin/true"] = percentile(floor, 50);
    return p50;
  }

  // The agent's allocation histogram (sum, count) from /metrics.
  struct AgentTime {
    double sum = 0;
    double count = 0;
    AgentTime operator-(const AgentTime& o) const { return {sum - o.sum, count - o.count}; }
    AgentTime& operator+=(const AgentTime& o) {
      sum += o.sum;
      count += o.count;
      return *this;
    }
  };

  AgentTime agent_time() const {
    if (metrics_addr_.empty()) return {};
    std::vector<std::string> argv{"curl", "-s", "-m", "5", "http://" + metrics_addr_ + "/metrics"};
    if (o_.ip_netns_exec) {  // the metrics address is the node namespace's loopback
      auto prefix = node_.topology().node().exec_prefix();
      argv.insert(argv.begin(), prefix.begin(), prefix.end());
    }
    ProcessResult r = run_process(argv);
    AgentTime t;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      const std::string name = "ipfence_ipam_allocation_duration_seconds_";
      if (line.rfind(name + "sum ", 0) == 0) t.sum = std::stod(line.substr(name.size() + 4));
      if (line.rfind(name + "count ", 0) == 0) t.count = std::stod(line.substr(name.size() + 6));
    }
    return t;
  }

  void set_metrics_addr(std::string addr) { metrics_addr_ = std::move(addr); }
  AgentTime agent_seq() const { return agent_seq_; }
  AgentTime agent_par() const { return agent_par_; }

 private:
  Options o_;
  AgentNode& node_;
  std::vector<const Netns*> pods_;
  std::vector<bool> reserved_;
  std::vector<Variant> variants_;
  std::string metrics_addr_;
  AgentTime agent_seq_, agent_par_;
};

// The agent's own log: mean "allocated/released ... in N us" per phase (container ID
// "<variant>-<phase>-<pod>").
std::map<std::string, std::pair<double, int>> agent_log_means(const std::string& log) {
  std::map<std::string, std::pair<double, int>> out;
  static const std::regex line_re(
      R"((allocated|released) containerID=ipf-(\w+)-\S+ .* in (\d+) us)");
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, line_re)) continue;
    std::string phase = m[2].str().substr(0, 1);  // s, p (p0/p1), i, w
    auto& [sum, n] = out[m[1].str() + " " + phase];
    sum += std::stod(m[3].str()) / 1000.0;
    ++n;
  }
  return out;
}

int run(const Options& o) {
  const auto started = Clock::now();
  // The agent at log level info, as deployed (AgentNode starts it at debug for tests). IPAM
  // only (--guard=off, when this agent has the eBPF guard) unless --agent-arg names the guard.
  std::vector<std::string> agent_args = o.agent_args;
  const bool guard_named = std::any_of(agent_args.begin(), agent_args.end(), [](const auto& a) {
    return a.rfind("--guard", 0) == 0 || a.rfind("--bpf-pin-dir", 0) == 0;
  });
  const bool has_guard =
      run_process({IPFENCE_AGENT_BIN, "--help"}).out.find("--guard ") != std::string::npos;
  if (has_guard && !guard_named) agent_args.push_back("--guard=off");
  AgentNodeOptions node_options;
  node_options.start_agent = false;
  AgentNode node(unique_name("cni"), node_options);
  {
    std::vector<std::string> argv = node.topology().node().exec_prefix();
    for (const std::string& a :
         {std::string(IPFENCE_AGENT_BIN), "--store=" + node.store_url(),
          "--socket=" + node.socket(), std::string("--node-name=node1"),
          "--cni-conf-dir=" + node.conf_dir(), std::string("--metrics-addr=127.0.0.1:0"),
          std::string("--log-level=info")})
      argv.push_back(a);
    argv.insert(argv.end(), agent_args.begin(), agent_args.end());
    node.agent() = ChildProcess(argv, node.dir() + "/agent.log");
    bool up = wait_until(
        [&] {
          return std::filesystem::exists(node.socket()) &&
                 node.agent_request("GET", "/v1/healthz").first == 200;
        },
        std::chrono::seconds(10));
    if (!up) throw std::runtime_error("ipfence-agent did not come up:\n" + node.agent().log());
  }
  node.apply(reserved_yaml());
  node.apply(pool_yaml());
  // The agent picks the objects up from the store's watch: wait for them.
  json status, pool_status;
  wait_until(
      [&] {
        status = node.agent_request("GET", "/v1/status").second;
        if (!status.is_object()) return false;
        for (const auto& p : status.value("pools", json::array()))
          if (p.value("name", "") == "bench-pool" && p.value("reserved", 0) > 0) pool_status = p;
        return !pool_status.is_null();
      },
      std::chrono::seconds(10));
  if (pool_status.is_null()) throw std::runtime_error("agent status: " + status.dump());

  // Pod namespaces, outside any timed region.
  std::vector<const Netns*> pods;
  for (int i = 0; i < o.pods; ++i)
    pods.push_back(&node.topology().add_pod("p" + std::to_string(i)));

  const std::string master = node.topology().master();
  const std::string data_dir = node.dir() + "/host-local";  // removed with the node's dir
  Bench bench(o, node, pods);
  // Container IDs "ipf-<phase>-<pod>" for ipfence, "hl-..." / "hlh-..." for host-local.
  bench.variants().emplace_back(
      "ipfence", "ipf", conflist("bench-ipfence", master, ipfence_ipam(node.socket())), true);
  bench.variants().emplace_back(
      "host-local", "hl", conflist("bench-hostlocal", master, host_local_ipam(data_dir, false)));
  if (o.holes)
    bench.variants().emplace_back(
        "host-local+holes", "hlh",
        conflist("bench-hostlocal-holes", master, host_local_ipam(data_dir, true)));

  std::optional<EnterNetns> in_node;
  if (!o.ip_netns_exec) in_node.emplace(node.topology().node().path());
  bench.set_metrics_addr(node.metrics_addr());

  std::string agent_args_text = " --log-level=info";
  for (const auto& a : agent_args) agent_args_text += " " + a;
  std::printf(
      "bench_cni: macvlan (bridge, master %s in a node netns) + IPAM; %d attachments per "
      "variant and phase; plugins exec'd %s\n"
      "pool bench-pool %s-%s: %llu IPs, %llu reserved by 1 SpiderReservedIP of %u ranges, "
      "store %s; agent args:%s\n",
      master.c_str(), o.pods,
      o.ip_netns_exec ? "through `ip netns exec <node>`" : "from the node netns (setns)",
      ip_text(kPoolFirst).c_str(), ip_text(kPoolLast).c_str(),
      static_cast<unsigned long long>(pool_status.value("total", 0)),
      static_cast<unsigned long long>(pool_status.value("reserved", 0)), kReservedRanges,
      node.store_url().c_str(), agent_args_text.c_str());
  std::fflush(stdout);

  auto phase = [&](const char* name, const std::function<void()>& body) {
    auto start = Clock::now();
    body();
    std::fprintf(stderr, "bench_cni: %s done in %.1f s\n", name, ms_since(start) / 1000);
  };
  std::map<std::string, double> startup;
  phase("warm-up", [&] { bench.warm_up(); });
  phase("sequential", [&] { bench.sequential(); });
  phase("parallel", [&] { bench.parallel(); });
  phase("IPAM alone", [&] { bench.ipam_alone(); });
  phase("start-up", [&] { startup = bench.startup(); });

  const Variant& base = bench.variants()[1];
  std::printf("\n## sequential: ADD then DEL, one pod at a time (ms)\n\n");
  std::printf(
      "| variant | ADD p50 | ADD p99 | DEL p50 | DEL p99 | ADD+DEL p50 | ADD+DEL p99 | "
      "p50 vs host-local | reserved IPs handed out |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& v : bench.variants()) {
    const Samples& s = v.seq;
    std::printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2fx | %d of %zu |\n",
                v.label.c_str(), percentile(s.add, 50), percentile(s.add, 99),
                percentile(s.del, 50), percentile(s.del, 99), percentile(s.pair, 50),
                percentile(s.pair, 99), percentile(s.pair, 50) / percentile(base.seq.pair, 50),
                s.reserved_handed_out, s.add.size());
  }

  std::printf("\n## %d in parallel: ADD wave, then DEL wave (latency ms, wall s)\n\n", o.parallel);
  std::printf(
      "| variant | ADD p50 | ADD p99 | DEL p50 | DEL p99 | ADD+DEL p50 | wall ADD | wall DEL | "
      "ADD+DEL/s | wall vs host-local | reserved IPs handed out |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  const double base_wall = base.par.add_wall + base.par.del_wall;
  for (const auto& v : bench.variants()) {
    const Samples& s = v.par;
    const double wall = s.add_wall + s.del_wall;
    std::printf(
        "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.2fx | %d of %zu |\n",
        v.label.c_str(), percentile(s.add, 50), percentile(s.add, 99), percentile(s.del, 50),
        percentile(s.del, 99), percentile(s.pair, 50), s.add_wall, s.del_wall, s.pair.size() / wall,
        wall / base_wall, s.reserved_handed_out, s.add.size());
  }

  // The breakdown, per variant: the IPAM plugin alone (exec'd by the bench, no macvlan), of
  // which two process start-ups (ADD and DEL each exec it once) and, for ipfence, the agent's
  // own time; the rest of the sequential ADD+DEL is macvlan plus the runtime's exec of it.
  auto means = agent_log_means(node.agent().log());
  auto agent_ms = [&](const std::string& key) {
    auto it = means.find(key);
    return it == means.end() || it->second.second == 0 ? NAN : it->second.first / it->second.second;
  };
  const double agent_pair = agent_ms("allocated s") + agent_ms("released s");
  std::printf("\n## where the time goes: sequential ADD+DEL, p50 or mean (ms)\n\n| part | ");
  for (const auto& v : bench.variants()) std::printf("%s | ", v.label.c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < bench.variants().size(); ++i) std::printf("---:|");
  std::printf("\n| whole ADD+DEL through macvlan (p50) | ");
  for (const auto& v : bench.variants()) std::printf("%.2f | ", percentile(v.seq.pair, 50));
  std::printf("\n| IPAM plugin alone, ADD+DEL (p50, %d pairs, no macvlan) | ",
              std::min(o.alone, o.pods));
  for (const auto& v : bench.variants()) std::printf("%.2f | ", percentile(v.alone, 50));
  std::printf("\n| - of which 2 start-ups of the IPAM binary (2 x VERSION p50) | ");
  for (const auto& v : bench.variants())
    std::printf("%.2f | ", 2 * startup[v.is_ipfence ? "ipfence" : "host-local"]);
  std::printf("\n| - of which the agent: allocate + release (agent log mean) | ");
  for (const auto& v : bench.variants())
    v.is_ipfence ? std::printf("%.2f | ", agent_pair) : std::printf("- | ");
  std::printf("\n| macvlan + its exec (whole p50 - IPAM alone p50) | ");
  for (const auto& v : bench.variants())
    std::printf("%.2f | ", percentile(v.seq.pair, 50) - percentile(v.alone, 50));
  std::printf("\n\nstart-up, CNI VERSION exec p50 over %d: ", o.startup);
  for (const auto& [plugin, ms] : startup) std::printf("%s %.2f ms; ", plugin.c_str(), ms);
  auto seq = bench.agent_seq();
  auto par = bench.agent_par();
  std::printf(
      "\nagent /metrics ipfence_ipam_allocation_duration_seconds mean: sequential %.3f ms "
      "(%.0f allocations), parallel %.3f ms (%.0f)\n",
      seq.count > 0 ? seq.sum / seq.count * 1000 : NAN, seq.count,
      par.count > 0 ? par.sum / par.count * 1000 : NAN, par.count);
  std::printf(
      "agent log, mean inside the allocator: allocate %.3f / release %.3f ms sequential, "
      "%.3f / %.3f ms parallel\n",
      agent_ms("allocated s"), agent_ms("released s"), agent_ms("allocated p"),
      agent_ms("released p"));
  std::fflush(stdout);

  ProcessResult left = node.ctl({"get", "allocations"});
  if (left.exit_code != 0 || !left.out.empty())
    throw std::runtime_error("allocations left behind: " + left.out + left.err);
  std::printf("no allocations left; total run %.0f s\n", ms_since(started) / 1000);
  return 0;
}

int usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--pods N] [--parallel N] [--holes] [--ip-netns-exec] [--agent-arg ARG]...\n"
      "  --pods N         attachments per variant and phase (default 200)\n"
      "  --parallel N     workers of the parallel phase (default 16)\n"
      "  --holes          add host-local with the reserved IPs as holes (slow: use --pods 20)\n"
      "  --ip-netns-exec  run each plugin through `ip netns exec` (as the e2e tests)\n"
      "  --agent-arg ARG  pass ARG to ipfence-agent (repeatable); without one naming\n"
      "                   --guard or --bpf-pin-dir the agent runs with --guard=off\n",
      argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--pods" && i + 1 < argc) {
      o.pods = std::atoi(argv[++i]);
    } else if (a == "--parallel" && i + 1 < argc) {
      o.parallel = std::atoi(argv[++i]);
    } else if (a == "--holes") {
      o.holes = true;
    } else if (a == "--agent-arg" && i + 1 < argc) {
      o.agent_args.push_back(argv[++i]);
    } else if (a == "--ip-netns-exec") {
      o.ip_netns_exec = true;
    } else if (a == "--help" || a == "-h") {
      usage(argv[0]);
      return 0;
    } else {
      return usage(argv[0]);
    }
  }
  if (o.pods < 2 || o.parallel < 1) return usage(argv[0]);
  // A plugin that exits without reading its stdin (VERSION) must not kill the bench with
  // SIGPIPE. A handler, not SIG_IGN: handlers are reset on exec, so plugins get the default.
  struct sigaction on_pipe {};
  on_pipe.sa_handler = [](int) {};
  ::sigaction(SIGPIPE, &on_pipe, nullptr);
  struct sigaction on_stop {};
  on_stop.sa_handler = [](int) { g_stop = true; };
  ::sigaction(SIGINT, &on_stop, nullptr);
  ::sigaction(SIGTERM, &on_stop, nullptr);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "bench_cni: needs root (network namespaces)\n");
    return 1;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cni: %s\n", e.what());
    return 1;
  }
}
