// CNI errors as values. The plugin's failures are CNI error codes (the spec's 1..51 and
// ipfence's 100+), not ipfence::ErrorCode kinds: env and netconf problems (4, 6, 7) and
// STATUS (50) have no ErrorCode, and the agent's error body already carries the CNI code.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "ipam/result.h"

namespace ipfence::cni {

// The spec's well-known codes (SPEC.md "Error" section); 100+ come from ipam/result.cpp.
inline constexpr int kIncompatibleVersion = 1;
inline constexpr int kUnsupportedField = 2;
inline constexpr int kInvalidEnvironment = 4;
inline constexpr int kIoFailure = 5;
inline constexpr int kDecodeFailure = 6;
inline constexpr int kInvalidNetworkConfig = 7;
inline constexpr int kTryAgainLater = 11;
inline constexpr int kPluginNotAvailable = 50;
inline constexpr int kInternal = 100;  // same as cni_error_code(ErrorCode::internal)

struct CniError {
  int code = kInternal;
  std::string msg;
  std::string details;

  // "what went wrong" prefixed with context, as Error::wrap.
  CniError wrap(const std::string& context) const {
    return CniError{code, context + ": " + msg, details};
  }
};

inline CniError cni_error(int code, std::string msg, std::string details = {}) {
  return CniError{code, std::move(msg), std::move(details)};
}

// An ipfence::Error becomes the CNI code the project maps its kind to (ipam/result.cpp).
inline CniError to_cni_error(const Error& error) {
  return CniError{cni_error_code(error.code), error.message,
                  std::string(error_code_name(error.code))};
}

// A T or a CniError. Same shape as ipfence::Result, so IPF_TRY and IPF_ASSIGN_OR_RETURN
// from ipam/result.h work with it unchanged.
template <typename T>
class [[nodiscard]] CniOr {
 public:
  CniOr(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  CniOr(CniError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const CniError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, CniError> v_;
};

template <>
class [[nodiscard]] CniOr<void> {
 public:
  CniOr() = default;
  CniOr(CniError error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const CniError& error() const { return *error_; }

 private:
  std::optional<CniError> error_;
};

using CniStatus = CniOr<void>;

}  // namespace ipfence::cni
