#include "cni/link_mac.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ipfence::cni {
namespace {

TEST(LinkMac, MissingNetnsIsAnError) {
  auto mac = read_link_mac("/nonexistent/netns", "eth0");
  ASSERT_FALSE(mac.ok());
  EXPECT_EQ(mac.error().msg, "open /nonexistent/netns: No such file or directory");
}

TEST(LinkMac, NotANetnsFileIsAnError) {
  auto mac = read_link_mac("/proc/self/status", "eth0");
  ASSERT_FALSE(mac.ok());  // setns rejects it (EINVAL) or, without privilege, EPERM
  EXPECT_NE(mac.error().msg.find("setns"), std::string::npos) << mac.error().msg;
}

TEST(LinkMac, IfnameTooLong) {
  EXPECT_FALSE(read_link_mac("/proc/self/ns/net", "0123456789abcdef").ok());
}

TEST(LinkMac, MissingInterfaceIsAnError) {
  auto mac = read_link_mac("/proc/self/ns/net", "nosuchif0");
  ASSERT_FALSE(mac.ok());  // ENODEV with privilege, EPERM from setns without
}

// With CAP_SYS_ADMIN, read an Ethernet interface of our own netns and compare with sysfs.
TEST(LinkMac, ReadsTheMacOfAnEthernetInterface) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns needs CAP_SYS_ADMIN";
  std::string ifname, expected;
  for (const auto& dev : std::filesystem::directory_iterator("/sys/class/net")) {
    std::ifstream type(dev.path() / "type");
    int arphrd = 0;
    std::ifstream address(dev.path() / "address");
    std::string mac;
    if (type >> arphrd && arphrd == 1 && address >> mac && mac != "00:00:00:00:00:00") {
      ifname = dev.path().filename();
      expected = mac;
      break;
    }
  }
  if (ifname.empty()) GTEST_SKIP() << "no Ethernet interface in this netns";
  auto mac = read_link_mac("/proc/self/ns/net", ifname);
  ASSERT_TRUE(mac.ok()) << mac.error().msg;
  EXPECT_EQ(*mac, expected);
}

TEST(LinkMac, LoopbackIsNotEthernet) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns needs CAP_SYS_ADMIN";
  auto mac = read_link_mac("/proc/self/ns/net", "lo");
  ASSERT_FALSE(mac.ok());
  EXPECT_EQ(mac.error().msg,
            "read MAC of lo in /proc/self/ns/net: lo is not an Ethernet interface");
}

}  // namespace
}  // namespace ipfence::cni
