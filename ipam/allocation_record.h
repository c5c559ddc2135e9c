// The compact form in which ClusterState keeps one Allocation (model.h). A node agent holds
// every allocation of the cluster, so the 13 strings of an Allocation dominate its memory; the
// record keeps the same information in about a fifth of the space:
//   - the fields many allocations share (pool, node, network, master, ifname, pod namespace)
//     as one pointer to an interned, reference-counted tuple (a node's pods share a handful);
//   - the MAC as 6 bytes and `created` as milliseconds since the epoch (6 bytes, in the pod's
//     heap block below), when their text is exactly what formatting those gives back (else
//     the text is kept as written);
//   - the IP not at all: it is the key the record is stored under (unless its text is not
//     that key's canonical form, which is then kept);
//   - the strings of one pod (container ID, netns, pod name and UID) in one heap block.
// unpack() gives back exactly the Allocation that was packed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ipam/id_text.h"
#include "ipam/ip_address.h"
#include "ipam/model.h"
#include "ipam/packed_strings.h"

namespace ipfence::ipam {

namespace detail {
struct SharedFields;  // interned; see allocation_record.cpp

// One counted reference to an interned SharedFields (null: none).
class SharedFieldsRef {
 public:
  SharedFieldsRef() = default;
  explicit SharedFieldsRef(SharedFields* adopted) : fields_(adopted) {}
  SharedFieldsRef(const SharedFieldsRef& other);
  SharedFieldsRef& operator=(const SharedFieldsRef& other);
  SharedFieldsRef(SharedFieldsRef&& other) noexcept
      : fields_(std::exchange(other.fields_, nullptr)) {}
  SharedFieldsRef& operator=(SharedFieldsRef&& other) noexcept;
  ~SharedFieldsRef();
  const SharedFields* get() const { return fields_; }

 private:
  SharedFields* fields_ = nullptr;
};
}  // namespace detail

class AllocationRecord {
 public:
  AllocationRecord() = default;
  // `ip`: the address of the key the record is stored under ("ips/<pool>/<ip>").
  AllocationRecord(const Allocation& allocation, const IpAddress& ip);

  // The Allocation as it was packed; `ip` as given to the constructor.
  Allocation unpack(const IpAddress& ip) const;

  // The family of the key's address: with the map key's value, the address.
  IpFamily family() const { return (flags_ & kKeyIsV6) ? IpFamily::v6 : IpFamily::v4; }
  IpAddress ip(u128 value) const { return IpAddress(family(), value); }

  // Single fields, without building a whole Allocation (the agent's passes over every
  // allocation read one or two).
  const std::string& pool() const;
  const std::string& node() const;
  const std::string& network() const;
  const std::string& master() const;
  const std::string& ifname() const;
  const std::string& pod_namespace() const;
  // Kept packed when their text has a runtime's shape (id_text.h): made into text on a call.
  std::string container_id() const { return id(kContainerId); }
  std::string netns() const { return id(kNetns); }
  std::string_view pod_name() const { return unique(kPodName); }
  std::string pod_uid() const { return id(kPodUid); }
  std::string mac() const;
  // The MAC's 6 bytes when it was stored in the canonical form (lower-case hex and colons,
  // as written by the plugin), without making text of them; else nullopt: read mac().
  std::optional<std::array<std::uint8_t, 6>> mac_bytes() const {
    if (!(flags_ & kMacBytes)) return std::nullopt;
    return mac_;
  }
  std::string created() const;

  // How many records share each interned tuple now (for tests).
  static std::size_t shared_tuples();

 private:
  friend class AttachmentRecord;  // derive() shares the block and the interned fields

  // Strings kept in the heap block, in this order. The text kept only when it does not come
  // back from the compact form (IP, MAC) comes last, and is left out when empty, as it nearly
  // always is: 2 bytes less in each block (PackedStrings::at gives "" past the end).
  enum Unique : unsigned {
    kContainerId,
    kNetns,
    kPodName,
    kPodUid,
    kCreatedText,
    kIpText,
    kMacText
  };
  enum Flag : std::uint8_t { kMacBytes = 1, kCreatedMillis = 2, kIpIsKey = 4, kKeyIsV6 = 8 };
  // With kCreatedMillis, the kCreatedText field holds the milliseconds in this many bytes,
  // little-endian: 0 to 2^48 - 1 ms is 1970 to 10889; other times keep their text.
  static constexpr std::size_t kCreatedMillisBytes = 6;
  static constexpr std::uint64_t kMaxCreatedMillis = (std::uint64_t{1} << 48) - 1;

  const std::string& shared(unsigned field) const;
  // The interned pool and ifname behind `ref` ("" when null), for a record that shares them.
  static const std::string& pool_of(const detail::SharedFieldsRef& ref);
  static const std::string& ifname_of(const detail::SharedFieldsRef& ref);
  IdShape container_id_shape() const {
    return static_cast<IdShape>((id_shapes_ >> (2 * kContainerId)) & 3u);
  }
  std::string_view unique(unsigned field) const { return unique_.at(field); }
  // Container ID, netns or pod UID: their IdShape is two bits of id_shapes_ at 2 * field.
  std::string id(unsigned field) const;

  detail::SharedFieldsRef shared_;  // null: default-constructed (all empty)
  PackedStrings unique_;            // the Unique fields
  std::array<std::uint8_t, 6> mac_{};
  std::uint8_t flags_ = 0;
  std::uint8_t id_shapes_ = 0;
  // `created` lies in the heap block rather than here: 24 bytes with no padding, so that a
  // StoredAllocation (cluster_state.h) with both revisions is 40 and its B-tree slot 56.
};
static_assert(sizeof(AllocationRecord) == 24);

}  // namespace ipfence::ipam
