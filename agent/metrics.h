// Prometheus metrics of the agent. The registry is shared: later parts (conflict monitor,
// BPF datapath) register their own families on registry() instead of growing this class.
// Every method is thread-safe: HTTP threads and the store watcher call them concurrently.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/http_router.h"
#include "agent/http_server.h"
#include "ipam/cluster_state.h"
#include "ipam/result.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace ipfence::agent {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  // ipfence_ipam_allocations_total{pool,result} and the duration histogram. `result` is
  // "ok" or an error code name; `pool` the pool allocated from or asked for ("" if none).
  void observe_allocation(const std::string& pool, std::string_view result,
                          std::chrono::nanoseconds took);
  // ipfence_ipam_releases_total{pool}: one per pool an attachment released IPs from.
  void count_release(const std::string& pool);
  // ipfence_pool_ips{pool,state} and ipfence_quarantined_ips{pool}: set from the view; series
  // of deleted pools are removed.
  void refresh_pools(const ipam::ClusterState& state);
  // ipfence_cni_conflist_errors_total: conflists that could not be rendered or written.
  void count_conflist_error();
  // ipfence_store_up: 1 while the store answers, 0 while it cannot be reached.
  void set_store_up(bool up);

  // The text exposition format, as /metrics serves it.
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* allocations_;
  prometheus::Family<prometheus::Counter>* releases_;
  prometheus::Histogram* allocation_duration_;
  prometheus::Family<prometheus::Gauge>* pool_ips_;
  prometheus::Family<prometheus::Gauge>* quarantined_ips_;
  prometheus::Counter* conflist_errors_;
  prometheus::Gauge* store_up_;

  std::mutex mu_;  // guards pool_gauges_ against concurrent refreshes
  // ipfence_pool_ips{state=} total, allocated, reserved, quarantined, available; then
  // ipfence_quarantined_ips
  std::map<std::string, std::array<prometheus::Gauge*, 6>> pool_gauges_;
};

// The HTTP endpoint serving GET /metrics in Prometheus' text format, on the agent's own
// HttpServer (http_server.h) over TCP.
class MetricsServer {
 public:
  // `address` is host:port ("127.0.0.1:9711", "[::1]:0"); port 0 picks a free port.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address,
                                                      std::shared_ptr<prometheus::Registry>);
  ~MetricsServer();

  // host:port with the port actually bound.
  const std::string& address() const { return address_; }

 private:
  explicit MetricsServer(std::shared_ptr<prometheus::Registry> registry);
  std::shared_ptr<prometheus::Registry> registry_;
  HttpRouter router_;  // before server_, which serves it until destroyed
  std::unique_ptr<HttpServer> server_;
  std::string address_;
};

}  // namespace ipfence::agent
