// The real ipfencectl binary over a temporary file store, walking the seed
// (../shared/seed/reserved-ip.md) and the errors around it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <regex>

#include "ipam/allocator.h"
#include "ipam/clock.h"
#include "ipam/store/store.h"
#include "tests/unit/ctl/ctl_process.h"

namespace ipfence::ctl {
namespace {

namespace fs = std::filesystem;
using process::CtlRun;

const fs::path kTestdata = fs::path(IPFENCE_SOURCE_DIR) / "tests/unit/ctl/testdata";

::testing::AssertionResult Succeeded(const CtlRun& run) {
  if (run.exit_code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "exit " << run.exit_code << "\nstdout: " << run.out << "\nstderr: " << run.err;
}

class CtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ipfencectl-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_url_ = "file://" + (dir_ / "store").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  CtlRun ctl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--store", store_url_});
    return process::run_ctl(dir_, args, input);
  }
  CtlRun apply(const char* file) { return ctl({"apply", "-f", (kTestdata / file).string()}); }

  void apply_seed() {
    ASSERT_TRUE(Succeeded(apply("multus.yaml")));
    ASSERT_TRUE(Succeeded(apply("reservedip.yaml")));
    ASSERT_TRUE(Succeeded(apply("ippool.yaml")));
  }

  fs::path dir_;
  std::string store_url_;
};

TEST_F(CtlTest, SeedWalkthrough) {
  CtlRun run = apply("multus.yaml");
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spidermultusconfig.spiderpool.spidernet.io/macvlan-ens192 created\n");

  run = apply("reservedip.yaml");
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spiderreservedip.spiderpool.spidernet.io/test-reservedip created\n");

  run = apply("ippool.yaml");
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spiderippool.spiderpool.spidernet.io/test-ippool created\n");

  run = apply("reservedip.yaml");
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spiderreservedip.spiderpool.spidernet.io/test-reservedip unchanged\n");

  // 3 IPs, 2 reserved: 1 available.
  run = ctl({"get", "sp"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out,
            "NAME          VERSION   SUBNET        ALLOCATED-IP-COUNT   TOTAL-IP-COUNT   DEFAULT\n"
            "test-ippool   4         10.6.0.0/16   0                    3                false\n");
  run = ctl({"get", "sp", "-o", "wide"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out,
            "NAME          VERSION   SUBNET        ALLOCATED-IP-COUNT   TOTAL-IP-COUNT   DEFAULT   "
            "DISABLE   RESERVED   AVAILABLE\n"
            "test-ippool   4         10.6.0.0/16   0                    3                false     "
            "false     2          1\n");

  run = ctl({"patch", "spiderreservedip", "test-reservedip", "--patch",
             R"({"spec":{"ips":["10.6.168.131-10.6.168.133"]}})", "--type=merge"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spiderreservedip.spiderpool.spidernet.io/test-reservedip patched\n");
  run = ctl({"get", "sp", "-owide"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_NE(run.out.find("false     false     3          0\n"), std::string::npos) << run.out;

  run = ctl({"get", "sr", "test-reservedip", "-o", "json"});
  ASSERT_TRUE(Succeeded(run));
  const nlohmann::json reserved = nlohmann::json::parse(run.out);
  EXPECT_EQ(reserved["apiVersion"], "spiderpool.spidernet.io/v2beta1");
  EXPECT_EQ(reserved["kind"], "SpiderReservedIP");
  EXPECT_EQ(reserved["metadata"]["name"], "test-reservedip");
  EXPECT_EQ(reserved["spec"]["ips"], nlohmann::json({"10.6.168.131-10.6.168.133"}));

  run = ctl({"get", "sr"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "NAME              VERSION\ntest-reservedip   4\n");

  // The seed's "kubectl get spidermultusconfigs.spiderpool.spidernet.io -n kube-system".
  run = ctl({"get", "spidermultusconfigs.spiderpool.spidernet.io", "-n", "kube-system"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_TRUE(std::regex_match(run.out, std::regex("NAME             AGE\n"
                                                   "macvlan-ens192   [0-9]+s\n")))
      << run.out;
  run = ctl({"get", "network-attachment-definitions.k8s.cni.cncf.io", "-n", "kube-system"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_TRUE(std::regex_match(run.out, std::regex("NAME             AGE\n"
                                                   "macvlan-ens192   [0-9]+s\n")))
      << run.out;

  // The seed's "kubectl delete sr test-reservedip".
  run = ctl({"delete", "sr", "test-reservedip"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spiderreservedip.spiderpool.spidernet.io \"test-reservedip\" deleted\n");
  run = ctl({"get", "sp", "-o", "wide"});
  EXPECT_NE(run.out.find("false     false     0          3\n"), std::string::npos) << run.out;

  run = ctl({"delete", "sr", "test-reservedip"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "Error from server (NotFound): spiderreservedips.spiderpool.spidernet.io "
            "\"test-reservedip\" not found\n");
  run = ctl({"delete", "sr", "test-reservedip", "--ignore-not-found"});
  EXPECT_TRUE(Succeeded(run));
  EXPECT_EQ(run.err, "");
}

TEST_F(CtlTest, ApplyFromStdinAndSeveralFiles) {
  CtlRun run = ctl({"apply", "-f", "-"}, process::slurp(kTestdata / "reservedip.yaml"));
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spiderreservedip.spiderpool.spidernet.io/test-reservedip created\n");
  run = ctl({"apply", "-f", (kTestdata / "multus.yaml").string(), "-f",
             (kTestdata / "ippool.yaml").string()});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out,
            "spidermultusconfig.spiderpool.spidernet.io/macvlan-ens192 created\n"
            "spiderippool.spiderpool.spidernet.io/test-ippool created\n");
}

TEST_F(CtlTest, BadManifestAppliesNothing) {
  ASSERT_TRUE(Succeeded(apply("reservedip.yaml")));
  const CtlRun run = apply("bad.yaml");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err.rfind("error: error parsing ", 0), 0u) << run.err;
  EXPECT_NE(run.err.find("document 1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("ipss"), std::string::npos) << run.err;

  // Document 0 was valid, and still nothing was applied.
  const CtlRun reserved = ctl({"get", "sr", "-o", "name"});
  ASSERT_TRUE(Succeeded(reserved));
  EXPECT_EQ(reserved.out, "spiderreservedip.spiderpool.spidernet.io/test-reservedip\n");
  const CtlRun pools = ctl({"get", "sp"});
  ASSERT_TRUE(Succeeded(pools));
  EXPECT_EQ(pools.out, "");
  EXPECT_EQ(pools.err, "No resources found\n");
}

TEST_F(CtlTest, GetErrorsAndEmptyLists) {
  apply_seed();
  CtlRun run = ctl({"get", "pods"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "error: the server doesn't have a resource type \"pods\"\n");

  run = ctl({"get", "sp", "missing"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "Error from server (NotFound): spiderippools.spiderpool.spidernet.io \"missing\" "
            "not found\n");

  // The SpiderMultusConfig lives in kube-system, not in the default namespace.
  run = ctl({"get", "smc"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "No resources found in default namespace.\n");
  run = ctl({"get", "smc", "-A"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_TRUE(std::regex_match(run.out, std::regex("NAMESPACE     NAME             AGE\n"
                                                   "kube-system   macvlan-ens192   [0-9]+s\n")))
      << run.out;

  run = ctl({"get", "smc", "macvlan-ens192", "-A"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "error: a resource cannot be retrieved by name across all namespaces\n");
  run = ctl({"get", "smc", "macvlan-ens192", "-n", "kube-system", "-o", "name"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out, "spidermultusconfig.spiderpool.spidernet.io/macvlan-ens192\n");

  run = ctl({"get", "sr", "-o", "json"});
  ASSERT_TRUE(Succeeded(run));
  const nlohmann::json list = nlohmann::json::parse(run.out);
  EXPECT_EQ(list["kind"], "List");
  ASSERT_EQ(list["items"].size(), 1u);

  run = ctl({"get", "sp", "test-ippool", "-o", "yaml"});
  ASSERT_TRUE(Succeeded(run));
  const YAML::Node pool = YAML::Load(run.out);
  EXPECT_EQ(pool["kind"].as<std::string>(), "SpiderIPPool");
  EXPECT_EQ(pool["spec"]["subnet"].as<std::string>(), "10.6.0.0/16");
  EXPECT_EQ(pool["status"]["totalIPCount"].as<int>(), 3);

  run = ctl({"get", "sp", "-o", "xml"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err.rfind("error: ", 0), 0u) << run.err;
}

TEST_F(CtlTest, PatchAndUsageErrors) {
  apply_seed();
  CtlRun run = ctl({"patch", "sr", "test-reservedip", "-p", R"({"spec":{}})"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "error: strategic merge patch is not supported for spiderpool.spidernet.io/v2beta1, "
            "Kind=SpiderReservedIP locally, try --type merge\n");
  run = ctl({"patch", "sr", "test-reservedip", "--type", "merge", "-p", "{not json"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err.rfind("error: unable to parse \"{not json\"", 0), 0u) << run.err;
  run = ctl({"patch", "sr", "nope", "--type", "merge", "-p", "{}"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "Error from server (NotFound): spiderreservedips.spiderpool.spidernet.io \"nope\" "
            "not found\n");
  run = ctl({"patch", "sr", "test-reservedip", "--type", "merge", "-p", R"({"spec":{}})"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out,
            "spiderreservedip.spiderpool.spidernet.io/test-reservedip patched (no change)\n");

  run = ctl({"frobnicate"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--help"), std::string::npos) << run.err;
  run = ctl({"delete", "sr"});
  EXPECT_EQ(run.exit_code, 1);
  run = ctl({"apply"});
  EXPECT_EQ(run.exit_code, 1);
  run = ctl({"apply", "-f", (dir_ / "nothing-here.yaml").string()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("does not exist"), std::string::npos) << run.err;

  run = ctl({"version"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out.rfind("ipfencectl ", 0), 0u);
  run = ctl({"--help"});
  EXPECT_TRUE(Succeeded(run));
}

TEST_F(CtlTest, RenderNad) {
  apply_seed();
  CtlRun run = ctl({"render", "nad", "macvlan-ens192", "-n", "kube-system"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out,
            "apiVersion: k8s.cni.cncf.io/v1\n"
            "kind: NetworkAttachmentDefinition\n"
            "metadata:\n"
            "  name: macvlan-ens192\n"
            "  namespace: kube-system\n"
            "spec:\n"
            "  config: '{\"cniVersion\":\"1.0.0\",\"name\":\"macvlan-ens192\",\"plugins\":["
            "{\"ipam\":{\"type\":\"ipfence\"},\"master\":\"ens192\",\"mode\":\"bridge\","
            "\"type\":\"macvlan\"}]}'\n");
  run = ctl({"render", "conflist", "macvlan-ens192", "-n", "kube-system", "--agent-socket",
             "/tmp/agent.sock"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(nlohmann::json::parse(run.out)["plugins"][0]["ipam"]["socket"], "/tmp/agent.sock");
  run = ctl({"render", "nad", "macvlan-ens192"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "Error from server (NotFound): spidermultusconfigs.spiderpool.spidernet.io "
            "\"macvlan-ens192\" not found\n");
}

TEST_F(CtlTest, Allocations) {
  apply_seed();
  {
    // Allocation is the agent's job, not ipfencectl's: seed the store directly.
    Result<std::unique_ptr<store::Store>> store = store::open_store(store_url_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    const std::string created = rfc3339(std::chrono::system_clock::now() - std::chrono::hours(5));
    ipam::Allocator allocator(**store, {.node = "node2", .now = [&] { return created; }});
    ASSERT_TRUE(allocator.resync().ok());
    ipam::AllocateRequest request;
    request.identity.container_id = "c1";
    request.identity.ifname = "eth0";
    request.identity.pod_namespace = "default";
    request.identity.pod_name = "test-app-67dd9f645-dv8xz";
    request.identity.mac = "aa:bb:cc:dd:ee:ff";
    request.identity.node = "node2";
    request.ipv4_pools = {"test-ippool"};
    Result<ipam::AllocateResult> first = allocator.allocate(request);
    ASSERT_TRUE(first.ok()) << first.error().message;
    ASSERT_EQ(first->ips.size(), 1u);
    EXPECT_EQ(first->ips[0].ip.to_string(), "10.6.168.133");
    request.identity.container_id = "c2";
    request.identity.pod_name = "test-app-67dd9f645-lpjgs";
    Result<ipam::AllocateResult> second = allocator.allocate(request);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().message.find("all IPs have been exhausted"), std::string::npos);
  }

  CtlRun run = ctl({"get", "allocations"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.out,
            "IP             POOL          CONTAINER   IFNAME   POD                                "
            "MAC                 NODE    AGE\n"
            "10.6.168.133   test-ippool   c1          eth0     default/test-app-67dd9f645-dv8xz   "
            "aa:bb:cc:dd:ee:ff   node2   5h\n");
  run = ctl({"get", "alloc", "10.6.168.133", "-o", "json"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(nlohmann::json::parse(run.out)["pool"], "test-ippool");
  run = ctl({"get", "alloc", "10.6.168.131"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "Error from server (NotFound): allocations \"10.6.168.131\" not found\n");

  run = ctl({"get", "sp", "-o", "wide"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_NE(run.out.find("   1                    3                false     false     2          "
                         "0\n"),
            std::string::npos)
      << run.out;

  // A pool that still has allocations cannot be deleted (Spiderpool refuses too).
  run = ctl({"delete", "sp", "test-ippool"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err.rfind("error: ", 0), 0u) << run.err;
  EXPECT_TRUE(Succeeded(ctl({"get", "sp", "test-ippool"})));

  // Reserving the held IP warns and names the holder, without failing.
  run = ctl({"patch", "sr", "test-reservedip", "--type", "merge", "-p",
             R"({"spec":{"ips":["10.6.168.131-10.6.168.133"]}})"});
  ASSERT_TRUE(Succeeded(run));
  EXPECT_EQ(run.err.rfind("Warning: ", 0), 0u) << run.err;
}

}  // namespace
}  // namespace ipfence::ctl
