#include "agent/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "agent/unix_listener.h"
#include "agent_test_support.h"

namespace ipfence::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TempDir;

// Reads one response on a connection that stays open: up to the end of its headers, then the
// body its Content-Length says ("" when the connection closes first).
std::string read_response(int fd) {
  std::string raw;
  char buf[4096];
  for (;;) {
    const auto end_of_headers = raw.find("\r\n\r\n");
    if (end_of_headers != std::string::npos) {
      const auto length_at = raw.find("Content-Length: ");
      const std::size_t length =
          length_at < end_of_headers ? std::stoul(raw.substr(length_at + 16)) : 0;
      if (raw.size() >= end_of_headers + 4 + length) return raw;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    raw.append(buf, static_cast<std::size_t>(n));
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    router_.add("GET", "/v1/healthz", [](const HttpRequest&) {
      return json_response(200, {{"status", "ok"}});
    });
    router_.add("POST", "/v1/echo", [](const HttpRequest& r) {
      return json_response(200, {{"body", r.body}});
    });
    router_.add("POST", "/v1/slow", [this](const HttpRequest&) {
      entered_.set_value();
      release_.get_future().wait();
      return json_response(200, {{"slow", true}});
    });
  }

  std::unique_ptr<HttpServer> start(HttpServer::Options options = {}) {
    options.address = socket_;
    options.unlink_on_stop = true;
    if (!options.allowed_uid) options.allowed_uid = ::getuid();
    if (options.max_body_bytes == 0) options.max_body_bytes = 1 << 20;
    auto listener = listen_unix(socket_, 0600);
    EXPECT_TRUE(listener.ok());
    auto server = HttpServer::start(std::move(*listener), options, router_);
    EXPECT_TRUE(server.ok()) << server.error().message;
    return std::move(*server);
  }

  TempDir dir_;
  std::string socket_ = dir_ / "agent.sock";
  HttpRouter router_;
  std::promise<void> entered_;
  std::promise<void> release_;

  // POST /v1/slow from another thread; returns once its handler runs (it waits for release_).
  std::future<testing::Reply> begin_slow_request() {
    auto reply = std::async(std::launch::async,
                            [this] { return testing::http(socket_, "POST", "/v1/slow", "{}"); });
    entered_.get_future().wait();
    return reply;
  }
};

TEST_F(HttpServerTest, ServesRoutesOverTheSocket) {
  auto server = start();
  testing::Reply health = testing::http(socket_, "GET", "/v1/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  testing::Reply echo = testing::http(socket_, "POST", "/v1/echo", R"({"a":1})");
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.json()["body"], R"({"a":1})");
  EXPECT_EQ(testing::http(socket_, "GET", "/v1/nope").status, 404);
  EXPECT_EQ(testing::http(socket_, "POST", "/v1/healthz", "{}").status, 405);
}

TEST_F(HttpServerTest, OtherUidsGet403) {
  HttpServer::Options options;
  options.allowed_uid = ::getuid() + 1;  // anyone but us
  auto server = start(options);
  testing::Reply reply = testing::http(socket_, "GET", "/v1/healthz");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.json()["error"]["code"], "permission_denied");
  EXPECT_THAT(reply.json()["error"]["message"].get<std::string>(),
              HasSubstr("this client runs as uid " + std::to_string(::getuid())));
}

TEST_F(HttpServerTest, LargeBodiesGet413) {
  HttpServer::Options options;
  options.max_body_bytes = 16;
  auto server = start(options);
  testing::Reply reply = testing::http(socket_, "POST", "/v1/echo", std::string(100, 'x'));
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.json()["error"]["code"], "invalid_argument");
}

// A body over the limit that is bigger than the socket's buffers: the client is still sending
// when the answer is written, and must get to read it rather than a reset connection.
TEST_F(HttpServerTest, LargeBodiesGet413EvenWhileTheClientIsStillSending) {
  HttpServer::Options options;
  options.max_body_bytes = 16;
  auto server = start(options);
  testing::Reply reply = testing::http(socket_, "POST", "/v1/echo", std::string(8 << 20, 'x'));
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.json()["error"]["message"], "request body is larger than 16 bytes");
  // Chunked: no length up front, the limit is met while reading.
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(
      testing::send_all(fd,
                        "POST /v1/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                        "\r\n20\r\n" +
                            std::string(32, 'y') + "\r\n0\r\n\r\n"));
  const std::string raw = testing::read_all(fd);
  ::close(fd);
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 413 "));
  EXPECT_THAT(raw, HasSubstr("Connection: close"));
  EXPECT_THAT(raw, HasSubstr(R"("code":"invalid_argument")"));
}

// Two requests on one connection, sent before reading: both answered, in order.
TEST_F(HttpServerTest, KeepsAConnectionOpenForMoreRequests) {
  auto server = start();
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::send_all(
      fd,
      "POST /v1/echo?ignored=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nfirst"
      "POST /v1/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nConnection: close\r\n\r\n"
      "second"));
  const std::string raw = testing::read_all(fd);
  ::close(fd);
  const auto first = raw.find(R"({"body":"first"})");
  const auto second = raw.find(R"({"body":"second"})");
  ASSERT_NE(first, std::string::npos) << raw;
  ASSERT_NE(second, std::string::npos) << raw;
  EXPECT_LT(first, second);
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 200 OK\r\n"));
}

