// ClusterState::counts keeps per-pool caches that allocation events adjust and pool or
// reserved changes drop. A random sequence of raw store events (allocations in and out of
// the usable range, reserved objects and quarantine records coming and going, the pool itself
// changing and being deleted and re-created) must always give the counts a from-scratch
// computation gives.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "ipam/cluster_state.h"

namespace ipfence::ipam {
namespace {

std::string pool_json(int first, int last, int excluded) {
  nlohmann::json j = {
      {"apiVersion", "spiderpool.spidernet.io/v2beta1"},
      {"kind", "SpiderIPPool"},
      {"metadata", {{"name", "p"}}},
      {"spec",
       {{"subnet", "10.0.0.0/24"},
        {"ips", {"10.0.0." + std::to_string(first) + "-10.0.0." + std::to_string(last)}},
        {"excludeIPs", {"10.0.0." + std::to_string(excluded)}}}}};
  return j.dump();
}

std::string reserved_json(const std::string& name, int ip) {
  nlohmann::json j = {{"apiVersion", "spiderpool.spidernet.io/v2beta1"},
                      {"kind", "SpiderReservedIP"},
                      {"metadata", {{"name", name}}},
                      {"spec", {{"ips", {"10.0.0." + std::to_string(ip)}}}}};
  return j.dump();
}

std::string allocation_json(int ip, const std::string& container) {
  Allocation a;
  a.ip = "10.0.0." + std::to_string(ip);
  a.pool = "p";
  a.container_id = container;
  a.ifname = "eth0";
  return nlohmann::json(a).dump();
}

std::string quarantine_json(int ip) {
  QuarantineRecord q;
  q.ip = "10.0.0." + std::to_string(ip);
  q.pool = "p";
  q.mac = "02:00:00:00:00:01";
  return nlohmann::json(q).dump();
}

struct Model {
  bool pool_exists = false;
  int first = 0, last = 0, excluded = 0;
  std::set<int> reserved;
  std::set<int> allocated;
  std::set<int> quarantined;

  bool usable(int ip) const { return ip >= first && ip <= last && ip != excluded; }

  PoolCounts counts() const {
    PoolCounts c;
    if (!pool_exists) return c;
    std::uint64_t reserved_in_pool = 0;
    for (int ip = 0; ip < 256; ++ip) {
      if (!usable(ip)) continue;
      ++c.total;
      if (reserved.count(ip))
        ++reserved_in_pool;
      else if (allocated.count(ip))
        continue;
      else if (quarantined.count(ip))
        ++c.quarantined;
      else
        ++c.available;
    }
    c.allocated = allocated.size();
    for (int ip : allocated)
      if (reserved.count(ip)) ++c.reserved_in_use;
    c.reserved = reserved_in_pool > c.reserved_in_use ? reserved_in_pool - c.reserved_in_use : 0;
    return c;
  }
};

TEST(ClusterStateCounts, RandomEventsMatchAFromScratchCount) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    ClusterState state;
    Model model;
    std::int64_t revision = 0;
    auto put = [&](const std::string& key, const std::string& value) {
      ++revision;
      state.apply_put(key, value, revision, revision);
    };
    auto del = [&](const std::string& key) { state.apply_delete(key, ++revision); };

    for (int step = 0; step < 400; ++step) {
      int op = random() % 20;
      int ip = random() % 48;
      if (op == 0 || !model.pool_exists) {
        // (Re)define the pool; allocations outside the new range stay (stragglers).
        model.pool_exists = true;
        model.first = random() % 16;
        model.last = model.first + 8 + random() % 24;
        model.excluded = model.first + random() % 8;
        put(keys::pool("p"), pool_json(model.first, model.last, model.excluded));
      } else if (op == 1) {
        // Deleting the pool turns its allocations into orphans; re-creating adopts them.
        del(keys::pool("p"));
        model.pool_exists = false;
      } else if (op < 5) {
        std::string name = "r" + std::to_string(ip);
        if (model.reserved.count(ip)) {
          del(keys::reserved(name));
          model.reserved.erase(ip);
        } else {
          put(keys::reserved(name), reserved_json(name, ip));
          model.reserved.insert(ip);
        }
      } else if (op < 7) {
        std::string key = keys::quarantine("p", "10.0.0." + std::to_string(ip));
        if (model.quarantined.count(ip)) {
          del(key);
          model.quarantined.erase(ip);
        } else {
          put(key, quarantine_json(ip));
          model.quarantined.insert(ip);
        }
      } else if (op < 13) {
        // Puts of an already allocated IP (a re-write) must not count it twice.
        put(keys::ip("p", "10.0.0." + std::to_string(ip)),
            allocation_json(ip, "c" + std::to_string(step)));
        model.allocated.insert(ip);
      } else {
        del(keys::ip("p", "10.0.0." + std::to_string(ip)));
        model.allocated.erase(ip);
      }
      PoolCounts want = model.counts();
      PoolCounts got = state.counts("p");
      ASSERT_EQ(got.total, want.total) << "step " << step;
      ASSERT_EQ(got.allocated, want.allocated) << "step " << step;
      ASSERT_EQ(got.reserved_in_use, want.reserved_in_use) << "step " << step;
      ASSERT_EQ(got.reserved, want.reserved) << "step " << step;
      ASSERT_EQ(got.quarantined, want.quarantined) << "step " << step;
      ASSERT_EQ(got.available, want.available) << "step " << step;
    }
    EXPECT_TRUE(state.problems().empty()) << state.problems().front().message;
  }
}

}  // namespace
}  // namespace ipfence::ipam
