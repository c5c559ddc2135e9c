#include "ipam/allocation_record.h"

#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "ipam/clock.h"

namespace ipfence::ipam {
namespace detail {

// The fields many allocations share, interned process-wide: one copy per distinct tuple,
// freed with its last record. Process-wide rather than per ClusterState so that records stay
// plain values (copyable, movable between views, no back pointer); the mutex is taken only
// when a record is created, copied or destroyed, never to read.
struct SharedFields {
  enum Field : unsigned { kPool, kNode, kNetwork, kMaster, kIfname, kPodNamespace, kCount };
  using Tuple = std::array<std::string, kCount>;
  const Tuple* tuple = nullptr;  // the intern table's key
  std::uint32_t references = 0;
};

namespace {

struct InternTable {
  std::mutex mutex;
  std::map<SharedFields::Tuple, SharedFields> entries;
};

InternTable& intern_table() {
  static auto* table = new InternTable;  // never destroyed: records in statics may outlive it
  return *table;
}

SharedFields* intern(SharedFields::Tuple tuple) {
  InternTable& table = intern_table();
  std::lock_guard lock(table.mutex);
  auto [it, added] = table.entries.try_emplace(std::move(tuple));
  if (added) it->second.tuple = &it->first;
  ++it->second.references;
  return &it->second;
}

SharedFields* add_reference(SharedFields* shared) {
  if (shared == nullptr) return nullptr;
  std::lock_guard lock(intern_table().mutex);
  ++shared->references;
  return shared;
}

void release(SharedFields* shared) {
  if (shared == nullptr) return;
  InternTable& table = intern_table();
  std::lock_guard lock(table.mutex);
  if (--shared->references == 0) table.entries.erase(*shared->tuple);
}

}  // namespace
}  // namespace detail

namespace {

using detail::SharedFields;

const std::string kEmpty;

// --- the heap block: per field, a LEB128 length then the bytes -------------------------------

void put_varint(std::string& out, std::size_t value) {
  do {
    std::uint8_t byte = value & 0x7f;
    value >>= 7;
    out.push_back(static_cast<char>(byte | (value != 0 ? 0x80 : 0)));
  } while (value != 0);
}

std::size_t get_varint(const char*& at) {
  std::size_t value = 0;
  for (unsigned shift = 0;; shift += 7) {
    const auto byte = static_cast<std::uint8_t>(*at++);
    value |= static_cast<std::size_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
}

std::size_t block_size(const char* block, unsigned fields) {
  const char* at = block;
  for (unsigned i = 0; i < fields; ++i) at += get_varint(at);
  return static_cast<std::size_t>(at - block);
}

// --- MAC and timestamp as numbers, only where the text comes back exactly -------------------

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case does not come back from format_mac: kept as text
}

// "aa:bb:cc:dd:ee:ff", lower case, exactly.
bool parse_mac(std::string_view text, std::array<std::uint8_t, 6>& bytes) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < 6; ++i) {
    const int high = hex_digit(text[i * 3]);
    const int low = hex_digit(text[i * 3 + 1]);
    if (high < 0 || low < 0 || (i < 5 && text[i * 3 + 2] != ':')) return false;
    bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

std::string format_mac(const std::array<std::uint8_t, 6>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(17, ':');
  for (std::size_t i = 0; i < 6; ++i) {
    text[i * 3] = kDigits[bytes[i] >> 4];
    text[i * 3 + 1] = kDigits[bytes[i] & 0xf];
  }
  return text;
}

std::string format_millis(std::int64_t millis) {
  return rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(millis)));
}

bool parse_millis(const std::string& text, std::int64_t& millis) {
  auto time = parse_rfc3339(text);
  if (!time) return false;
  millis = std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
  return format_millis(millis) == text;
}

}  // namespace

