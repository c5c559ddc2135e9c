#include "agent/cni_conf_writer.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

#include "agent/fs_util.h"
#include "ipam/cni_config.h"

namespace ipfence::agent {
namespace {

constexpr std::string_view kConflistSuffix = ".conflist";

bool has_suffix(const std::string& name, std::string_view suffix) {
  return name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string config_ref(const ipam::SpiderMultusConfig& config) {
  return (config.metadata.namespace_.empty() ? "default" : config.metadata.namespace_) + "/" +
         config.metadata.name;
}

// The parsed file, or null when it is missing, unreadable or not JSON.
nlohmann::json read_json(const std::string& path) {
  auto text = read_whole_file(path);
  if (!text) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

Result<std::vector<std::string>> list_conflists(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (!handle) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return make_error(ErrorCode::io, "read directory " + dir + ": " + std::strerror(errno));
  }
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(handle.get())) {
    std::string name = entry->d_name;
    if (has_suffix(name, kConflistSuffix)) names.push_back(std::move(name));
  }
  return names;
}

}  // namespace

CniConfWriter::CniConfWriter(Options options) : options_(std::move(options)) {}

bool CniConfWriter::is_managed(const nlohmann::json& conflist) {
  if (!conflist.is_object()) return false;
  auto marker = conflist.find(kMarkerKey);
  if (marker == conflist.end() || !marker->is_object()) return false;
  auto managed = marker->find("managed");
  return managed != marker->end() && managed->is_boolean() && managed->get<bool>();
}

void CniConfWriter::error(const std::string& message, int& counter) {
  spdlog::warn("cni conf: {}", message);
  ++counter;
  if (options_.on_error) options_.on_error();
}

CniConfWriter::Report CniConfWriter::sync(
    const std::map<std::string, ipam::SpiderMultusConfig>& configs) {
  Report report;
  const std::string& dir = options_.dir;
  std::map<std::string, std::string> wanted;  // file name -> content
  std::map<std::string, std::string> owner;   // file name -> "ns/name"
  std::set<std::string> keep;                 // files not to remove (render errors)

  for (const auto& [key, config] : configs) {
    const std::string ref = config_ref(config);
    const std::string file = ipam::conflist_file_name(config);
    if (auto taken = owner.find(file); taken != owner.end()) {
      // Same name in two namespaces: one file. The first (in key order) keeps it.
      error("SpiderMultusConfig " + ref + " is not written: its conflist " + dir + "/" + file +
                " belongs to SpiderMultusConfig " + taken->second + "; rename one of them",
            report.render_errors);
      continue;
    }
    owner[file] = ref;
    ipam::RenderOptions render_options;
    render_options.agent_socket = options_.agent_socket;
    auto conflist = ipam::render_conflist(config, render_options);
    if (!conflist) {
      error("SpiderMultusConfig " + ref + ": " + conflist.error().message +
                " (a conflist written earlier for it stays as it is)",
            report.render_errors);
      keep.insert(file);
      continue;
    }
    (*conflist)[kMarkerKey] = {{"managed", true}, {"multusConfig", ref}};
    wanted[file] = conflist->dump(2) + "\n";
  }

  if (!wanted.empty()) {
    if (auto made = make_dirs(dir, 0755); !made) {
      error(made.error().message, report.io_errors);
      return report;
    }
  }
  for (const auto& [file, content] : wanted) {
    const std::string path = dir + "/" + file;
    if (auto current = read_whole_file(path); current) {
      if (*current == content) continue;
      if (!is_managed(read_json(path))) {
        error("not writing " + path + " for SpiderMultusConfig " + owner[file] +
                  ": the file exists and was not written by ipfence-agent; remove or rename "
                  "it",
              report.render_errors);
        continue;
      }
    }
    if (auto written = write_file_atomic(path, content, 0644); !written) {
      error(written.error().message, report.io_errors);
      continue;
    }
    spdlog::info("cni conf: wrote {} for SpiderMultusConfig {}", path, owner[file]);
    report.written.push_back(file);
  }

  auto existing = list_conflists(dir);
  if (!existing) {
    error(existing.error().message, report.io_errors);
    return report;
  }
  for (const auto& file : *existing) {
    if (wanted.count(file) || keep.count(file)) continue;
    const std::string path = dir + "/" + file;
    if (!is_managed(read_json(path))) continue;  // not ours: never removed
    if (auto removed = remove_file(path); !removed) {
      error(removed.error().message, report.io_errors);
      continue;
    }
    spdlog::info("cni conf: removed {}: its SpiderMultusConfig no longer exists", path);
    report.removed.push_back(file);
  }
  return report;
}

void CniConfListener::observe(const ipam::ClusterState& state, const ipam::Allocator::CatchUp&) {
  if (state.multus_configs() == configs_) return;
  configs_ = state.multus_configs();
  dirty_ = true;
}

void CniConfListener::apply() {
  const auto now = std::chrono::steady_clock::now();
  if (!dirty_ && !(retry_pending_ && now >= retry_at_)) return;
  dirty_ = false;
  CniConfWriter::Report report = writer_.sync(configs_);
  retry_pending_ = report.io_errors > 0;
  if (retry_pending_) retry_at_ = now + retry_;
}

}  // namespace ipfence::agent
