// The real ipfence-agent binary against a file store in a temp dir, spoken to over its unix
// socket the way the CNI plugin and `curl --unix-socket` do.
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "agent_test_support.h"
#include "ipam/store/store.h"

namespace ipfence::agent {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::Reply;
using testing::TempDir;
using testing::wait_until;

constexpr const char* kExhausted =
    "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)";

class AgentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::open_store("file://" + store_dir_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(*opened);
  }

  std::vector<std::string> agent_args() const {
    return {IPFENCE_AGENT_BINARY, "--store", "file://" + store_dir_, "--socket", socket_,
            "--node-name", "node1", "--metrics-addr", "127.0.0.1:0", "--cni-conf-dir", conf_dir_,
            "--log-level", "debug",
            // These agents run in the machine's own network namespace: no guard near its
            // interfaces (tests/e2e runs it in namespaces of their own).
            "--guard", "off"};
  }

  // Starts the agent and waits until /v1/healthz answers.
  std::unique_ptr<ChildProcess> start_agent(const std::string& log_name = "agent.log") {
    auto agent = std::make_unique<ChildProcess>(agent_args(), dir_ / log_name);
    bool up = wait_until([&] {
      return !agent->running() || testing::http(socket_, "GET", "/v1/healthz").status == 200;
    });
    EXPECT_TRUE(up && agent->running()) << "agent did not come up:\n" << agent->log();
    return agent;
  }

  Reply post(const std::string& path, const json& body) {
    return testing::http(socket_, "POST", path, body.dump());
  }
  json status() { return testing::http(socket_, "GET", "/v1/status").json(); }

  static json allocate_body(const std::string& container) {
    return {{"containerID", container},
            {"ifname", "eth0"},
            {"netns", "/var/run/netns/" + container},
            {"network", "macvlan-ens192"},
            {"pod", {{"namespace", "default"}, {"name", "test-app-" + container}}},
            {"ipv4Pools", {"test-ippool"}}};
  }

  // The seed's reserved IP and pool, applied behind the agent's back.
  void apply_seed_and_wait() {
    testing::apply_yaml(*store_, testing::kSeedReserved);
    testing::apply_yaml(*store_, testing::kSeedPool);
    ASSERT_TRUE(wait_until([&] { return status()["pools"].size() == 1; }, std::chrono::seconds(2)))
        << status().dump();
  }

  TempDir dir_;
  std::string store_dir_ = dir_ / "store";
  std::string socket_ = dir_ / "run/agent.sock";
  std::string conf_dir_ = dir_ / "net.d";
  std::unique_ptr<store::Store> store_;
};

