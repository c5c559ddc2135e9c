#include "tests/e2e/support/enforcement.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "tests/e2e/support/process.h"

namespace ipfence::e2e {
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool is_mounted(const std::string& dir) {
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string source, target;
    fields >> source >> target;
    if (target == dir) return true;
  }
  return false;
}

void remove_mount(const std::string& base) {
  const std::string dir = base + "/bpffs";
  for (int i = 0; i < 8 && is_mounted(dir); ++i) ::umount2(dir.c_str(), MNT_DETACH);
  ::rmdir(dir.c_str());
  ::rmdir(base.c_str());
}

// /run/ipfence-e2e-<pid>-<n> of test processes that are gone (killed before their RAII ran).
void sweep_dead_mounts() {
  DIR* run = ::opendir("/run");
  if (!run) return;
  std::vector<std::string> dead;
  while (dirent* entry = ::readdir(run)) {
    std::string name = entry->d_name;
    const std::string prefix = "ipfence-e2e-";
    if (name.rfind(prefix, 0) != 0) continue;
    std::string pid = name.substr(prefix.size(), name.find('-', prefix.size()) - prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::access(("/proc/" + pid).c_str(), F_OK) != 0) dead.push_back("/run/" + name);
  }
  ::closedir(run);
  for (const auto& base : dead) remove_mount(base);
}

std::string ipv4_text(const std::uint8_t* bytes) {
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, bytes, text, sizeof text);
  return text;
}

in_addr parse_ipv4(const std::string& ip) {
  in_addr addr{};
  if (::inet_pton(AF_INET, ip.c_str(), &addr) != 1)
    throw std::invalid_argument("not an IPv4 address: " + ip);
  return addr;
}

std::uint16_t read16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

Frame decode(const std::uint8_t* data, std::size_t len, Clock::time_point at) {
  Frame f;
  f.at = at;
  if (len < 14) return f;
  std::memcpy(f.dst_mac.data(), data, 6);
  std::memcpy(f.src_mac.data(), data + 6, 6);
  f.ethertype = read16(data + 12);
  const std::uint8_t* l3 = data + 14;
  std::size_t l3_len = len - 14;
  if (f.is_ipv4() && l3_len >= 20) {
    std::size_t ihl = (l3[0] & 0x0f) * 4u;
    f.ip_proto = l3[9];
    f.src_ip = ipv4_text(l3 + 12);
    f.dst_ip = ipv4_text(l3 + 16);
    if (f.ip_proto == IPPROTO_UDP && l3_len >= ihl + 8) {
      f.udp_dport = read16(l3 + ihl + 2);
      std::size_t payload = std::min<std::size_t>(l3_len - ihl - 8, 64);
      f.udp_payload.assign(reinterpret_cast<const char*>(l3 + ihl + 8), payload);
    }
  } else if (f.is_arp() && l3_len >= 28) {
    f.arp_op = read16(l3 + 6);
    f.src_ip = ipv4_text(l3 + 14);
    f.dst_ip = ipv4_text(l3 + 24);
  }
  return f;
}

