// The stored form of index keys (key_text.h) gives back the text, and stored forms order exactly
// as their texts; KeyIndex, which keeps keys in that form, finds and lists keys in text order.
#include "ipam/store/key_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ipam/store/key_index.h"

namespace ipfence::store {
namespace {

const std::string kId64 = "4f1d9c0b7e2a58c3d6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5";

std::string stored_form(std::string_view text, bool* encoded = nullptr) {
  std::string out;
  const bool differs = key_text::encode(text, out);
  if (encoded) *encoded = differs;
  return out;
}

TEST(KeyText, PacksLongHexRunsOnlyAndGivesBackTheText) {
  bool encoded = true;
  EXPECT_EQ(stored_form("ips/pool-a/10.8.0.1", &encoded), "ips/pool-a/10.8.0.1");
  EXPECT_FALSE(encoded);
  // 31 digits: too short to pack.
  const std::string short_run = "attachments/" + kId64.substr(0, 31) + "/eth0";
  EXPECT_EQ(stored_form(short_run, &encoded), short_run);
  EXPECT_FALSE(encoded);

  const std::string attachment = "attachments/" + kId64 + "/eth0";
  const std::string packed = stored_form(attachment, &encoded);
  EXPECT_TRUE(encoded);
  EXPECT_EQ(packed.size(), attachment.size() - 64 + 2 + 32);
  EXPECT_EQ(key_text::decode(packed), attachment);

  // Upper case is not packed (it would come back lower case); an odd run keeps a digit as text;
  // a zero byte of the text is escaped; runs past 255 bytes take several pieces.
  for (const std::string& text :
       {"x/" + std::string(64, 'A'), "a/" + kId64 + "f/b", std::string("k\0v", 3) + kId64,
        std::string(2000, 'e'), std::string(511, '7') + "/", kId64 + kId64, std::string(1, '\0')}) {
    const std::string stored = stored_form(text, &encoded);
    EXPECT_EQ(encoded ? key_text::decode(stored) : stored, text) << text;
  }
  EXPECT_LT(stored_form(std::string(2000, 'e')).size(), 1020u);
}

// Random keys from the pieces store keys are made of: every pair orders as its texts do.
TEST(KeyText, StoredFormsOrderAsTheirTexts) {
  std::mt19937 random(7);
  const std::vector<std::string> pieces = {"attachments/",
                                           "ips/",
                                           "/",
                                           "eth0",
                                           "0",
                                           "f",
                                           "-",
                                           std::string(1, '\0'),
                                           "\xff",
                                           kId64,
                                           kId64.substr(0, 32),
                                           kId64.substr(0, 33),
                                           kId64.substr(10, 40),
                                           "4f1d",
                                           "G",
                                           "zz"};
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) {
    std::string text;
    const int count = std::uniform_int_distribution<int>(0, 4)(random);
    for (int p = 0; p < count; ++p)
      text += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(random)];
    texts.push_back(text);
  }
  const auto sign = [](auto ordering) { return ordering < 0 ? -1 : ordering > 0 ? 1 : 0; };
  for (const std::string& a : texts) {
    const std::string sa = stored_form(a);
    for (const std::string& b : texts) {
      const int expected = sign(std::string_view(a) <=> std::string_view(b));
      ASSERT_EQ(sign(key_text::compare_stored(sa, stored_form(b))), expected) << a << " | " << b;
      ASSERT_EQ(sign(key_text::compare_stored_with_text(sa, b)), expected) << a << " | " << b;
    }
  }
}

TEST(KeyIndexKeys, FindAndListInTextOrderWithPackedKeys) {
  KeyIndex<int> index;
  std::map<std::string, int> model;
  std::mt19937 random(11);
  const std::vector<std::string> ids = {
      kId64, kId64.substr(0, 63) + "6",         kId64.substr(0, 40), "4f1d-not-hex",
      "0",   "4F1D9C0B7E2A58C3D6E9F0A1B2C3D4E5"};
  for (int i = 0; i < 300; ++i) {
    const std::string& id =
        ids[std::uniform_int_distribution<std::size_t>(0, ids.size() - 1)(random)];
    const std::string key = (i % 3 ? "attachments/" : "ips/") + id + "/eth" + std::to_string(i % 7);
    const bool fresh = !model.contains(key);
    EXPECT_EQ(index.insert(key, KeyIndex<int>::Entry{1, 1, 1, i}), fresh) << key;
    if (fresh) model.emplace(key, i);
  }
  ASSERT_EQ(index.size(), model.size());
  for (const auto& [key, value] : model) {
    const auto* entry = index.find(key);
    ASSERT_NE(entry, nullptr) << key;
    EXPECT_EQ(entry->value, value);
  }
  EXPECT_EQ(index.find("attachments/" + kId64), nullptr);
  for (const std::string& prefix :
       std::vector<std::string>{"", "attachments/", "attachments/" + kId64.substr(0, 40),
                                "attachments/" + kId64, "ips/4f1d", "ips/0/"}) {
    std::vector<std::string> listed;
    index.for_each(prefix, [&](std::string_view key, const auto&) { listed.emplace_back(key); });
    std::vector<std::string> expected;
    for (const auto& [key, value] : model)
      if (key.starts_with(prefix)) expected.push_back(key);
    EXPECT_EQ(listed, expected) << "prefix " << prefix;
  }
}

}  // namespace
}  // namespace ipfence::store
