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

std::optional<AttachmentRecord> AttachmentRecord::derive(const AttachmentRecord& record,
                                                         const AllocationRecord& allocation,
                                                         const IpAddress& ip) {
  constexpr std::uint8_t kNamesAreKey = kContainerIdIsKey | kIfnameIsKey;
  if (record.derived() || (record.flags_ & kNamesAreKey) != kNamesAreKey || record.ip_count() != 1)
    return std::nullopt;
  const Attachment::Ip held = record.ip(0);
  const AttachmentKey own = record.key();
  const AttachmentKey theirs{allocation.container_id_shape(),
                             allocation.unique_.at(AllocationRecord::kContainerId),
                             allocation.ifname()};
  if (own != theirs || held.pool != allocation.pool() || held.ip != ip.to_string())
    return std::nullopt;
  AttachmentRecord derived;
  derived.fields_ = allocation.unique_;
  derived.shared_ = allocation.shared_;
  derived.ip_ = ip.to_bytes();
  derived.flags_ = static_cast<std::uint8_t>((record.flags_ & ~kDerivedV6) | kDerived |
                                             (ip.is_v4() ? 0 : kDerivedV6));
  return derived;
}

std::string_view AttachmentRecord::key_ifname() const {
  return derived() ? std::string_view(AllocationRecord::ifname_of(shared_))
                   : fields_.at(kKeyIfname);
}

std::size_t AttachmentRecord::ip_count() const {
  if (derived()) return 1;
  const std::size_t fields = fields_.size();
  return fields > kFirstIp ? (fields - kFirstIp) / 2 : 0;
}

Attachment::Ip AttachmentRecord::ip(std::size_t index) const {
  if (derived()) {
    const IpFamily family = (flags_ & kDerivedV6) ? IpFamily::v6 : IpFamily::v4;
    return {AllocationRecord::pool_of(shared_),
            IpAddress::from_bytes(family, ip_.data()).to_string()};
  }
  return {std::string(fields_.at(kFirstIp + 2 * index)),
          std::string(fields_.at(kFirstIp + 2 * index + 1))};
}

Attachment AttachmentRecord::unpack() const {
  Attachment attachment{
      .container_id =
          (flags_ & kContainerIdIsKey) ? key_container_id() : std::string(fields_.at(kContainerId)),
      .ifname = std::string((flags_ & kIfnameIsKey) ? key_ifname() : fields_.at(kIfname)),
      .ips = {},
  };
  const std::size_t count = ip_count();
  attachment.ips.reserve(count);
  for (std::size_t i = 0; i < count; ++i) attachment.ips.push_back(ip(i));
  return attachment;
}

}  // namespace ipfence::ipam