std::uint16_t ipv4_checksum(const std::uint8_t* header, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += read16(header + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_bytes(std::vector<std::uint8_t>& out, const void* data, std::size_t len) {
  auto* p = static_cast<const std::uint8_t*>(data);
  out.insert(out.end(), p, p + len);
}

void ethernet_header(std::vector<std::uint8_t>& out, const Mac& src, const Mac& dst,
                     std::uint16_t type) {
  put_bytes(out, dst.data(), 6);
  put_bytes(out, src.data(), 6);
  put16(out, type);
}

}  // namespace

// ---- bpffs ---------------------------------------------------------------------------------

BpffsMount::BpffsMount() {
  static const bool swept = (sweep_dead_mounts(), true);
  (void)swept;
  static std::atomic<int> counter{0};
  base_ = "/run/ipfence-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  dir_ = base_ + "/bpffs";
  remove_mount(base_);  // a leftover with our pid (pid reuse)
  if (::mkdir(base_.c_str(), 0700) != 0) throw std::runtime_error(errno_text("mkdir " + base_));
  if (::mkdir(dir_.c_str(), 0700) != 0 ||
      ::mount("bpf", dir_.c_str(), "bpf", 0, "mode=0700") != 0) {
    std::string message = errno_text("mount bpffs on " + dir_);
    remove_mount(base_);
    throw std::runtime_error(message);
  }
}

BpffsMount::~BpffsMount() {
  remove_mount(base_);
}

// ---- the pods' cgroup -----------------------------------------------------------------------

PodCgroup::PodCgroup() {
  static std::atomic<int> counter{0};
  base_ = "/run/ipfence-e2e-cg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  mount_ = base_ + "/cgroup";
  if (::mkdir(base_.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error(errno_text("mkdir " + base_));
  if ((::mkdir(mount_.c_str(), 0700) != 0 && errno != EEXIST) ||
      ::mount("cgroup2", mount_.c_str(), "cgroup2", 0, nullptr) != 0) {
    std::string message = errno_text("mount cgroup2 on " + mount_);
    ::rmdir(mount_.c_str());
    ::rmdir(base_.c_str());
    throw std::runtime_error(message);
  }
  cgroup_ = std::make_unique<testing::TestCgroup>(mount_);
  if (!cgroup_->ok()) {
    std::string message = cgroup_->error();
    cgroup_.reset();
    ::umount2(mount_.c_str(), MNT_DETACH);
    ::rmdir(mount_.c_str());
    ::rmdir(base_.c_str());
    throw std::runtime_error(message);
  }
}

PodCgroup::~PodCgroup() {
  cgroup_.reset();  // the child cgroup goes while its parent is still mounted
  ::umount2(mount_.c_str(), MNT_DETACH);
  ::rmdir(mount_.c_str());
  ::rmdir(base_.c_str());
}

std::string PodCgroup::path() const {
  return cgroup_->path();
}

// ---- namespaces ----------------------------------------------------------------------------

void in_netns(const std::string& netns, const std::function<void()>& fn) {
  const std::string path = netns.find('/') == std::string::npos ? "/var/run/netns/" + netns : netns;
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error(errno_text("open " + path));
      int joined = ::setns(fd, CLONE_NEWNET);
      ::close(fd);
      if (joined != 0) throw std::runtime_error(errno_text("setns " + path));
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

int socket_in_netns(const std::string& netns, int domain, int type, int protocol) {
  int fd = -1;
  in_netns(netns, [&] {
    fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw std::runtime_error(errno_text("socket in " + netns));
  });
  return fd;
}

int ifindex_in_netns(const std::string& netns, const std::string& ifname) {
  int index = 0;
  in_netns(netns, [&] { index = static_cast<int>(::if_nametoindex(ifname.c_str())); });
  if (index == 0) throw std::runtime_error("no interface " + ifname + " in " + netns);
  return index;
}

Mac parse_mac(const std::string& text) {
  Mac mac{};
  unsigned v[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    throw std::invalid_argument("not a MAC: " + text);
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<std::uint8_t>(v[i]);
  return mac;
}

std::string format_mac(const Mac& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return text;
}

Mac link_mac(const Netns& ns, const std::string& ifname) {
  nlohmann::json links = nlohmann::json::parse(ns.sh("ip -j link show " + ifname));
  return parse_mac(links.at(0).at("address").get<std::string>());
}

// ---- sniffer -------------------------------------------------------------------------------

FramePredicate ipv4_from(const std::string& ip) {
  return [ip](const Frame& f) { return f.is_ipv4() && f.src_ip == ip; };
}

FramePredicate arp_from(const std::string& ip) {
  return [ip](const Frame& f) { return f.is_arp() && f.src_ip == ip; };
}

FramePredicate claims(const std::string& ip) {
  return [ip](const Frame& f) { return (f.is_ipv4() || f.is_arp()) && f.src_ip == ip; };
}

Sniffer::Sniffer(const std::string& netns, const std::string& ifname) {
  in_netns(netns, [&] {
    // Protocol 0 until bound: an ETH_P_ALL socket would queue frames of every interface in
    // the namespace between socket() and bind().
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(errno_text("packet socket"));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    int buffer = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (addr.sll_ifindex == 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::string message = errno_text("bind packet socket to " + ifname + " in " + netns);
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error(message);
    }
  });
  thread_ = std::thread([this] { run(); });
}

Sniffer::~Sniffer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void Sniffer::run() {
  std::vector<std::uint8_t> buffer(65536);
  while (!stop_) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 20) <= 0) continue;
    while (true) {
      sockaddr_ll from{};
      socklen_t from_len = sizeof from;
      ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n <= 0) break;
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      Frame frame = decode(buffer.data(), static_cast<std::size_t>(n), Clock::now());
      std::lock_guard lock(mutex_);
      frames_.push_back(std::move(frame));
    }
  }
}

std::vector<Frame> Sniffer::frames() const {
  std::lock_guard lock(mutex_);
  return frames_;
}

std::size_t Sniffer::count(const FramePredicate& match) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& f : frames_) n += match(f) ? 1 : 0;
  return n;
}

