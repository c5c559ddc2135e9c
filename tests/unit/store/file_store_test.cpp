// FileStore beyond the contract: several instances on one directory (as several processes
// would be), reopening, damaged files, torn writes, and log rotation.
#include "ipam/store/file_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "ipam/store/file_format.h"
#include "ipam/store/file_io.h"
#include "ipam/store/file_json.h"
#include "tests/unit/store/temp_dir.h"

namespace ipfence::store {
namespace {

using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

void append(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::app) << data;
}

class FileStoreTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_.store_dir(); }
  std::string wal() const { return dir() + "/wal"; }
  std::string snapshot() const { return dir() + "/snapshot.json"; }

  std::unique_ptr<FileStore> open(FileStore::Options options = {}) {
    options.log = [this](std::string_view message) { logged_.emplace_back(message); };
    auto store = FileStore::open(dir(), std::move(options));
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(store).value() : nullptr;
  }
  Error open_fails() {
    auto store = FileStore::open(dir(), FileStore::Options{});
    EXPECT_FALSE(store.ok()) << "opened a damaged store";
    return store.ok() ? Error{} : store.error();
  }
  // A store with keys k0..k{n-1}, closed again.
  void fill(int n) {
    auto store = open();
    for (int i = 0; i < n; ++i) ASSERT_TRUE(store->create("k" + std::to_string(i), "v").ok());
  }
  std::int64_t revision(Store& store) { return store.list("")->revision; }
  std::unique_ptr<Watch> must_watch(Store& store, std::int64_t after) {
    auto watch = store.watch("", after);
    EXPECT_TRUE(watch.ok()) << watch.error().message;
    return watch.ok() ? std::move(watch).value() : nullptr;
  }

  TempDir tmp_;
  std::vector<std::string> logged_;
};

TEST_F(FileStoreTest, CreatesAPrivateDirectoryAndFiles) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->describe(), "file://" + dir());
  struct stat st {};
  ASSERT_EQ(::stat(dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* name : {"wal", "snapshot.json", "lock"}) {
    ASSERT_EQ(::stat((dir() + "/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
}

TEST_F(FileStoreTest, ReopenKeepsDataAndHistory) {
  {
    auto store = open();
    const auto a = *store->create("a", "1");
    ASSERT_TRUE(store->update("a", "2", a).ok());
    const auto b = *store->create("b", "1");
    ASSERT_TRUE(store->remove("b", b).ok());
  }
  auto store = open();
  EXPECT_EQ(revision(*store), 4);
  EXPECT_EQ(**store->get("a"), (KeyValue{"a", "2", 1, 2, 2}));
  EXPECT_FALSE(store->get("b")->has_value());
  auto watch = store->watch("", 0);
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  auto events = (*watch)->next(std::chrono::milliseconds(100));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[3].type, Event::Type::del);
  EXPECT_EQ(*store->create("c", "1"), 5);
}

TEST_F(FileStoreTest, TwoInstancesSeeEachOthersCommits) {
  auto a = open();
  auto b = open();
  const auto created = *a->create("k", "from a");
  EXPECT_EQ((*b->get("k"))->value, "from a");
  ASSERT_TRUE(b->update("k", "from b", created).ok());
  EXPECT_EQ((*a->get("k"))->value, "from b");
  EXPECT_EQ(a->create("k", "again").error().code, ErrorCode::already_exists);
  EXPECT_EQ(revision(*a), revision(*b));
}

// The agent opens its store twice (allocator, conflict monitor): default-option opens of one
// directory share one mirror, and each is still a whole store that outlives the others.
TEST_F(FileStoreTest, DefaultOpensOfOneDirectoryShareAMirrorAndStayStores) {
  auto a = FileStore::open(dir());
  auto b = FileStore::open(dir() + "/");
  ASSERT_TRUE(a.ok() && b.ok());
  const auto created = *(*a)->create("k", "from a");
  auto watch = must_watch(**b, created - 1);
  ASSERT_TRUE(watch);
  auto seen = watch->next(std::chrono::milliseconds(0));
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u) << "a commit through one is at once in the other's watch";
  EXPECT_EQ((*seen)[0].kv.value, "from a");
  a->reset();
  ASSERT_TRUE((*b)->update("k", "from b", created).ok()) << "outlives the first open";
  b->reset();
  auto c = FileStore::open(dir());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*(*c)->get("k"))->value, "from b") << "a later open reads the files again";
  EXPECT_EQ((*c)->create("k", "again").error().code, ErrorCode::already_exists);
}

