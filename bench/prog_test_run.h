// What bench_guard and bench_watch share: one TC program run on one frame with
// BPF_PROG_TEST_RUN, the median of rounds, and the reserved prefixes both load (10,000 /30s and
// /126s, never adjacent, so none merge: 172.16.0.0 + 8i and fd00:99:: + 8i).
#pragma once

#include <bpf/bpf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "agent/datapath/guard.h"
#include "empty.skel.h"
#include "ipam/ip_address.h"
#include "tests/bpf/frame_builder.h"

namespace ipfence::bench {

inline constexpr int kRepeat = 1'000'000;
inline constexpr int kRounds = 5;  // the median of 5 rounds evens out a noisy shared machine
inline constexpr int kReservedPrefixes = 10'000;

// ns per run of `prog_fd` on `frame`, repeated kRepeat times in the kernel; exits on failure.
inline double run_once(int prog_fd, const testing::Bytes& frame, std::uint32_t* retval) {
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

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline std::vector<ipam::IpRange> reserved_prefixes() {
  std::vector<ipam::IpRange> reserved;
  for (int i = 0; i < kReservedPrefixes / 2; ++i) {
    const auto v4 =
        ipam::IpAddress::v4((172u << 24) | (16u << 16) | static_cast<std::uint32_t>(8 * i));
    reserved.push_back({v4, ipam::IpAddress::v4(static_cast<std::uint32_t>(v4.value()) + 3)});
    const ipam::u128 v6 = (ipam::u128{0xfd00'0099} << 96) | static_cast<ipam::u128>(8 * i);
    reserved.push_back(
        {ipam::IpAddress(ipam::IpFamily::v6, v6), ipam::IpAddress(ipam::IpFamily::v6, v6 + 3)});
  }
  return reserved;
}

using EmptyProgram = std::unique_ptr<empty_bpf, decltype(&empty_bpf__destroy)>;

// What every run starts with: a guard of its own (nothing pinned) with its maps filled by
// `fill`, and the empty TC program every figure is compared with. Exits with a message
// prefixed by `name` on failure.
struct Baseline {
  std::unique_ptr<datapath::Guard> guard;
  EmptyProgram empty{nullptr, empty_bpf__destroy};
};

inline Baseline open_baseline(const char* name,
                              const std::function<Status(datapath::Guard&)>& fill) {
  datapath::GuardOptions options;
  options.pin_dir.clear();
  auto guard = datapath::Guard::open(options);
  if (!guard.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, guard.error().message.c_str());
    std::exit(1);
  }
  if (const Status st = fill(*guard); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, st.error().message.c_str());
    std::exit(1);
  }
  Baseline out{std::make_unique<datapath::Guard>(std::move(*guard)),
               EmptyProgram(empty_bpf__open_and_load(), empty_bpf__destroy)};
  if (!out.empty) {
    std::fprintf(stderr, "%s: cannot load the empty TC program\n", name);
    std::exit(1);
  }
  return out;
}

}  // namespace ipfence::bench
