#include "agent/cni_conf_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "agent_test_support.h"

namespace ipfence::agent {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::read_text;
using testing::TempDir;

ipam::SpiderMultusConfig config(const std::string& ns, const std::string& name,
                                std::vector<std::string> masters = {"ens192"}) {
  ipam::SpiderMultusConfig c;
  c.metadata.namespace_ = ns;
  c.metadata.name = name;
  c.spec.macvlan.master = std::move(masters);
  c.spec.macvlan.ipv4_pools = {"test-ippool"};
  return c;
}

std::map<std::string, ipam::SpiderMultusConfig> configs(
    std::initializer_list<ipam::SpiderMultusConfig> list) {
  std::map<std::string, ipam::SpiderMultusConfig> out;
  for (const auto& c : list) out[c.metadata.namespace_ + "/" + c.metadata.name] = c;
  return out;
}

bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

class CniConfWriterTest : public ::testing::Test {
 protected:
  CniConfWriter writer(const std::string& socket = "/run/ipfence/agent.sock") {
    return CniConfWriter(
        {.dir = dir_ / "net.d", .agent_socket = socket, .on_error = [this] { ++errors_; }});
  }
  std::string path(const std::string& file) { return dir_ / ("net.d/" + file); }

  TempDir dir_;
  int errors_ = 0;
};

TEST_F(CniConfWriterTest, WritesTheRenderedConflistWithTheMarker) {
  auto report = writer().sync(configs({config("kube-system", "macvlan-ens192")}));
  EXPECT_THAT(report.written, ElementsAre("macvlan-ens192.conflist"));
  EXPECT_EQ(errors_, 0);
  const std::string file = path("macvlan-ens192.conflist");
  json written = json::parse(read_text(file));
  EXPECT_EQ(written["name"], "macvlan-ens192");
  EXPECT_EQ(written["cniVersion"], "1.0.0");
  EXPECT_EQ(written["plugins"][0]["master"], "ens192");
  EXPECT_EQ(written["plugins"][0]["ipam"]["type"], "ipfence");
  EXPECT_FALSE(written["plugins"][0]["ipam"].contains("socket"));  // default socket
  EXPECT_EQ(written["ipfence"],
            json({{"managed", true}, {"multusConfig", "kube-system/macvlan-ens192"}}));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_FALSE(exists(file + ".tmp"));
  EXPECT_FALSE(exists(path(".macvlan-ens192.conflist.tmp")));
  // Nothing but the conflist is left in the directory.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path(""))) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(CniConfWriterTest, RendersANonDefaultSocket) {
  writer("/tmp/other.sock").sync(configs({config("kube-system", "macvlan-ens192")}));
  json written = json::parse(read_text(path("macvlan-ens192.conflist")));
  EXPECT_EQ(written["plugins"][0]["ipam"]["socket"], "/tmp/other.sock");
}

TEST_F(CniConfWriterTest, UnchangedConfigsAreNotRewritten) {
  CniConfWriter w = writer();
  auto wanted = configs({config("kube-system", "macvlan-ens192")});
  w.sync(wanted);
  auto again = w.sync(wanted);
  EXPECT_THAT(again.written, IsEmpty());
  EXPECT_THAT(again.removed, IsEmpty());
}

TEST_F(CniConfWriterTest, RemovesOnlyItsOwnFiles) {
  CniConfWriter w = writer();
  w.sync(configs({config("kube-system", "macvlan-ens192"), config("default", "other")}));
  std::ofstream(path("foreign.conflist")) << R"({"cniVersion":"1.0.0","name":"foreign"})";
  std::ofstream(path("broken.conflist")) << "not json";
  std::ofstream(path("10-bridge.conf")) << R"({"ipfence":{"managed":true}})";  // not .conflist

  auto report = w.sync(configs({config("default", "other")}));
  EXPECT_THAT(report.removed, ElementsAre("macvlan-ens192.conflist"));
  EXPECT_FALSE(exists(path("macvlan-ens192.conflist")));
  EXPECT_TRUE(exists(path("other.conflist")));
  EXPECT_TRUE(exists(path("foreign.conflist")));
  EXPECT_TRUE(exists(path("broken.conflist")));
  EXPECT_TRUE(exists(path("10-bridge.conf")));
}

TEST_F(CniConfWriterTest, AFreshWriterCleansUpWhatAnEarlierRunLeft) {
  writer().sync(configs({config("kube-system", "gone")}));
  ASSERT_TRUE(exists(path("gone.conflist")));
  auto report = writer().sync({});  // a new process: no memory of the earlier writes
  EXPECT_THAT(report.removed, ElementsAre("gone.conflist"));
  EXPECT_FALSE(exists(path("gone.conflist")));
}

TEST_F(CniConfWriterTest, NeverOverwritesAForeignFileOfTheSameName) {
  std::filesystem::create_directories(dir_ / "net.d");
  const std::string foreign = R"({"cniVersion":"0.4.0","name":"macvlan-ens192"})";
  std::ofstream(path("macvlan-ens192.conflist")) << foreign;
  auto report = writer().sync(configs({config("kube-system", "macvlan-ens192")}));
  EXPECT_THAT(report.written, IsEmpty());
  EXPECT_EQ(report.render_errors, 1);
  EXPECT_EQ(errors_, 1);
  EXPECT_EQ(read_text(path("macvlan-ens192.conflist")), foreign);
}

TEST_F(CniConfWriterTest, RenderErrorsAreCountedAndKeepTheLastGoodFile) {
  CniConfWriter w = writer();
  w.sync(configs({config("kube-system", "macvlan-ens192")}));
  const std::string good = read_text(path("macvlan-ens192.conflist"));
  auto report = w.sync(configs({config("kube-system", "macvlan-ens192", {"ens192", "ens224"})}));
  EXPECT_EQ(report.render_errors, 1);
  EXPECT_EQ(errors_, 1);
  EXPECT_EQ(read_text(path("macvlan-ens192.conflist")), good);
}

TEST_F(CniConfWriterTest, SameNameInTwoNamespacesKeepsTheFirst) {
  auto report =
      writer().sync(configs({config("a", "macvlan-ens192"), config("b", "macvlan-ens192")}));
  EXPECT_THAT(report.written, ElementsAre("macvlan-ens192.conflist"));
  EXPECT_EQ(report.render_errors, 1);
  json written = json::parse(read_text(path("macvlan-ens192.conflist")));
  EXPECT_EQ(written["ipfence"]["multusConfig"], "a/macvlan-ens192");
}

TEST_F(CniConfWriterTest, NoConfigsAndNoDirectoryIsFine) {
  auto report = writer().sync({});
  EXPECT_EQ(report.io_errors, 0);
  EXPECT_FALSE(exists(dir_ / "net.d"));  // nothing to write: nothing created
}

}  // namespace
}  // namespace ipfence::agent
