// What the etcd backend does beyond the contract (store_contract_test.cpp runs that on etcd
// too): endpoint failover, an unreachable cluster, a watch across an etcd restart, etcd's
// transaction size limit, paged lists, TLS. Each test starts its own etcd on loopback
// (~150 ms) where it kills or configures it; the rest share the contract's.
#include "ipam/store/etcd_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "ipam/store/etcd_codec.h"
#include "ipam/store/etcd_watch.h"
#include "tests/unit/store/silent_endpoint.h"
#include "tests/unit/store/store_contract.h"

namespace ipfence::store {
namespace {

using namespace std::chrono;
using testing::EtcdProcess;

#define SKIP_WITHOUT_ETCD() \
  if (!EtcdProcess::binary()) GTEST_SKIP() << testing::EtcdHarness::skip_reason()

std::unique_ptr<Store> must_open(const std::string& url) {
  auto store = open_store(url);
  EXPECT_TRUE(store.ok()) << url << ": " << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

// Events from `watch` until `count` arrived or `limit` passed.
std::vector<Event> collect(Watch& watch, std::size_t count, milliseconds limit) {
  std::vector<Event> all;
  const auto deadline = steady_clock::now() + limit;
  while (all.size() < count && steady_clock::now() < deadline) {
    auto events = watch.next(milliseconds(100));
    EXPECT_TRUE(events.ok()) << events.error().message;
    if (!events.ok()) break;
    all.insert(all.end(), events->begin(), events->end());
  }
  return all;
}

// A key prefix no other test (nor a repetition of this one) uses on the shared etcd.
std::string fresh_prefix(const std::string& name) {
  static int count = 0;
  return "/" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(++count) + "/";
}

std::string closed_endpoint() {
  return "127.0.0.1:" + std::to_string(EtcdProcess::free_port());
}

TEST(EtcdStore, PrefixesSeparateStoresOnOneCluster) {
  SKIP_WITHOUT_ETCD();
  auto& etcd = testing::shared_etcd();
  const std::string prefix_a = fresh_prefix("prefix-a"), prefix_b = fresh_prefix("prefix-b");
  auto a = must_open(etcd.url("?prefix=" + prefix_a));
  auto b = must_open(etcd.url("?prefix=" + prefix_b));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->describe(), "etcd://" + etcd.endpoint() + "?prefix=" + prefix_a);
  ASSERT_TRUE(a->create("k", "in a").ok());
  ASSERT_TRUE(b->create("k", "in b").ok()) << "the same relative key, another prefix";
  EXPECT_EQ((*a->get("k"))->value, "in a");
  EXPECT_EQ(b->list("")->kvs.size(), 1u);
}

TEST(EtcdStore, FailsOverFromAClosedEndpoint) {
  SKIP_WITHOUT_ETCD();
  auto& etcd = testing::shared_etcd();
  const auto begin = steady_clock::now();
  auto store = must_open("etcd://" + closed_endpoint() + "," + etcd.endpoint() +
                         "?timeout=2s&prefix=" + fresh_prefix("failover"));
  ASSERT_TRUE(store);
  const auto revision = store->create("k", "v");
  ASSERT_TRUE(revision.ok()) << revision.error().message;
  auto watch = store->watch("", *revision - 1);
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  EXPECT_EQ(collect(**watch, 1, seconds(2)).size(), 1u);
  EXPECT_EQ(store->list("")->kvs.size(), 1u);
  EXPECT_LT(steady_clock::now() - begin, seconds(2)) << "a refused connection costs no timeout";
}

TEST(EtcdStore, UnreachableIsUnavailableWithinTheTimeoutNamingTheEndpoints) {
  const std::string one = closed_endpoint(), two = closed_endpoint();
  auto begin = steady_clock::now();
  auto refused = open_store("etcd://" + one + "," + two + "?timeout=1s");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
  EXPECT_NE(refused.error().message.find(one + ", " + two), std::string::npos)
      << refused.error().message;
  EXPECT_LT(steady_clock::now() - begin, seconds(1));

  // An endpoint that swallows packets (on loopback: nothing leaves the machine): the
  // timeout bounds the wait.
  testing::SilentEndpoint swallowing;
  begin = steady_clock::now();
  auto silent = open_store("etcd://" + swallowing.endpoint() + "," + one + "?timeout=400ms");
  const auto took = steady_clock::now() - begin;
  ASSERT_FALSE(silent.ok());
  EXPECT_EQ(silent.error().code, ErrorCode::unavailable);
  EXPECT_NE(silent.error().message.find(swallowing.endpoint() + ", " + one), std::string::npos)
      << silent.error().message;
  EXPECT_LT(took, milliseconds(900)) << silent.error().message;
}

TEST(EtcdStore, CallsOnAStoppedEtcdAreUnavailable) {
  SKIP_WITHOUT_ETCD();
  EtcdProcess etcd;
  etcd.start();
  auto store = must_open(etcd.url("?timeout=500ms"));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create("k", "v").ok());
  etcd.kill();
  auto got = store->get("k");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::unavailable);
  EXPECT_NE(got.error().message.find(etcd.endpoint()), std::string::npos) << got.error().message;
  auto created = store->create("k2", "v");
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::unavailable) << created.error().message;
  auto watch = store->watch("", 0);
  ASSERT_FALSE(watch.ok());
  EXPECT_EQ(watch.error().code, ErrorCode::unavailable) << watch.error().message;
}