// Read-modify-write from four instances: no update may be lost, so txns serialize.
TEST_F(FileStoreTest, TransactionsOfManyInstancesSerialize) {
  ASSERT_TRUE(open()->create("counter", "0").ok());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([this] {
      auto store = open();
      for (int i = 0; i < kIncrements;) {
        auto kv = **store->get("counter");
        auto done =
            store->update("counter", std::to_string(std::stoi(kv.value) + 1), kv.mod_revision);
        if (done.ok())
          ++i;
        else
          EXPECT_EQ(done.error().code, ErrorCode::conflict);
      }
    });
  for (auto& thread : threads) thread.join();
  auto kv = **open()->get("counter");
  EXPECT_EQ(kv.value, std::to_string(kThreads * kIncrements));
  EXPECT_EQ(kv.version, kThreads * kIncrements + 1);
}

TEST_F(FileStoreTest, DamagedSnapshotIsReportedNotReset) {
  fill(3);
  ASSERT_TRUE(open()->compact(3).ok());  // puts the keys into the snapshot
  const std::string good = slurp(snapshot());
  const std::string wal_before = slurp(wal());
  std::string flipped = good;
  flipped[flipped.size() - 10] ^= 0x20;
  for (const auto& damaged : {flipped, good.substr(0, good.size() - 5), std::string("hello"),
                              good + "x", std::string()}) {
    spit(snapshot(), damaged);
    const auto error = open_fails();
    EXPECT_EQ(error.code, ErrorCode::corrupt) << error.message;
    EXPECT_NE(error.message.find(snapshot()), std::string::npos) << error.message;
    EXPECT_NE(error.message.find("backup"), std::string::npos) << "says what to do";
    EXPECT_EQ(slurp(snapshot()), damaged) << "the damaged file was rewritten";
    EXPECT_EQ(slurp(wal()), wal_before);
  }
  spit(snapshot(), good);
  EXPECT_EQ(open()->list("")->kvs.size(), 3u);
}

// The index keeps revisions in 48 bits (packed_uint.h): a snapshot beyond that, or one whose
// key claims more puts than it can have had, is refused as damaged, never cut short.
TEST_F(FileStoreTest, SnapshotsWithImpossibleRevisionsAreCorrupt) {
  fill(0);
  const std::string beyond = "281474976710656";  // 2^48
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"revision\":" + beyond + ",\"kvs\":[{\"create_revision\":" + beyond +
           ",\"key\":\"a\",\"mod_revision\":" + beyond + ",\"value\":\"1\",\"version\":1}]}",
       "snapshot at revision 281474976710656 is beyond revision 281474976710655, the highest "
       "this store keeps"},
      {"{\"revision\":3,\"kvs\":[{\"create_revision\":2,\"key\":\"a\",\"mod_revision\":3,"
       "\"value\":\"1\",\"version\":3}]}",
       "key a has impossible revisions"}};
  for (const auto& [body, message] : cases) {
    spit(snapshot(), frame_snapshot(body));
    const auto error = open_fails();
    EXPECT_EQ(error.code, ErrorCode::corrupt) << error.message;
    EXPECT_NE(error.message.find(snapshot()), std::string::npos) << error.message;
    EXPECT_NE(error.message.find(message), std::string::npos) << error.message;
  }
}

