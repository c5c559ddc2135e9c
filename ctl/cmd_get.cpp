// get KIND [NAME] [-o wide|json|yaml|name] [-n NS | -A]: tables for people, kubectl-shaped
// JSON/YAML for scripts. Pools and allocations come from one ClusterState snapshot, so counts
// and allocations agree with each other.
#include <algorithm>
#include <ostream>

#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/printers.h"
#include "ctl/resource.h"
#include "ctl/session.h"
#include "ipam/cni_config.h"

namespace ipfence::ctl {

namespace {

// What one resource contributes to each output format.
struct Rows {
  std::vector<nlohmann::json> items;  // -o json|yaml
  std::vector<std::string> names;     // -o name
  Table table{{}};                    // table and wide
};

struct Request {
  const GlobalOptions& global;
  const GetOptions& options;
  const ResourceInfo& info;
  OutputFormat format;
  Io& io;
  bool single() const { return !options.name.empty(); }
  std::string namespace_filter() const {
    return options.all_namespaces ? std::string() : global.namespace_;
  }
  std::string reference(const std::string& name) const {
    return info.qualified_singular + "/" + name;
  }
};

int fail_not_found(const Request& request, const std::string& name) {
  request.io.err << not_found_message(request.info, name) << "\n";
  return 1;
}

int print(const Request& request, Rows rows) {
  Io& io = request.io;
  switch (request.format) {
    case OutputFormat::json:
    case OutputFormat::yaml: {
      // A named get prints the object itself; a list prints kubectl's List.
      nlohmann::json value = request.single() && rows.items.size() == 1
                                 ? std::move(rows.items.front())
                                 : list_of(std::move(rows.items));
      io.out << (request.format == OutputFormat::json ? json_text(value) : yaml_text(value));
      return 0;
    }
    case OutputFormat::name:
      for (const auto& name : rows.names) io.out << request.reference(name) << "\n";
      break;
    case OutputFormat::table:
    case OutputFormat::wide:
      if (!rows.table.empty()) io.out << rows.table.render();
      break;
  }
  if (rows.names.empty()) {
    // kubectl's words, on stderr so that scripts reading stdout see nothing.
    if (request.info.namespaced && !request.options.all_namespaces) {
      io.err << "No resources found in " << request.global.namespace_ << " namespace.\n";
    } else {
      io.err << "No resources found\n";
    }
  }
  return 0;
}

void warn_problems(const ipam::ClusterState& state, Io& io) {
  for (const auto& problem : state.problems()) warn(io, problem.key + ": " + problem.message);
}

int get_pools(const Request& request, Session& session) {
  Result<ipam::ClusterState> state = session.objects().load_state();
  if (!state.ok()) return fail(request.io, state.error());
  warn_problems(*state, request.io);

  std::vector<const ipam::PoolState*> pools;
  if (request.single()) {
    const ipam::PoolState* pool = state->pool(request.options.name);
    if (pool == nullptr) return fail_not_found(request, request.options.name);
    pools.push_back(pool);
  } else {
    for (const auto& [name, pool] : state->pools()) pools.push_back(&pool);
  }
  Rows rows;
  for (const ipam::PoolState* pool : pools) {
    nlohmann::json item = ipam::object_to_json(ipam::Object(pool->pool));
    item["status"] = ipam::ObjectService::pool_status(*state, pool->pool.metadata.name);
    rows.items.push_back(std::move(item));
    rows.names.push_back(pool->pool.metadata.name);
  }
  rows.table = pool_table(*state, pools, request.format == OutputFormat::wide);
  return print(request, std::move(rows));
}

// The stored objects of a Spider kind: the named one, or all (in the namespace for
// namespaced kinds). Sorted by namespace and name.
Result<std::vector<ipam::Object>> fetch(const Request& request, Session& session,
                                        const std::string& namespace_) {
  ipam::ObjectService objects = session.objects();
  if (!request.single()) return objects.list(*request.info.kind, namespace_);
  Result<ipam::Object> object =
      objects.get(*request.info.kind, request.global.namespace_, request.options.name);
  if (!object.ok()) return object.error();
  return std::vector<ipam::Object>{std::move(object).value()};
}

int fail_fetch(const Request& request, const Error& error) {
  if (error.code == ErrorCode::not_found && request.single()) {
    return fail_not_found(request, request.options.name);
  }
  return fail(request.io, error);
}

int get_reserved(const Request& request, Session& session) {
  Result<std::vector<ipam::Object>> objects = fetch(request, session, "");
  if (!objects.ok()) return fail_fetch(request, objects.error());
  Rows rows;
  std::vector<const ipam::SpiderReservedIP*> reserved;
  for (const ipam::Object& object : *objects) {
    reserved.push_back(&std::get<ipam::SpiderReservedIP>(object));
    rows.items.push_back(ipam::object_to_json(object));
    rows.names.push_back(ipam::object_meta(object).name);
  }
  rows.table = reserved_table(reserved, request.format == OutputFormat::wide);
  return print(request, std::move(rows));
}

int get_multus(const Request& request, Session& session) {
  Result<std::vector<ipam::Object>> objects = fetch(request, session, request.namespace_filter());
  if (!objects.ok()) return fail_fetch(request, objects.error());
  Rows rows;
  std::vector<const ipam::SpiderMultusConfig*> configs;
  for (const ipam::Object& object : *objects) {
    configs.push_back(&std::get<ipam::SpiderMultusConfig>(object));
    rows.items.push_back(ipam::object_to_json(object));
    rows.names.push_back(ipam::object_meta(object).name);
  }
  rows.table = multus_table(configs, request.options.all_namespaces, Clock::now());
  return print(request, std::move(rows));
}

// NetworkAttachmentDefinitions are not stored: each is rendered from its SpiderMultusConfig,
// as Spiderpool's controller would have created it.
int get_nads(const Request& request, Session& session) {
  const ResourceInfo& multus = resource_info(Resource::multusconfig);
  Request as_multus{request.global, request.options, multus, request.format, request.io};
  Result<std::vector<ipam::Object>> objects = fetch(as_multus, session, request.namespace_filter());
  if (!objects.ok()) return fail_fetch(request, objects.error());
  Rows rows;
  std::vector<const ipam::SpiderMultusConfig*> configs;
  for (const ipam::Object& object : *objects) {
    const auto& config = std::get<ipam::SpiderMultusConfig>(object);
    Result<nlohmann::json> conflist = ipam::render_conflist(config);
    if (!conflist.ok()) {
      warn(request.io, "SpiderMultusConfig " + config.metadata.namespace_ + "/" +
                           config.metadata.name +
                           " renders no NetworkAttachmentDefinition: " + conflist.error().message);
      continue;
    }
    configs.push_back(&config);
    rows.items.push_back(ipam::render_nad(config, *conflist));
    rows.names.push_back(config.metadata.name);
  }
  if (request.single() && configs.empty()) return fail_not_found(request, request.options.name);
  rows.table = multus_table(configs, request.options.all_namespaces, Clock::now());
  return print(request, std::move(rows));
}

int get_allocations(const Request& request, Session& session) {
  Result<ipam::ClusterState> state = session.objects().load_state();
  if (!state.ok()) return fail(request.io, state.error());
  warn_problems(*state, request.io);

  // By address (the key's), with the record built from the view's compact form.
  std::vector<std::pair<ipam::IpAddress, ipam::Allocation>> found;
  if (request.single()) {
    Result<ipam::IpAddress> ip = ipam::IpAddress::parse(request.options.name);
    const ipam::StoredAllocation* held = ip.ok() ? state->allocation(*ip) : nullptr;
    if (held == nullptr) return fail_not_found(request, request.options.name);
    found.emplace_back(*ip, held->allocation(*ip));
  } else {
    for (const auto& [name, pool] : state->pools()) {
      for (const auto& [value, stored] : pool.allocations) {
        const ipam::IpAddress ip = stored.record.ip(value);
        found.emplace_back(ip, stored.allocation(ip));
      }
    }
    // Held IPs whose pool is gone still show, so that nothing held is invisible.
    for (const auto& [key, stored] : state->orphan_allocations()) {
      const ipam::IpAddress ip = ipam::ip_of_allocation_key(key).value_or(ipam::IpAddress());
      found.emplace_back(ip, stored.allocation(ip));
    }
    // By address, IPv4 first, whatever pool holds them.
    std::stable_sort(found.begin(), found.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  Rows rows;
  std::vector<const ipam::Allocation*> allocations;
  for (const auto& [ip, allocation] : found) {
    allocations.push_back(&allocation);
    rows.items.push_back(nlohmann::json(allocation));
    rows.names.push_back(allocation.ip);
  }
  rows.table = allocation_table(allocations, Clock::now());
  return print(request, std::move(rows));
}

}  // namespace

int run_get(const GlobalOptions& global, const GetOptions& options, Io& io) {
  Result<ResourceInfo> info = resolve_resource(options.resource);
  if (!info.ok()) return fail(io, info.error());
  std::optional<OutputFormat> format = parse_output_format(options.output);
  if (!format) {
    return fail(io, "unable to match a printer suitable for the output format \"" + options.output +
                        "\", allowed formats are: json,name,wide,yaml");
  }
  if (options.all_namespaces && !options.name.empty() && info->namespaced) {
    return fail(io, "a resource cannot be retrieved by name across all namespaces");
  }
  Result<Session> session = Session::open(global);
  if (!session.ok()) return fail(io, session.error());

  const Request request{global, options, *info, *format, io};
  switch (info->resource) {
    case Resource::ippool:
      return get_pools(request, *session);
    case Resource::reservedip:
      return get_reserved(request, *session);
    case Resource::multusconfig:
      return get_multus(request, *session);
    case Resource::nad:
      return get_nads(request, *session);
    case Resource::allocation:
      return get_allocations(request, *session);
  }
  return fail(io, "unsupported resource");
}

}  // namespace ipfence::ctl
