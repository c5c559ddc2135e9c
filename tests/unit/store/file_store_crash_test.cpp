// Fault injection for FileStore: processes that allocate IPs are killed with SIGKILL, at
// random moments and at every named point of the write path, and the store must then reopen
// with every allocation whose commit() returned, and with no IP held twice.
//
// Children report over a pipe, and only after commit() returned: "C <n> <holder>" for a
// claim, "R- <n> <holder>" before a release and "R+ <n> <holder>" after it. Writes of less
// than PIPE_BUF bytes are atomic, and a report of a later commit is written after the commit
// of an earlier one, so the pipe order is an order the store's commits agree with.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <sstream>

#include "ipam/store/file_store.h"
#include "tests/unit/store/temp_dir.h"

namespace ipfence::store {
namespace {

using testing::TempDir;

constexpr int kPoolSize = 200;

std::string ip_key(int n) {
  return "ips/pool/" + std::to_string(n);
}
std::string holder_key(const std::string& holder, int n) {
  return "holders/" + holder + "/" + std::to_string(n);
}

void report(int fd, const std::string& line) {
  const std::string text = line + "\n";
  [[maybe_unused]] auto written = ::write(fd, text.data(), text.size());
}

[[noreturn]] void die(int fd, const std::string& what) {
  report(fd, "E " + what);
  ::_exit(3);
}

// Claim = the IP key and the holder's index key in one transaction, so a crash that split
// them would show as an IP without index entry or the other way round.
Txn claim(int n, const std::string& holder) {
  return Txn{{Compare::absent(ip_key(n))},
             {Op::put(ip_key(n), holder), Op::put(holder_key(holder, n), std::to_string(n))}};
}

// A child process: claims and releases random IPs until it is killed.
[[noreturn]] void run_claimer(const std::string& dir, const std::string& holder, int fd,
                              unsigned seed, FileStore::Options options) {
  auto opened = FileStore::open(dir, std::move(options));
  if (!opened.ok()) die(fd, "open: " + opened.error().message);
  auto& store = **opened;
  std::mt19937 rng(seed);
  std::map<int, std::int64_t> held;  // IP -> mod_revision of our claim
  while (true) {
    if (!held.empty() && rng() % 3 == 0) {
      auto it = std::next(held.begin(), static_cast<long>(rng() % held.size()));
      const int n = it->first;
      report(fd, "R- " + std::to_string(n) + " " + holder);
      auto result = store.commit(Txn{{Compare::unchanged(ip_key(n), it->second)},
                                     {Op::del(ip_key(n)), Op::del(holder_key(holder, n))}});
      if (!result.ok()) die(fd, "release: " + result.error().message);
      if (!result->succeeded) die(fd, "release of " + ip_key(n) + " found it changed");
      held.erase(it);
      report(fd, "R+ " + std::to_string(n) + " " + holder);
    } else {
      const int n = static_cast<int>(rng() % kPoolSize);
      auto result = store.commit(claim(n, holder));
      if (!result.ok()) die(fd, "claim: " + result.error().message);
      if (result->succeeded) {
        held[n] = result->revision;
        report(fd, "C " + std::to_string(n) + " " + holder);
      }
    }
  }
}

std::vector<std::string> read_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Who holds each IP according to the reports, checked as they arrive.
struct Ledger {
  struct Claim {
    std::string holder;
    bool releasing = false;  // R- seen: the release may or may not have committed
  };
  std::map<int, Claim> claims;

