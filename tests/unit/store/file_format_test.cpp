// The file store's byte layout and JSON bodies, without any files.
#include "ipam/store/file_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "ipam/store/file_json.h"

namespace ipfence::store {
namespace {

TEST(FileFormat, Crc32IsTheStandardOne) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the check value of CRC-32/ISO-HDLC
  EXPECT_EQ(crc32(""), 0u);
}

TEST(FileFormat, WalHeaderRoundTripsAndRejectsDamage) {
  const auto header = encode_wal_header(1234567890123);
  ASSERT_EQ(header.size(), kWalHeaderSize);
  EXPECT_EQ(*decode_wal_header(header, "wal"), 1234567890123);
  std::string damaged = header;
  damaged[9] ^= 1;
  EXPECT_EQ(decode_wal_header(damaged, "/d/wal").error().code, ErrorCode::corrupt);
  EXPECT_NE(decode_wal_header(damaged, "/d/wal").error().message.find("/d/wal"), std::string::npos);
  EXPECT_EQ(decode_wal_header(header.substr(0, 10), "wal").error().code, ErrorCode::corrupt);
  EXPECT_EQ(decode_wal_header("IPFSNAP1" + header.substr(8), "wal").error().code,
            ErrorCode::corrupt);
}

class ScanRecords : public ::testing::Test {
 protected:
  const std::string a_ = frame_record("first body");
  const std::string b_ = frame_record("second");
  const std::string c_ = frame_record("third, the last");
  const std::string all_ = a_ + b_ + c_;
};

TEST_F(ScanRecords, ReadsEveryGoodRecordWithItsOffset) {
  auto scan = scan_records(all_, 100, "wal");
  ASSERT_TRUE(scan.ok()) << scan.error().message;
  ASSERT_EQ(scan->records.size(), 3u);
  EXPECT_EQ(scan->records[1].offset, 100 + a_.size());
  EXPECT_EQ(scan->records[2].body, "third, the last");
  EXPECT_EQ(scan->end, 100 + all_.size());
  EXPECT_EQ(scan->torn_bytes, 0u);
  EXPECT_EQ(scan_records("", 24, "wal")->end, 24u);
}

TEST_F(ScanRecords, AnUnfinishedFinalRecordIsTorn) {
  std::string bad_final = all_;
  bad_final.back() ^= 1;
  for (const auto& data : {all_.substr(0, all_.size() - 1), (a_ + b_).append(c_.substr(0, 7)),
                           bad_final, a_ + b_ + std::string(40, '\0'), a_ + b_ + "\xff"}) {
    auto scan = scan_records(data, 0, "wal");
    ASSERT_TRUE(scan.ok()) << scan.error().message;
    EXPECT_EQ(scan->records.size(), 2u);
    EXPECT_EQ(scan->end, a_.size() + b_.size());
    EXPECT_EQ(scan->torn_bytes, data.size() - scan->end);
  }
}

TEST_F(ScanRecords, DamageBeforeMoreRecordsIsCorrupt) {
  for (std::size_t at : {std::size_t{1}, std::size_t{5}, kRecordHeaderSize + 2}) {
    std::string data = all_;
    data[a_.size() + at] ^= 0x10;  // inside the second record
    auto scan = scan_records(data, 24, "/s/wal");
    ASSERT_FALSE(scan.ok()) << "damage at " << at;
    EXPECT_EQ(scan.error().code, ErrorCode::corrupt);
    EXPECT_NE(scan.error().message.find("/s/wal"), std::string::npos);
    EXPECT_NE(scan.error().message.find("offset " + std::to_string(24 + a_.size())),
              std::string::npos)
        << scan.error().message;
  }
  // Garbage inserted between good records.
  EXPECT_FALSE(scan_records(a_ + "garbage" + b_, 0, "wal").ok());
}

TEST(FileFormat, SnapshotFramingChecksLengthAndChecksum) {
  const auto file = frame_snapshot("{\"revision\":0,\"kvs\":[]}");
  EXPECT_TRUE(file.starts_with("ipfence-snapshot v1 crc32="));
  EXPECT_EQ(*unframe_snapshot(file, "s"), "{\"revision\":0,\"kvs\":[]}");
  std::string flipped = file;
  flipped[flipped.size() - 3] ^= 1;
  for (const auto& bad : {flipped, file.substr(0, file.size() - 1), file + "\n", std::string("{}"),
                          std::string("ipfence-snapshot v1 crc32=zz bytes=2\n{}")}) {
    auto body = unframe_snapshot(bad, "/x/snapshot.json");
    ASSERT_FALSE(body.ok()) << bad;
    EXPECT_EQ(body.error().code, ErrorCode::corrupt);
    EXPECT_NE(body.error().message.find("/x/snapshot.json"), std::string::npos);
  }
}

TEST(FileJson, ChangesRoundTripIncludingBytesThatAreNotText) {
  const std::string binary("\0\x01\xff\xc3", 4);
  Change change{42,
                {Event{Event::Type::put, KeyValue{"ips/p/10.0.0.1", "{\"pod\":\"a\"}", 40, 42, 3}},
                 Event{Event::Type::del, KeyValue{"gone", {}, 0, 42, 0}},
                 Event{Event::Type::put, KeyValue{binary, binary + "x", 42, 42, 1}},
                 Event{Event::Type::put, KeyValue{"utf8 \xe2\x82\xac", "", 42, 42, 1}}}};
  const auto body = encode_change(change);
  EXPECT_NE(body.find("\"base64\""), std::string::npos) << body;
  EXPECT_NE(body.find("ips/p/10.0.0.1"), std::string::npos) << "text stays readable";
  auto decoded = decode_change(body);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(*decoded, change);
}

TEST(FileJson, UndecodableRecordsAreCorrupt) {
  for (const char* body :
       {"", "{", "[]", "{\"revision\":1}",
        "{\"revision\":0,\"ops\":[{\"op\":\"delete\",\"key\":\"a\"}]}",
        "{\"revision\":1,\"ops\":[]}", "{\"revision\":1,\"ops\":[{\"op\":\"move\",\"key\":\"a\"}]}",
        "{\"revision\":1,\"ops\":[{\"op\":\"delete\",\"key\":{\"base64\":\"!!\"}}]}"}) {
    auto change = decode_change(body);
    ASSERT_FALSE(change.ok()) << body;
    EXPECT_EQ(change.error().code, ErrorCode::corrupt);
  }
}

TEST(FileJson, SnapshotsRoundTripAndRejectImpossibleStates) {
  std::map<std::string, KeyValue> kvs{{"a", KeyValue{"a", "1", 2, 5, 3}},
                                      {"b\xff", KeyValue{"b\xff", "", 7, 7, 1}}};
  auto decoded = decode_snapshot(encode_snapshot(9, kvs));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->revision, 9);
  EXPECT_EQ(decoded->kvs, kvs);
  EXPECT_FALSE(decode_snapshot(encode_snapshot(6, kvs)).ok())
      << "a key modified after the snapshot";
  EXPECT_FALSE(decode_snapshot("{\"revision\":1,\"kvs\":[{\"key\":\"a\"}]}").ok());
}

