#include "agent/unix_http_server.h"

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
using testing::TempDir;

class UnixHttpServerTest : public ::testing::Test {
 protected:
  UnixHttpServerTest() {
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

  std::unique_ptr<UnixHttpServer> start(UnixHttpServer::Options options = {}) {
    options.socket_path = socket_;
    if (options.max_body_bytes == 0) options.max_body_bytes = 1 << 20;
    auto listener = listen_unix(socket_, 0600);
    EXPECT_TRUE(listener.ok());
    auto server = UnixHttpServer::start(std::move(*listener), options, router_);
    EXPECT_TRUE(server.ok()) << server.error().message;
    return std::move(*server);
  }

  TempDir dir_;
  std::string socket_ = dir_ / "agent.sock";
  HttpRouter router_;
  std::promise<void> entered_;
  std::promise<void> release_;
};

TEST_F(UnixHttpServerTest, ServesRoutesOverTheSocket) {
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

TEST_F(UnixHttpServerTest, OtherUidsGet403) {
  UnixHttpServer::Options options;
  options.allowed_uid = ::getuid() + 1;  // anyone but us
  auto server = start(options);
  testing::Reply reply = testing::http(socket_, "GET", "/v1/healthz");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.json()["error"]["code"], "permission_denied");
  EXPECT_THAT(reply.json()["error"]["message"].get<std::string>(),
              HasSubstr("this client runs as uid " + std::to_string(::getuid())));
}

TEST_F(UnixHttpServerTest, LargeBodiesGet413) {
  UnixHttpServer::Options options;
  options.max_body_bytes = 16;
  auto server = start(options);
  testing::Reply reply = testing::http(socket_, "POST", "/v1/echo", std::string(100, 'x'));
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.json()["error"]["code"], "invalid_argument");
}

TEST_F(UnixHttpServerTest, StopAnswersRequestsInFlightAndRemovesTheSocket) {
  auto server = start();
  auto slow = std::async(std::launch::async,
                         [&] { return testing::http(socket_, "POST", "/v1/slow", "{}"); });
  entered_.get_future().wait();
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

TEST_F(UnixHttpServerTest, StopGivesUpAfterTheGracePeriod) {
  auto server = start();
  auto slow = std::async(std::launch::async,
                         [&] { return testing::http(socket_, "POST", "/v1/slow", "{}"); });
  entered_.get_future().wait();
  auto stopping =
      std::async(std::launch::async, [&] { return server->stop(std::chrono::milliseconds(50)); });
  // MHD_stop_daemon joins the connection thread, so the handler has to return.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  release_.set_value();
  EXPECT_FALSE(stopping.get());
  slow.get();
}

}  // namespace
}  // namespace ipfence::agent