AllocationRecord::AllocationRecord(const Allocation& a, const IpAddress& ip) {
  shared_ = detail::intern({a.pool, a.node, a.network, a.master, a.ifname, a.pod_namespace});
  if (ip.family() == IpFamily::v6) flags_ |= kKeyIsV6;
  std::string_view ip_text = a.ip;
  if (ip_text == ip.to_string()) {
    flags_ |= kIpIsKey;
    ip_text = {};
  }
  std::string_view mac_text = a.mac;
  if (parse_mac(a.mac, mac_)) {
    flags_ |= kMacBytes;
    mac_text = {};
  }
  std::string_view created_text = a.created;
  if (parse_millis(a.created, created_ms_)) {
    flags_ |= kCreatedMillis;
    created_text = {};
  }
  std::string block;
  for (std::string_view field :
       {std::string_view(a.container_id), std::string_view(a.netns), std::string_view(a.pod_name),
        std::string_view(a.pod_uid), ip_text, mac_text, created_text}) {
    put_varint(block, field.size());
    block.append(field);
  }
  unique_ = std::make_unique_for_overwrite<char[]>(block.size());
  std::memcpy(unique_.get(), block.data(), block.size());
}

AllocationRecord::AllocationRecord(const AllocationRecord& other)
    : shared_(detail::add_reference(other.shared_)),
      mac_(other.mac_),
      flags_(other.flags_),
      created_ms_(other.created_ms_) {
  if (other.unique_) {
    const std::size_t size = block_size(other.unique_.get(), kUniqueCount);
    unique_ = std::make_unique_for_overwrite<char[]>(size);
    std::memcpy(unique_.get(), other.unique_.get(), size);
  }
}

AllocationRecord& AllocationRecord::operator=(const AllocationRecord& other) {
  if (this != &other) *this = AllocationRecord(other);
  return *this;
}

AllocationRecord::AllocationRecord(AllocationRecord&& other) noexcept
    : shared_(std::exchange(other.shared_, nullptr)),
      unique_(std::move(other.unique_)),
      mac_(other.mac_),
      flags_(other.flags_),
      created_ms_(other.created_ms_) {}

AllocationRecord& AllocationRecord::operator=(AllocationRecord&& other) noexcept {
  if (this == &other) return *this;
  detail::release(shared_);
  shared_ = std::exchange(other.shared_, nullptr);
  unique_ = std::move(other.unique_);
  mac_ = other.mac_;
  flags_ = other.flags_;
  created_ms_ = other.created_ms_;
  return *this;
}

AllocationRecord::~AllocationRecord() {
  detail::release(shared_);
}

std::string_view AllocationRecord::unique(unsigned field) const {
  if (!unique_) return {};
  const char* at = unique_.get();
  for (unsigned i = 0; i < field; ++i) at += get_varint(at);
  const std::size_t size = get_varint(at);
  return {at, size};
}

const std::string& AllocationRecord::shared(unsigned field) const {
  return shared_ ? (*shared_->tuple)[field] : kEmpty;
}

const std::string& AllocationRecord::pool() const {
  return shared(SharedFields::kPool);
}
const std::string& AllocationRecord::node() const {
  return shared(SharedFields::kNode);
}
const std::string& AllocationRecord::network() const {
  return shared(SharedFields::kNetwork);
}
const std::string& AllocationRecord::master() const {
  return shared(SharedFields::kMaster);
}
const std::string& AllocationRecord::ifname() const {
  return shared(SharedFields::kIfname);
}
const std::string& AllocationRecord::pod_namespace() const {
  return shared(SharedFields::kPodNamespace);
}

std::string AllocationRecord::mac() const {
  return (flags_ & kMacBytes) ? format_mac(mac_) : std::string(unique(kMacText));
}

std::string AllocationRecord::created() const {
  return (flags_ & kCreatedMillis) ? format_millis(created_ms_) : std::string(unique(kCreatedText));
}

Allocation AllocationRecord::unpack(const IpAddress& ip) const {
  return Allocation{
      .ip = (flags_ & kIpIsKey) ? ip.to_string() : std::string(unique(kIpText)),
      .pool = pool(),
      .container_id = std::string(container_id()),
      .ifname = ifname(),
      .netns = std::string(netns()),
      .network = network(),
      .pod_namespace = pod_namespace(),
      .pod_name = std::string(pod_name()),
      .pod_uid = std::string(pod_uid()),
      .mac = mac(),
      .master = master(),
      .node = node(),
      .created = created(),
  };
}

std::size_t AllocationRecord::shared_tuples() {
  auto& table = detail::intern_table();
  std::lock_guard lock(table.mutex);
  return table.entries.size();
}

}  // namespace ipfence::ipam
