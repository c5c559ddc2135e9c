// bench_store: what one create-if-absent (the commit behind every IP allocation) costs on the
// etcd backend, through etcd's JSON gateway on loopback, next to the embedded file store in
// the same run and on the same disk. Both are durable before they return: etcd fsyncs its
// WAL, the file store fdatasyncs its log. Prints mean, p50 and p99 per op and the ratio.
// Single client, one op at a time: latency, not throughput.
//
//   bench_store [ops] [etcd://host:port]   (default: 1000 ops on an etcd it starts itself)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "ipam/store/etcd_store.h"
#include "ipam/store/file_store.h"
#include "tests/unit/store/etcd_process.h"
#include "tests/unit/store/temp_dir.h"

using namespace ipfence;
using namespace ipfence::store;
using Clock = std::chrono::steady_clock;

namespace {

struct Latency {
  double mean_us, p50_us, p99_us;
};

// An allocation record about as large as the allocator writes.
std::string record(int i) {
  return R"({"ip":"10.6.)" + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) +
         R"(","pool":"bench","containerID":")" + std::string(64, 'c') +
         R"(","ifname":"eth0","namespace":"default","pod":"bench-)" + std::to_string(i) + R"("})";
}

Latency summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size()),
          us[us.size() / 2], us[us.size() * 99 / 100]};
}

double timed_create(Store& store, const std::string& key, const std::string& value) {
  const auto begin = Clock::now();
  auto created = store.create(key, value);
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - begin).count();
  if (!created.ok()) {
    std::fprintf(stderr, "%s: %s\n", store.describe().c_str(), created.error().message.c_str());
    std::exit(1);
  }
  return us;
}

// Each backend alone, in blocks ordered A B B A so that a drifting load on a shared machine
// falls on both. Not op by op: then one backend's fsync pays for the other's (measured:
// the file store's per-op cost fell from ~1-4 ms to ~0.25 ms when interleaved with etcd).
std::pair<Latency, Latency> measure(Store& a, Store& b, const std::string& prefix, int ops) {
  for (int i = 0; i < 20; ++i) {  // warm up: connections, page cache
    timed_create(a, prefix + "warm/" + std::to_string(i), record(i));
    timed_create(b, prefix + "warm/" + std::to_string(i), record(i));
  }
  std::vector<double> a_us, b_us;
  auto block = [&](Store& store, std::vector<double>& us, int from, int to) {
    for (int i = from; i < to; ++i)
      us.push_back(timed_create(store, prefix + "ips/bench/" + std::to_string(i), record(i)));
  };
  const int half = ops / 2;
  block(a, a_us, 0, half);
  block(b, b_us, 0, half);
  block(b, b_us, half, ops);
  block(a, a_us, half, ops);
  return {summarize(std::move(a_us)), summarize(std::move(b_us))};
}

void print(const char* name, const Latency& l) {
  std::printf("%-34s %10.1f %10.1f %10.1f\n", name, l.mean_us, l.p50_us, l.p99_us);
}

}  // namespace

int main(int argc, char** argv) {
  const int ops = argc > 1 ? std::atoi(argv[1]) : 1000;
  std::unique_ptr<testing::EtcdProcess> server;
  std::string url = argc > 2 ? argv[2] : "";
  if (url.empty()) {
    if (!testing::EtcdProcess::binary()) {
      std::fprintf(stderr, "bench_store: no etcd binary (scripts/deps.sh installs etcd-server)\n");
      return 1;
    }
    server = std::make_unique<testing::EtcdProcess>();
    server->start();
    url = server->url();
  }
  auto options = etcd::parse_url(url);
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n", options.error().message.c_str());
    return 1;
  }
  auto etcd_store = EtcdStore::open(*options);
  if (!etcd_store.ok()) {
    std::fprintf(stderr, "%s\n", etcd_store.error().message.c_str());
    return 1;
  }
  testing::TempDir dir;
  auto file_store = FileStore::open(dir.store_dir());
  if (!file_store.ok()) {
    std::fprintf(stderr, "%s\n", file_store.error().message.c_str());
    return 1;
  }

  // A run-unique prefix, so that a reused etcd does not already hold the keys.
  const std::string run = "bench-" + std::to_string(Clock::now().time_since_epoch().count()) + "/";
  std::printf("create-if-absent, %d ops each, microseconds per op\n", ops);
  std::printf("%-34s %10s %10s %10s\n", "backend", "mean", "p50", "p99");
  const auto [file, gateway] = measure(**file_store, **etcd_store, run, ops);
  print("file (fdatasync per commit)", file);
  print("etcd JSON gateway (fsync per commit)", gateway);
  std::printf("etcd / file: mean %.2fx, p50 %.2fx\n", gateway.mean_us / file.mean_us,
              gateway.p50_us / file.p50_us);
  return 0;
}
