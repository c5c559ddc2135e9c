// A real container runtime: Debian's containerd and `ctr run --cni` with a busybox-static
// rootfs. The agent writes the conflist of a SpiderMultusConfig into the node's CNI conf dir,
// ctr reads it from /etc/cni/net.d (that dir, bind-mounted in containerd's private mount
// namespace) and runs the real macvlan plugin, which calls ipfence; the container gets the
// seed pool's only unreserved address and gives it back when it is removed.
//
// ctr 1.6 runs CNI DEL only from a foreground `ctr run --rm` when the container exits (or
// when its ADD failed); `ctr task kill/delete` and `ctr container delete` never call CNI
// (RemoveCniNetworkIfExist came with ctr 1.7). So containers run in the foreground here and
// are removed by killing their task.
#include "tests/e2e/support/containerd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/e2e/support/agent_node.h"

namespace ipfence::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr auto kStartTimeout = std::chrono::seconds(15);

// The seed's SpiderMultusConfig naming the pool, as a Spiderpool user would for a workload
// without annotations: the agent renders it into default_ipv4_ippool.
std::string multus_config_with_pool(const std::string& master) {
  return "apiVersion: spiderpool.spidernet.io/v2beta1\n"
         "kind: SpiderMultusConfig\n"
         "metadata:\n"
         "  name: macvlan-" +
         master +
         "\n"
         "  namespace: kube-system\n"
         "spec:\n"
         "  cniType: macvlan\n"
         "  macvlan:\n"
         "    master:\n"
         "    - " +
         master +
         "\n"
         "    ippools:\n"
         "      ipv4:\n"
         "      - test-ippool\n";
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Live processes whose command line mentions `text` (zombies have none).
std::vector<std::string> processes_mentioning(const std::string& text) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

std::vector<std::string> cgroups_named(const std::string& name) {
  std::vector<std::string> found;
  std::error_code ec;
  fs::recursive_directory_iterator it("/sys/fs/cgroup",
                                      fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code kind;
    if (it->is_symlink(kind) || !it->is_directory(kind)) continue;
    if (it->path().filename() == name) found.push_back(it->path());
    if (it.depth() >= 3) it.disable_recursion_pending();
  }
  return found;
}

class ContainerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = Containerd::missing_tools();
    if (!missing.empty()) {
      GTEST_SKIP() << "not installed: " << missing
                   << " (scripts/deps.sh installs containerd, runc and busybox-static)";
    }
    node_ = std::make_unique<AgentNode>(unique_name("ctrd"));
    const std::string master = node_->topology().master();
    network_ = "macvlan-" + master;
    node_->apply(multus_config_with_pool(master));
    node_->apply(kSeedReservedYaml);
    node_->apply(kSeedPoolYaml);
    // Waits for the agent to write the conflist; this is the file ctr will read.
    nlohmann::json conflist = node_->runtime(network_).conflist();
    ASSERT_EQ(conflist["plugins"][0]["ipam"]["default_ipv4_ippool"],
              nlohmann::json::array({"test-ippool"}))
        << conflist.dump();
    containerd_ = std::make_unique<Containerd>(
        ContainerdOptions{.netns = node_->topology().node().name(),
                          .conf_dir = node_->conf_dir(),
                          .plugin_dirs = {IPFENCE_PLUGIN_DIR, "/usr/lib/cni"}});
  }

  void TearDown() override {
    containerd_.reset();
    node_.reset();
  }

  // `ipfencectl get allocations -o json` items.
  nlohmann::json allocations() const {
    ProcessResult listed = node_->ctl({"get", "allocations", "-o", "json"});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    nlohmann::json list = nlohmann::json::parse(listed.out, nullptr, false);
    if (list.is_discarded() || !list.contains("items")) {
      ADD_FAILURE() << "not a List: " << listed.out;
      return nlohmann::json::array();
    }
    return list["items"];
  }

  // Waits until the task runs (ctr starts it only after the CNI ADD succeeded).
  ::testing::AssertionResult started(ChildProcess& run, const std::string& id) {
    bool running = wait_until(
        [&] { return !run.running() || containerd_->task_status(id) == "RUNNING"; }, kStartTimeout);
    if (running && run.running()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "container " << id << " did not start\nctr run:\n"
                                         << run.log() << "\nagent:\n"
                                         << node_->agent().log();
  }

  // Kills the task; the foreground `ctr run --rm` then runs CNI DEL and deletes the container.
  ::testing::AssertionResult removed(ChildProcess& run, const std::string& id) {
    ProcessResult killed = containerd_->ctr({"task", "kill", "--signal", "KILL", id});
    if (killed.exit_code != 0)
      return ::testing::AssertionFailure() << "ctr task kill: " << killed.err;
    if (!wait_until([&] { return !run.running(); }, kStartTimeout))
      return ::testing::AssertionFailure() << "ctr run did not return:\n" << run.log();
    // ctr logs a failed network teardown ("network review") and goes on.
    if (run.log().find("level=error") != std::string::npos)
      return ::testing::AssertionFailure() << "ctr run reported an error:\n" << run.log();
    return ::testing::AssertionSuccess();
  }

  std::string log_path(const std::string& id) const {
    return containerd_->dir() + "/" + id + ".log";
  }

  std::unique_ptr<AgentNode> node_;
  std::unique_ptr<Containerd> containerd_;
  std::string network_;
};