TEST_F(FileStoreTest, TornFinalRecordIsDroppedAndEarlierOnesKept) {
  fill(3);
  const std::string clean = slurp(wal());
  Change change{4, {Event{Event::Type::put, KeyValue{"torn", "x", 4, 4, 1}}}};
  const std::string record = frame_record(encode_change(change));
  std::string bad_crc = record;
  bad_crc.back() ^= 1;
  const std::vector<std::pair<std::string, std::string>> tails = {
      {"short header", record.substr(0, 5)},
      {"short body", record.substr(0, record.size() - 3)},
      {"bad checksum of the final record", bad_crc},
      {"zeros", std::string(4096, '\0')},
  };
  for (const auto& [what, tail] : tails) {
    SCOPED_TRACE(what);
    spit(wal(), clean + tail);
    logged_.clear();
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(revision(*store), 3);
    EXPECT_EQ(store->list("k")->kvs.size(), 3u);
    EXPECT_FALSE(store->get("torn")->has_value());
    EXPECT_EQ(slurp(wal()), clean) << "the torn bytes are cut off";
    ASSERT_EQ(logged_.size(), 1u);
    EXPECT_NE(logged_[0].find("dropped"), std::string::npos) << logged_[0];
  }
  auto store = open();
  EXPECT_EQ(*store->create("after", "x"), 4);
  store.reset();
  EXPECT_EQ(revision(*open()), 4);
}

// Readers share the lock, so only the next writer may cut a torn tail.
TEST_F(FileStoreTest, ReadersLeaveATornTailForTheNextWriter) {
  fill(2);
  auto store = open();
  const std::string clean = slurp(wal());
  append(wal(), "IPFR\x05");
  EXPECT_EQ(store->list("")->kvs.size(), 2u);
  EXPECT_EQ(slurp(wal()).size(), clean.size() + 5);
  EXPECT_EQ(*store->create("k9", "x"), 3);
  store.reset();
  EXPECT_EQ(open()->list("")->kvs.size(), 3u);
}

TEST_F(FileStoreTest, DamageInTheMiddleOfTheLogIsCorrupt) {
  fill(5);
  const std::string clean = slurp(wal());
  // The second record starts after the header and the first record.
  const auto first =
      scan_records(std::string_view(clean).substr(kWalHeaderSize), kWalHeaderSize, wal());
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->records.size(), 5u);
  const auto second = first->records[1].offset;
  for (std::size_t at : {second + 2, second + kRecordHeaderSize + 3}) {
    std::string damaged = clean;
    damaged[at] ^= 0x40;
    spit(wal(), damaged);
    const auto error = open_fails();
    EXPECT_EQ(error.code, ErrorCode::corrupt) << error.message;
    EXPECT_NE(error.message.find(wal()), std::string::npos) << error.message;
    EXPECT_NE(error.message.find("offset " + std::to_string(second)), std::string::npos)
        << error.message;
    EXPECT_EQ(slurp(wal()), damaged);
  }
  spit(wal(), clean.substr(0, 10));
  EXPECT_EQ(open_fails().code, ErrorCode::corrupt) << "a truncated log header";
  spit(wal(), clean);
  EXPECT_EQ(open()->list("")->kvs.size(), 5u);
}

// Damage that appears under a running instance fails every later call, not just one.
TEST_F(FileStoreTest, RunningInstanceStopsAtDamage) {
  fill(2);
  auto store = open();
  const std::string valid_next = frame_record(
      encode_change(Change{3, {Event{Event::Type::put, KeyValue{"x", "1", 3, 3, 1}}}}));
  append(wal(), "garbage!" + valid_next);
  for (int i = 0; i < 2; ++i) {
    auto listed = store->list("");
    ASSERT_FALSE(listed.ok());
    EXPECT_EQ(listed.error().code, ErrorCode::corrupt);
    EXPECT_NE(listed.error().message.find(wal()), std::string::npos) << listed.error().message;
  }
  EXPECT_EQ(store->create("y", "1").error().code, ErrorCode::corrupt);
}

