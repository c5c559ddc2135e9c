// delete KIND NAME... and patch KIND NAME --type merge -p JSON: the two commands that change
// one stored object by name. Their messages are kubectl's:
//   spiderreservedip.spiderpool.spidernet.io "test-reservedip" deleted
//   spiderreservedip.spiderpool.spidernet.io/test-reservedip patched
#include <ostream>

#include "ctl/commands.h"
#include "ctl/resource.h"
#include "ctl/session.h"

namespace ipfence::ctl {

namespace {

// Only the Spider kinds are stored objects a user may change by name.
Result<ResourceInfo> stored_resource(const std::string& name, const char* verb) {
  IPF_ASSIGN_OR_RETURN(ResourceInfo info, resolve_resource(name));
  switch (info.resource) {
    case Resource::allocation:
      return make_error(ErrorCode::invalid_argument,
                        std::string("allocations cannot be ") + verb +
                            ": the CNI plugin's DEL and GC release them");
    case Resource::nad:
      return make_error(ErrorCode::invalid_argument,
                        std::string("network-attachment-definitions cannot be ") + verb +
                            ": they are rendered from SpiderMultusConfigs; change that instead");
    default:
      return info;
  }
}

std::string namespace_for(const ResourceInfo& info, const GlobalOptions& global) {
  return info.namespaced ? global.namespace_ : std::string();
}

}  // namespace

int run_delete(const GlobalOptions& global, const DeleteOptions& options, Io& io) {
  Result<ResourceInfo> info = stored_resource(options.resource, "deleted");
  if (!info.ok()) return fail(io, info.error());
  if (options.names.empty()) {
    return fail(io, "resource(s) were provided, but no name was specified");
  }
  Result<Session> session = Session::open(global);
  if (!session.ok()) return fail(io, session.error());

  // Like kubectl: go on with the other names after a failure, and exit 1 at the end.
  int exit_code = 0;
  for (const std::string& name : options.names) {
    Result<ipam::ApplyResult> removed =
        session->objects().remove(*info->kind, namespace_for(*info, global), name);
    if (!removed.ok()) {
      if (removed.error().code != ErrorCode::not_found) {
        exit_code = fail(io, removed.error());
      } else if (!options.ignore_not_found) {
        io.err << not_found_message(*info, name) << "\n";
        exit_code = 1;
      }
      continue;
    }
    for (const std::string& warning : removed->warnings) warn(io, warning);
    io.out << info->qualified_singular << " \"" << name << "\" deleted\n";
  }
  return exit_code;
}

int run_patch(const GlobalOptions& global, const PatchOptions& options, Io& io) {
  Result<ResourceInfo> info = stored_resource(options.resource, "patched");
  if (!info.ok()) return fail(io, info.error());
  if (options.type == "strategic") {
    // kubectl's answer for custom resources, which have no strategic-merge schema.
    return fail(io, std::string("strategic merge patch is not supported for ") + ipam::kApiVersion +
                        ", Kind=" + ipam::kind_info(*info->kind).name +
                        " locally, try --type merge");
  }
  if (options.type == "json") {
    return fail(io, "--type json is not supported by ipfencectl; use --type merge");
  }
  if (options.type != "merge") {
    return fail(io, "--type must be one of [json merge strategic], not \"" + options.type + "\"");
  }
  nlohmann::json patch = nlohmann::json::parse(options.patch, nullptr, /*allow_exceptions=*/false);
  if (patch.is_discarded()) {
    return fail(io, "unable to parse \"" + options.patch + "\": not valid JSON");
  }
  if (!patch.is_object()) {
    return fail(io, "unable to parse \"" + options.patch + "\": a merge patch is a JSON object");
  }

  Result<Session> session = Session::open(global);
  if (!session.ok()) return fail(io, session.error());
  Result<ipam::ApplyResult> patched =
      session->objects().patch(*info->kind, namespace_for(*info, global), options.name, patch);
  if (!patched.ok()) {
    if (patched.error().code == ErrorCode::not_found) {
      io.err << not_found_message(*info, options.name) << "\n";
      return 1;
    }
    return fail(io, patched.error());
  }
  for (const std::string& warning : patched->warnings) warn(io, warning);
  io.out << info->qualified_singular << "/" << options.name
         << (patched->action == ipam::ApplyAction::unchanged ? " patched (no change)" : " patched")
         << "\n";
  return 0;
}

}  // namespace ipfence::ctl
