// A plain C++ model of the guard's documented rules (bpf/parse.h for what a frame claims and
// when it is malformed, bpf/guard.bpf.c for the decision order), written from the rules, not
// from the BPF code. The garbage test runs random frames through both and compares.
#pragma once

#include <linux/pkt_cls.h>

#include <map>
#include <optional>
#include <set>

#include "tests/bpf/guard_world.h"

namespace ipfence::testing {

struct Judgement {
  std::uint32_t tc = TC_ACT_OK;
  std::optional<CounterKey> counted;
};

class ReferenceGuard {
 public:
  ReferenceGuard(const World& w, datapath::Mode mode, datapath::ReservedPolicy policy)
      : world_(w), mode_(mode), policy_(policy) {
    for (const auto& l : w.leases) leases_[l.ip] = Mac::parse(l.mac).value();
    for (const auto& m : w.pod_macs) pod_macs_.insert(Mac::parse(m).value());
  }

  Judgement judge(const Bytes& f) const {
    Mac src;
    std::optional<IpAddress> claim;
    switch (parse(f, src, claim)) {
      case Parse::pass:
        return {};
      case Parse::malformed:
        return settle(Reason::malformed);
      case Parse::judge:
        return settle(decide(*claim, src));
    }
    return {};
  }

 private:
  enum class Parse { judge, pass, malformed };

  static bool in(const std::vector<ipam::IpRange>& ranges, const IpAddress& a) {
    for (const auto& r : ranges) {
      if (r.first.family() == a.family() && r.contains(a)) return true;
    }
    return false;
  }

  Reason decide(const IpAddress& a, const Mac& src) const {
    if (auto it = leases_.find(a); it != leases_.end()) {
      if (it->second != src) return Reason::mac_mismatch;
      return in(world_.reserved, a) ? Reason::reserved_in_use : Reason::none;
    }
    if (in(world_.reserved, a)) return Reason::reserved;
    if (in(world_.pools, a)) return Reason::unallocated;
    if (pod_macs_.contains(src)) return Reason::spoofed;
    return Reason::none;
  }

  Judgement settle(Reason r) const {
    if (r == Reason::none) return {};
    if (r == Reason::reserved_in_use) {
      if (policy_ == datapath::ReservedPolicy::grandfather)
        return {TC_ACT_OK, CounterKey{r, Verdict::passed}};
      r = Reason::reserved;
    }
    if (mode_ == datapath::Mode::monitor) return {TC_ACT_OK, CounterKey{r, Verdict::monitored}};
    return {TC_ACT_SHOT, CounterKey{r, Verdict::dropped}};
  }

  static std::uint16_t be16(const Bytes& f, std::size_t at) {
    return static_cast<std::uint16_t>(f[at] << 8 | f[at + 1]);
  }

  static Parse parse(const Bytes& f, Mac& src, std::optional<IpAddress>& claim) {
    if (f.size() < 14) return Parse::malformed;
    std::copy(f.begin() + 6, f.begin() + 12, src.bytes.begin());
    std::size_t at = 12;
    std::uint16_t type = be16(f, at);
    at += 2;
    for (int tags = 0; type == kEthVlan || type == kEthQinQ; ++tags) {
      if (tags == 2 || f.size() < at + 4) return Parse::malformed;  // third tag, or cut tag
      type = be16(f, at + 2);
      at += 4;
    }
    const std::size_t left = f.size() - at;
    const std::uint8_t* p = f.data() + at;
    if (type == kEthIPv4) {
      if (left < 20 || (p[0] >> 4) != 4 || (p[0] & 15) < 5 || left < (p[0] & 15) * 4u)
        return Parse::malformed;
      if ((p[12] | p[13] | p[14] | p[15]) == 0) return Parse::pass;
      claim = IpAddress::from_bytes(ipam::IpFamily::v4, p + 12);
      return Parse::judge;
    }
    if (type == kEthArp) {
      if (left < 8) return Parse::malformed;
      if (be16(f, at) != 1 || be16(f, at + 2) != kEthIPv4 || p[4] != 6 || p[5] != 4)
        return Parse::pass;
      if (left < 28) return Parse::malformed;
      if ((p[14] | p[15] | p[16] | p[17]) == 0) return Parse::pass;
      claim = IpAddress::from_bytes(ipam::IpFamily::v4, p + 14);
      return Parse::judge;
    }
    if (type == kEthIPv6) return parse_ipv6(p, left, claim);
    return Parse::pass;
  }

  static Parse parse_ipv6(const std::uint8_t* p, std::size_t left,
                          std::optional<IpAddress>& claim) {
    if (left < 40 || (p[0] >> 4) != 6) return Parse::malformed;
    const std::uint8_t* claimed = p + 8;
    std::uint8_t next = p[6];
    std::size_t at = 40;
    auto is_ext = [](std::uint8_t n) { return n == 0 || n == 43 || n == 60 || n == 51 || n == 44; };
    for (int i = 0; is_ext(next); ++i) {
      if (i == 6 || left < at + 2) return Parse::malformed;
      const std::size_t len = next == 51   ? (p[at + 1] + 2u) * 4
                              : next == 44 ? 8
                                           : (p[at + 1] + 1u) * 8;
      if (left < at + len) return Parse::malformed;
      next = p[at];
      at += len;
    }
    if (next == kIcmpv6) {
      if (left < at + 4) return Parse::malformed;
      if (p[at] == kNdpNeighborAdvert) {
        if (left < at + 24) return Parse::malformed;
        claimed = p + at + 8;
      }
    }
    const IpAddress a = IpAddress::from_bytes(ipam::IpFamily::v6, claimed);
    if (a.value() == 0 || (claimed[0] == 0xfe && (claimed[1] & 0xc0) == 0x80)) return Parse::pass;
    claim = a;
    return Parse::judge;
  }

  World world_;
  datapath::Mode mode_;
  datapath::ReservedPolicy policy_;
  std::map<IpAddress, Mac> leases_;
  std::set<Mac> pod_macs_;
};

}  // namespace ipfence::testing