  void apply(const std::string& line) {
    std::istringstream in(line);
    std::string kind, holder;
    int n = -1;
    in >> kind >> n >> holder;
    ASSERT_NE(kind, "E") << "a child failed: " << line;
    ASSERT_TRUE(n >= 0 && n < kPoolSize && !holder.empty()) << line;
    auto it = claims.find(n);
    if (kind == "C") {
      if (it != claims.end()) {
        ASSERT_TRUE(it->second.releasing) << ip_key(n) << " claimed by " << holder << " while "
                                          << it->second.holder << " holds it";
      }
      claims[n] = Claim{holder, false};
    } else {
      ASSERT_TRUE(it != claims.end() && it->second.holder == holder) << line;
      if (kind == "R-") it->second.releasing = true;
      if (kind == "R+") claims.erase(it);
    }
  }
};

// The store after the crash against the reports: every reported claim present, and IP keys
// and holder index agree in both directions (a transaction was never half applied).
void check_store(Store& store, const Ledger& ledger) {
  auto ips = store.list("ips/pool/");
  ASSERT_TRUE(ips.ok()) << ips.error().message;
  auto index = store.list("holders/");
  ASSERT_TRUE(index.ok()) << index.error().message;
  std::map<std::string, std::string> present;
  for (const auto& kv : ips->kvs) present[kv.key] = kv.value;
  for (const auto& [n, claim] : ledger.claims) {
    auto it = present.find(ip_key(n));
    if (claim.releasing && it == present.end()) continue;
    ASSERT_TRUE(it != present.end())
        << "committed allocation " << ip_key(n) << " of " << claim.holder << " was lost";
    EXPECT_EQ(it->second, claim.holder) << ip_key(n);
  }
  std::size_t consistent = 0;
  for (const auto& kv : index->kvs) {
    const auto n = std::stoi(kv.key.substr(kv.key.rfind('/') + 1));
    const auto it = present.find(ip_key(n));
    ASSERT_TRUE(it != present.end()) << kv.key << " without its IP key";
    EXPECT_EQ(holder_key(it->second, n), kv.key);
    ++consistent;
  }
  EXPECT_EQ(consistent, present.size()) << "IP keys without a holder index entry";
}

FileStore::Options quiet(FileStore::Options options = {}) {
  options.log = [](std::string_view) {};
  return options;
}

// Everything written to `fd` until every writer is gone.
std::string drain(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

// Kills and reaps children that are still running when a test returns early.
class Children {
 public:
  ~Children() {
    for (pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  void add(pid_t pid) { pids_.push_back(pid); }
  // Kills one with SIGKILL and returns its wait status.
  int kill(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::erase(pids_, pid);
    return status;
  }

 private:
  std::vector<pid_t> pids_;
};

TEST(FileStoreCrash, ProcessesKilledAtRandomMomentsLoseNothing) {
  TempDir tmp;
  FileStore::Options options;
  options.compact_after_records = 40;  // rotate often, so kills land in rotations too
  options.keep_records = 10;
  // Kill timing varies from run to run anyway; the seed is printed to replay the choices.
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  constexpr int kRounds = 12;
  constexpr int kChildren = 3;
  int kills = 0;
  std::size_t reports = 0;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    Children children;
    std::vector<pid_t> pids;
    for (int c = 0; c < kChildren; ++c) {
      const std::string holder = "r" + std::to_string(round) + "c" + std::to_string(c);
      const unsigned seed = static_cast<unsigned>(rng());
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        ::close(fds[0]);
        run_claimer(tmp.store_dir(), holder, fds[1], seed, quiet(options));
      }
      children.add(pid);
      pids.push_back(pid);
    }
    ::close(fds[1]);
    // Read while they work (so they never block on a full pipe), killing them one by one.
    std::string text;
    for (pid_t pid : pids) {
      const auto until = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(20 + static_cast<int>(rng() % 130));
      while (std::chrono::steady_clock::now() < until) {
        pollfd pfd{fds[0], POLLIN, 0};
        if (::poll(&pfd, 1, 5) > 0) {
          char buffer[4096];
          const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
          if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
        }
      }
      const int status = children.kill(pid);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "child exited by itself with status " << status << ": " << text;
      ++kills;
    }
    text += drain(fds[0]);
    ::close(fds[0]);

    Ledger ledger;
    const auto lines = read_lines(text);
    reports += lines.size();
    for (const auto& line : lines) {
      ledger.apply(line);
      if (::testing::Test::HasFatalFailure()) return;
    }
    auto store = FileStore::open(tmp.store_dir(), quiet(options));
    ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.error().message;
    check_store(**store, ledger);
    if (::testing::Test::HasFailure()) return;

    // The pods of this round are gone: free their IPs, as the agent's garbage collection would.
    auto held = (*store)->list("ips/pool/");
    ASSERT_TRUE(held.ok());
    for (const auto& kv : held->kvs) {
      const int n = std::stoi(kv.key.substr(9));
      auto freed = (*store)->commit(Txn{{Compare::unchanged(kv.key, kv.mod_revision)},
                                        {Op::del(kv.key), Op::del(holder_key(kv.value, n))}});
      ASSERT_TRUE(freed.ok() && freed->succeeded);
    }
  }
  EXPECT_GE(kills, 30);
  EXPECT_GT(reports, 100u) << "the children hardly worked";
  RecordProperty("kills", kills);
  RecordProperty("reports", static_cast<int>(reports));
}

struct CrashPoint {
  std::string point;
  int occurrence;  // die the n-th time the point is reached
};

void PrintTo(const CrashPoint& p, std::ostream* os) {
  *os << p.point << " #" << p.occurrence;
}

// Rotation points need a few commits; init points fire once, in an empty directory.
std::vector<CrashPoint> crash_points() {
  std::vector<CrashPoint> points;
  for (const char* point :
       {"wal.partial", "wal.written", "wal.synced", "snapshot.partial", "snapshot.synced",
        "snapshot.renamed", "wal_reset.partial", "wal_reset.synced", "wal_reset.renamed"})
    for (int occurrence : {1, 3}) points.push_back({point, occurrence});
  for (const char* file : {"init_snapshot", "init_wal"})
    for (const char* step : {".partial", ".synced", ".renamed"})
      points.push_back({std::string(file) + step, 1});
  return points;
}

class FileStoreCrashPoint : public ::testing::TestWithParam<CrashPoint> {};

TEST_P(FileStoreCrashPoint, StoreRecoversAfterDeathThere) {
  const auto& [point, occurrence] = GetParam();
  TempDir tmp;
  FileStore::Options options;
  options.compact_after_records = 5;
  options.keep_records = 2;
  constexpr int kClaims = 30;

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    int seen = 0;
    options.crash_hook = [&](std::string_view at) {
      if (at == point && ++seen == occurrence) ::raise(SIGKILL);
    };
    auto opened = FileStore::open(tmp.store_dir(), quiet(options));
    if (!opened.ok()) die(fds[1], "open: " + opened.error().message);
    for (int n = 0; n < kClaims; ++n) {
      auto result = (*opened)->commit(claim(n, "child"));
      if (!result.ok() || !result->succeeded) die(fds[1], "claim failed");
      report(fds[1], "C " + std::to_string(n) + " child");
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  const std::string text = drain(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << point << " was never reached (status " << status << "): " << text;

  Ledger ledger;
  for (const auto& line : read_lines(text)) ASSERT_NO_FATAL_FAILURE(ledger.apply(line));
  const int acknowledged = static_cast<int>(ledger.claims.size());

  std::vector<std::string> logged;
  auto recovering = quiet(options);
  recovering.log = [&](std::string_view message) { logged.emplace_back(message); };
  auto store = FileStore::open(tmp.store_dir(), recovering);
  ASSERT_TRUE(store.ok()) << store.error().message;
  check_store(**store, ledger);
  const auto in_flight = (*store)->get(ip_key(acknowledged));
  ASSERT_TRUE(in_flight.ok());
  if (point == "wal.partial") {
    EXPECT_FALSE(in_flight->has_value()) << "half a record was applied";
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_NE(logged[0].find("dropped"), std::string::npos) << logged[0];
  } else if (point.starts_with("wal") || point.starts_with("snapshot")) {
    // The whole record reached the file (the kernel keeps it after SIGKILL).
    EXPECT_TRUE(in_flight->has_value()) << "a complete record was lost";
  }
  const auto revision = (*store)->list("")->revision;
  EXPECT_EQ(revision, static_cast<std::int64_t>((*store)->list("ips/")->kvs.size()))
      << "one revision per claim, none lost in between";

  // The recovered store keeps working, and a second recovery sees the same.
  ASSERT_TRUE((*store)->commit(claim(kClaims + 1, "parent"))->succeeded);
  store->reset();
  auto again = FileStore::open(tmp.store_dir(), quiet(options));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ((*again)->list("")->revision, revision + 1);
  ledger.claims[kClaims + 1] = Ledger::Claim{"parent", false};
  check_store(**again, ledger);
}

INSTANTIATE_TEST_SUITE_P(Points, FileStoreCrashPoint, ::testing::ValuesIn(crash_points()),
                         [](const auto& info) {
                           std::string name =
                               info.param.point + "_" + std::to_string(info.param.occurrence);
                           for (char& c : name)
                             if (c == '.') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace ipfence::store
