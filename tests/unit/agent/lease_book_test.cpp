// LeaseBook (agent/lease_book.h): the leases and pod MACs the guard's maps should hold, and
// the point writes that carry each change over. The writes are replayed onto a model of the
// two maps, which must then hold exactly what the book says.
#include "agent/lease_book.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace ipfence::agent {
namespace {

using datapath::MapEdit;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Kind = MapEdit::Kind;

ipam::IpAddress ip(const char* text) {
  return *ipam::IpAddress::parse(text);
}

datapath::Mac mac(const char* text) {
  return *datapath::Mac::parse(text);
}

// "put 10.0.0.1 aa:..", "erase 10.0.0.1", "mac+ aa:..", "mac- aa:..".
std::vector<std::string> texts(const LeaseBook::Edits& edits) {
  std::vector<std::string> out;
  for (const MapEdit& e : edits) {
    switch (e.kind) {
      case Kind::put_lease:
        out.push_back("put " + e.ip.to_string() + " " + e.mac.to_string());
        break;
      case Kind::erase_lease:
        out.push_back("erase " + e.ip.to_string());
        break;
      case Kind::put_pod_mac:
        out.push_back("mac+ " + e.mac.to_string());
        break;
      case Kind::erase_pod_mac:
        out.push_back("mac- " + e.mac.to_string());
        break;
    }
  }
  return out;
}

std::vector<std::string> texts(const std::vector<datapath::LeaseEntry>& leases) {
  std::vector<std::string> out;
  for (const auto& l : leases) out.push_back(l.ip.to_string() + "=" + l.mac.to_string());
  return out;
}

std::vector<std::string> texts(const std::vector<datapath::Mac>& macs) {
  std::vector<std::string> out;
  for (const auto& m : macs) out.push_back(m.to_string());
  return out;
}

// The two maps as Guard::apply would leave them. Checks the ordering promise on the way: a
// lease is only written with a MAC the pod-MAC map knows, unless it is the node's own.
struct MapModel {
  std::map<ipam::IpAddress, std::string> leases;
  std::set<std::string> macs;
  std::set<std::string> host_macs;

