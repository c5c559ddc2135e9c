#include "ctl/printers.h"

#include <string>

namespace ipfence::ctl {

namespace {

// kubectl's text for a cell with no value.
constexpr const char* kNone = "<none>";

std::string or_none(const std::string& text) {
  return text.empty() ? kNone : text;
}

std::string version_cell(const std::optional<int>& ip_version) {
  return ip_version ? std::to_string(*ip_version) : kNone;
}

std::string bool_cell(bool value) {
  return value ? "true" : "false";
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

std::string pod_cell(const ipam::Allocation& allocation) {
  if (allocation.pod_name.empty()) return kNone;
  if (allocation.pod_namespace.empty()) return allocation.pod_name;
  return allocation.pod_namespace + "/" + allocation.pod_name;
}

}  // namespace

Table pool_table(const ipam::ClusterState& state, const std::vector<const ipam::PoolState*>& pools,
                 bool wide) {
  std::vector<std::string> headers = {"NAME",           "VERSION", "SUBNET", "ALLOCATED-IP-COUNT",
                                      "TOTAL-IP-COUNT", "DEFAULT"};
  if (wide) headers.insert(headers.end(), {"DISABLE", "RESERVED", "AVAILABLE"});
  Table table(std::move(headers));
  for (const ipam::PoolState* pool : pools) {
    const ipam::SpiderIPPool& object = pool->pool;
    const ipam::PoolCounts counts = state.counts(object.metadata.name);
    std::vector<std::string> row = {
        object.metadata.name,         version_cell(object.spec.ip_version),
        object.spec.subnet,           std::to_string(counts.allocated),
        std::to_string(counts.total), bool_cell(object.spec.default_)};
    if (wide) {
      row.insert(row.end(), {bool_cell(object.spec.disable), std::to_string(counts.reserved),
                             std::to_string(counts.available)});
    }
    table.add_row(std::move(row));
  }
  return table;
}

Table reserved_table(const std::vector<const ipam::SpiderReservedIP*>& reserved, bool wide) {
  std::vector<std::string> headers = {"NAME", "VERSION"};
  if (wide) headers.push_back("IPS");
  Table table(std::move(headers));
  for (const ipam::SpiderReservedIP* object : reserved) {
    table.add_row({object->metadata.name, version_cell(object->spec.ip_version),
                   join(object->spec.ips, ",")});
  }
  return table;
}

Table multus_table(const std::vector<const ipam::SpiderMultusConfig*>& configs, bool all_namespaces,
                   Clock::time_point now) {
  std::vector<std::string> headers = {"NAME", "AGE"};
  if (all_namespaces) headers.insert(headers.begin(), "NAMESPACE");
  Table table(std::move(headers));
  for (const ipam::SpiderMultusConfig* config : configs) {
    std::vector<std::string> row = {config->metadata.name,
                                    age_since(config->metadata.creation_timestamp, now)};
    if (all_namespaces) row.insert(row.begin(), config->metadata.namespace_);
    table.add_row(std::move(row));
  }
  return table;
}

Table allocation_table(const std::vector<const ipam::Allocation*>& allocations,
                       Clock::time_point now) {
  Table table({"IP", "POOL", "CONTAINER", "IFNAME", "POD", "MAC", "NODE", "AGE"});
  for (const ipam::Allocation* allocation : allocations) {
    table.add_row({allocation->ip, allocation->pool, or_none(allocation->container_id),
                   or_none(allocation->ifname), pod_cell(*allocation), or_none(allocation->mac),
                   or_none(allocation->node), age_since(allocation->created, now)});
  }
  return table;
}

}  // namespace ipfence::ctl
