// The plugin's minimal HTTP/1.1 response parser: the body framings an HTTP server may use.
#include "cni/unix_http.h"

#include <gtest/gtest.h>

namespace ipfence::cni {
namespace {

TEST(UnixHttp, ContentLengthBody) {
  HttpAnswer answer;
  std::string problem;
  ASSERT_TRUE(parse_http_response(
      "HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 7\r\nConnection: close\r\n\r\n"
      "{\"a\":1}trailing",
      answer, problem))
      << problem;
  EXPECT_EQ(answer.status, 422);
  EXPECT_EQ(answer.body, "{\"a\":1}");
}

TEST(UnixHttp, ChunkedBody) {
  HttpAnswer answer;
  std::string problem;
  ASSERT_TRUE(
      parse_http_response("HTTP/1.1 200 OK\r\ntransfer-encoding: "
                          "Chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=1\r\n:1}\r\n0\r\n\r\n",
                          answer, problem))
      << problem;
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "{\"a\":1}");
}

TEST(UnixHttp, BodyToEndOfStream) {
  HttpAnswer answer;
  std::string problem;
  ASSERT_TRUE(parse_http_response("HTTP/1.0 200 OK\r\n\r\nhello", answer, problem));
  EXPECT_EQ(answer.body, "hello");
}

TEST(UnixHttp, MalformedAnswersSayWhy) {
  HttpAnswer answer;
  std::string problem;
  EXPECT_FALSE(parse_http_response("SSH-2.0-OpenSSH\r\n\r\n", answer, problem));
  EXPECT_EQ(problem, "not an HTTP/1.x status line: SSH-2.0-OpenSSH");
  EXPECT_FALSE(
      parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", answer, problem));
  EXPECT_EQ(problem, "truncated body");
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", answer, problem));
  EXPECT_EQ(problem, "no end of headers");
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                   answer, problem));
  EXPECT_EQ(problem, "bad chunk size");
}

}  // namespace
}  // namespace ipfence::cni
