// Mirrors SpiderMultusConfigs into CNI conflists in the node's CNI configuration directory
// (what Spiderpool does through Multus NetworkAttachmentDefinitions).
//
// Ownership: every file written carries a top-level marker {"ipfence":{"managed":true,..}}
// (libcni ignores unknown top-level keys). Only files with that marker are ever replaced or
// removed: a conflist a person or another agent wrote is never touched, even when its name
// collides; that is reported as an error instead.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/store_watcher.h"
#include "ipam/model.h"

namespace ipfence::agent {

class CniConfWriter {
 public:
  struct Options {
    std::string dir;                 // e.g. /etc/cni/net.d; created (0755) when missing
    std::string agent_socket;        // rendered as ipam.socket when not the default
    std::function<void()> on_error;  // called once per render or write error (metrics)
  };

  struct Report {
    std::vector<std::string> written;  // file names
    std::vector<std::string> removed;
    int render_errors = 0;  // configs that do not render (they keep their last good file)
    int io_errors = 0;      // worth a retry
  };

  explicit CniConfWriter(Options options);

  // Makes the directory agree with `configs` (keyed by anything, e.g. "<ns>/<name>"):
  // writes each config's conflist when its file is missing or differs (temp file, fsync,
  // rename), and removes every managed conflist that no config renders to anymore, including
  // ones an earlier run left behind. Never fails as a whole: problems are logged, counted and
  // reported.
  Report sync(const std::map<std::string, ipam::SpiderMultusConfig>& configs);

  // The marker key and whether a parsed conflist carries it.
  static constexpr const char* kMarkerKey = "ipfence";
  static bool is_managed(const nlohmann::json& conflist);

 private:
  void error(const std::string& message, int& counter);

  Options options_;
};

// Drives a CniConfWriter from the store watcher: copies the configs under the lock when they
// changed, writes outside it; retries I/O failures every `retry` interval.
class CniConfListener final : public StateListener {
 public:
  explicit CniConfListener(CniConfWriter& writer,
                           std::chrono::milliseconds retry = std::chrono::seconds(5))
      : writer_(writer), retry_(retry) {}
  void observe(const ipam::ClusterState& state, const ipam::Allocator::CatchUp& change) override;
  void apply() override;

 private:
  CniConfWriter& writer_;
  std::chrono::milliseconds retry_;
  std::map<std::string, ipam::SpiderMultusConfig> configs_;
  bool dirty_ = true;  // the first round syncs, which also cleans up after an earlier run
  std::chrono::steady_clock::time_point retry_at_{};
  bool retry_pending_ = false;
};

}  // namespace ipfence::agent
