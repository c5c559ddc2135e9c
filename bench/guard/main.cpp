// bench_guard: the guard's per-packet cost, measured with BPF_PROG_TEST_RUN against an empty
// TC program in the same run, with production-sized maps (65,536 leases, 10,000 reserved
// prefixes). Prints ns/packet per path and what the guard adds to the empty program, next to
// the floor of any hash-based design: one lookup in a map shaped like the lease map.
// Needs root (BPF). Maps are private: nothing is pinned or attached.
#include <bpf/bpf.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "empty.skel.h"
#include "lookup_floor.skel.h"
#include "tests/bpf/frame_builder.h"

namespace {

using namespace ipfence;
using testing::Bytes;
using testing::L2;

constexpr int kRepeat = 1'000'000;
constexpr int kRounds = 5;  // the median of 5 rounds evens out a noisy shared machine
constexpr int kLeases = 65'536;
constexpr int kReservedPrefixes = 10'000;
constexpr double kTargetAddedNs = 30;

datapath::Mac pod_mac(int pod) {
  datapath::Mac m;
  m.bytes = {0x02,
             0x00,
             0x00,
             static_cast<std::uint8_t>(pod >> 16),
             static_cast<std::uint8_t>(pod >> 8),
             static_cast<std::uint8_t>(pod)};
  return m;
}

// Pod p (0 <= p < kLeases/2) holds 10.64.<p/256>.<p%256> and fd00:64::<p>.
ipam::IpAddress pod_v4(int p) {
  return ipam::IpAddress::v4((10u << 24) | (64u << 16) | static_cast<std::uint32_t>(p));
}
ipam::IpAddress pod_v6(int p) {
  return ipam::IpAddress(ipam::IpFamily::v6,
                         (ipam::u128{0xfd00'0064} << 96) | static_cast<ipam::u128>(p));
}

struct Measured {
  std::string name;
  double ns = 0;
  std::uint32_t retval = 0;
};

// ns per run of `prog_fd` on `frame`, repeated kRepeat times in the kernel.
double run_once(int prog_fd, const Bytes& frame, std::uint32_t* retval) {
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<__u32>(frame.size());
  opts.repeat = kRepeat;
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
    std::perror("BPF_PROG_TEST_RUN");
    std::exit(1);
  }
  *retval = opts.retval;
  return opts.duration;  // the kernel reports the mean ns per repetition
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Status load_maps(datapath::Guard& guard) {
  std::vector<datapath::Lease> leases;
  std::vector<std::string> macs;
  for (int p = 0; p < kLeases / 2; ++p) {
    const std::string mac = pod_mac(p).to_string();
    leases.push_back({pod_v4(p), mac});
    leases.push_back({pod_v6(p), mac});
    macs.push_back(mac);
  }
  // 10,000 reserved /30s and /126s, never adjacent (so none merge): 172.16.0.0 + 8i, fd00:99:: +
  // 8i.
  std::vector<ipam::IpRange> reserved;
  for (int i = 0; i < kReservedPrefixes / 2; ++i) {
    const auto v4 =
        ipam::IpAddress::v4((172u << 24) | (16u << 16) | static_cast<std::uint32_t>(8 * i));
    reserved.push_back({v4, ipam::IpAddress::v4(static_cast<std::uint32_t>(v4.value()) + 3)});
    const ipam::u128 v6 = (ipam::u128{0xfd00'0099} << 96) | static_cast<ipam::u128>(8 * i);
    reserved.push_back(
        {ipam::IpAddress(ipam::IpFamily::v6, v6), ipam::IpAddress(ipam::IpFamily::v6, v6 + 3)});
  }
  const std::vector<ipam::IpRange> pools = {ipam::IpRange::parse("10.64.0.0/16").value(),
                                            ipam::IpRange::parse("fd00:64::/112").value()};
  IPF_TRY(guard.set_pools(pools));
  IPF_TRY(guard.set_reserved(reserved));
  IPF_TRY(guard.set_leases(leases));
  IPF_TRY(guard.set_pod_macs(macs));
  return {};
}

}  // namespace

int main() {
  datapath::GuardOptions options;
  options.pin_dir.clear();
  auto guard = datapath::Guard::open(options);
  if (!guard.ok()) {
    std::fprintf(stderr, "bench_guard: %s\n", guard.error().message.c_str());
    return 1;
  }
  if (const Status st = load_maps(*guard); !st.ok()) {
    std::fprintf(stderr, "bench_guard: %s\n", st.error().message.c_str());
    return 1;
  }
  std::unique_ptr<empty_bpf, decltype(&empty_bpf__destroy)> empty(empty_bpf__open_and_load(),
                                                                  empty_bpf__destroy);
  if (!empty) {
    std::fprintf(stderr, "bench_guard: cannot load the empty TC program\n");
    return 1;
  }

  std::unique_ptr<lookup_floor_bpf, decltype(&lookup_floor_bpf__destroy)> floor(
      lookup_floor_bpf__open_and_load(), lookup_floor_bpf__destroy);
  if (!floor) {
    std::fprintf(stderr, "bench_guard: cannot load the lookup floor program\n");
    return 1;
  }
  // The floor's map holds the same 65,536 leases, copied entry by entry from the guard's.
  {
    const int from = guard->map_fd(datapath::GuardMap::leases);
    const int to = bpf_map__fd(floor->maps.floor_leases);
    ipf_lease_key key{};
    ipf_lease_key next{};
    const ipf_lease_key* prev = nullptr;
    while (bpf_map_get_next_key(from, prev, &next) == 0) {
      ipf_lease value{};
      if (bpf_map_lookup_elem(from, &next, &value) == 0)
        bpf_map_update_elem(to, &next, &value, BPF_ANY);
      key = next;
      prev = &key;
    }
  }

  const int p = 12'345;  // some pod in the middle of the maps
  const L2 pod{pod_mac(p), {}};
  const L2 node{testing::mac("02:00:00:ff:ff:01"), {}};
  struct Case {
    const char* name;
    Bytes frame;
    bool pass;  // which target applies
  };
  const std::vector<Case> cases = {
      {"pass: IPv4 pod, own lease", testing::ipv4_frame(pod, pod_v4(p)), true},
      {"pass: IPv6 pod, own lease", testing::ipv6_frame(pod, pod_v6(p)), true},
      {"pass: IPv4 pod, own lease, 1 VLAN tag",
       testing::ipv4_frame(L2{pod_mac(p), {testing::kEthVlan}}, pod_v4(p)), true},
      {"pass: ARP reply, own lease", testing::arp_frame(pod, 2, pod_v4(p), pod_v4(p + 1)), true},
      {"pass: node traffic (all lookups miss)", testing::ipv4_frame(node, testing::ip("192.0.2.1")),
       true},
      {"drop: IPv4 reserved", testing::ipv4_frame(pod, testing::ip("172.16.3.1")), false},
      {"drop: IPv4 mac_mismatch", testing::ipv4_frame(pod, pod_v4(p + 1)), false},
      {"drop: IPv6 unallocated", testing::ipv6_frame(pod, testing::ip("fd00:64::ffff")), false},
  };

  const Bytes baseline_frame = cases[0].frame;
  std::vector<std::vector<double>> samples(cases.size());
  std::vector<double> empty_samples;
  std::vector<double> floor_samples;
  std::vector<std::uint32_t> verdicts(cases.size());
  const int empty_fd = bpf_program__fd(empty->progs.ipf_empty);
  for (int round = 0; round < kRounds; ++round) {
    std::uint32_t ignored = 0;
    empty_samples.push_back(run_once(empty_fd, baseline_frame, &ignored));
    floor_samples.push_back(
        run_once(bpf_program__fd(floor->progs.ipf_lookup_floor), baseline_frame, &ignored));
    for (std::size_t i = 0; i < cases.size(); ++i) {
      samples[i].push_back(run_once(guard->prog_fd(), cases[i].frame, &verdicts[i]));
    }
  }
  const double base = median(empty_samples);
  const double lookup = median(floor_samples) - base;

  std::printf("guard per-packet cost: BPF_PROG_TEST_RUN x %d, median of %d rounds\n", kRepeat,
              kRounds);
  std::printf("maps: %d leases, %d reserved prefixes, %d pod MACs, 2 pool prefixes\n\n", kLeases,
              kReservedPrefixes, kLeases / 2);
  std::printf("%-42s %10s %10s %8s\n", "path", "ns/packet", "added ns", "verdict");
  std::printf("%-42s %10.1f %10s %8s\n", "empty TC program (baseline)", base, "-", "OK");
  std::printf("%-42s %10.1f %+10.1f %8s\n", "one lease-map hash lookup (floor)", base + lookup,
              lookup, "OK");
  const double pod_pass = median(samples[0]) - base;
  double worst_pass = 0;
  double worst_drop = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const double ns = median(samples[i]);
    const double added = ns - base;
    (cases[i].pass ? worst_pass : worst_drop) =
        std::max(cases[i].pass ? worst_pass : worst_drop, added);
    std::printf("%-42s %10.1f %+10.1f %8s\n", cases[i].name, ns, added,
                verdicts[i] == TC_ACT_SHOT ? "SHOT"
                : verdicts[i] == TC_ACT_OK ? "OK"
                                           : "?");
  }
  std::printf("\npod pass path (own lease): %+.1f ns added; target under %.0f ns: %s\n", pod_pass,
              kTargetAddedNs, pod_pass < kTargetAddedNs ? "met" : "MISSED");
  std::printf(
      "  of which one hash lookup on this machine: %+.1f ns; the guard's own work: %+.1f ns\n",
      lookup, pod_pass - lookup);
  std::printf("worst added: pass %.1f ns (node traffic misses every map), drop %.1f ns\n",
              worst_pass, worst_drop);
  return 0;
}