TEST(EtcdStore, WatchSurvivesAnEtcdRestartWithoutLosingEvents) {
  SKIP_WITHOUT_ETCD();
  EtcdProcess etcd;
  etcd.start();
  auto store = must_open(etcd.url("?timeout=2s"));
  ASSERT_TRUE(store);
  const auto start = store->list("")->revision;
  auto watch = store->watch("w/", start);
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  ASSERT_TRUE(store->create("w/before", "1").ok());
  ASSERT_EQ(collect(**watch, 1, seconds(2)).size(), 1u);

  etcd.kill();
  // While etcd is down for less than the timeout, the watch has nothing to say, and says
  // no error either: a member failing over takes this long.
  auto quiet = (*watch)->next(milliseconds(200));
  ASSERT_TRUE(quiet.ok()) << quiet.error().message;
  EXPECT_TRUE(quiet->empty());

  etcd.start();  // same port, same data
  // Written by another client right away, before the watch can have reconnected.
  auto other = must_open(etcd.url());
  ASSERT_TRUE(other);
  for (const char* key : {"w/after-1", "w/after-2", "w/after-3"})
    ASSERT_TRUE(other->create(key, "2").ok()) << key;
  const auto events = collect(**watch, 3, seconds(5));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kv.key, "w/after-1") << "nothing repeated from before the restart";
  EXPECT_EQ(events[2].kv.key, "w/after-3");
  EXPECT_EQ((*store->get("w/before"))->value, "1") << "the first client reconnects too";
}

TEST(EtcdStore, WatchDownForLongerThanTheTimeoutIsUnavailableThenCarriesOn) {
  SKIP_WITHOUT_ETCD();
  EtcdProcess etcd;
  etcd.start();
  auto store = must_open(etcd.url("?timeout=300ms"));
  ASSERT_TRUE(store);
  auto watch = store->watch("u/", store->list("")->revision);
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  etcd.kill();
  auto early = (*watch)->next(milliseconds(0));
  ASSERT_TRUE(early.ok()) << early.error().message;
  std::this_thread::sleep_for(milliseconds(400));
  auto late = (*watch)->next(milliseconds(0));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::unavailable);
  EXPECT_NE(late.error().message.find("etcd unreachable at " + etcd.endpoint()), std::string::npos)
      << late.error().message;
  etcd.start();
  auto other = must_open(etcd.url());
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->create("u/back", "1").ok());
  // Unavailable until the stream is back (its reconnect backoff is at most 1 s), then the
  // event written meanwhile.
  std::vector<Event> events;
  const auto deadline = steady_clock::now() + seconds(5);
  while (events.empty() && steady_clock::now() < deadline) {
    auto next = (*watch)->next(milliseconds(100));
    if (next.ok())
      events = *next;
    else
      EXPECT_EQ(next.error().code, ErrorCode::unavailable) << next.error().message;
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "u/back");
  auto settled = (*watch)->next(milliseconds(0));
  EXPECT_TRUE(settled.ok()) << settled.error().message;
}

TEST(EtcdStore, SaysItIsSharedAndNamesItsEndpoints) {
  SKIP_WITHOUT_ETCD();
  EtcdProcess etcd;
  etcd.start();
  auto store = must_open(etcd.url("?timeout=1s"));
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->shared());
  EXPECT_EQ(store->endpoints(), std::vector<std::string>{etcd.endpoint()});
}

TEST(EtcdStore, TxnOverEtcdsOpLimitIsRefusedNamingTheLimit) {
  SKIP_WITHOUT_ETCD();
  auto store = must_open(testing::shared_etcd().url("?prefix=" + fresh_prefix("limit")));
  ASSERT_TRUE(store);
  Txn txn;
  for (int i = 0; i < 128; ++i) txn.ops.push_back(Op::put("k" + std::to_string(i), "v"));
  auto at_limit = store->commit(txn);
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().message;
  EXPECT_TRUE(at_limit->succeeded);

  txn.ops.push_back(Op::put("k128", "v"));
  auto over = store->commit(txn);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(over.error().message.find("at most 128"), std::string::npos) << over.error().message;
  EXPECT_NE(over.error().message.find("129 ops"), std::string::npos) << over.error().message;

  Txn compares;
  for (int i = 0; i < 129; ++i)
    compares.compares.push_back(Compare::absent("c" + std::to_string(i)));
  auto too_many_compares = store->commit(compares);
  ASSERT_FALSE(too_many_compares.ok());
  EXPECT_EQ(too_many_compares.error().code, ErrorCode::invalid_argument);
  EXPECT_FALSE((*store->get("k128")).has_value());
}