bool Sniffer::wait_for(const FramePredicate& match, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return count(match) > 0; }, timeout);
}

void Sniffer::clear() {
  std::lock_guard lock(mutex_);
  frames_.clear();
}

std::string Sniffer::describe(std::size_t max_frames) const {
  std::vector<Frame> all = frames();
  std::ostringstream out;
  out << all.size() << " frames";
  std::size_t first = all.size() > max_frames ? all.size() - max_frames : 0;
  if (first > 0) out << " (last " << max_frames << ")";
  out << ":\n";
  for (std::size_t i = first; i < all.size(); ++i) {
    const Frame& f = all[i];
    out << "  " << format_mac(f.src_mac) << " > " << format_mac(f.dst_mac);
    if (f.is_arp())
      out << " ARP op " << f.arp_op << " sender " << f.src_ip << " target " << f.dst_ip;
    else if (f.is_ipv4())
      out << " IPv4 " << f.src_ip << " > " << f.dst_ip << " proto " << int(f.ip_proto);
    else
      out << " ethertype 0x" << std::hex << f.ethertype << std::dec;
    out << "\n";
  }
  return out.str();
}

// ---- traffic -------------------------------------------------------------------------------

UdpStream::UdpStream(const std::string& netns, const std::string& src_ip, const std::string& dst_ip,
                     std::uint16_t port, std::chrono::microseconds interval)
    : interval_(interval) {
  fd_ = socket_in_netns(netns, AF_INET, SOCK_DGRAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = parse_ipv4(src_ip);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    std::string message = errno_text("bind UDP to " + src_ip + " in " + netns);
    ::close(fd_);
    throw std::runtime_error(message);
  }
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_addr = parse_ipv4(dst_ip);
  remote.sin_port = htons(port);
  thread_ = std::thread([this, remote] {
    auto next = Clock::now();
    for (std::size_t seq = 0; !stop_; ++seq) {
      std::string payload = "ipfence-seq=" + std::to_string(seq);
      {
        std::lock_guard lock(mutex_);
        sent_.push_back(Clock::now());
      }
      if (::sendto(fd_, payload.data(), payload.size(), 0,
                   reinterpret_cast<const sockaddr*>(&remote), sizeof remote) < 0)
        ++send_errors_;
      next += interval_;
      std::this_thread::sleep_until(next);
    }
  });
}

UdpStream::~UdpStream() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

void UdpStream::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<Clock::time_point> UdpStream::sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

std::optional<std::size_t> UdpStream::sequence(const Frame& frame) {
  const std::string prefix = "ipfence-seq=";
  if (frame.udp_payload.rfind(prefix, 0) != 0) return std::nullopt;
  return std::stoul(frame.udp_payload.substr(prefix.size()));
}

std::vector<std::uint8_t> udp_frame(const Mac& src_mac, const Mac& dst_mac,
                                    const std::string& src_ip, const std::string& dst_ip,
                                    std::uint16_t dport, const std::string& payload) {
  std::vector<std::uint8_t> out;
  ethernet_header(out, src_mac, dst_mac, ETHERTYPE_IP);
  const std::size_t ip_start = out.size();
  const auto total = static_cast<std::uint16_t>(20 + 8 + payload.size());
  out.push_back(0x45);  // version 4, IHL 5
  out.push_back(0);
  put16(out, total);
  put16(out, 0x1234);  // id
  put16(out, 0x4000);  // DF
  out.push_back(64);   // TTL
  out.push_back(IPPROTO_UDP);
  put16(out, 0);  // checksum, below
  in_addr src = parse_ipv4(src_ip), dst = parse_ipv4(dst_ip);
  put_bytes(out, &src, 4);
  put_bytes(out, &dst, 4);
  std::uint16_t checksum = ipv4_checksum(out.data() + ip_start, 20);
  out[ip_start + 10] = static_cast<std::uint8_t>(checksum >> 8);
  out[ip_start + 11] = static_cast<std::uint8_t>(checksum);
  put16(out, 40000);  // source port
  put16(out, dport);
  put16(out, static_cast<std::uint16_t>(8 + payload.size()));
  put16(out, 0);  // no UDP checksum (allowed over IPv4)
  put_bytes(out, payload.data(), payload.size());
  while (out.size() < 60) out.push_back(0);
  return out;
}

