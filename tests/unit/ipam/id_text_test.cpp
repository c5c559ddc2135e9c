// Runtime identifiers packed by shape (ipam/id_text.h): each shape packs to its size and back
// to the very text; anything that only looks like a shape is kept as written.
#include "ipam/id_text.h"

#include <gtest/gtest.h>

namespace ipfence::ipam {
namespace {

struct Packed {
  IdShape shape;
  std::string bytes;
};

Packed pack(std::string_view text) {
  Packed p{IdShape::text, "prefix:"};  // pack_id appends: what was there stays
  p.shape = pack_id(text, p.bytes);
  EXPECT_EQ(p.bytes.substr(0, 7), "prefix:");
  p.bytes.erase(0, 7);
  return p;
}

TEST(IdText, EachShapePacksToItsSizeAndBackToTheSameText) {
  const struct {
    std::string text;
    IdShape shape;
    std::size_t bytes;
  } cases[] = {
      {"3f1c0e2d9b7a4c5e8f6d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d", IdShape::hex, 32},
      {"0123456789abcdef0123456789abcdef", IdShape::hex, 16},
      {"6a1f0d2c-3b4e-4f5a-8b9c-0d1e2f3a4b5c", IdShape::uuid, 16},
      {"/var/run/netns/cni-8d1c5e47-0b3f-4a4e-9a55-1a2b3c4d5e6f", IdShape::cni_netns, 16},
  };
  for (const auto& c : cases) {
    const Packed p = pack(c.text);
    EXPECT_EQ(p.shape, c.shape) << c.text;
    EXPECT_EQ(p.bytes.size(), c.bytes) << c.text;
    EXPECT_EQ(unpack_id(p.shape, p.bytes), c.text);
  }
}

TEST(IdText, TextOfNoShapeIsKeptAsWritten) {
  for (const std::string& text : std::initializer_list<std::string>{
           "",
           "resync-1",
           "3F1C0E2D9B7A4C5E8F6D1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B1C2D",  // upper case
           "3f1c0e2d9b7a4c5e8f6d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2",   // odd length
           "0123456789abcdef",                                                  // too short
           "6A1F0D2C-3B4E-4F5A-8B9C-0D1E2F3A4B5C",                              // upper case
           "6a1f0d2c-3b4e-4f5a-8b9c0d1e2f3a4b5c",                               // a dash short
           "6a1f0d2c-3b4e-4f5a-8b9c-0d1e2f3a4b5c7",                             // too long
           "/var/run/netns/cni-8d1c5e47-0b3f-4a4e-9a55-1a2b3c4d5e6",            // uuid short
           "/var/run/netns/8d1c5e47-0b3f-4a4e-9a55-1a2b3c4d5e6f",               // no cni-
           "/proc/1234/ns/net",
           std::string("ab\0cd", 5),
       }) {
    const Packed p = pack(text);
    EXPECT_EQ(p.shape, IdShape::text) << text;
    EXPECT_EQ(p.bytes, text);
    EXPECT_EQ(unpack_id(p.shape, p.bytes), text);
  }
}

}  // namespace
}  // namespace ipfence::ipam
