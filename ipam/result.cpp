#include "ipam/result.h"

#include <array>

namespace ipfence {
namespace {

struct CodeInfo {
  ErrorCode code;
  std::string_view name;
  int cni_code;
};

// CNI codes: 11 = "try again later", 7 = invalid network config; 100+ are ipfence's own and
// are documented in docs/cni.md.
constexpr std::array<CodeInfo, 14> kCodes{{
    {ErrorCode::invalid_argument, "invalid_argument", 7},
    {ErrorCode::not_found, "not_found", 102},
    {ErrorCode::already_exists, "already_exists", 100},
    {ErrorCode::conflict, "conflict", 11},
    {ErrorCode::exhausted, "exhausted", 103},
    {ErrorCode::ip_unavailable, "ip_unavailable", 104},
    {ErrorCode::no_pool, "no_pool", 101},
    {ErrorCode::in_use, "in_use", 106},
    // A CHECK mismatch is not "try again later": retrying never fixes it.
    {ErrorCode::mismatch, "mismatch", 105},
    {ErrorCode::corrupt, "corrupt", 107},
    {ErrorCode::compacted, "compacted", 11},
    {ErrorCode::unavailable, "unavailable", 11},
    {ErrorCode::io, "io", 5},
    {ErrorCode::internal, "internal", 100},
}};

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  for (const auto& info : kCodes)
    if (info.code == code) return info.name;
  return "internal";
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (const auto& info : kCodes)
    if (info.name == name) return info.code;
  return std::nullopt;
}

int cni_error_code(ErrorCode code) {
  for (const auto& info : kCodes)
    if (info.code == code) return info.cni_code;
  return 100;
}

}  // namespace ipfence
