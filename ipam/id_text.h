// Runtime identifiers kept in fewer bytes when their text has a shape every runtime uses: a
// container ID of lowercase hex (64 digits from containerd and CRI-O: 32 bytes), a pod UID
// (a lowercase UUID: 16 bytes) and a CNI netns path of containerd's (/var/run/netns/cni-<UUID>:
// 16 bytes). At 65,536 pods that is ~6 MB of the agent's view. Packing is exact: unpacking
// gives back the very text, and text of any other shape is kept as written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ipfence::ipam {

enum class IdShape : std::uint8_t {
  text = 0,       // as written
  hex = 1,        // lowercase hex, an even number of digits (32 or more): two digits a byte
  uuid = 2,       // 8-4-4-4-12 lowercase hex digits: 16 bytes
  cni_netns = 3,  // kCniNetnsPrefix + a uuid: 16 bytes
};

inline constexpr std::string_view kCniNetnsPrefix = "/var/run/netns/cni-";

// The shape of `text` and its packed bytes (appended to `out`; `text` itself for IdShape::text).
IdShape pack_id(std::string_view text, std::string& out);
// The text that pack_id was given.
std::string unpack_id(IdShape shape, std::string_view packed);

}  // namespace ipfence::ipam
