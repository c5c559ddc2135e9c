// bench_watch: the conflict watcher's per-packet cost, measured with BPF_PROG_TEST_RUN against
// an empty TC program in the same run, with the guard's tries at production size (2 pool
// prefixes, 10,000 reserved prefixes). Prints ns/packet per path and what the watcher adds:
//   - an IPv4 UDP frame: not ARP, the fast path every data frame takes;
//   - an ARP reply for a pool IP, reported every time (dedup interval 0): the event path,
//     ring-buffer record included (the buffer is big enough for a whole run and drained
//     between runs, so no reservation fails);
//   - the same reply seen again within the interval: the dedup-suppressed path;
//   - an ARP reply from outside every range, and an NS for a pool IP (suppressed).
// Needs root (BPF). Maps are private: nothing is pinned or attached.
#include <bpf/bpf.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "agent/datapath/watch.h"
#include "bench/prog_test_run.h"
#include "tests/bpf/frame_builder.h"

namespace {

using namespace ipfence;
using testing::Bytes;
using testing::L2;

using bench::kRepeat;
using bench::kReservedPrefixes;
using bench::kRounds;
using bench::median;
using bench::run_once;
// Room for one whole run of events: 1,000,000 records of 48 bytes.
constexpr std::uint32_t kRingBytes = 64u << 20;

Status load_tries(datapath::Guard& guard) {
  IPF_TRY(guard.set_pools({ipam::IpRange::parse("10.64.0.0/16").value(),
                           ipam::IpRange::parse("fd00:64::/112").value()}));
  IPF_TRY(guard.set_reserved(bench::reserved_prefixes()));  // as bench_guard has
  return {};
}

std::unique_ptr<datapath::Watcher> open_watcher(const datapath::Guard& guard,
                                                std::chrono::nanoseconds interval) {
  datapath::WatchOptions options;
  options.pin_dir.clear();
  options.prefix_maps = datapath::prefix_maps_of(guard);
  options.dedup_interval = interval;
  options.ringbuf_bytes = kRingBytes;
  auto w = datapath::Watcher::open(options);
  if (!w.ok()) {
    std::fprintf(stderr, "bench_watch: %s\n", w.error().message.c_str());
    std::exit(1);
  }
  return std::move(*w);
}

// Hands what the ring buffer holds to a callback that only counts.
std::size_t drain(datapath::Watcher& w) {
  std::size_t n = 0;
  auto polled = w.poll([&](const datapath::WatchEvent&) { ++n; });
  if (!polled.ok()) {
    std::fprintf(stderr, "bench_watch: %s\n", polled.error().message.c_str());
    std::exit(1);
  }
  return n;
}

}  // namespace

int main() {
  bench::Baseline baseline = bench::open_baseline("bench_watch", load_tries);
  datapath::Guard* guard = baseline.guard.get();
  const bench::EmptyProgram& empty = baseline.empty;
  auto every = open_watcher(*guard, std::chrono::nanoseconds(0));  // reports every frame
  auto dedup = open_watcher(*guard, std::chrono::seconds(10));     // the default interval

  const L2 host{testing::mac("02:00:00:ee:00:01"), {}};
  const auto pool_ip = testing::ip("10.64.3.7");
  struct Case {
    const char* name;
    Bytes frame;
    datapath::Watcher* watcher;
  };
  const Bytes reply = testing::arp_frame(host, 2, pool_ip, testing::ip("10.64.0.1"));
  const std::vector<Case> cases = {
      {"fast path: IPv4 UDP (not ARP)", testing::ipv4_frame(host, pool_ip), dedup.get()},
      {"fast path: IPv4 UDP, 1 VLAN tag",
       testing::ipv4_frame(L2{host.src, {testing::kEthVlan}}, pool_ip), dedup.get()},
      {"IPv6 UDP (header read, not NDP)", testing::ipv6_frame(host, testing::ip("fd00:64::7")),
       dedup.get()},
      {"ARP reply, outside every range",
       testing::arp_frame(host, 2, testing::ip("192.0.2.7"), testing::ip("192.0.2.1")),
       dedup.get()},
      {"ARP reply, pool IP: dedup-suppressed", reply, dedup.get()},
      {"ARP reply, pool IP: event sent", reply, every.get()},
      {"NS, pool IP: dedup-suppressed",
       testing::ndp_frame(host, testing::kNdpNeighborSolicit, testing::ip("fd00:64::7"),
                          testing::ip("fd00:64::1")),
       dedup.get()},
  };

  std::vector<std::vector<double>> samples(cases.size());
  std::vector<std::uint32_t> verdicts(cases.size());
  std::vector<double> empty_samples;
  const int empty_fd = bpf_program__fd(empty->progs.ipf_empty);
  std::size_t events = 0;
  std::vector<double> reader_samples;  // user space: ns per event read and decoded
  for (int round = 0; round < kRounds; ++round) {
    std::uint32_t ignored = 0;
    empty_samples.push_back(run_once(empty_fd, cases[0].frame, &ignored));
    for (std::size_t i = 0; i < cases.size(); ++i) {
      samples[i].push_back(run_once(cases[i].watcher->prog_fd(), cases[i].frame, &verdicts[i]));
      // Outside the timed run: the next starts with an empty buffer.
      const auto t0 = std::chrono::steady_clock::now();
      const std::size_t n = drain(*cases[i].watcher);
      const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - t0;
      if (n >= static_cast<std::size_t>(kRepeat)) reader_samples.push_back(took.count() / n);
      events += n;
    }
  }
  const auto every_counters = every->counters();
  const auto dedup_counters = dedup->counters();
  if (!every_counters.ok() || !dedup_counters.ok()) {
    std::fprintf(stderr, "bench_watch: cannot read the watcher's counters\n");
    return 1;
  }
  const double base = median(empty_samples);

  std::printf("watcher per-packet cost: BPF_PROG_TEST_RUN x %d, median of %d rounds\n", kRepeat,
              kRounds);
  std::printf("maps: 2 pool prefixes, %d reserved prefixes (the guard's tries, shared)\n\n",
              kReservedPrefixes);
  std::printf("%-42s %10s %10s %8s\n", "path", "ns/packet", "added ns", "verdict");
  std::printf("%-42s %10.1f %10s %8s\n", "empty TC program (baseline)", base, "-", "OK");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const double ns = median(samples[i]);
    std::printf("%-42s %10.1f %+10.1f %8s\n", cases[i].name, ns, ns - base,
                verdicts[i] == static_cast<std::uint32_t>(TC_ACT_UNSPEC) ? "UNSPEC" : "?");
  }
  std::printf(
      "\nevent path: %llu events sent, %llu lost, %zu read back; dedup watcher: %llu sent, "
      "%llu suppressed\n",
      static_cast<unsigned long long>(every_counters->sent),
      static_cast<unsigned long long>(every_counters->lost), events,
      static_cast<unsigned long long>(dedup_counters->sent),
      static_cast<unsigned long long>(dedup_counters->suppressed));
  if (!reader_samples.empty()) {
    const double per_event = median(reader_samples);
    std::printf(
        "reader: %.0f ns per event (ring buffer to WatchEvent to a callback that counts), "
        "%.1f M events/s on one thread\n",
        per_event, 1e3 / per_event);
  }
  return 0;
}