TEST(EtcdStore, ListPagesFormOneSortedSnapshot) {
  SKIP_WITHOUT_ETCD();
  auto options = etcd::parse_url(testing::shared_etcd().url("?prefix=" + fresh_prefix("page")));
  ASSERT_TRUE(options.ok());
  options->list_page = 2;
  auto store = EtcdStore::open(*options);
  ASSERT_TRUE(store.ok()) << store.error().message;
  for (const char* key : {"p/e", "p/a", "p/d", "q/x", "p/c", "p/b"})
    ASSERT_TRUE((*store)->create(key, key).ok());
  const auto revision = (*store)->list("q/")->revision;
  auto listed = (*store)->list("p/");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  std::vector<std::string> keys;
  for (const auto& kv : listed->kvs) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"p/a", "p/b", "p/c", "p/d", "p/e"}));
  EXPECT_EQ(listed->revision, revision);
}

// watch() checks for compaction before it streams; the stream reports it as well, which is
// what a watch meets when it reconnects after its revision was compacted.
TEST(EtcdStore, CompactionReportedOnTheStreamEndsTheWatch) {
  SKIP_WITHOUT_ETCD();
  auto& etcd = testing::shared_etcd();
  const std::string prefix = fresh_prefix("stream-compact");
  auto options = etcd::parse_url(etcd.url("?prefix=" + prefix));
  ASSERT_TRUE(options.ok());
  auto store = EtcdStore::open(*options);
  ASSERT_TRUE(store.ok());
  const auto first = (*store)->create("w/1", "x");
  const auto last = (*store)->create("w/2", "x");
  ASSERT_TRUE(first.ok() && last.ok());
  ASSERT_TRUE((*store)->compact(*last).ok());
  ASSERT_TRUE((*store)->compact(*first).ok()) << "compacting again is not an error";

  auto http = std::make_shared<etcd::HttpClient>(options->client);
  auto watch = etcd::start_watch(
      http, etcd::WatchTarget{prefix + "w/", etcd::prefix_end(prefix + "w/"), prefix, *first - 1});
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  ErrorCode code = ErrorCode::internal;
  for (int i = 0; i < 20 && code == ErrorCode::internal; ++i) {
    auto events = (*watch)->next(milliseconds(100));
    if (!events.ok())
      code = events.error().code;
    else
      EXPECT_TRUE(events->empty()) << "events from compacted history";
  }
  EXPECT_EQ(code, ErrorCode::compacted);
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
bool make_certificates(const std::string& dir) {
  std::ofstream(dir + "/make.sh")
      << "set -e\n"
         "cd \"$(dirname \"$0\")\"\n"
         "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
         "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 1 -subj /CN=ipfence-test-ca\n"
         "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' >ext\n"
         "for who in server client; do\n"
         "  openssl req $ec -keyout $who.key -out $who.csr -subj /CN=ipfence-$who\n"
         "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \\\n"
         "    -extfile ext -out $who.pem\n"
         "done\n";
  return std::system(("bash " + dir + "/make.sh >" + dir + "/make.log 2>&1").c_str()) == 0;
}

TEST(EtcdStore, TlsWithClientCertificates) {
  SKIP_WITHOUT_ETCD();
  testing::TempDir certs;
  if (!make_certificates(certs.path())) GTEST_SKIP() << "openssl could not make test certificates";
  const std::string& d = certs.path();
  EtcdProcess etcd(EtcdProcess::Tls{d + "/ca.pem", d + "/server.pem", d + "/server.key"});
  etcd.start();

  auto store = must_open(
      etcd.url("?cacert=" + d + "/ca.pem&cert=" + d + "/client.pem&key=" + d + "/client.key"));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->describe(), "etcds://" + etcd.endpoint() + "?prefix=/ipfence/");
  const auto created = store->create("k", "v");
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto watch = store->watch("", *created - 1);
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  EXPECT_EQ(collect(**watch, 1, seconds(2)).size(), 1u);

  auto no_client_cert = open_store(etcd.url("?timeout=1s&cacert=" + d + "/ca.pem"));
  ASSERT_FALSE(no_client_cert.ok()) << "etcd requires a client certificate";
  EXPECT_EQ(no_client_cert.error().code, ErrorCode::unavailable);
  auto unknown_ca = open_store(etcd.url("?timeout=1s"));
  ASSERT_FALSE(unknown_ca.ok()) << "the test CA is not a system CA";
  EXPECT_NE(unknown_ca.error().message.find(etcd.endpoint()), std::string::npos);
}

}  // namespace
}  // namespace ipfence::store
