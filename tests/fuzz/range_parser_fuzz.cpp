// Address, prefix and range parsers on arbitrary bytes. Beyond "no crash, no UB", it checks
// the properties the rest of ipfence relies on:
//  - canonical text re-parses to the same value, and is a fixed point of print(parse(.));
//  - a family passed to IpRange::parse is the family of what it returns;
//  - every error is invalid_argument and names the offending text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "ipam/ip_address.h"
#include "ipam/ip_set.h"

namespace {

using namespace ipfence;
using namespace ipfence::ipam;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "range_parser_fuzz: %s for input '%.*s'\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

void check_error(const Error& error, std::string_view input) {
  if (error.code != ErrorCode::invalid_argument) fail("error code not invalid_argument", input);
  std::string quoted = "'" + std::string(input) + "'";
  if (!std::string_view(error.message).ends_with(quoted)) fail("error does not name text", input);
}

void check_address(std::string_view input) {
  auto ip = IpAddress::parse(input);
  if (!ip) return check_error(ip.error(), input);
  std::string text = ip->to_string();
  auto again = IpAddress::parse(text);
  if (!again || *again != *ip) fail("address does not re-parse", input);
  if (again->to_string() != text) fail("address text is not canonical", input);
  if (ip->value() > family_max(ip->family())) fail("address value beyond family", input);
  if (IpAddress::from_bytes(ip->family(), ip->to_bytes().data()) != *ip)
    fail("address bytes do not round-trip", input);
}

void check_prefix(std::string_view input) {
  auto prefix = IpPrefix::parse(input);
  if (!prefix) return check_error(prefix.error(), input);
  std::string text = prefix->to_string();
  auto again = IpPrefix::parse(text);
  // to_string() prints the network, so compare against the masked form.
  IpPrefix masked{prefix->network(), prefix->length};
  if (!again || *again != masked) fail("prefix does not re-parse", input);
  if (again->to_string() != text) fail("prefix text is not canonical", input);
  if (!prefix->contains(prefix->address) || !prefix->contains(prefix->last()))
    fail("prefix does not contain its own addresses", input);
}

void check_range(std::string_view input, std::optional<IpFamily> family) {
  auto range = IpRange::parse(input, family);
  if (!range) return check_error(range.error(), input);
  if (family && range->family() != *family) fail("range of the wrong family", input);
  if (range->first.family() != range->last.family() || range->last < range->first)
    fail("range bounds out of order", input);
  std::string text = range->to_string();
  auto again = IpRange::parse(text, family);
  if (!again || *again != *range) fail("range does not re-parse", input);
  if (again->to_string() != text) fail("range text is not canonical", input);

  // The range as a set: one interval, of the range's size (2^128 saturates).
  IpSet set(range->family());
  set.insert(*range);
  u128 want = range->size() == 0 ? ~u128{0} : range->size();
  if (set.interval_count() != 1 || set.size() != want) fail("range set size differs", input);
  if (!set.contains(range->first) || !set.contains(range->last))
    fail("range set misses a bound", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_address(input);
  check_prefix(input);
  check_range(input, std::nullopt);
  check_range(input, IpFamily::v4);
  check_range(input, IpFamily::v6);
  return 0;
}
