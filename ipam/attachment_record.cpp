#include "ipam/attachment_record.h"

#include <vector>

namespace ipfence::ipam {

AttachmentProbe::AttachmentProbe(std::string_view container_id, std::string_view ifname)
    : shape_(pack_id(container_id, packed_)), ifname_(ifname) {}

AttachmentRecord::AttachmentRecord(const Attachment& attachment, std::string_view container_id,
                                   std::string_view ifname) {
  std::string packed_id;
  flags_ |= static_cast<std::uint8_t>(static_cast<unsigned>(pack_id(container_id, packed_id))
                                      << kShapeShift);
  std::vector<std::string_view> fields;
  fields.reserve(kFirstIp + 2 * attachment.ips.size());
  fields.push_back(packed_id);
  fields.push_back(ifname);
  if (attachment.container_id == container_id) {
    flags_ |= kContainerIdIsKey;
    fields.emplace_back();
  } else {
    fields.emplace_back(attachment.container_id);
  }
  if (attachment.ifname == ifname) {
    flags_ |= kIfnameIsKey;
    fields.emplace_back();
  } else {
    fields.emplace_back(attachment.ifname);
  }
  for (const auto& held : attachment.ips) {
    fields.emplace_back(held.pool);
    fields.emplace_back(held.ip);
  }
  fields_ = PackedStrings(fields);
}

std::size_t AttachmentRecord::ip_count() const {
  const std::size_t fields = fields_.size();
  return fields > kFirstIp ? (fields - kFirstIp) / 2 : 0;
}

Attachment::Ip AttachmentRecord::ip(std::size_t index) const {
  return {std::string(fields_.at(kFirstIp + 2 * index)),
          std::string(fields_.at(kFirstIp + 2 * index + 1))};
}

Attachment AttachmentRecord::unpack() const {
  Attachment attachment{
      .container_id =
          (flags_ & kContainerIdIsKey) ? key_container_id() : std::string(fields_.at(kContainerId)),
      .ifname = std::string(fields_.at((flags_ & kIfnameIsKey) ? kKeyIfname : kIfname)),
      .ips = {},
  };
  const std::size_t count = ip_count();
  attachment.ips.reserve(count);
  for (std::size_t i = 0; i < count; ++i) attachment.ips.push_back(ip(i));
  return attachment;
}

}  // namespace ipfence::ipam
