// The etcd v3 gateway wire format, without a server: answers as etcd 3.4 writes them
// (int64 as strings, zero fields left out, base64 bytes).
#include "ipam/store/etcd_codec.h"

#include <gtest/gtest.h>

namespace ipfence::store::etcd {
namespace {

TEST(EtcdCodec, Base64RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 255u, 256u}) {
    const std::string bytes = all.substr(0, n);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << n;
  }
  EXPECT_EQ(base64_encode("a"), "YQ==");
  EXPECT_EQ(base64_encode("/ipfence/"), "L2lwZmVuY2Uv");
  for (const char* bad : {"YQ=", "Y===", "YQ=a", "Y!==", "=QQQ"})
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

TEST(EtcdCodec, PrefixEndIncrementsTheLastByteBelowFF) {
  EXPECT_EQ(prefix_end("/ipfence/"), "/ipfence0");
  EXPECT_EQ(prefix_end("a\xff"), "b");
  EXPECT_EQ(prefix_end("a\xfe\xff\xff"), "a\xff");
  EXPECT_EQ(prefix_end("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST(EtcdCodec, TxnBodyComparesAndReadsEachComparedKeyOnFailure) {
  Txn txn{{Compare::absent("a"), Compare::unchanged("b", 7), Compare::unchanged("a", 3)},
          {Op::put("a", "v"), Op::del("b")}};
  const std::string body = txn_body(txn, "/p/");
  EXPECT_NE(body.find(R"("target":"VERSION")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("version":"0")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("target":"MOD")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("mod_revision":"7")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("request_put":{"key":"L3AvYQ==","value":"dg=="})"), std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("request_delete_range":{"key":"L3AvYg=="})"), std::string::npos) << body;
  EXPECT_EQ(txn_failure_ops(txn), 2u) << "a and b, each once";
}

TEST(EtcdCodec, RangeAnswerWithLeftOutFields) {
  const auto answer = parse_range(
      R"({"header":{"cluster_id":"1","revision":"12","raft_term":"2"},"kvs":[
          {"key":"L3AvYQ==","create_revision":"2","mod_revision":"9","version":"3","value":"eA=="},
          {"key":"L3AvYg==","create_revision":"4","mod_revision":"4","version":"1"}],
          "more":true,"count":"5"})",
      "/p/");
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->revision, 12);
  EXPECT_TRUE(answer->more);
  EXPECT_EQ(answer->count, 5);
  ASSERT_EQ(answer->kvs.size(), 2u);
  EXPECT_EQ(answer->kvs[0], (KeyValue{"a", "x", 2, 9, 3}));
  EXPECT_EQ(answer->kvs[1], (KeyValue{"b", "", 4, 4, 1})) << "an empty value is left out";

  const auto empty = parse_range(R"({"header":{"revision":"1"}})", "/p/");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->kvs.empty());
  EXPECT_FALSE(parse_range(R"({"kvs":[]})", "/p/").ok()) << "no header";
  EXPECT_FALSE(parse_range("<html>", "/p/").ok());
  EXPECT_FALSE(parse_range(R"({"header":{"revision":"1"},"kvs":[{"key":"L3EvYQ=="}]})", "/p/").ok())
      << "a key outside the prefix";
}

TEST(EtcdCodec, FailedTxnNamesTheFailingComparesFromTheFailureRanges) {
  Txn txn{{Compare::absent("c"), Compare::unchanged("a", 5), Compare::absent("x"),
           Compare::unchanged("b", 7)},
          {}};
  // As etcd answers: no "succeeded" (false is left out), one range per compared key.
  const auto result = parse_txn(
      R"({"header":{"revision":"20"},"responses":[
          {"response_range":{"header":{"revision":"20"},"kvs":[{"key":"L3AvYw==","create_revision":"6","mod_revision":"6","version":"1"}],"count":"1"}},
          {"response_range":{"header":{"revision":"20"},"kvs":[{"key":"L3AvYQ==","create_revision":"5","mod_revision":"5","version":"1"}],"count":"1"}},
          {"response_range":{"header":{"revision":"20"}}},
          {"response_range":{"header":{"revision":"20"}}}]})",
      txn, "/p/");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(result->succeeded);
  EXPECT_EQ(result->revision, 20);
  EXPECT_EQ(result->failed_keys, (std::vector<std::string>{"c", "b"}));

  const auto ok = parse_txn(R"({"header":{"revision":"21"},"succeeded":true})", txn, "/p/");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->succeeded);
  EXPECT_EQ(ok->revision, 21);
}

TEST(EtcdCodec, WatchStreamMessages) {
  auto created =
      parse_watch_line(R"({"result":{"header":{"revision":"4"},"created":true}})", "/p/");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->kind, WatchMessage::Kind::created);

  auto events = parse_watch_line(
      R"({"result":{"header":{"revision":"4"},"events":[
          {"kv":{"key":"L3AvYQ==","create_revision":"2","mod_revision":"3","version":"2","value":"eQ=="}},
          {"type":"DELETE","kv":{"key":"L3AvYQ==","mod_revision":"4"}}]}})",
      "/p/");
  ASSERT_TRUE(events.ok()) << events.error().message;
  EXPECT_EQ(events->kind, WatchMessage::Kind::events);
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0], (Event{Event::Type::put, KeyValue{"a", "y", 2, 3, 2}}));
  EXPECT_EQ(events->events[1], (Event{Event::Type::del, KeyValue{"a", "", 0, 4, 0}}));

  auto compacted = parse_watch_line(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"9"}})", "/p/");
  ASSERT_TRUE(compacted.ok());
  EXPECT_EQ(compacted->kind, WatchMessage::Kind::compacted);
  EXPECT_EQ(compacted->compact_revision, 9);

  auto progress = parse_watch_line(R"({"result":{"header":{"revision":"30"}}})", "/p/");
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->kind, WatchMessage::Kind::progress);
  EXPECT_EQ(progress->revision, 30);

  auto canceled = parse_watch_line(
      R"({"result":{"header":{},"canceled":true,"cancel_reason":"permission denied"}})", "/p/");
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->kind, WatchMessage::Kind::canceled);
  EXPECT_EQ(canceled->reason, "permission denied");

  auto broken = parse_watch_line(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"transport is closing"}})", "/p/");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code, ErrorCode::unavailable);
  EXPECT_NE(broken.error().message.find("transport is closing"), std::string::npos);
}

TEST(EtcdCodec, ErrorsMapToErrorCodes) {
  auto error = [](long status, const char* body) { return parse_error(status, body); };
  EXPECT_EQ(
      error(
          400,
          R"({"error":"x","message":"etcdserver: mvcc: required revision has been compacted","code":11})")
          .code,
      ErrorCode::compacted);
  EXPECT_EQ(
      error(400,
            R"({"message":"etcdserver: mvcc: required revision is a future revision","code":11})")
          .code,
      ErrorCode::invalid_argument);
  const auto too_many =
      error(400, R"({"message":"etcdserver: too many operations in txn request","code":3})");
  EXPECT_EQ(too_many.code, ErrorCode::invalid_argument);
  EXPECT_EQ(too_many.message, "etcdserver: too many operations in txn request");
  EXPECT_EQ(error(503, R"({"message":"etcdserver: no leader","code":14})").code,
            ErrorCode::unavailable);
  EXPECT_EQ(error(502, "Bad Gateway").code, ErrorCode::unavailable);
  EXPECT_NE(error(502, "Bad Gateway").message.find("502"), std::string::npos);
}

}  // namespace
}  // namespace ipfence::store::etcd
