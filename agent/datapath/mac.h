// A 48-bit Ethernet MAC address, parsed from and printed as "aa:bb:cc:dd:ee:ff".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "ipam/result.h"

namespace ipfence::datapath {

struct Mac {
  std::array<std::uint8_t, 6> bytes{};

  // Six hex pairs separated by ':' or '-', either case. Rejects anything else.
  static Result<Mac> parse(std::string_view text);
  std::string to_string() const;  // lower case, ':' separated
  auto operator<=>(const Mac&) const = default;
};

}  // namespace ipfence::datapath
