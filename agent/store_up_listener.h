// Mirrors the store's health (StoreHealth, fed by every store call of requests and of the
// store watcher) into the ipfence_store_up gauge. A listener because the watcher calls
// apply() every round (50 ms) whether or not the view changed, also while the store is
// down: the gauge follows an outage and a recovery within one round, without a thread of
// its own.
#pragma once

#include "agent/metrics.h"
#include "agent/shared_allocator.h"
#include "agent/store_watcher.h"

namespace ipfence::agent {

class StoreUpListener final : public StateListener {
 public:
  StoreUpListener(StoreHealth& health, Metrics& metrics) : health_(health), metrics_(metrics) {}
  void observe(const ipam::ClusterState&, const ipam::Allocator::CatchUp&) override {}
  void apply() override { metrics_.set_store_up(health_.snapshot().healthy); }

 private:
  StoreHealth& health_;
  Metrics& metrics_;
};

}  // namespace ipfence::agent