TEST_F(FileStoreTest, RejectsOptionsThatWouldRotateOnEveryCommit) {
  FileStore::Options options;
  options.compact_after_records = 10;
  options.keep_records = 10;
  auto store = FileStore::open(dir(), options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::invalid_argument);
}

TEST_F(FileStoreTest, MissingFilesAreCorruptUnlessTheStoreIsNew) {
  fill(2);
  ASSERT_TRUE(open()->compact(2).ok());
  std::filesystem::rename(wal(), wal() + ".bak");
  EXPECT_EQ(open_fails().code, ErrorCode::corrupt) << "a log lost after revision 0";
  std::filesystem::rename(wal() + ".bak", wal());
  std::filesystem::remove(snapshot());
  const auto error = open_fails();
  EXPECT_EQ(error.code, ErrorCode::corrupt);
  EXPECT_NE(error.message.find("snapshot.json"), std::string::npos);
}

TEST_F(FileStoreTest, LeftoverTempFilesAreIgnored) {
  fill(2);
  spit(snapshot() + ".tmp", "half a snap");
  spit(wal() + ".tmp", "half a log");
  EXPECT_EQ(open()->list("")->kvs.size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(snapshot() + ".tmp"));
}

TEST_F(FileStoreTest, RotationKeepsDataAndWatchesFollowIt) {
  FileStore::Options options;
  options.compact_after_records = 10;
  options.keep_records = 3;
  auto writer = open(options);
  auto follower_store = open(options);
  auto follower = must_watch(*follower_store, 0);
  auto laggard = must_watch(*open(options), 0);  // its store is gone; the watch keeps it alive

  std::vector<std::int64_t> seen;
  for (int i = 1; i <= 35; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    auto kv = *writer->get(key);
    auto done = kv ? writer->update(key, std::to_string(i), kv->mod_revision)
                   : writer->create(key, std::to_string(i));
    ASSERT_TRUE(done.ok()) << done.error().message;
    if (i % 2 == 0) {
      auto events = follower->next(std::chrono::milliseconds(0));
      ASSERT_TRUE(events.ok()) << events.error().message;
      for (const auto& event : *events) seen.push_back(event.kv.mod_revision);
    }
  }
  auto rest = follower->next(std::chrono::milliseconds(0));
  ASSERT_TRUE(rest.ok()) << rest.error().message;
  for (const auto& event : *rest) seen.push_back(event.kv.mod_revision);
  ASSERT_EQ(seen.size(), 35u) << "a watcher less than keep_records behind misses nothing";
  for (std::size_t i = 0; i < seen.size(); ++i)
    EXPECT_EQ(seen[i], static_cast<std::int64_t>(i + 1));

  auto lagged = laggard->next(std::chrono::milliseconds(0));
  ASSERT_FALSE(lagged.ok());
  EXPECT_EQ(lagged.error().code, ErrorCode::compacted);

  const auto log =
      scan_records(std::string_view(slurp(wal())).substr(kWalHeaderSize), kWalHeaderSize, wal());
  ASSERT_TRUE(log.ok());
  EXPECT_LT(log->records.size(), 10u) << "the log was rotated";

  writer.reset();
  follower_store.reset();
  auto reopened = open(options);
  EXPECT_EQ(revision(*reopened), 35);
  EXPECT_EQ((*reopened->get("k0"))->value, "35");
  EXPECT_EQ((*reopened->get("k1"))->version, 5);
  EXPECT_EQ(reopened->watch("", 1).error().code, ErrorCode::compacted);
  auto recent = reopened->watch("", 33);
  ASSERT_TRUE(recent.ok()) << recent.error().message;
  EXPECT_EQ((*recent)->next(std::chrono::milliseconds(0))->size(), 2u);
  EXPECT_TRUE(logged_.empty()) << logged_.front();
}

