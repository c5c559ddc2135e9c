// bench_guard_resync: how long the real agent takes from start to having 65,536 leases in
// the guard's maps, and how much memory it holds with them (target: VmRSS < 30 MB).
//
// The store is filled BEFORE the agent starts: one /15 pool, and 65,536 allocations on this
// node, each with its own MAC, made with ipam::Allocator (on an in-memory copy of the store,
// then written to the agent's file store in a few big transactions and compacted into its
// snapshot). Then:
//   1. cold start: empty bpffs, the agent creates the maps and fills them (full resync);
//   2. warm restart: SIGTERM, start again; the pinned maps already hold every lease, so the
//      diff sync writes nothing;
//   3. the same store with --guard=off: what the IPAM state alone costs, for comparison.
// In runs 1 and 3 it also times allocate + release through the agent's API (what the CNI
// plugin sends on ADD and DEL, with the pod's MAC and master) on the full node: what the guard
// adds to each with that many leases is the ratio of the two.
// With the maps full after the cold start, it also times how soon a SpiderReservedIP applied
// with ipfencectl is enforced (frames from the node side of the master, sniffed outside).
// Times run from spawning the agent to GET /v1/guards reporting all leases (healthz first).
// Needs root (bpffs, BPF, network namespaces); everything is removed again at the end.
//
// Usage: bench_guard_resync [LEASES] [--store=file|etcd]   (default 65536, the agent's file
//        store; etcd: one real member in its own namespace, as a cluster's agents use it)
//        SMAPS_DUMP=/tmp/smaps bench_guard_resync   also copies the agent's /proc/PID/smaps at
//        each measurement to /tmp/smaps.1, .2, .3 (cold, restart, --guard=off)
#include <fcntl.h>
#include <linux/if_packet.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "agent/unique_fd.h"
#include "ipam/allocator.h"
#include "ipam/store/etcd_store.h"
#include "ipam/store/etcd_url.h"
#include "ipam/store/file_store.h"
#include "ipam/store/memory_store.h"
#include "tests/e2e/support/agent_api.h"
#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/etcd_cluster.h"

using namespace ipfence;
using namespace ipfence::e2e;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr double kTargetRssMb = 30;

std::string mac_of(std::uint32_t i) {
  char text[18];
  std::snprintf(text, sizeof text, "02:1f:%02x:%02x:%02x:%02x", (i >> 24) & 0xff, (i >> 16) & 0xff,
                (i >> 8) & 0xff, i & 0xff);
  return text;
}

// `length` hex digits, the same for the same (i, salt): the shape of a runtime's container ID
// or a UUID's parts, so that the store and the view hold strings as long as a cluster's.
std::string hex_id(std::uint64_t i, std::uint64_t salt, std::size_t length) {
  std::string out;
  for (std::uint64_t x = i * 0x9E3779B97F4A7C15ull + salt; out.size() < length;) {
    x += 0x9E3779B97F4A7C15ull;  // splitmix64
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(z));
    out += digits;
  }
  out.resize(length);
  return out;
}

