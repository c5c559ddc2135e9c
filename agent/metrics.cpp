#include "agent/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <set>

#include "agent/tcp_listener.h"

namespace ipfence::agent {
namespace {

// Everything in `registry`, in Prometheus' text exposition format (what /metrics serves).
std::string text_format(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

constexpr std::array<const char*, 5> kPoolStates{"total", "allocated", "reserved", "quarantined",
                                                 "available"};

// Allocation takes tens of microseconds in memory and about a millisecond with an fsync;
// Spiderpool's buckets (0.1 s .. 15 s) would put every observation in the first one.
const prometheus::Histogram::BucketBoundaries kDurationBuckets{
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1.0};

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  allocations_ = &prometheus::BuildCounter()
                      .Name("ipfence_ipam_allocations_total")
                      .Help("IPAM allocation requests by pool and result (ok or error code)")
                      .Register(*registry_);
  releases_ = &prometheus::BuildCounter()
                   .Name("ipfence_ipam_releases_total")
                   .Help("IPAM releases that freed IPs, by pool")
                   .Register(*registry_);
  allocation_duration_ = &prometheus::BuildHistogram()
                              .Name("ipfence_ipam_allocation_duration_seconds")
                              .Help("Time to answer an allocation request")
                              .Register(*registry_)
                              .Add({}, kDurationBuckets);
  pool_ips_ = &prometheus::BuildGauge()
                   .Name("ipfence_pool_ips")
                   .Help(
                       "IPs of a pool by state: total = allocated + reserved + quarantined + "
                       "available")
                   .Register(*registry_);
  quarantined_ips_ = &prometheus::BuildGauge()
                          .Name("ipfence_quarantined_ips")
                          .Help(
                              "IPs of a pool that outside hosts use: never allocated until "
                              "released")
                          .Register(*registry_);
  conflist_errors_ = &prometheus::BuildCounter()
                          .Name("ipfence_cni_conflist_errors_total")
                          .Help("CNI conflists that could not be rendered or written")
                          .Register(*registry_)
                          .Add({});
  store_up_ = &prometheus::BuildGauge()
                   .Name("ipfence_store_up")
                   .Help("1 while the store (etcd, file) answers, 0 while it cannot be reached")
                   .Register(*registry_)
                   .Add({});
  store_up_->Set(1);
  prometheus::BuildGauge()
      .Name("ipfence_build_info")
      .Help("Version of the running agent")
      .Register(*registry_)
      .Add({{"version", IPFENCE_VERSION}, {"git", IPFENCE_GIT}})
      .Set(1);
}

Metrics::~Metrics() = default;

void Metrics::observe_allocation(const std::string& pool, std::string_view result,
                                 std::chrono::nanoseconds took) {
  allocations_->Add({{"pool", pool}, {"result", std::string(result)}}).Increment();
  allocation_duration_->Observe(std::chrono::duration<double>(took).count());
}

void Metrics::count_release(const std::string& pool) {
  releases_->Add({{"pool", pool}}).Increment();
}

void Metrics::refresh_pools(const ipam::ClusterState& state) {
  std::lock_guard lock(mu_);
  for (auto it = pool_gauges_.begin(); it != pool_gauges_.end();) {
    if (state.pool(it->first) != nullptr) {
      ++it;
      continue;
    }
    for (std::size_t i = 0; i < kPoolStates.size(); ++i) pool_ips_->Remove(it->second[i]);
    quarantined_ips_->Remove(it->second[kPoolStates.size()]);
    it = pool_gauges_.erase(it);
  }
  for (const auto& [name, pool] : state.pools()) {
    auto [it, inserted] = pool_gauges_.try_emplace(name);
    if (inserted) {
      for (std::size_t i = 0; i < kPoolStates.size(); ++i)
        it->second[i] = &pool_ips_->Add({{"pool", name}, {"state", kPoolStates[i]}});
      it->second[kPoolStates.size()] = &quarantined_ips_->Add({{"pool", name}});
    }
    const ipam::PoolCounts counts = state.counts(name);
    const std::array<std::uint64_t, 6> values{counts.total,     counts.allocated,
                                              counts.reserved,  counts.quarantined,
                                              counts.available, counts.quarantined};
    for (std::size_t i = 0; i < values.size(); ++i)
      it->second[i]->Set(static_cast<double>(values[i]));
  }
}

void Metrics::count_conflist_error() {
  conflist_errors_->Increment();
}

void Metrics::set_store_up(bool up) {
  store_up_->Set(up ? 1 : 0);
}

std::string Metrics::render() const {
  return text_format(*registry_);
}

MetricsServer::MetricsServer(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  router_.add("GET", "/metrics", [this](const HttpRequest&) {
    HttpResponse response;
    response.body = text_format(*registry_);
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
}

MetricsServer::~MetricsServer() {
  if (server_) server_->stop(std::chrono::seconds(1));
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
  auto listener = listen_tcp(address);
  if (!listener)
    return make_error(ErrorCode::io, "metrics-addr " + address + ": cannot listen (" +
                                         listener.error().message + ")");
  std::unique_ptr<MetricsServer> metrics(new MetricsServer(std::move(registry)));
  metrics->address_ = listener->address;
  // Scrapers are anyone who reaches the address: no peer check, small bodies only.
  auto server = HttpServer::start(std::move(listener->fd),
                                  {.address = listener->address,
                                   .unlink_on_stop = false,
                                   .allowed_uid = std::nullopt,
                                   .max_body_bytes = 4096,
                                   .connection_limit = 256,
                                   .idle_timeout_seconds = 60},
                                  metrics->router_);
  if (!server) return server.error();
  metrics->server_ = std::move(*server);
  return metrics;
}

}  // namespace ipfence::agent
