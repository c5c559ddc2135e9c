// The compact form in which ClusterState keeps one Attachment (model.h): the container ID and
// ifname of the key it is stored under ("attachments/<containerID>/<ifname>"), the record's
// own names only when they differ from those, and its IPs (pool and address, as written), all
// in one heap block. The key's names are in the record so that the view can index records by
// them without a second copy of the key (a std::pair of strings is 64 bytes more per pod).
// The key's container ID is kept packed when it has a runtime's shape (id_text.h: 64 hex digits
// become 32 bytes), so records are ordered by AttachmentKey (shape, packed bytes, ifname), not
// by the ID's text; a lookup packs its probe the same way (AttachmentProbe).
// unpack() gives back exactly the Attachment that was packed.
//
// Most attachments say nothing their one allocation does not say too: the same container ID
// and ifname, one IP, in canonical text, of that allocation's pool. derive() makes such a record
// point at the allocation record's parts (its block, whose first field is the packed container
// ID as here, and its interned pool and ifname) and keep only the address: no block of its
// own (at 65,536 pods: ~3.4 MB less). The parts are shared and never change, so the record
// stays what it was when the allocation is later changed or deleted.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipam/allocation_record.h"
#include "ipam/id_text.h"
#include "ipam/ip_address.h"
#include "ipam/model.h"
#include "ipam/packed_strings.h"

namespace ipfence::ipam {

// What attachment records are ordered and found by: the key's container ID packed, and ifname.
struct AttachmentKey {
  IdShape shape = IdShape::text;
  std::string_view packed_container_id;
  std::string_view ifname;
  auto operator<=>(const AttachmentKey&) const = default;
};

// The AttachmentKey of a (container ID, ifname) to look up; owns the packed bytes.
class AttachmentProbe {
 public:
  AttachmentProbe(std::string_view container_id, std::string_view ifname);
  AttachmentKey key() const { return {shape_, packed_, ifname_}; }

 private:
  std::string packed_;
  IdShape shape_;
  std::string_view ifname_;
};

class AttachmentRecord {
 public:
  AttachmentRecord() = default;
  // `container_id`, `ifname`: the key's.
  AttachmentRecord(const Attachment& attachment, std::string_view container_id,
                   std::string_view ifname);

  // The same record pointing at `allocation`'s parts (above), when `record` holds exactly what
  // they say with `ip`, the address `allocation` is stored under; else nullopt.
  static std::optional<AttachmentRecord> derive(const AttachmentRecord& record,
                                                const AllocationRecord& allocation,
                                                const IpAddress& ip);
  bool derived() const { return (flags_ & kDerived) != 0; }

  std::string key_container_id() const {
    return unpack_id(key_shape(), fields_.at(kKeyContainerId));
  }
  std::string_view key_ifname() const;
  AttachmentKey key() const { return {key_shape(), fields_.at(kKeyContainerId), key_ifname()}; }

  Attachment unpack() const;
  std::size_t ip_count() const;
  Attachment::Ip ip(std::size_t index) const;

 private:
  // Fields: the key's container ID and ifname; the record's own (empty when the key's); then
  // pool and IP per IP. A derived record holds its allocation's block instead, whose first
  // field is the packed container ID too (AllocationRecord::kContainerId).
  enum Field : std::size_t { kKeyContainerId, kKeyIfname, kContainerId, kIfname, kFirstIp };
  enum Flag : std::uint8_t {
    kContainerIdIsKey = 1,
    kIfnameIsKey = 2,
    kDerived = 16,
    kDerivedV6 = 32,
  };
  static constexpr unsigned kShapeShift = 2;  // the key ID's IdShape: bits 2 and 3 of flags_
  static_assert(unsigned{AllocationRecord::kContainerId} == unsigned{kKeyContainerId});

  IdShape key_shape() const { return static_cast<IdShape>((flags_ >> kShapeShift) & 3u); }

  PackedStrings fields_;
  detail::SharedFieldsRef shared_;     // derived: the allocation's pool and ifname
  std::array<std::uint8_t, 16> ip_{};  // derived: the address (IpAddress::to_bytes)
  std::uint8_t flags_ = 0;
};

}  // namespace ipfence::ipam
