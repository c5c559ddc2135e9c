#include "ipam/allocation_record.h"

#include <array>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "ipam/clock.h"
#include "ipam/hex_digits.h"
#include "ipam/id_text.h"

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

void add_reference(SharedFields* shared) {
  if (shared == nullptr) return;
  std::lock_guard lock(intern_table().mutex);
  ++shared->references;
}

void release(SharedFields* shared) {
  if (shared == nullptr) return;
  InternTable& table = intern_table();
  std::lock_guard lock(table.mutex);
  if (--shared->references == 0) table.entries.erase(*shared->tuple);
}

}  // namespace

SharedFieldsRef::SharedFieldsRef(const SharedFieldsRef& other) : fields_(other.fields_) {
  add_reference(fields_);
}

SharedFieldsRef& SharedFieldsRef::operator=(const SharedFieldsRef& other) {
  if (this != &other) *this = SharedFieldsRef(other);
  return *this;
}

SharedFieldsRef& SharedFieldsRef::operator=(SharedFieldsRef&& other) noexcept {
  if (this != &other) {
    release(fields_);
    fields_ = std::exchange(other.fields_, nullptr);
  }
  return *this;
}

SharedFieldsRef::~SharedFieldsRef() {
  release(fields_);
}

}  // namespace detail

namespace {

using detail::SharedFields;

const std::string kEmpty;

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
  std::string text(17, ':');
  for (std::size_t i = 0; i < 6; ++i) {
    text[i * 3] = hex::kLowerDigits[bytes[i] >> 4];
    text[i * 3 + 1] = hex::kLowerDigits[bytes[i] & 0xf];
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
  shared_ = detail::SharedFieldsRef(
      detail::intern({a.pool, a.node, a.network, a.master, a.ifname, a.pod_namespace}));
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
  std::array<char, kCreatedMillisBytes> created_bytes{};
  std::int64_t created_ms = 0;
  if (parse_millis(a.created, created_ms) && created_ms >= 0 &&
      static_cast<std::uint64_t>(created_ms) <= kMaxCreatedMillis) {
    flags_ |= kCreatedMillis;
    auto millis = static_cast<std::uint64_t>(created_ms);
    for (char& byte : created_bytes) {
      byte = static_cast<char>(millis & 0xff);
      millis >>= 8;
    }
    created_text = std::string_view(created_bytes.data(), created_bytes.size());
  }
  std::string container_id, netns, pod_uid;
  const auto pack = [&](unsigned field, const std::string& text, std::string& packed) {
    id_shapes_ |=
        static_cast<std::uint8_t>(static_cast<unsigned>(pack_id(text, packed)) << (2 * field));
  };
  pack(kContainerId, a.container_id, container_id);
  pack(kNetns, a.netns, netns);
  pack(kPodUid, a.pod_uid, pod_uid);
  std::vector<std::string_view> fields{container_id, netns,   a.pod_name, pod_uid,
                                       created_text, ip_text, mac_text};
  while (!fields.empty() && fields.back().empty()) fields.pop_back();
  unique_ = PackedStrings(fields);
}

std::string AllocationRecord::id(unsigned field) const {
  return unpack_id(static_cast<IdShape>((id_shapes_ >> (2 * field)) & 3u), unique(field));
}

const std::string& AllocationRecord::shared(unsigned field) const {
  return shared_.get() ? (*shared_.get()->tuple)[field] : kEmpty;
}

const std::string& AllocationRecord::pool_of(const detail::SharedFieldsRef& ref) {
  return ref.get() ? (*ref.get()->tuple)[SharedFields::kPool] : kEmpty;
}

const std::string& AllocationRecord::ifname_of(const detail::SharedFieldsRef& ref) {
  return ref.get() ? (*ref.get()->tuple)[SharedFields::kIfname] : kEmpty;
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
  const std::string_view field = unique(kCreatedText);
  if (!(flags_ & kCreatedMillis)) return std::string(field);
  std::uint64_t millis = 0;
  for (std::size_t i = field.size(); i-- > 0;)
    millis = (millis << 8) | static_cast<std::uint8_t>(field[i]);
  return format_millis(static_cast<std::int64_t>(millis));
}

Allocation AllocationRecord::unpack(const IpAddress& ip) const {
  return Allocation{
      .ip = (flags_ & kIpIsKey) ? ip.to_string() : std::string(unique(kIpText)),
      .pool = pool(),
      .container_id = container_id(),
      .ifname = ifname(),
      .netns = netns(),
      .network = network(),
      .pod_namespace = pod_namespace(),
      .pod_name = std::string(pod_name()),
      .pod_uid = pod_uid(),
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
