#include "cni/agent_client.h"

#include <gtest/gtest.h>

#include "fake_agent.h"

namespace ipfence::cni {
namespace {

using nlohmann::json;
using testing::FakeAgent;
using testing::FakeResponse;
using namespace std::chrono_literals;

TEST(AgentClient, PostsJsonAndReadsTheReply) {
  FakeAgent agent([](const auto&) {
    return FakeResponse{200, R"({"released": ["10.6.168.133"]})"};
  });
  AgentClient client(agent.socket_path(), 5s);
  auto reply = client.post("/v1/ipam/release", {{"containerID", "c1"}, {"ifname", "eth0"}});
  ASSERT_TRUE(reply.ok()) << reply.error().msg;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body["released"][0], "10.6.168.133");
  ASSERT_EQ(agent.requests().size(), 1u);
  EXPECT_EQ(agent.requests()[0].method, "POST");
  EXPECT_EQ(agent.requests()[0].path, "/v1/ipam/release");
  EXPECT_EQ(agent.requests()[0].body, (json{{"containerID", "c1"}, {"ifname", "eth0"}}));
}

TEST(AgentClient, Get) {
  FakeAgent agent([](const auto&) { return FakeResponse{200, R"({"status": "ok"})"}; });
  AgentClient client(agent.socket_path(), 5s);
  auto reply = client.get("/v1/healthz");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(agent.calls(), std::vector<std::string>{"GET /v1/healthz"});
}

TEST(AgentClient, UnreachableIsTryAgainLater) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/agent.sock";
  AgentClient client(path, 5s);
  auto reply = client.get("/v1/status");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, 11);
  EXPECT_EQ(reply.error().msg, "ipfence-agent is not reachable at " + path +
                                   ": Couldn't connect to server (No such file or directory); is "
                                   "the agent running on this node?");
}

TEST(AgentClient, TimeoutIsTryAgainLater) {
  FakeAgent agent([](const auto&) { return FakeResponse{.hang = true}; });
  AgentClient client(agent.socket_path(), 200ms);
  auto reply = client.post("/v1/ipam/allocate", json::object());
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, 11);
  EXPECT_EQ(reply.error().msg.rfind("ipfence-agent at " + agent.socket_path() +
                                        " did not answer POST /v1/ipam/allocate within "
                                        "ipam.timeout (0.2s): ",
                                    0),
            0u)
      << reply.error().msg;
}

TEST(AgentClient, NonJsonSuccessBody) {
  FakeAgent agent([](const auto&) { return FakeResponse{200, "<html>"}; });
  AgentClient client(agent.socket_path(), 5s);
  auto reply = client.get("/v1/status");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, 100);
  EXPECT_EQ(reply.error().msg, "ipfence-agent at " + agent.socket_path() +
                                   " answered GET /v1/status with a body that is not JSON: <html>");
}

AgentReply error_reply(long status, const std::string& body) {
  AgentReply reply;
  reply.status = status;
  reply.raw = body;
  reply.body = json::parse(body, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  return reply;
}

TEST(AgentError, PassesCniCodeAndMessageThrough) {
  auto reply = error_reply(422, R"js({"error": {"code": "exhausted", "cniCode": 103,
      "message": "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)"}})js");
  EXPECT_EQ(agent_error_name(reply), "exhausted");
  CniError e = agent_error(reply);
  EXPECT_EQ(e.code, 103);
  EXPECT_EQ(e.msg,
            "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)");
  EXPECT_EQ(e.details, "");  // libcni would print "msg; details"
}

TEST(AgentError, MissingCniCodeFallsBackToTheSharedTable) {
  CniError e = agent_error(error_reply(404, R"({"error": {"code": "not_found", "message": "m"}})"));
  EXPECT_EQ(e.code, 102);
  e = agent_error(error_reply(500, R"({"error": {"code": "brand_new", "message": "m"}})"));
  EXPECT_EQ(e.code, 100);
}

TEST(AgentError, NoErrorBody) {
  CniError e = agent_error(error_reply(503, "overloaded"));
  EXPECT_EQ(e.code, 11);
  EXPECT_EQ(e.msg, "ipfence-agent answered HTTP 503 without an error body: overloaded");
  EXPECT_EQ(agent_error(error_reply(500, "{}")).code, 100);
}

}  // namespace
}  // namespace ipfence::cni
