// The compact form in which ClusterState keeps one Attachment (model.h): the container ID and
// ifname of the key it is stored under ("attachments/<containerID>/<ifname>"), the record's
// own names only when they differ from those, and its IPs (pool and address, as written), all
// in one heap block. The key's names are in the record so that the view can index records by
// them without a second copy of the key (a std::pair of strings is 64 bytes more per pod).
// unpack() gives back exactly the Attachment that was packed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ipam/model.h"
#include "ipam/packed_strings.h"

namespace ipfence::ipam {

class AttachmentRecord {
 public:
  AttachmentRecord() = default;
  // `container_id`, `ifname`: the key's.
  AttachmentRecord(const Attachment& attachment, std::string_view container_id,
                   std::string_view ifname);

  std::string_view key_container_id() const { return fields_.at(kKeyContainerId); }
  std::string_view key_ifname() const { return fields_.at(kKeyIfname); }

  Attachment unpack() const;
  std::size_t ip_count() const;
  Attachment::Ip ip(std::size_t index) const;

 private:
  // Fields: the key's container ID and ifname; the record's own (empty when the key's); then
  // pool and IP per IP.
  enum Field : std::size_t { kKeyContainerId, kKeyIfname, kContainerId, kIfname, kFirstIp };
  enum Flag : std::uint8_t { kContainerIdIsKey = 1, kIfnameIsKey = 2 };

  PackedStrings fields_;
  std::uint8_t flags_ = 0;
};

}  // namespace ipfence::ipam