// An instance that slept through several rotations reloads the snapshot.
TEST_F(FileStoreTest, InstanceThatMissedRotationsReloads) {
  FileStore::Options options;
  options.compact_after_records = 4;
  options.keep_records = 1;
  auto sleeper = open(options);
  auto writer = open(options);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(writer->create("k" + std::to_string(i), "v").ok());
  auto listed = sleeper->list("k");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(listed->kvs.size(), 30u);
  EXPECT_EQ(listed->revision, 30);
  EXPECT_TRUE(sleeper->create("k0", "x").error().code == ErrorCode::already_exists);
  EXPECT_EQ(*sleeper->create("new", "x"), 31);
}

TEST_F(FileStoreTest, WatchSeesAnotherInstanceWithin100ms) {
  auto watcher = open();
  auto writer = open();
  auto watch = must_watch(*watcher, 0);
  std::chrono::steady_clock::duration worst{};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(writer->create("k" + std::to_string(i), "v").ok());
    const auto begin = std::chrono::steady_clock::now();
    auto events = watch->next(std::chrono::seconds(2));
    worst = std::max(worst, std::chrono::steady_clock::now() - begin);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 1u);
  }
  // The poll interval is 20 ms; 100 ms is the agent's requirement.
  EXPECT_LT(worst, std::chrono::milliseconds(100));
}

// Values stay in the files; these are the moments where what the index points at changes.
// Values that look like the snapshot's own syntax, and bytes that are not UTF-8 (stored as
// base64), must come back exactly.
const std::vector<std::string>& tricky_values() {
  static const std::vector<std::string> values = {
      "plain",
      "",
      "with \"quotes\", \\backslashes\\ and ,\"version\":7} inside",
      ",\"value\":\"x\",\"op\":\"put\",\"value\":1",
      "line\nbreaks\tand\x01controls",
      std::string("not utf-8 \xff\xfe\x00 bytes", 19),
      std::string(3000, 'x'),
  };
  return values;
}

// Every tricky value under key v<i>, and what each key should hold.
std::map<std::string, std::string> put_tricky(Store& store, const std::string& suffix) {
  std::map<std::string, std::string> want;
  for (std::size_t i = 0; i < tricky_values().size(); ++i) {
    const std::string key = "v" + std::to_string(i);
    const std::string value = tricky_values()[i] + suffix;
    auto kv = store.get(key);
    EXPECT_TRUE(kv.ok());
    auto done = kv.ok() && kv->has_value() ? store.update(key, value, (*kv)->mod_revision)
                                           : store.create(key, value);
    EXPECT_TRUE(done.ok()) << done.error().message;
    want[key] = value;
  }
  return want;
}

// Every key under `prefix` (by list) and each of `want` (by get) holds its value.
void expect_values(Store& store, const std::map<std::string, std::string>& want,
                   const std::string& when, const std::string& prefix = "v") {
  SCOPED_TRACE(when);
  auto listed = store.list(prefix);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  std::map<std::string, std::string> got;
  for (const auto& kv : listed->kvs) got[kv.key] = kv.value;
  EXPECT_EQ(got, want);
  for (const auto& [key, value] : want) {
    auto kv = store.get(key);
    ASSERT_TRUE(kv.ok() && kv->has_value()) << key;
    EXPECT_EQ((*kv)->value, value) << key;
  }
}

TEST_F(FileStoreTest, ValuesReadBackFromLogSnapshotAndAfterReopen) {
  auto store = open();
  auto want = put_tricky(*store, "");
  expect_values(*store, want, "from the log");
  ASSERT_TRUE(store->compact(revision(*store)).ok());
  expect_values(*store, want, "from the new snapshot");
  want = put_tricky(*store, " again");
  expect_values(*store, want, "from the new log");
  store.reset();
  store = open();
  expect_values(*store, want, "after reopening");
  ASSERT_TRUE(store->compact(revision(*store)).ok());
  store.reset();
  expect_values(*open(), want, "reopened on a snapshot holding them");
}

