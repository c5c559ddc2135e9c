#include "cni/ip_text.h"

#include <arpa/inet.h>

#include <array>
#include <string>

namespace ipfence::cni {

std::optional<int> ip_family(std::string_view text) {
  // inet_pton needs a NUL-terminated string; no address text is longer than 45 bytes.
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string copy(text);
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, copy.c_str(), buf.data()) == 1) return 4;
  if (inet_pton(AF_INET6, copy.c_str(), buf.data()) == 1) return 6;
  return std::nullopt;
}

std::optional<int> cidr_family(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto family = ip_family(text.substr(0, slash));
  if (!family) return std::nullopt;
  auto len_text = text.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3) return std::nullopt;
  int len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > (*family == 4 ? 32 : 128)) return std::nullopt;
  return family;
}

}  // namespace ipfence::cni
