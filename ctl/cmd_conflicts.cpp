#include "ctl/cmd_conflicts.h"

#include <algorithm>
#include <ostream>
#include <set>

#include "ctl/age.h"
#include "ctl/output.h"
#include "ctl/session.h"
#include "ctl/table.h"
#include "ipam/conflict_book.h"
#include "ipam/ip_address.h"

namespace ipfence::ctl {
namespace {

std::string or_none(const std::string& s) {
  return s.empty() ? "<none>" : s;
}

// By address (IPv4 before IPv6, numerically), then MAC.
bool before(const ipam::ConflictRecord& a, const ipam::ConflictRecord& b) {
  auto ia = ipam::IpAddress::parse(a.ip);
  auto ib = ipam::IpAddress::parse(b.ip);
  if (ia && ib && !(*ia == *ib)) return *ia < *ib;
  return a.mac < b.mac;
}

}  // namespace

std::string conflicts_table(const std::vector<ipam::ConflictRecord>& records,
                            const std::vector<std::string>& quarantined_ips,
                            std::chrono::system_clock::time_point now) {
  const std::set<std::string> quarantined(quarantined_ips.begin(), quarantined_ips.end());
  Table table({"IP", "MAC", "KIND", "POOL", "HOLDER", "NODE", "FIRST-SEEN", "LAST-SEEN", "COUNT"});
  for (const auto& r : records) {
    std::string kind(ipam::conflict_kind_name(r.kind));
    if (r.kind == ipam::ConflictKind::squatter && quarantined.count(r.ip)) kind += " (quarantined)";
    table.add_row({r.ip, r.mac, kind, or_none(r.pool), or_none(r.holder), or_none(r.node),
                   age_since(r.first_seen, now), age_since(r.last_seen, now),
                   std::to_string(r.count)});
  }
  return table.render();
}

int run_get_conflicts(const GlobalOptions& global, const ConflictsOptions& options, Io& io) {
  std::optional<OutputFormat> format = parse_output_format(options.output);
  if (!format)
    return fail(io, "unable to match a printer suitable for the output format \"" + options.output +
                        "\", allowed formats are: json,name,wide,yaml");
  std::string only;
  if (!options.ip.empty()) {
    auto ip = ipam::IpAddress::parse(options.ip);
    if (!ip) return fail(io, "\"" + options.ip + "\" is not an IP address");
    only = ip->to_string();
  }
  Result<Session> session = Session::open(global);
  if (!session.ok()) return fail(io, session.error());
  auto conflicts = session->store().list(ipam::keys::kConflicts);
  if (!conflicts.ok()) return fail(io, conflicts.error());
  auto quarantine = session->store().list(ipam::keys::kQuarantine);
  if (!quarantine.ok()) return fail(io, quarantine.error());

  std::vector<ipam::ConflictRecord> records;
  for (const auto& kv : conflicts->kvs) {
    try {
      auto record = nlohmann::json::parse(kv.value).get<ipam::ConflictRecord>();
      if (only.empty() || record.ip == only) records.push_back(std::move(record));
    } catch (const std::exception& e) {
      warn(io, "skipping unreadable store record " + kv.key + ": " + e.what());
    }
  }
  std::sort(records.begin(), records.end(), before);
  std::vector<std::string> quarantined;
  for (const auto& kv : quarantine->kvs) {
    try {
      quarantined.push_back(nlohmann::json::parse(kv.value).get<ipam::QuarantineRecord>().ip);
    } catch (const std::exception& e) {
      warn(io, "skipping unreadable store record " + kv.key + ": " + e.what());
    }
  }

  if (*format == OutputFormat::json || *format == OutputFormat::yaml) {
    std::vector<nlohmann::json> items;
    for (const auto& r : records) {
      nlohmann::json item = r;
      item["quarantined"] =
          std::find(quarantined.begin(), quarantined.end(), r.ip) != quarantined.end();
      items.push_back(std::move(item));
    }
    nlohmann::json list = list_of(std::move(items));
    io.out << (*format == OutputFormat::json ? json_text(list) : yaml_text(list));
    return 0;
  }
  if (*format == OutputFormat::name) {
    for (const auto& r : records) io.out << "conflict/" << r.ip << "/" << r.mac << "\n";
    return 0;
  }
  if (records.empty()) {
    if (!only.empty()) return fail(io, "no conflict recorded for " + only);
    io.err << "No conflicts found.\n";
    return 0;
  }
  io.out << conflicts_table(records, quarantined, std::chrono::system_clock::now());
  return 0;
}

int run_quarantine_release(const GlobalOptions& global, const std::string& ip, Io& io) {
  Result<Session> session = Session::open(global);
  if (!session.ok()) return fail(io, session.error());
  ipam::ConflictBook book(session->store());
  auto released = book.release(ip);
  if (!released.ok()) return fail(io, released.error());
  io.out << "quarantine of " << released->ip << " in IPPool " << released->pool
         << " released (last seen " << released->last_seen << " from " << released->mac << ")\n";
  return 0;
}

}  // namespace ipfence::ctl