// decode_snapshot reads encode_snapshot's layout a line at a time; any other layout of the
// same JSON (an operator's jq edit) is parsed whole, and damage is corrupt either way.
TEST(FileJson, SnapshotsInAnotherLayoutDecodeTheSame) {
  std::map<std::string, KeyValue> kvs{{"a", KeyValue{"a", "1", 2, 5, 3}},
                                      {"b", KeyValue{"b", "x\ny", 7, 7, 1}}};
  const std::string lines = encode_snapshot(9, kvs);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 4) << lines;
  const std::string pretty = nlohmann::json::parse(lines).dump(2);
  for (const std::string& body : {lines, pretty}) {
    auto decoded = decode_snapshot(body);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->kvs, kvs);
  }
  EXPECT_TRUE(decode_snapshot(encode_snapshot(0, {})).ok());
  std::string duplicate = lines;
  duplicate.replace(duplicate.find("\"b\""), 3, "\"a\"");
  EXPECT_EQ(decode_snapshot(duplicate).error().code, ErrorCode::corrupt) << duplicate;
  std::string cut = lines;
  cut.erase(cut.find(",\n") + 1, 5);
  EXPECT_EQ(decode_snapshot(cut).error().code, ErrorCode::corrupt) << cut;
}

// The file store reads its snapshot a piece at a time: wherever the pieces split it, the
// reader sees what decode_snapshot sees, and it stops at any other layout or damage (the store
// then reads the file whole, which reports what is wrong).
TEST(FileJson, SnapshotLineReaderSeesWhatDecodeSeesAndStopsAtAnythingElse) {
  std::map<std::string, KeyValue> kvs{{"a", KeyValue{"a", "1", 2, 5, 3}},
                                      {"b\xff", KeyValue{"b\xff", "x\ny\"", 7, 7, 1}},
                                      {"c", KeyValue{"c", std::string(5000, 'z'), 8, 9, 2}}};
  const std::string body = encode_snapshot(9, kvs);
  // What a reader fed `body` in pieces of `size` bytes makes of it (nullopt: it stopped).
  auto read = [](const std::string& text, std::size_t size) {
    std::map<std::string, KeyValue> seen;
    SnapshotLineReader reader([&](SnapshotItem&& item) {
      std::string value = item.value;
      if (item.value_text)
        value = *decode_value(
            std::string_view(text).substr(item.value_text->offset, item.value_text->length));
      auto key = item.key;
      return seen
          .emplace(key,
                   KeyValue{item.key, value, item.create_revision, item.mod_revision, item.version})
          .second;
    });
    bool fed = true;
    for (std::size_t at = 0; fed && at < text.size(); at += size)
      fed = reader.feed(std::string_view(text).substr(at, size));
    return fed && reader.finish() && reader.revision() == 9
               ? std::optional<std::map<std::string, KeyValue>>(seen)
               : std::nullopt;
  };
  for (std::size_t size : {1, 2, 7, 100, 4096, 1 << 20}) {
    SCOPED_TRACE(size);
    EXPECT_EQ(read(body, size), kvs);
  }
  std::string duplicate = body;
  duplicate.replace(duplicate.find("\"c\""), 3, "\"a\"");
  std::string no_comma = body;
  no_comma.erase(no_comma.find(",\n"), 1);
  std::string extra_comma = body;
  extra_comma.insert(extra_comma.rfind("\n]}"), ",");
  const std::vector<std::string> others = {nlohmann::json::parse(body).dump(2),
                                           duplicate,
                                           no_comma,
                                           extra_comma,
                                           body.substr(0, body.size() - 1),
                                           body + "\n",
                                           body.substr(0, body.size() / 2),
                                           "{\"revision\":-1,\"kvs\":[\n]}\n"};
  for (const auto& other : others) EXPECT_EQ(read(other, 64), std::nullopt) << other;
  EXPECT_EQ(read(encode_snapshot(9, {}), 3), (std::map<std::string, KeyValue>{}));
}