// An instance keeps reading the values it indexed from files that another instance replaced:
// a rotation renames new files over the ones it read.
TEST_F(FileStoreTest, ValuesSurviveRotationsByAnotherInstance) {
  FileStore::Options options;
  options.compact_after_records = 6;
  options.keep_records = 2;
  auto writer = open(options);
  auto want = put_tricky(*writer, "");
  auto reader = open(options);
  expect_values(*reader, want, "loaded");
  // Keys written once and never again keep the files they were read from open, until there
  // are so many that the reader reloads: twelve rounds get there.
  std::map<std::string, std::string> stays;
  for (int round = 0; round < 12; ++round) {
    want = put_tricky(*writer, " round " + std::to_string(round));
    const std::string stay = "stay" + std::to_string(round);
    ASSERT_TRUE(writer->create(stay, "written in round " + std::to_string(round)).ok());
    stays[stay] = "written in round " + std::to_string(round);
    // Caught up before the rotation, the reader keeps what it read from the old log.
    expect_values(*reader, want, "before rotation " + std::to_string(round));
    ASSERT_TRUE(writer->compact(revision(*writer) - 1).ok());
    expect_values(*reader, want, "after rotation " + std::to_string(round));
    expect_values(*writer, want, "the writer, after rotation " + std::to_string(round));
    auto listed = reader->list("stay");
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    std::map<std::string, std::string> got;
    for (const auto& kv : listed->kvs) got[kv.key] = kv.value;
    EXPECT_EQ(got, stays) << "round " << round;
  }
  // The reader rotates too, with values it indexed from the writer's files.
  ASSERT_TRUE(reader->compact(revision(*reader)).ok());
  expect_values(*writer, want, "after the reader's rotation");
  writer.reset();
  reader.reset();
  expect_values(*open(options), want, "reopened");
}

// Watches read history back from the log: the values of old revisions, not the current ones.
TEST_F(FileStoreTest, WatchFromAnOldRevisionSeesTheValuesOfThen) {
  FileStore::Options options;
  options.compact_after_records = 8;
  options.keep_records = 5;
  auto store = open(options);
  auto watcher_store = open(options);
  const auto created = *store->create("k", "one");
  auto watch = must_watch(*watcher_store, 0);
  const auto second = *store->update("k", "two", created);
  ASSERT_TRUE(store->update("k", "three", second).ok());
  ASSERT_TRUE(store->create("other", "x").ok());
  ASSERT_TRUE(store->compact(revision(*store) - 3).ok()) << "keeps revisions 2..4";
  auto events = watch->next(std::chrono::milliseconds(0));
  ASSERT_FALSE(events.ok()) << "revision 1 is gone";
  auto from_one = must_watch(*watcher_store, 1);
  ASSERT_TRUE(from_one);
  events = from_one->next(std::chrono::milliseconds(0));
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].kv, (KeyValue{"k", "two", 1, 2, 2}));
  EXPECT_EQ((*events)[1].kv, (KeyValue{"k", "three", 1, 3, 3}));
  EXPECT_EQ((*events)[2].kv, (KeyValue{"other", "x", 4, 4, 1}));
  watcher_store.reset();
  store.reset();
  auto reopened = open(options);
  auto again = must_watch(*reopened, 2);
  events = again->next(std::chrono::milliseconds(0));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kv.value, "three") << "history before the snapshot, read from the log";
}