TEST_F(ContainerdTest, CtrRunGetsItsAddressFromIpfenceAndReleasesItOnRemoval) {
  Containerd& ctrd = *containerd_;
  const std::string id = unique_name("web");
  ChildProcess run = ctrd.run_foreground(id, {"sleep", "300"}, log_path(id));
  ASSERT_TRUE(started(run, id));

  // The agent holds .133 (.131-.132 are reserved) for ctr's CNI container ID.
  nlohmann::json items = allocations();
  ASSERT_EQ(items.size(), 1u) << items.dump();
  const nlohmann::json& allocation = items[0];
  EXPECT_EQ(allocation.value("ip", ""), "10.6.168.133");
  EXPECT_EQ(allocation.value("pool", ""), "test-ippool");
  EXPECT_EQ(allocation.value("containerID", ""), Containerd::cni_container_id(id));
  EXPECT_EQ(allocation.value("ifname", ""), "eth0");
  EXPECT_EQ(allocation.value("network", ""), network_);

  // Inside the container: the address on macvlan's eth0, with the MAC the agent recorded.
  ProcessResult addr = ctrd.exec(id, {"ip", "-4", "addr", "show", "eth0"});
  ASSERT_EQ(addr.exit_code, 0) << addr.err;
  EXPECT_THAT(addr.out, HasSubstr("inet 10.6.168.133/16"));
  ProcessResult mac = ctrd.exec(id, {"cat", "/sys/class/net/eth0/address"});
  ASSERT_EQ(mac.exit_code, 0) << mac.err;
  EXPECT_EQ(allocation.value("mac", ""), trim(mac.out));
  // It reaches the outside host through the node's ens192.
  ProcessResult ping = ctrd.exec(id, {"ping", "-c1", "-W2", "10.6.0.1"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;

  // Removing the container gives the address back.
  ASSERT_TRUE(removed(run, id));
  EXPECT_THAT(ctrd.containers(), Not(Contains(id)));
  ProcessResult left = node_->ctl({"get", "allocations"});
  EXPECT_EQ(left.exit_code, 0) << left.err;
  EXPECT_EQ(left.out, "");

  // Tearing containerd down leaves no process, cgroup or file behind.
  const std::string dir = ctrd.dir();
  containerd_.reset();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_THAT(processes_mentioning(dir), IsEmpty());
  EXPECT_THAT(cgroups_named(id), IsEmpty());
}

TEST_F(ContainerdTest, ExhaustedPoolFailsTheNextContainerAndTheFreedAddressIsReused) {
  Containerd& ctrd = *containerd_;
  const std::string first_id = unique_name("first");
  ChildProcess first = ctrd.run_foreground(first_id, {"sleep", "300"}, log_path(first_id));
  ASSERT_TRUE(started(first, first_id));

  // The pool's only free address is taken: ctr reports ipfence's CNI error (the plugin's
  // message and details, through macvlan) and runs CNI DEL. ctr 1.6 then fails to delete the
  // never-started task ("must be stopped") and leaves it and its container behind; remove
  // them as a user would.
  const std::string second_id = unique_name("second");
  ProcessResult second = ctrd.run(second_id, {"sleep", "300"});
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.err, HasSubstr("plugin type=\"macvlan\" failed (add): IPPool test-ippool: "
                                    "all IPs have been exhausted (3 IPs: 2 reserved, 1 "
                                    "allocated)\n"));
  ctrd.ctr({"task", "delete", "--force", second_id});
  ctrd.ctr({"container", "delete", second_id});
  EXPECT_THAT(ctrd.containers(), ElementsAre(first_id));
  nlohmann::json items = allocations();
  ASSERT_EQ(items.size(), 1u) << items.dump();
  EXPECT_EQ(items[0].value("containerID", ""), Containerd::cni_container_id(first_id));

  // Once the first container is gone, a new one gets the same address; it runs to the end
  // and ctr releases the address again.
  ASSERT_TRUE(removed(first, first_id));
  const std::string third_id = unique_name("third");
  ProcessResult third = ctrd.run(third_id, {"ip", "-4", "addr", "show", "eth0"});
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_THAT(third.out, HasSubstr("inet 10.6.168.133/16"));
  EXPECT_THAT(ctrd.containers(), IsEmpty());
  EXPECT_THAT(allocations(), IsEmpty());

  // A container still running when containerd is torn down is killed with it.
  const std::string last_id = unique_name("last");
  ChildProcess last = ctrd.run_foreground(last_id, {"sleep", "300"}, log_path(last_id));
  ASSERT_TRUE(started(last, last_id));
  const std::string dir = ctrd.dir();
  containerd_.reset();
  EXPECT_TRUE(wait_until([&] { return !last.running(); }));
  EXPECT_THAT(processes_mentioning(dir), IsEmpty());
  EXPECT_THAT(cgroups_named(last_id), IsEmpty());
}

}  // namespace
}  // namespace ipfence::e2e