// Values are decoded one at a time as the store reads them, mostly without the JSON parser:
// both ways must agree, and what the parser refuses stays refused.
TEST(FileJson, ValuesRoundTripAndDecodeLikeTheParser) {
  const std::vector<std::string> values = {
      "",
      "plain",
      "\"quoted\" \\ / \b\f\n\r\t",
      "\x01\x1f control characters (written as \\u00XX)",
      "caf\xc3\xa9 \xe2\x82\xac",
      std::string("\xff\x00 not text", 10),
  };
  for (const auto& value : values) {
    const auto text = encode_value(value);
    auto decoded = decode_value(text);
    ASSERT_TRUE(decoded.ok()) << text;
    EXPECT_EQ(*decoded, value) << text;
    EXPECT_EQ(*decoded, nlohmann::json::parse(text).is_string()
                            ? nlohmann::json::parse(text).get<std::string>()
                            : value)
        << text;
  }
  EXPECT_EQ(*decode_value("\"a\\/b\""), "a/b");
  EXPECT_EQ(*decode_value("\"\\u00e9\""), "\xc3\xa9");
  for (const std::string bad : {"\"\xff\"", "\"a\\q\"", "\"a\nb\"", "\"a\"b\"", "\"a\\\"",
                                "\"unterminated", "{\"base64\":\"!!\"}", "42"})
    EXPECT_EQ(decode_value(bad).error().code, ErrorCode::corrupt) << bad;
}

}  // namespace
}  // namespace ipfence::store