std::vector<std::uint8_t> arp_frame(std::uint16_t op, const Mac& src_mac, const Mac& dst_mac,
                                    const std::string& sender_ip, const std::string& target_ip) {
  std::vector<std::uint8_t> out;
  ethernet_header(out, src_mac, dst_mac, ETHERTYPE_ARP);
  put16(out, 1);       // Ethernet
  put16(out, 0x0800);  // IPv4
  out.push_back(6);
  out.push_back(4);
  put16(out, op);
  in_addr spa = parse_ipv4(sender_ip), tpa = parse_ipv4(target_ip);
  put_bytes(out, src_mac.data(), 6);
  put_bytes(out, &spa, 4);
  Mac target_mac = dst_mac == Mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} ? Mac{} : dst_mac;
  put_bytes(out, target_mac.data(), 6);
  put_bytes(out, &tpa, 4);
  while (out.size() < 60) out.push_back(0);
  return out;
}

void send_frame(const std::string& netns, const std::string& ifname,
                const std::vector<std::uint8_t>& frame, int copies, bool bypass_qdisc) {
  in_netns(netns, [&] {
    int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(errno_text("packet socket"));
    int on = 1;
    if (bypass_qdisc && ::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) != 0) {
      std::string message = errno_text("PACKET_QDISC_BYPASS");
      ::close(fd);
      throw std::runtime_error(message);
    }
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    addr.sll_halen = 6;
    std::memcpy(addr.sll_addr, frame.data(), 6);
    std::string failure;
    for (int i = 0; i < copies && failure.empty(); ++i) {
      if (::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                   sizeof addr) < 0 &&
          errno != ENOBUFS && errno != EPERM)  // a TC drop may come back as either
        failure = errno_text("send frame on " + ifname + " in " + netns);
    }
    ::close(fd);
    if (!failure.empty()) throw std::runtime_error(failure);
  });
}

// ---- guard state ---------------------------------------------------------------------------

nlohmann::json get_guards(const AgentNode& node) {
  auto [status, body] = node.agent_request("GET", "/v1/guards");
  if (status != 200)
    throw std::runtime_error("GET /v1/guards: " + std::to_string(status) + " " + body.dump());
  return body;
}

std::optional<nlohmann::json> guard_entry(const nlohmann::json& guards, const std::string& master,
                                          const std::string& netns) {
  if (!guards.contains("guards")) return std::nullopt;
  for (const auto& entry : guards.at("guards")) {
    if (entry.value("master", "") != master) continue;
    std::string entry_netns = entry.contains("netns") && entry.at("netns").is_string()
                                  ? entry.at("netns").get<std::string>()
                                  : "";
    if (entry_netns == netns) return entry;
  }
  return std::nullopt;
}

std::map<std::string, std::uint64_t> guard_counters(const AgentNode& node,
                                                    const std::string& master,
                                                    const std::string& netns,
                                                    const std::string& verdict) {
  std::map<std::string, std::uint64_t> counters{
      {"reserved", 0}, {"unallocated", 0}, {"mac_mismatch", 0}, {"spoofed", 0}, {"malformed", 0}};
  auto entry = guard_entry(get_guards(node), master, netns);
  if (!entry || !entry->contains("counters") || !entry->at("counters").contains(verdict))
    return counters;
  for (const auto& [reason, value] : entry->at("counters").at(verdict).items())
    if (value.is_number()) counters[reason] = value.get<std::uint64_t>();
  return counters;
}

std::vector<std::uint32_t> egress_bpf_filters(const Netns& ns, const std::string& ifname) {
  std::string listing = ns.sh("tc filter show dev " + ifname + " egress");
  std::vector<std::uint32_t> filters;
  std::istringstream lines(listing);
  static const std::regex id_pattern(R"( id (\d+))");
  for (std::string line; std::getline(lines, line);) {
    // tc prints a header line per (pref, kind) and one line per filter with its handle.
    if (line.find(" bpf ") == std::string::npos || line.find(" handle ") == std::string::npos)
      continue;
    std::smatch id;
    filters.push_back(std::regex_search(line, id, id_pattern) ? std::stoul(id[1]) : 0);
  }
  return filters;
}

std::optional<double> metric_value(const std::string& text, const std::string& name,
                                   const std::map<std::string, std::string>& labels) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(name, 0) != 0) continue;
    std::size_t after = name.size();
    if (after < line.size() && line[after] != '{' && line[after] != ' ') continue;
    bool all = true;
    for (const auto& [key, value] : labels)
      all = all && line.find(key + "=\"" + value + "\"") != std::string::npos;
    if (!all) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

std::string agent_metrics(AgentNode& node) {
  return node.topology().node().sh("curl -s -m 5 http://" + node.metrics_addr() + "/metrics");
}

std::uint64_t vm_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

}  // namespace ipfence::e2e
