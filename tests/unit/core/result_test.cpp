// Error kinds: stable names (the agent's JSON API) and CNI codes (the plugin's stdout), and
// the Result/IPF_TRY plumbing every fallible call uses.
#include "ipam/result.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace ipfence {
namespace {

const std::vector<ErrorCode> kAllCodes = {
    ErrorCode::invalid_argument, ErrorCode::not_found,   ErrorCode::already_exists,
    ErrorCode::conflict,         ErrorCode::exhausted,   ErrorCode::ip_unavailable,
    ErrorCode::no_pool,          ErrorCode::in_use,      ErrorCode::corrupt,
    ErrorCode::compacted,        ErrorCode::unavailable, ErrorCode::io,
    ErrorCode::internal,         ErrorCode::mismatch,
};

TEST(ErrorCodeTest, NamesRoundTripAndAreDistinct) {
  std::set<std::string_view> names;
  for (ErrorCode code : kAllCodes) {
    auto name = error_code_name(code);
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    auto back = error_code_from_name(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, code) << name;
  }
}

TEST(ErrorCodeTest, StableNames) {
  EXPECT_EQ(error_code_name(ErrorCode::invalid_argument), "invalid_argument");
  EXPECT_EQ(error_code_name(ErrorCode::exhausted), "exhausted");
  EXPECT_EQ(error_code_name(ErrorCode::ip_unavailable), "ip_unavailable");
  EXPECT_EQ(error_code_name(ErrorCode::internal), "internal");
}

TEST(ErrorCodeTest, UnknownNames) {
  EXPECT_FALSE(error_code_from_name("").has_value());
  EXPECT_FALSE(error_code_from_name("Invalid_Argument").has_value());
  EXPECT_FALSE(error_code_from_name("invalid_argument ").has_value());
  EXPECT_FALSE(error_code_from_name("nope").has_value());
}

TEST(ErrorCodeTest, CniCodes) {
  // Spec codes: 5 = I/O failure, 7 = invalid network config, 11 = try again later.
  EXPECT_EQ(cni_error_code(ErrorCode::io), 5);
  EXPECT_EQ(cni_error_code(ErrorCode::invalid_argument), 7);
  EXPECT_EQ(cni_error_code(ErrorCode::conflict), 11);
  EXPECT_EQ(cni_error_code(ErrorCode::compacted), 11);
  EXPECT_EQ(cni_error_code(ErrorCode::unavailable), 11);
  // ipfence's own codes are 100 and up (docs/cni.md).
  EXPECT_EQ(cni_error_code(ErrorCode::no_pool), 101);
  EXPECT_EQ(cni_error_code(ErrorCode::not_found), 102);
  EXPECT_EQ(cni_error_code(ErrorCode::exhausted), 103);
  EXPECT_EQ(cni_error_code(ErrorCode::ip_unavailable), 104);
  EXPECT_EQ(cni_error_code(ErrorCode::mismatch), 105);
  EXPECT_EQ(cni_error_code(ErrorCode::in_use), 106);
  EXPECT_EQ(cni_error_code(ErrorCode::corrupt), 107);
  EXPECT_EQ(cni_error_code(ErrorCode::internal), 100);
  // Every code is a spec code the CNI spec defines (1-7, 11) or plugin-specific (100+).
  for (ErrorCode code : kAllCodes) {
    int cni = cni_error_code(code);
    EXPECT_TRUE((cni >= 1 && cni <= 7) || cni == 11 || cni >= 100) << error_code_name(code);
  }
}

TEST(ErrorTest, WrapKeepsCodeAndPrefixesContext) {
  Error e = make_error(ErrorCode::not_found, "pool 'p1' not found");
  Error wrapped = e.wrap("apply test.yaml");
  EXPECT_EQ(wrapped.code, ErrorCode::not_found);
  EXPECT_EQ(wrapped.message, "apply test.yaml: pool 'p1' not found");
  EXPECT_EQ(e.message, "pool 'p1' not found");  // the original is untouched
}

Result<int> half(int n) {
  if (n % 2) return make_error(ErrorCode::invalid_argument, "odd: " + std::to_string(n));
  return n / 2;
}

Result<int> quarter(int n) {
  IPF_ASSIGN_OR_RETURN(int h, half(n));
  IPF_ASSIGN_OR_RETURN(int q, half(h));
  return q;
}

Status check_even(int n) {
  IPF_TRY(half(n));
  return {};
}

TEST(ResultTest, ValueAndError) {
  Result<int> ok = half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(*ok, 4);
  Result<int> bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(bad.error().message, "odd: 3");

  Result<std::string> text = std::string("abc");
  EXPECT_EQ(text->size(), 3u);
  std::string moved = std::move(text).value();
  EXPECT_EQ(moved, "abc");
}

TEST(ResultTest, MacrosPropagate) {
  EXPECT_EQ(*quarter(8), 2);
  auto bad = quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "odd: 3");
  EXPECT_TRUE(check_even(2).ok());
  Status s = check_even(5);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "odd: 5");
}

}  // namespace
}  // namespace ipfence