TEST_F(AgentProcessTest, HealthStatusAndRouting) {
  auto agent = start_agent();
  Reply health = testing::http(socket_, "GET", "/v1/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json(), json({{"status", "ok"}}));

  json s = status();
  EXPECT_EQ(s["node"], "node1");
  EXPECT_EQ(s["version"], std::string(IPFENCE_VERSION) + " (" + IPFENCE_GIT + ")");
  EXPECT_EQ(s["store"]["url"], "file://" + store_dir_);
  EXPECT_EQ(s["store"]["healthy"], true);
  EXPECT_EQ(s["pools"], json::array());
  const std::string metrics_addr = s["metricsAddr"];
  EXPECT_THAT(metrics_addr, ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(metrics_addr, "127.0.0.1:0");
  EXPECT_THAT(agent->log(), HasSubstr("metrics " + metrics_addr));

  EXPECT_EQ(testing::http(socket_, "GET", "/v1/nope").status, 404);
  EXPECT_EQ(testing::http(socket_, "GET", "/v1/ipam/allocate").status, 405);
  Reply bad = post("/v1/ipam/allocate", {{"ifname", "eth0"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["code"], "invalid_argument");
  EXPECT_EQ(bad.json()["error"]["message"], "containerID is required");

  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

// With a file store the agent never loads libcurl and what only it links (OpenSSL, Kerberos,
// LDAP, SSH...): the etcd backend is a module loaded for etcd:// stores only
// (ipam/store/etcd_module.h). Nor any TLS library: its socket's HTTP is Boost.Beast's.
TEST_F(AgentProcessTest, AFileStoreAgentLoadsNoHttpClientOrTlsLibraries) {
  auto agent = start_agent();
  const std::string maps = testing::read_text("/proc/" + std::to_string(agent->pid()) + "/maps");
  ASSERT_THAT(maps, HasSubstr("ipfence-agent"));
  for (const char* library : {"libcurl", "libipfence-etcd", "libssl", "libcrypto", "libkrb5",
                              "libldap", "libssh2", "libgnutls", "libmicrohttpd", "libp11-kit"})
    EXPECT_EQ(maps.find(library), std::string::npos) << library << " is loaded";
}

TEST_F(AgentProcessTest, SeedScenario) {
  auto agent = start_agent();
  apply_seed_and_wait();  // no restart: the agent watches the store

  Reply first = post("/v1/ipam/allocate", allocate_body("c1"));
  ASSERT_EQ(first.status, 200) << first.body;
  json ip = first.json()["ips"][0];
  EXPECT_EQ(ip["address"], "10.6.168.133/16");
  EXPECT_EQ(ip["pool"], "test-ippool");
  EXPECT_EQ(ip["version"], 4);
  EXPECT_EQ(first.json()["existing"], false);

  // Metrics over HTTP, before anything else is counted.
  const std::string metrics_addr = status()["metricsAddr"];
  Reply metrics = testing::http("", "GET", "/metrics", "", "http://" + metrics_addr);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body,
              HasSubstr("ipfence_ipam_allocations_total{pool=\"test-ippool\",result=\"ok\"} 1"));
  EXPECT_THAT(metrics.body,
              HasSubstr("ipfence_pool_ips{pool=\"test-ippool\",state=\"available\"} 0"));

  Reply second = post("/v1/ipam/allocate", allocate_body("c2"));
  EXPECT_EQ(second.status, 422);
  EXPECT_EQ(second.json(),
            json({{"error", {{"code", "exhausted"}, {"cniCode", 103}, {"message", kExhausted}}}}));

  Reply again = post("/v1/ipam/allocate", allocate_body("c1"));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json()["ips"][0]["address"], "10.6.168.133/16");
  EXPECT_EQ(again.json()["existing"], true);

  json pool = status()["pools"][0];
  EXPECT_EQ(pool["name"], "test-ippool");
  EXPECT_EQ(pool["ipVersion"], 4);
  EXPECT_EQ(pool["subnet"], "10.6.0.0/16");
  EXPECT_EQ(pool["default"], false);
  EXPECT_EQ(pool["disable"], false);
  EXPECT_EQ(pool["total"], 3);
  EXPECT_EQ(pool["allocated"], 1);
  EXPECT_EQ(pool["reserved"], 2);
  EXPECT_EQ(pool["available"], 0);
  EXPECT_EQ(pool["quarantined"], 0);

  // CHECK: holds exactly those IPs / holds others / holds nothing.
  Reply check = post("/v1/ipam/check",
                     {{"containerID", "c1"}, {"ifname", "eth0"}, {"ips", {"10.6.168.133/16"}}});
  EXPECT_EQ(check.status, 200) << check.body;
  EXPECT_EQ(check.json()["ips"][0]["address"], "10.6.168.133/16");
  Reply other = post("/v1/ipam/check",
                     {{"containerID", "c1"}, {"ifname", "eth0"}, {"ips", {"10.6.168.131"}}});
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(other.json()["error"]["code"], "mismatch");
  Reply none = post("/v1/ipam/check", {{"containerID", "c2"}, {"ifname", "eth0"}});
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.json()["error"]["code"], "not_found");

  // Release is idempotent.
  Reply released = post("/v1/ipam/release", {{"containerID", "c1"}, {"ifname", "eth0"}});
  EXPECT_EQ(released.status, 200);
  EXPECT_EQ(released.json(), json::parse(R"({"released": ["10.6.168.133"]})"));
  Reply twice = post("/v1/ipam/release", {{"containerID", "c1"}, {"ifname", "eth0"}});
  EXPECT_EQ(twice.status, 200);
  EXPECT_EQ(twice.json(), json::parse(R"({"released": []})"));
  EXPECT_EQ(status()["pools"][0]["available"], 1);

  // GC releases what the runtime no longer lists, and keeps what it does.
  ASSERT_EQ(post("/v1/ipam/allocate", allocate_body("c3")).status, 200);
  Reply kept =
      post("/v1/ipam/gc", {{"network", "macvlan-ens192"},
                           {"validAttachments", {{{"containerID", "c3"}, {"ifname", "eth0"}}}}});
  EXPECT_EQ(kept.status, 200);
  EXPECT_EQ(kept.json(), json::parse(R"({"released": []})"));
  Reply collected =
      post("/v1/ipam/gc", {{"network", "macvlan-ens192"}, {"validAttachments", json::array()}});
  EXPECT_EQ(collected.status, 200);
  EXPECT_EQ(collected.json(), json::parse(R"({"released": [{"containerID": "c3",
    "ifname": "eth0", "ips": ["10.6.168.133"]}]})"));
  EXPECT_EQ(status()["pools"][0]["allocated"], 0);

  EXPECT_THAT(agent->log(), HasSubstr("allocated containerID=c1 ifname=eth0 "
                                      "pod=default/test-app-c1 ips=10.6.168.133 pool=test-ippool"));
}

