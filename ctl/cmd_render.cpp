// render nad|conflist NAME [-n NS]: what a stored SpiderMultusConfig turns into, for Multus
// (the NetworkAttachmentDefinition, YAML) or for a node's CNI directory (the conflist, JSON).
#include <ostream>

#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/resource.h"
#include "ctl/session.h"
#include "ipam/cni_config.h"

namespace ipfence::ctl {

int run_render(const GlobalOptions& global, const RenderCommandOptions& options, Io& io) {
  if (options.what != "nad" && options.what != "conflist") {
    return fail(io, "render what? \"" + options.what + "\": use nad or conflist");
  }
  Result<Session> session = Session::open(global);
  if (!session.ok()) return fail(io, session.error());
  Result<ipam::Object> object =
      session->objects().get(ipam::Kind::multusconfig, global.namespace_, options.name);
  if (!object.ok()) {
    if (object.error().code == ErrorCode::not_found) {
      io.err << not_found_message(resource_info(Resource::multusconfig), options.name) << "\n";
      return 1;
    }
    return fail(io, object.error());
  }
  const auto& config = std::get<ipam::SpiderMultusConfig>(*object);
  Result<nlohmann::json> conflist =
      ipam::render_conflist(config, ipam::RenderOptions{options.agent_socket});
  if (!conflist.ok()) {
    return fail(io, "SpiderMultusConfig " + config.metadata.namespace_ + "/" +
                        config.metadata.name + ": " + conflist.error().message);
  }
  if (options.what == "conflist") {
    io.out << json_text(*conflist);
  } else {
    io.out << ipam::render_nad_yaml(config, *conflist);
  }
  return 0;
}

}  // namespace ipfence::ctl