std::string uuid(std::uint64_t i, std::uint64_t salt) {
  const std::string h = hex_id(i, salt, 32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

template <typename T>
T must(Result<T> result, const std::string& what) {
  if (!result) throw std::runtime_error(what + ": " + result.error().message);
  return std::move(*result);
}

// Allocates `count` IPs from `pool` for pods on `node` and writes them into `target`, in
// transactions of `batch_ops` puts (etcd takes at most 128 by default).
void write_allocations(store::Store& target, const std::string& pool, const std::string& node,
                       std::uint32_t count, std::size_t batch_ops) {
  store::MemoryStore memory;
  store::ListResult existing = must(target.list(""), "list");
  std::set<std::string> existing_keys;
  store::Txn copy;
  for (const auto& kv : existing.kvs) {
    existing_keys.insert(kv.key);
    copy.ops.push_back(store::Op::put(kv.key, kv.value));
  }
  must(memory.commit(copy), "copy");

  ipam::Allocator allocator(memory, {.node = node});
  if (auto loaded = allocator.resync(); !loaded)
    throw std::runtime_error("resync: " + loaded.error().message);
  for (std::uint32_t i = 0; i < count; ++i) {
    ipam::AllocateRequest request;
    // As a kubelet and containerd name them: a 64-hex container ID, a cni-<uuid> netns, a
    // deployment's pod name and a UUID.
    request.identity.container_id = hex_id(i, 1, 64);
    request.identity.ifname = "net1";
    request.identity.netns = "/var/run/netns/cni-" + uuid(i, 2);
    request.identity.network = "macvlan-ens192";
    request.identity.pod_namespace = "default";
    request.identity.pod_name = "resync-" + hex_id(i / 8, 3, 10) + "-" + hex_id(i, 4, 5);
    request.identity.pod_uid = uuid(i, 5);
    request.identity.mac = mac_of(i);
    request.identity.master = "ens192";
    request.identity.node = node;
    request.ipv4_pools = {pool};
    must(allocator.allocate(request), "allocate #" + std::to_string(i));
  }

  store::ListResult all = must(memory.list(""), "list");
  store::Txn batch;
  std::size_t written = 0;
  auto flush = [&] {
    if (batch.ops.empty()) return;
    auto committed = must(target.commit(batch), "commit");
    if (!committed.succeeded) throw std::runtime_error("commit failed");
    written += batch.ops.size();
    batch.ops.clear();
  };
  for (const auto& kv : all.kvs) {
    if (existing_keys.count(kv.key)) continue;
    batch.ops.push_back(store::Op::put(kv.key, kv.value));
    if (batch.ops.size() == batch_ops) flush();
  }
  flush();
  std::printf("  wrote %zu keys for %u allocations\n", written, count);
}

void write_to_file_store(const std::string& store_dir, const std::string& pool,
                         const std::string& node, std::uint32_t count) {
  auto file = must(store::FileStore::open(store_dir), "open " + store_dir);
  write_allocations(*file, pool, node, count, 8192);
  // As a long-lived store looks: everything in the snapshot, an empty log (big transactions
  // kept as log history would cost the agent memory that a real store does not).
  auto listed = must(file->list(""), "list");
  if (auto compacted = file->compact(listed.revision); !compacted)
    throw std::runtime_error("compact: " + compacted.error().message);
}

// etcd is reachable from the node's namespace only: the client runs in a thread that entered
// it (a network namespace is per thread).
void write_to_etcd(const std::string& url, const Netns& node_ns, const std::string& pool,
                   const std::string& node, std::uint32_t count) {
  std::exception_ptr failed;
  std::thread writer([&] {
    try {
      agent::UniqueFd ns(::open(node_ns.path().c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0)
        throw std::runtime_error("enter " + node_ns.path() + ": " + std::strerror(errno));
      auto options = must(store::etcd::parse_url(url), "etcd url " + url);
      auto etcd = must(store::EtcdStore::open(options), "open " + url);
      write_allocations(*etcd, pool, node, count, 128);
    } catch (...) {
      failed = std::current_exception();
    }
  });
  writer.join();
  if (failed) std::rethrow_exception(failed);
}

// Sum of "memlock:" over the agent's BPF map fds (kernel memory the maps are charged).
std::uint64_t map_memlock_bytes(pid_t pid) {
  std::uint64_t total = 0;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(fd_dir, ec)) {
    std::error_code link_ec;
    auto target = std::filesystem::read_symlink(entry.path(), link_ec);
    if (link_ec || target.string() != "anon_inode:bpf-map") continue;
    std::ifstream info("/proc/" + std::to_string(pid) + "/fdinfo/" +
                       entry.path().filename().string());
    for (std::string line; std::getline(info, line);)
      if (line.rfind("memlock:", 0) == 0) total += std::stoull(line.substr(8));
  }
  return total;
}

// A "Name:   123 kB" line of /proc/PID/status, in KiB (0 when absent).
std::uint64_t status_kib(pid_t pid, std::string_view name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ':')
      return std::stoull(line.substr(name.size() + 1));
  return 0;
}

struct Run {
  double to_healthy = 0;
  double to_leases = 0;
  double rss_mb = 0;
  double hwm_mb = 0;
  double anon_mb = 0;  // heap and stacks: what the agent's own data costs
  // Pages of the binary and its libraries (with etcd, libcurl's tree too), and the conflict
  // ring buffer (128 KiB, mapped twice: 256 KiB).
  double file_mb = 0;
  double maps_mb = 0;
};

// Starts the agent and waits for `leases` in /v1/guards (or only for health, guard off).
Run start_and_measure(AgentNode& node, std::uint32_t leases, bool guard) {
  Run run;
  const auto start = std::chrono::steady_clock::now();
  node.start_agent();
  run.to_healthy = Seconds(std::chrono::steady_clock::now() - start).count();
  if (guard) {
    long seen = -1;
    bool done = wait_until(
        [&] {
          auto [status, body] = node.agent_request("GET", "/v1/guards");
          seen = status == 200 ? body.value("leases", -1L) : -1;
          return seen == static_cast<long>(leases);
        },
        std::chrono::seconds(300));
    if (!done)
      throw std::runtime_error("leases stuck at " + std::to_string(seen) + "\n" +
                               node.agent().log().substr(0, 4000));
  }
  run.to_leases = Seconds(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let it settle
  pid_t pid = node.agent().pid();
  run.rss_mb = vm_rss_kib(pid) / 1024.0;
  run.hwm_mb = status_kib(pid, "VmHWM") / 1024.0;
  run.anon_mb = status_kib(pid, "RssAnon") / 1024.0;
  run.file_mb = status_kib(pid, "RssFile") / 1024.0;
  if (const char* dump = std::getenv("SMAPS_DUMP")) {  // for finding where the memory is
    static int runs = 0;
    std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
    std::ofstream(std::string(dump) + "." + std::to_string(++runs)) << smaps.rdbuf();
  }
  run.maps_mb = map_memlock_bytes(pid) / 1048576.0;
  return run;
}

// A frame from the node's side of the master every 5 ms, claiming `ip` (in no pool, not the
// node's address, from the master's own MAC: the guard passes it as other traffic until `ip`
// is reserved). Then `ipfencectl apply` reserves `ip`, and the time from apply returning to
// the first frame that no longer reaches the outside host is the enforcement latency with
// that many leases in the maps. Returns the latencies of `rounds` rounds in ms.
std::vector<double> enforcement_latency(AgentNode& node, const std::string& ip, int rounds) {
  const Netns& node_ns = node.topology().node();
  Sniffer outside(node.topology().outside().name(), "wire0");
  Mac master_mac = link_mac(node_ns, "ens192");
  Mac outside_mac = link_mac(node.topology().outside(), "wire0");
  const int ifindex = ifindex_in_netns(node_ns.name(), "ens192");
  const int fd = socket_in_netns(node_ns.name(), AF_PACKET, SOCK_RAW, 0);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> sent;
  std::thread sender([&] {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, outside_mac.data(), 6);
    auto next = std::chrono::steady_clock::now();
    for (std::size_t seq = 0; !stop; ++seq) {
      auto frame = udp_frame(master_mac, outside_mac, ip, "10.6.0.1", 9,
                             "ipfence-seq=" + std::to_string(seq));
      {
        std::lock_guard lock(mu);
        sent.push_back(std::chrono::steady_clock::now());
      }
      ::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      next += std::chrono::milliseconds(5);
      std::this_thread::sleep_until(next);
    }
  });
  struct Stop {
    std::atomic<bool>& stop;
    std::thread& sender;
    int fd;
    ~Stop() {
      stop = true;
      sender.join();
      ::close(fd);
    }
  } stopper{stop, sender, fd};

  std::vector<double> latencies;
  if (!outside.wait_for(ipv4_from(ip), std::chrono::seconds(2)))
    throw std::runtime_error("frames from " + ip + " do not reach the outside host");
  for (int round = 0; round < rounds; ++round) {
    const auto applied = std::chrono::steady_clock::now();
    node.apply(
        "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderReservedIP\n"
        "metadata:\n  name: bench-late\nspec:\n  ips:\n  - " +
        ip + "\n");
    const auto returned = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::set<std::size_t> seen;
    for (const Frame& f : outside.frames())
      if (f.src_ip == ip)
        if (auto seq = UdpStream::sequence(f)) seen.insert(*seq);
    std::vector<std::chrono::steady_clock::time_point> times;
    {
      std::lock_guard lock(mu);
      times = sent;
    }
    std::size_t first_dropped = times.size();
    for (std::size_t seq = times.size(); seq-- > 0 && times[seq] >= applied;) {
      if (seen.count(seq)) break;
      first_dropped = seq;
    }
    if (first_dropped + 10 >= times.size())
      throw std::runtime_error("a reservation was not enforced within 1.4 s");
    latencies.push_back(
        std::chrono::duration<double, std::milli>(times[first_dropped] - returned).count());
    ProcessResult deleted = node.ctl({"delete", "sr", "bench-late"});
    if (deleted.exit_code != 0) throw std::runtime_error("delete sr: " + deleted.err);
    const auto lifted = std::chrono::steady_clock::now();
    bool flowing = wait_until(
        [&] {
          for (const Frame& f : outside.frames())
            if (f.src_ip == ip && f.at > lifted) return true;
          return false;
        },
        std::chrono::seconds(3));
    if (!flowing) throw std::runtime_error("frames did not pass again after the delete");
    outside.clear();
  }
  return latencies;
}

struct CallTimes {
  std::vector<double> allocate_ms, release_ms;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// `rounds` sequential allocate + release pairs of one more pod on the full node, each call
// timed on its own (the agent fsyncs its store once per call).
CallTimes add_del_latency(AgentNode& node, int rounds) {
  CallTimes times;
  using Ms = std::chrono::duration<double, std::milli>;
  for (int i = 0; i < rounds; ++i) {
    const std::string container = "adddel-" + std::to_string(i);
    nlohmann::json body = allocate_body(container, "resync-pool");
    body["mac"] = mac_of(0x01000000u + static_cast<std::uint32_t>(i));
    body["master"] = "ens192";
    auto sent = std::chrono::steady_clock::now();
    ApiAnswer answer = agent_call(node.socket(), "POST", "/v1/ipam/allocate", body);
    times.allocate_ms.push_back(Ms(std::chrono::steady_clock::now() - sent).count());
    if (!answer.ok()) throw std::runtime_error("allocate " + container + ": " + answer.body.dump());
    sent = std::chrono::steady_clock::now();
    answer = agent_call(node.socket(), "POST", "/v1/ipam/release", release_body(container));
    times.release_ms.push_back(Ms(std::chrono::steady_clock::now() - sent).count());
    if (!answer.ok()) throw std::runtime_error("release " + container + ": " + answer.body.dump());
  }
  return times;
}

void print_calls(std::uint32_t leases, int rounds, const CallTimes& on, const CallTimes& off) {
  const auto row = [](const char* what, const std::vector<double>& a,
                      const std::vector<double>& b) {
    const double on50 = percentile(a, 0.5), off50 = percentile(b, 0.5);
    std::printf("  %-8s p50 %6.2f vs %6.2f ms (%.2fx)  p99 %6.2f vs %6.2f ms\n", what, on50, off50,
                on50 / off50, percentile(a, 0.99), percentile(b, 0.99));
  };
  std::printf("allocate/release with %u leases on the node, guard on vs --guard=off (%d each):\n",
              leases, rounds);
  row("allocate", on.allocate_ms, off.allocate_ms);
  row("release", on.release_ms, off.release_ms);
}

void print(const char* what, const Run& r, bool guard) {
  std::printf("%-34s healthz %6.2f s", what, r.to_healthy);
  if (guard) std::printf("  leases in maps %6.2f s", r.to_leases);
  std::printf("  VmRSS %6.1f MB (anon %.1f, files %.1f)  VmHWM %6.1f MB", r.rss_mb, r.anon_mb,
              r.file_mb, r.hwm_mb);
  if (guard) std::printf("  map memlock %5.1f MB", r.maps_mb);
  std::printf("\n");
}

int bench(std::uint32_t leases, bool on_etcd) {
  BpffsMount bpffs;
  AgentNodeOptions options;
  options.start_agent = false;
  options.extra_agent_args = {bpffs.agent_flag(), "--max-leases=" + std::to_string(leases + 256)};
  options.ctl_in_node_netns = on_etcd;  // where etcd is reachable
  options.start_timeout = std::chrono::seconds(300);
  AgentNode node(unique_name("resync"), options);
  std::optional<EtcdCluster> etcd;
  if (on_etcd) {
    etcd.emplace(unique_name("rsetcd"), 1);
    node.set_store_url(etcd->attach(node.topology().node()));
  }
  node.apply(seed_multus_config("ens192"));
  node.apply(
      "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\n"
      "metadata:\n  name: resync-pool\nspec:\n  subnet: 10.8.0.0/15\n  ips:\n"
      "  - 10.8.0.1-10.9.1.0\n");  // room for the allocate/release rounds
  std::printf(
      "bench_guard_resync: %u allocations on node1, each with its own MAC, 64-hex container "
      "ID and cni-<uuid> netns, in %s\n",
      leases, on_etcd ? "etcd (one member, reached over a veth)" : "the agent's file store");
  const auto t0 = std::chrono::steady_clock::now();
  if (on_etcd)
    write_to_etcd(node.store_url(), node.topology().node(), "resync-pool", "node1", leases);
  else
    write_to_file_store(node.dir() + "/store", "resync-pool", "node1", leases);
  std::printf("  store written in %.1f s\n",
              Seconds(std::chrono::steady_clock::now() - t0).count());

  Run cold = start_and_measure(node, leases, true);
  std::vector<double> latencies = enforcement_latency(node, "10.10.0.5", 5);
  constexpr int kCallRounds = 200;
  CallTimes calls_on = add_del_latency(node, kCallRounds);
  node.stop_agent(SIGTERM);
  Run warm = start_and_measure(node, leases, true);
  node.stop_agent(SIGTERM);

  AgentNodeOptions off_options;
  off_options.start_agent = false;
  off_options.store_url = node.store_url();  // a file store's path; etcd's below
  off_options.start_timeout = options.start_timeout;
  off_options.extra_agent_args = {"--guard=off"};
  AgentNode off(unique_name("resyncoff"), off_options);
  if (etcd) off.set_store_url(etcd->attach(off.topology().node()));
  Run baseline = start_and_measure(off, leases, false);
  CallTimes calls_off = add_del_latency(off, kCallRounds);
  off.stop_agent(SIGTERM);

  print("cold start (empty maps):", cold, true);
  print("restart (maps pinned, full):", warm, true);
  print("--guard=off (IPAM state only):", baseline, false);
  print_calls(leases, kCallRounds, calls_on, calls_off);
  std::sort(latencies.begin(), latencies.end());
  std::printf(
      "reservation applied with %u leases in the maps, enforced after ipfencectl apply "
      "returned: min %.1f ms, median %.1f ms, max %.1f ms (5 rounds, frames every 5 ms)\n",
      leases, latencies.front(), latencies[latencies.size() / 2], latencies.back());
  std::printf(
      "full resync of %u leases (%s store): %.2f s from start; agent VmRSS %.1f MB (target < "
      "%.0f MB: %s); the guard's share (VmRSS guard on - --guard=off) %.1f MB, %.0f bytes a "
      "lease\n",
      leases, on_etcd ? "etcd" : "file", cold.to_leases, cold.rss_mb, kTargetRssMb,
      cold.rss_mb < kTargetRssMb ? "met" : "MISSED", cold.rss_mb - baseline.rss_mb,
      (cold.rss_mb - baseline.rss_mb) * 1048576.0 / leases);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench_guard_resync: needs root (bpffs, BPF, network namespaces)\n");
    return 1;
  }
  std::uint32_t leases = 65536;
  bool on_etcd = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--store=etcd" || arg == "--store=file") {
      on_etcd = arg == "--store=etcd";
    } else if (!arg.empty() && std::isdigit(static_cast<unsigned char>(arg[0]))) {
      leases = static_cast<std::uint32_t>(std::stoul(arg));
    } else {
      std::fprintf(stderr, "usage: bench_guard_resync [LEASES] [--store=file|--store=etcd]\n");
      return 2;
    }
  }
  try {
    return bench(leases, on_etcd);
  } catch (const std::exception& e) {  // caught, so that every RAII cleanup runs
    std::fprintf(stderr, "bench_guard_resync: %s\n", e.what());
    return 1;
  }
}