// Files laid out differently from what the store writes (an operator's hand-edited snapshot,
// a record with spaces) still load; their values are kept in memory instead.
TEST_F(FileStoreTest, FilesInAnotherLayoutStillServeTheirValues) {
  std::string body =
      "{ \"revision\": 2, \"kvs\": [ {\"key\": \"a\", \"value\": \"spaced, \\\"quoted\\\"\", "
      "\"create_revision\": 1, \"mod_revision\": 1, \"version\": 1}, {\"version\": 1, "
      "\"mod_revision\": 2, \"create_revision\": 2, \"value\": {\"base64\": \"/w==\"}, "
      "\"key\": \"b\"} ] }";
  fill(0);
  spit(snapshot(), frame_snapshot(body));
  spit(wal(), encode_wal_header(2) +
                  frame_record("{ \"ops\": [ {\"op\": \"put\", \"key\": \"c\", \"value\": \"3\", "
                               "\"version\": 1, \"create_revision\": 3} ], \"revision\": 3 }"));
  std::map<std::string, std::string> want = {
      {"a", "spaced, \"quoted\""}, {"b", "\xff"}, {"c", "3"}};
  auto check = [&](Store& store, const std::string& when) {
    expect_values(store, want, when, /*prefix=*/"");
  };
  auto store = open();
  ASSERT_TRUE(store);
  check(*store, "loaded");
  EXPECT_EQ((*store->get("b"))->value, "\xff");
  ASSERT_TRUE(store->compact(3).ok());
  check(*store, "rewritten by a rotation");
  store.reset();
  check(*open(), "reopened");
}

// Attachment keys carry a runtime's 64-hex container ID, which the index keeps as bytes
// (key_text.h): such keys and their neighbours in text order are listed, read, watched,
// written into a snapshot and read back from it exactly as written.
TEST_F(FileStoreTest, KeysWithContainerIdsKeepTheirTextAndOrder) {
  const std::string id = "4f1d9c0b7e2a58c3d6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5";
  const std::vector<std::string> keys = {
      "attachments/" + id + "/eth0",
      "attachments/" + id + "/net1",
      "attachments/" + id.substr(0, 40) + "-x/eth0",  // sorts before: '-' < '9'
      "attachments/" + id.substr(0, 63) + "/eth0",    // odd run: 31 bytes and a digit
      "attachments/4f1d/eth0",
      "attachments/" + id + "0" + id + "/eth0"};
  auto store = open();
  for (const std::string& key : keys) ASSERT_TRUE(store->create(key, key).ok()) << key;
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  const auto listed_keys = [](Store& s, const std::string& prefix) {
    std::vector<std::string> out;
    auto listed = s.list(prefix);  // not in the for header: kvs of a temporary
    EXPECT_TRUE(listed.ok());
    if (listed.ok())
      for (const auto& kv : listed->kvs) out.push_back(kv.key);
    return out;
  };
  const auto check = [&](Store& s, const std::vector<std::string>& want, const char* when) {
    EXPECT_EQ(listed_keys(s, "attachments/"), want) << when;
    for (const std::string& key : want) {
      auto kv = s.get(key);
      ASSERT_TRUE(kv.ok() && kv->has_value()) << key << " " << when;
      EXPECT_EQ((*kv)->value, key) << when;
    }
    std::vector<std::string> under_id;
    for (const std::string& key : want)
      if (key.starts_with("attachments/" + id)) under_id.push_back(key);
    EXPECT_EQ(listed_keys(s, "attachments/" + id), under_id) << when;
  };
  check(*store, sorted, "from the log");
  ASSERT_TRUE(store->compact(revision(*store)).ok());
  check(*store, sorted, "from the snapshot");

  auto watch = must_watch(*store, revision(*store));
  auto held = store->get(keys[0]);
  ASSERT_TRUE(held.ok() && held->has_value());
  ASSERT_TRUE(store->remove(keys[0], (*held)->mod_revision).ok());
  auto events = watch->next(std::chrono::seconds(2));
  ASSERT_TRUE(events.ok() && events->size() == 1u);
  EXPECT_EQ(events->front().kv.key, keys[0]);
  sorted.erase(std::find(sorted.begin(), sorted.end(), keys[0]));
  EXPECT_FALSE(store->get(keys[0])->has_value());
  store.reset();
  check(*open(), sorted, "reopened");
}

}  // namespace
}  // namespace ipfence::store
