#include "tests/e2e/support/arp_flood.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>

namespace ipfence::e2e {
namespace {

// Offsets in an untagged Ethernet/ARP frame (arp_frame() in enforcement.h builds them).
constexpr std::size_t kEthSrc = 6;
constexpr std::size_t kArpOp = 14 + 6;
constexpr std::size_t kArpSenderMac = 14 + 8;
constexpr std::size_t kArpSenderIp = 14 + 14;
constexpr std::size_t kArpTargetIp = 14 + 24;

// Distinct addresses are tracked in a bitmap; ranges bigger than this are not tracked
// (distinct_ips stays 0) rather than allocating gigabytes.
constexpr std::uint64_t kMaxTracked = std::uint64_t{1} << 24;

std::uint32_t parse_v4(const std::string& text) {
  in_addr addr{};
  if (::inet_pton(AF_INET, text.c_str(), &addr) != 1)
    throw std::invalid_argument("arp flood: not an IPv4 address: '" + text + "'");
  return ntohl(addr.s_addr);
}

void put_v4(std::uint8_t* at, std::uint32_t host_order) {
  const std::uint32_t net = htonl(host_order);
  std::memcpy(at, &net, 4);
}

}  // namespace

double ArpFloodReport::rate() const {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? static_cast<double>(frames) / seconds : 0;
}

std::string ArpFloodReport::describe() const {
  std::ostringstream out;
  out << frames << " ARP frames in " << std::chrono::duration<double>(elapsed).count() << " s ("
      << static_cast<std::uint64_t>(rate()) << "/s), " << distinct_ips << " distinct sender IPs, "
      << send_errors << " not taken by the kernel";
  return out.str();
}

ArpFlood::ArpFlood(ArpFloodOptions options) : options_(std::move(options)) {
  if (options_.rate <= 0) throw std::invalid_argument("arp flood: rate must be positive");
  for (const std::string& range : options_.ranges) {
    const auto dash = range.find('-');
    const std::uint32_t first = parse_v4(range.substr(0, dash));
    const std::uint32_t last = dash == std::string::npos ? first : parse_v4(range.substr(dash + 1));
    if (last < first) throw std::invalid_argument("arp flood: empty range " + range);
    ranges_.push_back({first, last - first + 1});
    addresses_ += last - first + 1;
  }
  if (addresses_ == 0) throw std::invalid_argument("arp flood: no sender addresses");

  ifindex_ = ifindex_in_netns(options_.netns, options_.ifname);
  fd_ = socket_in_netns(options_.netns, AF_PACKET, SOCK_RAW, 0);
  // Straight to the driver: the outside host's own qdisc is not what is being measured, and
  // a full one would drop frames before the wire. Best effort (older kernels lack it).
  int on = 1;
  (void)::setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on);
  int buffer = 4 << 20;
  (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  thread_ = std::thread([this] { run(); });
}

ArpFlood::~ArpFlood() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

ArpFloodReport ArpFlood::wait() {
  if (thread_.joinable()) thread_.join();
  return report_;
}

void ArpFlood::run() {
  const Mac broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const std::vector<std::uint8_t> base =
      arp_frame(1, options_.mac, broadcast, options_.target_ip, options_.target_ip);
  const std::uint32_t target = parse_v4(options_.target_ip);

  std::array<std::vector<std::uint8_t>, kBatch> frames;
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex_;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, broadcast.data(), 6);
  for (unsigned i = 0; i < kBatch; ++i) {
    frames[i] = base;
    iov[i] = {frames[i].data(), frames[i].size()};
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  std::mt19937_64 random(options_.seed);
  std::vector<bool> seen(addresses_ <= kMaxTracked ? addresses_ : 0);
  std::uint64_t distinct = 0, sent = 0, errors = 0, sequence = 0;
  // One frame: a random address of the ranges as the sender; every other frame an
  // announcement (target = sender), the others a request for target_ip.
  auto fill = [&](std::vector<std::uint8_t>& frame) {
    std::uint64_t pick = random() % addresses_;
    if (!seen.empty() && !seen[pick]) {
      seen[pick] = true;
      ++distinct;
    }
    std::uint32_t ip = 0;
    for (const Range& r : ranges_) {
      if (pick < r.size) {
        ip = r.first + static_cast<std::uint32_t>(pick);
        break;
      }
      pick -= r.size;
    }
    if (options_.random_macs) {
      std::uint64_t bits = random();
      Mac mac;
      for (int b = 0; b < 6; ++b) mac[b] = static_cast<std::uint8_t>(bits >> (8 * b));
      mac[0] = static_cast<std::uint8_t>((mac[0] & 0xfe) | 0x02);  // unicast, locally administered
      std::memcpy(frame.data() + kEthSrc, mac.data(), 6);
      std::memcpy(frame.data() + kArpSenderMac, mac.data(), 6);
    }
    frame[kArpOp] = 0;
    frame[kArpOp + 1] = 1;  // request
    put_v4(frame.data() + kArpSenderIp, ip);
    put_v4(frame.data() + kArpTargetIp, (sequence++ % 2 == 0) ? ip : target);
  };

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto end = start + options_.duration;
  const double per_ns = options_.rate / 1e9;
  while (!stop_) {
    const auto now = Clock::now();
    if (now >= end) break;
    const auto due = static_cast<std::uint64_t>(per_ns * (now - start).count());
    if (due <= sent) {
      // Ahead of the schedule: sleep until a whole batch is due.
      std::this_thread::sleep_until(
          start + std::chrono::nanoseconds(static_cast<std::int64_t>((sent + kBatch) / per_ns)));
      continue;
    }
    const unsigned n = static_cast<unsigned>(std::min<std::uint64_t>(due - sent, kBatch));
    for (unsigned i = 0; i < n; ++i) fill(frames[i]);
    const int taken = ::sendmmsg(fd_, msgs.data(), n, 0);
    if (taken < 0) {
      // The whole batch was refused (ENOBUFS under pressure): count it, keep the pace.
      errors += n;
      sent += n;
      continue;
    }
    frames_ += static_cast<std::uint64_t>(taken);
    errors += n - static_cast<unsigned>(taken);
    sent += n;
  }
  report_.elapsed = Clock::now() - start;
  report_.frames = frames_;
  report_.send_errors = errors;
  report_.distinct_ips = distinct;
}

}  // namespace ipfence::e2e
