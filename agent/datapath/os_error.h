// Errors from failed OS and libbpf calls, as Result errors with the call named.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

#include "ipam/result.h"

namespace ipfence::datapath {

// ErrorCode::io "what: strerror(err)"; `err` may be errno or libbpf's -errno.
inline Error os_error(std::string_view what, int err) {
  if (err < 0) err = -err;
  return make_error(ErrorCode::io, std::string(what) + ": " + std::strerror(err));
}

}  // namespace ipfence::datapath
