// `ipfencectl get conflicts` and `ipfencectl quarantine release` through the real binary, over
// a file store that ConflictBook (what the agents use) has written to.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "ctl/cmd_conflicts.h"
#include "ipam/clock.h"
#include "ipam/conflict_book.h"
#include "ipam/store/store.h"
#include "tests/unit/ctl/ctl_process.h"

namespace ipfence::ctl {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
using process::CtlRun;

class ConflictsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ipfencectl-conflicts-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_url_ = "file://" + (dir_ / "store").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  CtlRun ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", store_url_});
    return process::run_ctl(dir_, args);
  }

  // Two conflicts as agents would write them: a pod's IP used by an outside MAC (seen twice),
  // and a squatter, quarantined.
  void write_records() {
    auto store = store::open_store(store_url_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    ipam::ConflictBook book(**store);
    // Days ago: the ages print the same however slow the machine is.
    auto when = std::chrono::system_clock::now() - 72h;
    ipam::Sighting pod{.ip = "10.6.168.133",
                       .mac = "02:aa:bb:cc:dd:01",
                       .kind = ipam::ConflictKind::pod,
                       .pool = "test-ippool",
                       .holder = "default/app-1",
                       .holder_mac = "02:00:00:00:00:0a",
                       .node = "node1",
                       .master = "ens192",
                       .when = when};
    ASSERT_TRUE(book.record(pod).ok());
    pod.when = when + 24h;
    pod.node = "node2";
    ASSERT_TRUE(book.record(pod).ok());
    ipam::Sighting squatter{.ip = "10.6.168.9",
                            .mac = "02:aa:bb:cc:dd:02",
                            .kind = ipam::ConflictKind::squatter,
                            .pool = "test-ippool",
                            .holder = "",
                            .holder_mac = "",
                            .node = "node1",
                            .master = "ens192",
                            .when = when};
    ASSERT_TRUE(book.record(squatter).ok());
    ASSERT_TRUE(book.quarantine(squatter, 0, 64).ok());
  }

  fs::path dir_;
  std::string store_url_;
};

TEST_F(ConflictsCliTest, ListsConflictsAsATableSortedByAddress) {
  write_records();
  CtlRun run = ctl({"get", "conflicts"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "IP             MAC                 KIND                     POOL          HOLDER"
            "          NODE    FIRST-SEEN   LAST-SEEN   COUNT\n"
            "10.6.168.9     02:aa:bb:cc:dd:02   squatter (quarantined)   test-ippool   <none>"
            "          node1   3d           3d          1\n"
            "10.6.168.133   02:aa:bb:cc:dd:01   pod                      test-ippool   "
            "default/app-1   node2   3d           2d          2\n");
}

TEST_F(ConflictsCliTest, OneAddressAndJson) {
  write_records();
  CtlRun run = ctl({"get", "conflicts", "10.6.168.133", "-o", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto list = nlohmann::json::parse(run.out);
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["kind"], "pod");
  EXPECT_EQ(list["items"][0]["count"], 2);
  EXPECT_EQ(list["items"][0]["holderMac"], "02:00:00:00:00:0a");
  EXPECT_EQ(list["items"][0]["quarantined"], false);

  run = ctl({"get", "conflicts", "10.6.168.200"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "error: no conflict recorded for 10.6.168.200\n");
  run = ctl({"get", "conflicts", "10.6.168"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "error: \"10.6.168\" is not an IP address\n");
}

TEST_F(ConflictsCliTest, AnEmptyStoreHasNoConflicts) {
  CtlRun run = ctl({"get", "conflicts"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "No conflicts found.\n");
}

TEST_F(ConflictsCliTest, QuarantineReleaseFreesTheIpOnceAndThenSaysItIsNotQuarantined) {
  write_records();
  CtlRun run = ctl({"quarantine", "release", "10.6.168.9"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("quarantine of 10.6.168.9 in IPPool test-ippool released (last "
                                 "seen "));
  run = ctl({"get", "conflicts"});
  EXPECT_THAT(run.out, HasSubstr("10.6.168.9     02:aa:bb:cc:dd:02   squatter   "));

  run = ctl({"quarantine", "release", "10.6.168.9"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "error: IP 10.6.168.9 is not quarantined (see `ipfencectl get conflicts`)\n");
  run = ctl({"quarantine", "release"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("ip is required"));
}

}  // namespace
}  // namespace ipfence::ctl
