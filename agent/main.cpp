// ipfence-agent: parse the configuration, bring the parts up in dependency order, serve
// until SIGTERM or SIGINT, then stop gracefully. Exit codes: 0 after a clean stop, 1 when
// start-up fails (store, lock, sockets), 2 for bad flags or config file.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>

#include "agent/cni_conf_writer.h"
#include "agent/config.h"
#include "agent/conflict/conflict_metrics.h"
#include "agent/conflict/conflict_monitor.h"
#include "agent/conflict/conflict_prober.h"
#include "agent/conflict/probe_socket.h"
#include "agent/conflict/watch_listener.h"
#include "agent/datapath/watch.h"
#include "agent/datapath_api.h"
#include "agent/datapath_listener.h"
#include "agent/datapath_metrics.h"
#include "agent/datapath_service.h"
#include "agent/heap_trim.h"
#include "agent/http_router.h"
#include "agent/http_server.h"
#include "agent/instance_lock.h"
#include "agent/ipam_api.h"
#include "agent/logging.h"
#include "agent/metrics.h"
#include "agent/shared_allocator.h"
#include "agent/signals.h"
#include "agent/store_up_listener.h"
#include "agent/store_watcher.h"
#include "agent/unix_listener.h"
#include "agent/version.h"
#include "ipam/allocator.h"
#include "ipam/store/store.h"

