// The compact form in which ClusterState keeps one Attachment (model.h): its container ID and
// ifname are the key it is stored under, so they are kept again only when the stored record
// names others; its IPs (pool and address, as written) go into one heap block. unpack()
// gives back exactly the Attachment that was packed.
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
  // `container_id`, `ifname`: the key's ("attachments/<containerID>/<ifname>").
  AttachmentRecord(const Attachment& attachment, std::string_view container_id,
                   std::string_view ifname);

  Attachment unpack(const std::string& container_id, const std::string& ifname) const;
  std::size_t ip_count() const;
  Attachment::Ip ip(std::size_t index) const;

 private:
  // Fields: container ID and ifname (empty when the key's), then pool and IP per IP.
  static constexpr std::size_t kFirstIp = 2;
  enum Flag : std::uint8_t { kContainerIdIsKey = 1, kIfnameIsKey = 2 };

  PackedStrings fields_;
  std::uint8_t flags_ = 0;
};

}  // namespace ipfence::ipam