TEST_F(AgentProcessTest, MultusConfigBecomesAConflistAndGoesAway) {
  auto agent = start_agent();
  const std::string file = conf_dir_ + "/macvlan-ens192.conflist";
  testing::apply_yaml(*store_, testing::kSeedMultus);
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(file); }, std::chrono::seconds(1)))
      << agent->log();
  json conflist = json::parse(testing::read_text(file));
  EXPECT_EQ(conflist["name"], "macvlan-ens192");
  EXPECT_EQ(conflist["plugins"][0]["type"], "macvlan");
  EXPECT_EQ(conflist["plugins"][0]["master"], "ens192");
  EXPECT_EQ(conflist["plugins"][0]["ipam"]["type"], "ipfence");
  EXPECT_EQ(conflist["plugins"][0]["ipam"]["socket"], socket_);  // not the default socket
  EXPECT_EQ(conflist["ipfence"]["managed"], true);

  auto removed = ipam::ObjectService(*store_).remove(ipam::Kind::multusconfig, "kube-system",
                                                     "macvlan-ens192");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE(wait_until([&] { return !std::filesystem::exists(file); }, std::chrono::seconds(1)))
      << agent->log();
}

TEST_F(AgentProcessTest, ASecondAgentOnTheSameSocketRefusesToStart) {
  auto agent = start_agent();
  ChildProcess second(agent_args(), dir_ / "second.log");
  EXPECT_EQ(second.wait_exit(std::chrono::seconds(10)), 1);
  EXPECT_THAT(second.log(),
              HasSubstr("another ipfence-agent is already serving " + socket_ + " (lock " +
                        socket_ + ".lock is held); stop it first or pass a different --socket"));
  EXPECT_EQ(testing::http(socket_, "GET", "/v1/healthz").status, 200);  // the first goes on
}

TEST_F(AgentProcessTest, AStaleSocketFromACrashedAgentIsReplaced) {
  {
    auto agent = start_agent();
    agent->signal(SIGKILL);
    agent->wait_exit(std::chrono::seconds(10));
  }
  ASSERT_TRUE(std::filesystem::exists(socket_));  // left behind
  auto agent = start_agent("restarted.log");
  EXPECT_EQ(testing::http(socket_, "GET", "/v1/healthz").status, 200);
}

TEST_F(AgentProcessTest, SigtermAnswersTheRequestInFlightThenExitsCleanly) {
  auto agent = start_agent();
  const std::string body = R"({"containerID": "c9", "ifname": "eth0"})";
  int fd = testing::connect_unix(socket_);
  ASSERT_GE(fd, 0);
  // Headers only: the agent has begun the request and waits for its body.
  ASSERT_TRUE(testing::send_all(fd,
                                "POST /v1/ipam/release HTTP/1.1\r\nHost: agent\r\n"
                                "Content-Type: application/json\r\nConnection: close\r\n"
                                "Content-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  agent->signal(SIGTERM);
  // It stops accepting (the socket file goes) but waits for our request.
  EXPECT_TRUE(wait_until([&] { return !std::filesystem::exists(socket_); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(agent->running());

  ASSERT_TRUE(testing::send_all(fd, body));
  const std::string response = testing::read_all(fd);
  ::close(fd);
  EXPECT_THAT(response, ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr(R"({"released":[]})"));
  EXPECT_EQ(agent->wait_exit(std::chrono::seconds(10)), 0) << agent->log();
  EXPECT_FALSE(std::filesystem::exists(socket_));
  EXPECT_THAT(agent->log(), HasSubstr("received SIGTERM"));
}

TEST_F(AgentProcessTest, PeersOtherThanRootGet403) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  auto agent = start_agent();
  // Let uid 65534 reach the socket at all, so that the agent's own check is what refuses.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(socket_.c_str(), 0666), 0);

  const std::string request =
      "GET /v1/healthz HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n";
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  if (child == 0) {
    // Only async-signal-safe calls from here: the test process has threads.
    ::close(pipe_fds[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    int fd = testing::connect_unix(socket_);
    if (fd < 0) ::_exit(3);
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) ::_exit(4);
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      if (::write(pipe_fds[1], buf, static_cast<size_t>(n)) != n) ::_exit(5);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
    response.append(buf, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int child_status = 0;
  ::waitpid(child, &child_status, 0);
  EXPECT_TRUE(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0) << child_status;
  EXPECT_THAT(response, ::testing::StartsWith("HTTP/1.1 403"));
  EXPECT_THAT(response, HasSubstr("permission_denied"));
  EXPECT_THAT(response, HasSubstr("this client runs as uid 65534"));
}

}  // namespace
}  // namespace ipfence::agent
