// AddressKey (address_key.h) stores a u128 in two 8-byte halves so that the view's allocation
// B-tree has 56-byte slots: it must give back every value and order them as u128 does,
// across the halves (IPv6 addresses differ in either).
#include "ipam/address_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "ipam/wide_btree.h"

namespace ipfence::ipam {
namespace {

const u128 kTwo64 = u128{1} << 64;

std::vector<u128> edge_values() {
  return {0,
          1,
          kTwo64 - 1,
          kTwo64,
          kTwo64 + 1,
          ~u128{0},
          ~u128{0} - 1,
          u128{1} << 127,
          (u128{1} << 127) - 1,
          IpAddress::parse("fd00::1")->value(),
          IpAddress::parse("fd00::1:0:0:0:1")->value()};
}

TEST(AddressKey, GivesBackEveryValue) {
  for (u128 value : edge_values()) {
    const AddressKey key(value);
    EXPECT_TRUE(static_cast<u128>(key) == value);
  }
  EXPECT_TRUE(static_cast<u128>(AddressKey()) == 0);
}

TEST(AddressKey, OrdersAsU128AcrossTheHalves) {
  const AddressKeyOrder less;
  for (u128 a : edge_values())
    for (u128 b : edge_values()) EXPECT_EQ(less(a, b), a < b);

  WideBtreeMap<AddressKey, int, AddressKeyOrder> map;
  std::vector<u128> values = edge_values();
  for (std::size_t i = 0; i < values.size(); ++i) map[values[i]] = static_cast<int>(i);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  ASSERT_EQ(map.size(), values.size());
  std::size_t at = 0;
  for (const auto& [key, index] : map) EXPECT_TRUE(static_cast<u128>(key) == values[at++]);
  EXPECT_TRUE(map.find(kTwo64) != map.end());
  EXPECT_TRUE(map.find(kTwo64 + 2) == map.end());
  EXPECT_EQ(sizeof(std::pair<const AddressKey, std::array<char, 40>>), 56u);
}

}  // namespace
}  // namespace ipfence::ipam