  void apply(const LeaseBook::Edits& edits) {
    for (const MapEdit& e : edits) {
      switch (e.kind) {
        case Kind::put_lease:
          EXPECT_TRUE(macs.contains(e.mac.to_string()) || host_macs.contains(e.mac.to_string()))
              << "lease " << e.ip.to_string() << " written before its MAC";
          leases[e.ip] = e.mac.to_string();
          break;
        case Kind::erase_lease:
          leases.erase(e.ip);
          break;
        case Kind::put_pod_mac:
          macs.insert(e.mac.to_string());
          break;
        case Kind::erase_pod_mac:
          for (const auto& [address, m] : leases)
            EXPECT_NE(m, e.mac.to_string())
                << "MAC dropped while " << address.to_string() << " still names it";
          macs.erase(e.mac.to_string());
          break;
      }
    }
  }
  std::vector<std::string> lease_texts() const {
    std::vector<std::string> out;
    for (const auto& [address, m] : leases) out.push_back(address.to_string() + "=" + m);
    return out;
  }
};

TEST(LeaseBookTest, FirstSnapshotWritesMacsBeforeLeases) {
  LeaseBook book;
  LeaseBook::Edits edits;
  ASSERT_TRUE(book.set_pods({{ip("10.0.0.2"), mac("AA:BB:CC:00:00:02")},
                             {ip("10.0.0.1"), mac("aa:bb:cc:00:00:01")},
                             {ip("fd00::1"), mac("aa-bb-cc-00-00-01")}},
                            &edits));
  EXPECT_THAT(texts(edits),
              ElementsAre("mac+ aa:bb:cc:00:00:01", "mac+ aa:bb:cc:00:00:02",
                          "put 10.0.0.1 aa:bb:cc:00:00:01", "put 10.0.0.2 aa:bb:cc:00:00:02",
                          "put fd00::1 aa:bb:cc:00:00:01"));
  EXPECT_THAT(texts(book.leases()),
              ElementsAre("10.0.0.1=aa:bb:cc:00:00:01", "10.0.0.2=aa:bb:cc:00:00:02",
                          "fd00::1=aa:bb:cc:00:00:01"));
  EXPECT_THAT(texts(book.pod_macs()), ElementsAre("aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"));
  EXPECT_EQ(book.size(), 3u);
  EXPECT_EQ(book.pod_mac_count(), 2u);
}

TEST(LeaseBookTest, NextSnapshotWritesOnlyWhatChanged) {
  LeaseBook book;
  ASSERT_TRUE(book.set_pods({{ip("10.0.0.1"), mac("aa:bb:cc:00:00:01")},
                             {ip("10.0.0.2"), mac("aa:bb:cc:00:00:02")},
                             {ip("10.0.0.3"), mac("aa:bb:cc:00:00:03")},
                             {ip("10.0.0.4"), mac("aa:bb:cc:00:00:04")}},
                            nullptr));
  LeaseBook::Edits edits;
  // .1 unchanged, .2 gone (its MAC with it), .3 moves to a new MAC, .4 unchanged, .5 new on
  // .4's MAC.
  ASSERT_TRUE(book.set_pods({{ip("10.0.0.1"), mac("aa:bb:cc:00:00:01")},
                             {ip("10.0.0.3"), mac("aa:bb:cc:00:00:09")},
                             {ip("10.0.0.4"), mac("aa:bb:cc:00:00:04")},
                             {ip("10.0.0.5"), mac("aa:bb:cc:00:00:04")}},
                            &edits));
  EXPECT_THAT(texts(edits),
              ElementsAre("mac+ aa:bb:cc:00:00:09", "erase 10.0.0.2",
                          "put 10.0.0.3 aa:bb:cc:00:00:09", "put 10.0.0.5 aa:bb:cc:00:00:04",
                          "mac- aa:bb:cc:00:00:02", "mac- aa:bb:cc:00:00:03"));
  EXPECT_THAT(texts(book.pod_macs()),
              ElementsAre("aa:bb:cc:00:00:01", "aa:bb:cc:00:00:04", "aa:bb:cc:00:00:09"));

  edits.clear();
  std::vector<PodLease> same;
  for (const auto& l : book.leases()) same.push_back({l.ip, l.mac});
  ASSERT_TRUE(book.set_pods(same, &edits));
  EXPECT_THAT(edits, IsEmpty());
}

TEST(LeaseBookTest, AMacLeavesWithItsLastAddress) {
  LeaseBook book;
  LeaseBook::Edits edits;
  book.put_pod(ip("10.0.0.1"), mac("aa:bb:cc:00:00:01"), &edits);
  book.put_pod(ip("fd00::1"), mac("aa:bb:cc:00:00:01"), &edits);  // the pod's second address
  book.put_pod(ip("fd00::1"), mac("aa:bb:cc:00:00:01"), &edits);  // again: nothing to write
  EXPECT_THAT(texts(edits), ElementsAre("mac+ aa:bb:cc:00:00:01", "put 10.0.0.1 aa:bb:cc:00:00:01",
                                        "put fd00::1 aa:bb:cc:00:00:01"));
  EXPECT_EQ(book.pod_mac_count(), 1u);
  edits.clear();
  book.erase_pod(ip("10.0.0.1"), &edits);
  EXPECT_THAT(texts(edits), ElementsAre("erase 10.0.0.1"));
  EXPECT_THAT(texts(book.pod_macs()), ElementsAre("aa:bb:cc:00:00:01"));
  EXPECT_EQ(book.pod_mac_count(), 1u);
  edits.clear();
  book.erase_pod(ip("fd00::1"), &edits);
  book.erase_pod(ip("fd00::1"), &edits);  // not there any more: nothing to write
  EXPECT_THAT(texts(edits), ElementsAre("erase fd00::1", "mac- aa:bb:cc:00:00:01"));
  EXPECT_EQ(book.size(), 0u);
  EXPECT_THAT(texts(book.pod_macs()), IsEmpty());
  EXPECT_EQ(book.pod_mac_count(), 0u);
}

TEST(LeaseBookTest, AnAddressMovingToAnotherPodSwapsMacsAroundTheLease) {
  LeaseBook book;
  book.put_pod(ip("10.0.0.1"), mac("aa:bb:cc:00:00:01"), nullptr);
  LeaseBook::Edits edits;
  book.put_pod(ip("10.0.0.1"), mac("aa:bb:cc:00:00:02"), &edits);
  EXPECT_THAT(texts(edits), ElementsAre("mac+ aa:bb:cc:00:00:02", "put 10.0.0.1 aa:bb:cc:00:00:02",
                                        "mac- aa:bb:cc:00:00:01"));
}

TEST(LeaseBookTest, TheNodesOwnAddressesFillWhereNoPodHoldsThem) {
  LeaseBook book;
  LeaseBook::Edits edits;
  book.put_pod(ip("10.0.0.5"), mac("aa:bb:cc:00:00:05"), &edits);
  const datapath::Mac master = mac("02:00:00:00:00:01");
  book.set_host({{ip("10.0.0.9"), master, false}, {ip("10.0.0.5"), master, false}}, &edits);
  // 10.0.0.5 is the pod's: the node's claim to it is not written, and its MAC is no pod MAC.
  EXPECT_THAT(texts(edits), ElementsAre("mac+ aa:bb:cc:00:00:05", "put 10.0.0.5 aa:bb:cc:00:00:05",
                                        "put 10.0.0.9 02:00:00:00:00:01"));
  EXPECT_THAT(texts(book.leases()),
              ElementsAre("10.0.0.5=aa:bb:cc:00:00:05", "10.0.0.9=02:00:00:00:00:01"));
  EXPECT_THAT(texts(book.pod_macs()), ElementsAre("aa:bb:cc:00:00:05"));
  EXPECT_EQ(book.size(), 2u);

  edits.clear();
  book.erase_pod(ip("10.0.0.5"), &edits);  // the node's own lease takes the address back
  EXPECT_THAT(texts(edits),
              ElementsAre("put 10.0.0.5 02:00:00:00:00:01", "mac- aa:bb:cc:00:00:05"));
  EXPECT_EQ(book.size(), 2u);

  edits.clear();
  book.set_host({{ip("10.0.0.5"), master, false}}, &edits);  // 10.0.0.9 left the master
  EXPECT_THAT(texts(edits), ElementsAre("erase 10.0.0.9"));
  EXPECT_THAT(texts(book.leases()), ElementsAre("10.0.0.5=02:00:00:00:00:01"));
}

TEST(LeaseBookTest, AnAddressGivenTwiceWithTwoMacsChangesNothing) {
  LeaseBook book;
  book.put_pod(ip("10.0.0.1"), mac("aa:bb:cc:00:00:01"), nullptr);
  LeaseBook::Edits edits;
  ASSERT_TRUE(book.set_pods(
      {{ip("10.0.0.2"), mac("aa:bb:cc:00:00:02")}, {ip("10.0.0.2"), mac("aa:bb:cc:00:00:02")}},
      nullptr))
      << "the same lease twice is one lease";
  EXPECT_EQ(book.size(), 1u);
  book.put_pod(ip("10.0.0.1"), mac("aa:bb:cc:00:00:01"), nullptr);
  book.erase_pod(ip("10.0.0.2"), nullptr);
  Status twice = book.set_pods(
      {{ip("10.0.0.2"), mac("aa:bb:cc:00:00:02")}, {ip("10.0.0.2"), mac("aa:bb:cc:00:00:03")}},
      &edits);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(twice.error().message, "lease 10.0.0.2 is given twice, with different MACs");
  EXPECT_THAT(edits, IsEmpty());
  EXPECT_THAT(texts(book.leases()), ElementsAre("10.0.0.1=aa:bb:cc:00:00:01"));
  EXPECT_THAT(texts(book.pod_macs()), ElementsAre("aa:bb:cc:00:00:01"));

  // An IPv6 address given twice stops the IPv4 half of the same snapshot too.
  Status twice_v6 = book.set_pods({{ip("10.0.0.3"), mac("aa:bb:cc:00:00:03")},
                                   {ip("fd00::2"), mac("aa:bb:cc:00:00:02")},
                                   {ip("fd00::2"), mac("aa:bb:cc:00:00:04")}},
                                  &edits);
  ASSERT_FALSE(twice_v6);
  EXPECT_EQ(twice_v6.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(twice_v6.error().message, "lease fd00::2 is given twice, with different MACs");
  EXPECT_THAT(edits, IsEmpty());
  EXPECT_THAT(texts(book.leases()), ElementsAre("10.0.0.1=aa:bb:cc:00:00:01"));
}

TEST(LeaseBookTest, LeasesListIpv4BeforeIpv6AndTheNodesOwnInBetweenInOrder) {
  LeaseBook book;
  LeaseBook::Edits edits;
  ASSERT_TRUE(book.set_pods({{ip("fd00::2"), mac("aa:bb:cc:00:00:01")},
                             {ip("10.0.0.9"), mac("aa:bb:cc:00:00:01")},
                             {ip("10.0.0.1"), mac("aa:bb:cc:00:00:02")}},
                            &edits));
  EXPECT_THAT(texts(edits),
              ElementsAre("mac+ aa:bb:cc:00:00:01", "mac+ aa:bb:cc:00:00:02",
                          "put 10.0.0.1 aa:bb:cc:00:00:02", "put 10.0.0.9 aa:bb:cc:00:00:01",
                          "put fd00::2 aa:bb:cc:00:00:01"));
  book.set_host({{ip("fd00::1"), mac("02:00:00:00:00:01"), false},
                 {ip("10.0.0.5"), mac("02:00:00:00:00:01"), false}},
                nullptr);
  EXPECT_THAT(texts(book.leases()),
              ElementsAre("10.0.0.1=aa:bb:cc:00:00:02", "10.0.0.5=02:00:00:00:00:01",
                          "10.0.0.9=aa:bb:cc:00:00:01", "fd00::1=02:00:00:00:00:01",
                          "fd00::2=aa:bb:cc:00:00:01"));
  EXPECT_EQ(book.size(), 5u);
  EXPECT_EQ(book.pod_count(), 3u);
  // The MAC of both families leaves with its last address, whichever family that is.
  edits.clear();
  book.erase_pod(ip("10.0.0.9"), &edits);
  EXPECT_THAT(texts(edits), ElementsAre("erase 10.0.0.9"));
  edits.clear();
  book.erase_pod(ip("fd00::2"), &edits);
  EXPECT_THAT(texts(edits), ElementsAre("erase fd00::2", "mac- aa:bb:cc:00:00:01"));
}

// Random snapshots, ADDs, DELs and host changes: the writes, replayed in order, always leave
// the maps holding exactly the book (and the book what a from-scratch model says).
TEST(LeaseBookTest, WritesReplayedOntoTheMapsAlwaysGiveTheBook) {
  std::mt19937 rng(7);
  // Both families, whose leases the book keeps apart; a MAC may hold addresses of both.
  const auto pick_ip = [&] {
    const unsigned n = 1 + rng() % 40;
    const std::string text = n % 2 ? "10.0.0." + std::to_string(n) : "fd00::" + std::to_string(n);
    return ip(text.c_str());
  };
  const auto pick_mac = [&] {
    const std::string text = "aa:bb:cc:00:00:0" + std::to_string(rng() % 8);
    return mac(text.c_str());
  };
  LeaseBook book;
  MapModel maps;
  std::map<ipam::IpAddress, std::string> pods;  // what the book should hold for pods
  std::map<ipam::IpAddress, std::string> host;
  for (const char* m : {"02:00:00:00:00:01", "02:00:00:00:00:02"}) maps.host_macs.insert(m);
  for (int step = 0; step < 3000; ++step) {
    LeaseBook::Edits edits;
    switch (rng() % 8) {
      case 0: {  // a snapshot: a few of the current leases changed
        std::map<ipam::IpAddress, std::string> next;
        for (const auto& [a, m] : pods)
          if (rng() % 10 != 0) next[a] = rng() % 10 == 0 ? pick_mac().to_string() : m;
        for (int i = 0; i < 3; ++i) next[pick_ip()] = pick_mac().to_string();
        std::vector<PodLease> leases;  // one per address, in no particular order
        for (const auto& [a, m] : next) leases.push_back({a, mac(m.c_str())});
        std::shuffle(leases.begin(), leases.end(), rng);
        ASSERT_TRUE(book.set_pods(leases, &edits));
        pods = next;
        break;
      }
      case 1: {
        std::vector<datapath::LeaseEntry> own;
        host.clear();
        for (int i = 0; i < 2; ++i) {
          const auto a = pick_ip();
          const datapath::Mac m = mac(i == 0 ? "02:00:00:00:00:01" : "02:00:00:00:00:02");
          if (host.emplace(a, m.to_string()).second) own.push_back({a, m, false});
        }
        book.set_host(own, &edits);
        break;
      }
      case 2:
      case 3:
      case 4: {
        const auto a = pick_ip();
        book.erase_pod(a, &edits);
        pods.erase(a);
        break;
      }
      default: {
        const auto a = pick_ip();
        const auto m = pick_mac();
        book.put_pod(a, m, &edits);
        pods[a] = m.to_string();
        break;
      }
    }
    maps.apply(edits);
    std::map<ipam::IpAddress, std::string> want = pods;
    std::set<std::string> want_macs;
    for (const auto& [a, m] : pods) want_macs.insert(m);
    for (const auto& [a, m] : host) want.emplace(a, m);
    std::vector<std::string> want_texts;
    for (const auto& [a, m] : want) want_texts.push_back(a.to_string() + "=" + m);
    ASSERT_EQ(texts(book.leases()), want_texts) << "step " << step;
    ASSERT_EQ(maps.lease_texts(), want_texts) << "step " << step;
    ASSERT_EQ(maps.macs, want_macs) << "step " << step;
    ASSERT_EQ(texts(book.pod_macs()), std::vector<std::string>(want_macs.begin(), want_macs.end()));
    ASSERT_EQ(book.pod_mac_count(), want_macs.size()) << "step " << step;
    ASSERT_EQ(book.size(), want.size());
  }
}

}  // namespace
}  // namespace ipfence::agent
