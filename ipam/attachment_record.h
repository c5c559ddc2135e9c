// The compact form in which ClusterState keeps one Attachment (model.h): the container ID and
// ifname of the key it is stored under ("attachments/<containerID>/<ifname>"), the record's
// own names only when they differ from those, and its IPs (pool and address, as written), all
// in one heap block. The key's names are in the record so that the view can index records by
// them without a second copy of the key (a std::pair of strings is 64 bytes more per pod).
// The key's container ID is kept packed when it has a runtime's shape (id_text.h: 64 hex digits
// become 32 bytes), so records are ordered by AttachmentKey (shape, packed bytes, ifname), not
// by the ID's text; a lookup packs its probe the same way (AttachmentProbe).
// unpack() gives back exactly the Attachment that was packed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ipam/id_text.h"
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

  std::string key_container_id() const {
    return unpack_id(key_shape(), fields_.at(kKeyContainerId));
  }
  std::string_view key_ifname() const { return fields_.at(kKeyIfname); }
  AttachmentKey key() const {
    return {key_shape(), fields_.at(kKeyContainerId), fields_.at(kKeyIfname)};
  }

  Attachment unpack() const;
  std::size_t ip_count() const;
  Attachment::Ip ip(std::size_t index) const;

 private:
  // Fields: the key's container ID and ifname; the record's own (empty when the key's); then
  // pool and IP per IP.
  enum Field : std::size_t { kKeyContainerId, kKeyIfname, kContainerId, kIfname, kFirstIp };
  enum Flag : std::uint8_t { kContainerIdIsKey = 1, kIfnameIsKey = 2 };
  static constexpr unsigned kShapeShift = 2;  // the key ID's IdShape: bits 2 and 3 of flags_

  IdShape key_shape() const { return static_cast<IdShape>((flags_ >> kShapeShift) & 3u); }

  PackedStrings fields_;
  std::uint8_t flags_ = 0;
};

}  // namespace ipfence::ipam
