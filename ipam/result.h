// Errors as values: every fallible call in ipam/, the store and the agent's hot paths returns
// Result<T>. Exceptions are reserved for start-up (bad flags, unreadable config).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ipfence {

// One list of error kinds for the whole project. Each maps to a stable name (used in the
// agent's JSON API) and to the CNI error code the plugin prints, so the mapping lives here
// and nowhere else.
enum class ErrorCode {
  invalid_argument,  // the caller's input is wrong (manifest, flag, request field)
  not_found,         // the named object or key does not exist
  already_exists,    // create-if-absent found the key
  conflict,          // a compare in a transaction failed (someone else wrote first)
  exhausted,         // "all IPs have been exhausted"
  ip_unavailable,    // a specific IP was asked for and it is reserved, excluded or taken
  no_pool,           // no IP pool selected for a request
  in_use,            // refused because something still holds it (pool delete, IP removal)
  mismatch,          // CHECK: the attachment holds other IPs than the runtime expects
  corrupt,           // a store file or record is damaged; never silently reset
  compacted,         // a watch asked for a revision the store no longer has
  unavailable,       // the store or agent cannot be reached now; try again later
  io,                // an OS call failed
  internal,          // a bug: an invariant did not hold
};

std::string_view error_code_name(ErrorCode code);
std::optional<ErrorCode> error_code_from_name(std::string_view name);
// The CNI error code the plugin reports for this kind (spec codes below 100, ours above).
int cni_error_code(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;

  // "what went wrong" prefixed with context, e.g. wrap("apply test.yaml") -> "apply test.yaml: ..."
  Error wrap(std::string_view context) const {
    return Error{code, std::string(context) + ": " + message};
  }
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// A minimal std::expected stand-in (C++20 has none): holds a T or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace ipfence

// Propagate an error from an expression returning Result<...> or Status.
#define IPF_TRY(expr)                                          \
  do {                                                         \
    auto&& ipf_try_result_ = (expr);                           \
    if (!ipf_try_result_.ok()) return ipf_try_result_.error(); \
  } while (0)

#define IPF_CONCAT_INNER(a, b) a##b
#define IPF_CONCAT(a, b) IPF_CONCAT_INNER(a, b)
// Declare `lhs` from the value of a Result, or return its error.
#define IPF_ASSIGN_OR_RETURN(lhs, expr) \
  IPF_ASSIGN_OR_RETURN_IMPL(IPF_CONCAT(ipf_result_, __LINE__), lhs, expr)
#define IPF_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.error();              \
  lhs = std::move(tmp).value()