// A HEAD gets what a GET would, without the body: the next response on the connection is not
// taken for one.
TEST_F(HttpServerTest, HeadGetsHeadersOnly) {
  router_.add("HEAD", "/v1/healthz", [](const HttpRequest&) {
    return json_response(200, {{"status", "ok"}});
  });
  auto server = start();
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(
      testing::send_all(fd,
                        "HEAD /v1/healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                        "GET /v1/healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  const std::string raw = testing::read_all(fd);
  ::close(fd);
  const std::string body = R"({"status":"ok"})";
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(raw, HasSubstr("Content-Length: " + std::to_string(body.size() + 1)));  // + "\n"
  // The body once, after the second response's headers.
  const auto second = raw.find("HTTP/1.1 200 OK", 1);
  ASSERT_NE(second, std::string::npos) << raw;
  EXPECT_EQ(raw.find(body), raw.rfind(body));
  EXPECT_GT(raw.find(body), second);
}

TEST_F(HttpServerTest, RequestsThatAreNotHttpGet400) {
  auto server = start();
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::send_all(fd, "HELLO agent, how are you\r\n\r\n"));
  const std::string raw = testing::read_all(fd);
  ::close(fd);
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(raw, HasSubstr(R"("code":"invalid_argument")"));
  EXPECT_THAT(raw, HasSubstr("malformed HTTP request"));
  // The server goes on serving others.
  EXPECT_EQ(testing::http(socket_, "GET", "/v1/healthz").status, 200);
}

TEST_F(HttpServerTest, OversizedHeadersGet431) {
  auto server = start();
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::send_all(
      fd, "GET /v1/healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n"));
  const std::string raw = testing::read_all(fd);
  ::close(fd);
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 431 "));
  EXPECT_THAT(raw, HasSubstr("request headers are larger than 16384 bytes"));
}

// A client that asks before sending its body (curl does for large ones) is told to go on.
TEST_F(HttpServerTest, AnswersExpect100Continue) {
  auto server = start();
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::send_all(fd,
                                "POST /v1/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                                "Expect: 100-continue\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(read_response(fd), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(testing::send_all(fd, "body"));
  const std::string raw = testing::read_all(fd);
  ::close(fd);
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(raw, HasSubstr(R"({"body":"body"})"));
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503) {
  HttpServer::Options options;
  options.connection_limit = 1;
  auto server = start(options);
  // The first connection is open (answered, kept alive) when the second comes.
  const int first = testing::connect_unix(socket_);
  ASSERT_GE(first, 0);
  ASSERT_TRUE(testing::send_all(first, "GET /v1/healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_THAT(read_response(first), StartsWith("HTTP/1.1 200 OK"));

  const int second = testing::connect_unix(socket_);
  ASSERT_GE(second, 0);
  const std::string refused = testing::read_all(second);
  ::close(second);
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(refused, HasSubstr("ipfence-agent has 1 connections open, its limit; try again"));
  ::close(first);
  // The slot is free again once the first is closed.
  EXPECT_TRUE(testing::wait_until(
      [&] { return testing::http(socket_, "GET", "/v1/healthz").status == 200; }));
}

TEST_F(HttpServerTest, IdleConnectionsAreClosedAfterTheTimeout) {
  HttpServer::Options options;
  options.idle_timeout_seconds = 1;
  auto server = start(options);
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  char byte = 0;
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0);  // closed by the server, not the 10 s receive timeout
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  ::close(fd);
}

// An idle keep-alive connection does not hold up a stop; a request sent on it meanwhile is
// refused with 503 and the connection closed.
TEST_F(HttpServerTest, StopClosesIdleConnections) {
  auto server = start();
  const int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::send_all(fd, "GET /v1/healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_THAT(read_response(fd), StartsWith("HTTP/1.1 200 OK"));
  EXPECT_TRUE(server->stop(std::chrono::seconds(10)));
  EXPECT_EQ(testing::read_all(fd), "");  // closed, nothing more said
  ::close(fd);
}

TEST_F(HttpServerTest, RequestsOnOpenConnectionsWhileStoppingGet503) {
  auto server = start();
  auto slow = begin_slow_request();
  const int fd = testing::connect_unix(socket_);  // before the stop: accepted, then idle
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::send_all(fd, "GET /v1/healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_THAT(read_response(fd), StartsWith("HTTP/1.1 200 OK"));
  auto stopping =
      std::async(std::launch::async, [&] { return server->stop(std::chrono::seconds(10)); });
  EXPECT_TRUE(testing::wait_until([&] { return !std::filesystem::exists(socket_); }));
  ASSERT_TRUE(testing::send_all(fd, "GET /v1/healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  const std::string refused = testing::read_all(fd);
  ::close(fd);
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(refused, HasSubstr("ipfence-agent is shutting down; try again"));
  release_.set_value();
  EXPECT_EQ(slow.get().status, 200);
  EXPECT_TRUE(stopping.get());
}

TEST_F(HttpServerTest, StopAnswersRequestsInFlightAndRemovesTheSocket) {
  auto server = start();
  auto slow = begin_slow_request();
  EXPECT_EQ(server->in_flight(), 1);

  std::atomic<bool> stopped{false};
  auto stopping = std::async(std::launch::async, [&] {
    bool drained = server->stop(std::chrono::seconds(10));
    stopped = true;
    return drained;
  });
  // Not accepting anymore: the socket file goes away at once, the stop waits.
  EXPECT_TRUE(testing::wait_until([&] { return !std::filesystem::exists(socket_); }));
  EXPECT_EQ(testing::connect_unix(socket_), -1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(stopped);

  release_.set_value();
  testing::Reply reply = slow.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.json()["slow"], true);
  EXPECT_TRUE(stopping.get());
}

TEST_F(HttpServerTest, StopGivesUpAfterTheGracePeriod) {
  auto server = start();
  auto slow = begin_slow_request();
  auto stopping =
      std::async(std::launch::async, [&] { return server->stop(std::chrono::milliseconds(50)); });
  // The stop waits for the connection's thread, so the handler has to return.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  release_.set_value();
  EXPECT_FALSE(stopping.get());
  slow.get();
}

}  // namespace
}  // namespace ipfence::agent