namespace {

using namespace ipfence;
using namespace ipfence::agent;

// In-flight requests get this long to finish after SIGTERM (kubelet's default grace is 30 s).
constexpr std::chrono::seconds kShutdownGrace{25};

int fail(const std::string& message) {
  spdlog::error("{}", message);
  return 1;
}

int run(const AgentConfig& config) {
  // Before any thread exists, so that every thread inherits the blocked mask.
  ShutdownSignals signals = ShutdownSignals::install();

  auto lock = InstanceLock::acquire(config.socket);
  if (!lock) return fail(lock.error().message);

  auto store = store::open_store(config.store);
  if (!store) return fail("store " + config.store + ": " + store.error().message);
  ipam::Allocator::Options allocator_options;
  allocator_options.node = config.node_name;
  // Nodes sharing a store start next-fit at their own point of each pool (allocator.h).
  allocator_options.spread_cursors = (*store)->shared();
  ipam::Allocator allocator(**store, allocator_options);
  if (auto loaded = allocator.resync(); !loaded)
    return fail("store " + config.store + ": " + loaded.error().message);
  SharedAllocator shared(allocator);

  Metrics metrics;
  std::unique_ptr<MetricsServer> metrics_server;
  if (config.metrics_addr != "off") {
    auto started = MetricsServer::start(config.metrics_addr, metrics.shared_registry());
    if (!started) return fail(started.error().message);
    metrics_server = std::move(*started);
  }
  const std::string metrics_addr = metrics_server ? metrics_server->address() : "off";

  // The guard: opened before the first watcher round, which fills its maps and then attaches
  // it to every master. Never detached here: it keeps enforcing while the agent is down.
  std::unique_ptr<DatapathService> datapath;
  std::unique_ptr<DatapathMetrics> datapath_metrics;
  std::unique_ptr<DatapathListener> datapath_listener;
  if (config.guard_enabled()) {
    auto opened = DatapathService::open(guard_settings(config));
    if (!opened) return fail(opened.error().message);
    datapath = std::move(*opened);
    datapath_metrics = std::make_unique<DatapathMetrics>(metrics.registry());
    datapath_listener = std::make_unique<DatapathListener>(*datapath, config.node_name,
                                                           config.masters, datapath_metrics.get());
  } else {
    spdlog::info("guard: off (--guard=off): IPAM only, no eBPF enforcement");
  }

  // The conflict watch: a TC ingress program on the masters (sharing the guard's pool and
  // reserved maps), whose events the monitor classifies, counts, records and quarantines.
  std::unique_ptr<ConflictMetrics> conflict_metrics;
  std::unique_ptr<store::Store> conflict_store;  // the monitor's own store connection
  // The active probe (conflict_prober.h): declared before the watcher and
  // monitor, so that it outlives their threads; its answers arrive through the watcher, so it
  // exists only with it; pools may turn it on by annotation even when the flag is off.
  std::unique_ptr<ProbeBook> probe_book;
  std::unique_ptr<ProbeSocket> probe_socket;
  std::unique_ptr<ConflictProber> conflict_prober;
  std::unique_ptr<ConflictMonitor> conflict_monitor;
  std::unique_ptr<datapath::Watcher> conflict_watcher;
  std::unique_ptr<WatchListener> watch_listener;
  if (datapath && config.conflict_watch) {
    datapath::WatchOptions watch_options;
    watch_options.pin_dir = config.bpf_pin_dir;
    watch_options.dedup_interval = std::chrono::seconds(config.conflict_dedup_seconds);
    watch_options.ringbuf_bytes = config.conflict_ring_kib << 10;
    auto opened = datapath::Watcher::open(watch_options);
    if (!opened) return fail("conflict watch: " + opened.error().message);
    conflict_watcher = std::move(*opened);
    for (const auto& warning : conflict_watcher->warnings())
      spdlog::warn("conflict watch: {}", warning);
    auto own_store = store::open_store(config.store);
    if (!own_store)
      return fail("conflict watch: store " + config.store + ": " + own_store.error().message);
    conflict_store = std::move(*own_store);
    conflict_metrics = std::make_unique<ConflictMetrics>(metrics.registry());
    ConflictMonitorOptions monitor_options;
    monitor_options.node = config.node_name;
    monitor_options.quarantine = config.quarantine;
    monitor_options.quiet_period = std::chrono::seconds(config.quarantine_quiet_seconds);
    monitor_options.max_quarantined_per_pool = config.quarantine_max_per_pool;
    monitor_options.active_for = std::chrono::seconds(config.conflict_active_seconds);
    if (auto opened_socket = ProbeSocket::open(); opened_socket) {
      probe_book = std::make_unique<ProbeBook>();
      probe_socket = std::make_unique<ProbeSocket>(std::move(*opened_socket));
      ConflictProber::Io io{
          .send = [socket = probe_socket.get()](
                      const std::string& ifname,
                      const ipam::IpAddress& ip) { return socket->send_probe(ifname, ip); },
          .forget = [watch = conflict_watcher.get()](
                        const ipam::IpAddress& ip) { return watch->forget(ip); },
          // The monitor is made below; requests (the only callers) start after it.
          .report = [monitor = &conflict_monitor](
                        const datapath::WatchEvent& event) { (*monitor)->submit(event); }};
      conflict_prober = std::make_unique<ConflictProber>(
          *probe_book, std::move(io), std::chrono::seconds(config.conflict_active_seconds),
          &metrics.registry());
      monitor_options.probes = probe_book.get();
    } else if (config.conflict_probe) {
      return fail("conflict-probe: " + opened_socket.error().message);
    } else {
      spdlog::warn("conflict probe: unavailable ({}); pools that ask for it are not probed",
                   opened_socket.error().message);
    }
    conflict_monitor = std::make_unique<ConflictMonitor>(shared, *conflict_store, *conflict_metrics,
                                                         std::move(monitor_options));
    conflict_monitor->start();
    if (auto started =
            conflict_watcher->start([monitor = conflict_monitor.get(),
                                     book = probe_book.get()](const datapath::WatchEvent& event) {
              // An answer to an ADD's probe reaches the monitor through that ADD, once it
              // gave the address back (ConflictProber::report).
              if (book && book->observe(event)) return;
              monitor->submit(event);
            });
        !started)
      return fail("conflict watch: " + started.error().message);
    watch_listener = std::make_unique<WatchListener>(*conflict_watcher, *conflict_metrics,
                                                     config.node_name, config.masters);
  } else if (datapath) {
    spdlog::info("conflict watch: off (--conflict-watch=false)");
  } else if (config.conflict_probe) {
    spdlog::warn("conflict probe: off with --guard=off (its answers arrive through the watcher)");
  }

  CniConfWriter conf_writer({.dir = config.cni_conf_dir,
                             .agent_socket = config.socket,
                             .on_error = [&metrics] { metrics.count_conflist_error(); }});
  CniConfListener conf_listener(conf_writer);
  FunctionListener pool_gauges(
      [&metrics](const ipam::ClusterState& state, const ipam::Allocator::CatchUp&) {
        metrics.refresh_pools(state);
      });
  StoreUpListener store_up(shared.health(), metrics);
  std::vector<StateListener*> listeners{&conf_listener, &pool_gauges, &store_up};
  if (datapath_listener) listeners.push_back(datapath_listener.get());
  if (watch_listener) listeners.push_back(watch_listener.get());
  StoreWatcher watcher(shared, listeners);
  watcher.poll_once();  // conflists, gauges and guard maps are in place before the first request
  // Loading a big store (the snapshot's text, full lists) leaves tens of MB of freed heap
  // that glibc keeps mapped; hand it back before settling down.
  return_free_heap();
  watcher.start();

  NullLeaseSink no_guard;
  AgentInfo info{.node = config.node_name,
                 .version = version_string(),
                 .metrics_addr = metrics_addr,
                 .guard_status = [&]() -> nlohmann::json {
                   if (datapath) return datapath->status_json();
                   return {{"enabled", false},
                           {"pinDir", config.bpf_pin_dir},
                           {"masters", nlohmann::json::array()}};
                 }};
  IpamApi api(shared, metrics, std::move(info),
              datapath ? static_cast<LeaseSink&>(*datapath) : no_guard);
  if (conflict_prober) api.enable_conflict_probe(*conflict_prober, conflict_probe_defaults(config));
  HttpRouter router;
  api.add_routes(router);
  add_guard_routes(router, datapath.get());
  auto listener = listen_unix(config.socket, 0600);
  if (!listener) return fail(listener.error().message);
  auto server = HttpServer::start(
      std::move(*listener), {.address = config.socket, .unlink_on_stop = true, .allowed_uid = 0},
      router);
  if (!server) return fail(server.error().message);

  spdlog::info(
      "ipfence-agent {} serving {} (node {}, store {}, metrics {}, cni conf dir {}, {} pools)",
      version_string(), config.socket, config.node_name, allocator.store().describe(), metrics_addr,
      config.cni_conf_dir,
      shared.with([](ipam::Allocator& a) { return a.state().pools().size(); }));

  const int signal = signals.wait();
  spdlog::info("received {}: no new connections; finishing {} request(s) in flight",
               signal == SIGINT ? "SIGINT" : "SIGTERM", (*server)->in_flight());
  const bool drained = (*server)->stop(kShutdownGrace);
  watcher.stop();
  // The watcher's filters stay attached (events wait in the pinned ring buffer); its reader
  // stops first, then the monitor finishes what was queued.
  if (conflict_watcher) conflict_watcher->stop();
  if (conflict_monitor) conflict_monitor->stop();
  spdlog::info("ipfence-agent stopped{}", drained ? "" : " (some requests were cut off)");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fix_malloc_thresholds();
  CommandLine command_line;
  try {
    command_line = parse_command_line(std::vector<std::string>(argv, argv + argc));
  } catch (const ConfigError& e) {
    std::cerr << "ipfence-agent: " << e.what() << "\n";
    return 2;
  }
  if (command_line.exit) {
    std::cout << command_line.output << "\n";
    return command_line.exit_code;
  }
  setup_logging(command_line.config.log_level, command_line.config.log_json);
  try {
    return run(command_line.config);
  } catch (const std::exception& e) {
    return fail(std::string("start-up failed: ") + e.what());
  }
}
