// apply -f FILE|- [-f ...]: every document of every file is parsed first, then all objects
// are applied in one transaction, so a bad document anywhere applies nothing (kubectl applies
// document by document; an IPAM change half-made is worse than none).
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ctl/commands.h"
#include "ctl/resource.h"
#include "ctl/session.h"
#include "ipam/manifest.h"

namespace ipfence::ctl {

namespace {

Result<std::string> read_input(const std::string& path, Io& io) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(io.in), std::istreambuf_iterator<char>());
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return make_error(ErrorCode::not_found, "the path \"" + path + "\" does not exist");
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return make_error(ErrorCode::io, "reading \"" + path + "\" failed");
  return text.str();
}

// kubectl's rules: a namespaced object without a namespace goes to -n (or "default"); one
// whose namespace differs from an explicit -n is refused; a cluster-scoped object has none.
Status settle_namespace(ipam::Object& object, const GlobalOptions& global) {
  ipam::ObjectMeta& meta = ipam::object_meta(object);
  if (!resource_info(ipam::object_kind(object)).namespaced) {
    meta.namespace_.clear();
    return {};
  }
  if (meta.namespace_.empty()) {
    meta.namespace_ = global.namespace_;
  } else if (global.namespace_given && meta.namespace_ != global.namespace_) {
    return make_error(ErrorCode::invalid_argument,
                      "the namespace from the provided object \"" + meta.namespace_ +
                          "\" does not match the namespace \"" + global.namespace_ +
                          "\". You must pass '--namespace=" + meta.namespace_ +
                          "' to perform this operation.");
  }
  return {};
}

}  // namespace

int run_apply(const GlobalOptions& global, const ApplyOptions& options, Io& io) {
  std::vector<ipam::Object> objects;
  for (const std::string& path : options.files) {
    Result<std::string> text = read_input(path, io);
    if (!text.ok()) return fail(io, text.error());
    Result<std::vector<ipam::Object>> parsed = ipam::parse_manifests(*text);
    if (!parsed.ok()) {
      return fail(io, "error parsing " + std::string(path == "-" ? "STDIN" : path) + ": " +
                          parsed.error().message);
    }
    for (ipam::Object& object : *parsed) {
      Status settled = settle_namespace(object, global);
      if (!settled.ok()) return fail(io, settled.error());
      objects.push_back(std::move(object));
    }
  }
  if (objects.empty()) return fail(io, "no objects passed to apply");

  Result<Session> session = Session::open(global);
  if (!session.ok()) return fail(io, session.error());
  Result<std::vector<ipam::ApplyResult>> results = session->objects().apply(std::move(objects));
  if (!results.ok()) return fail(io, results.error());
  for (const ipam::ApplyResult& result : *results) {
    for (const std::string& warning : result.warnings) warn(io, warning);
    io.out << result.message() << "\n";
  }
  return 0;
}

}  // namespace ipfence::ctl
