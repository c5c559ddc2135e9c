#include "ctl/cmd_guards.h"

#include <chrono>
#include <ostream>

#include "cni/agent_client.h"
#include "ctl/output.h"
#include "ctl/table.h"

namespace ipfence::ctl {
namespace {

using nlohmann::json;

// The agent answers from its maps in milliseconds; this only bounds a stuck agent.
constexpr std::chrono::seconds kTimeout{10};

// Table columns after POLICY and PROG, and the counter names behind them.
constexpr std::pair<const char*, const char*> kReasons[] = {{"RESERVED", "reserved"},
                                                            {"UNALLOCATED", "unallocated"},
                                                            {"MAC-MISMATCH", "mac_mismatch"},
                                                            {"SPOOFED", "spoofed"},
                                                            {"MALFORMED", "malformed"}};

std::uint64_t count_of(const json& guard, const char* verdict, const char* reason) {
  const json* counters = guard.contains("counters") ? &guard["counters"] : nullptr;
  if (!counters || !counters->contains(verdict)) return 0;
  const json& by_reason = (*counters)[verdict];
  if (!by_reason.contains(reason) || !by_reason[reason].is_number_unsigned()) return 0;
  return by_reason[reason].get<std::uint64_t>();
}

std::string text_of(const json& value, const char* key, const std::string& fallback = "-") {
  if (!value.contains(key)) return fallback;
  const json& v = value[key];
  if (v.is_string()) return v.get<std::string>().empty() ? fallback : v.get<std::string>();
  return v.dump();
}

}  // namespace

std::string guards_table(const json& body) {
  Table table({"MASTER", "NETNS", "MODE", "POLICY", "PROG", "RESERVED", "UNALLOCATED",
               "MAC-MISMATCH", "SPOOFED", "MALFORMED"});
  for (const json& guard : body.value("guards", json::array())) {
    std::vector<std::string> row{text_of(guard, "master"), text_of(guard, "netns"),
                                 text_of(guard, "mode"), text_of(guard, "policy"),
                                 text_of(guard, "progId")};
    for (const auto& [column, reason] : kReasons) {
      std::string cell = std::to_string(count_of(guard, "dropped", reason));
      if (std::uint64_t monitored = count_of(guard, "monitored", reason); monitored > 0)
        cell += " +" + std::to_string(monitored) + " mon";
      row.push_back(std::move(cell));
    }
    table.add_row(std::move(row));
  }
  return table.render() + "\nleases: " + text_of(body, "leases", "0") +
         ", reserved prefixes: " + text_of(body, "reservedPrefixes", "0") +
         ", pool prefixes: " + text_of(body, "poolPrefixes", "0") + "\n";
}

int run_get_guards(const GuardsOptions& options, Io& io) {
  const auto format = parse_output_format(options.output);
  if (!format || *format == OutputFormat::name) {
    io.err << "error: output format \"" << options.output
           << "\" is not supported for guards (use json, yaml or wide)\n";
    return 1;
  }
  cni::AgentClient client(options.agent_socket, kTimeout);
  auto reply = client.get("/v1/guards");
  if (!reply) {
    io.err << "error: " << reply.error().msg << "\n";
    return 1;
  }
  if (!reply->ok()) {
    io.err << "error: " << cni::agent_error(*reply).msg << "\n";
    return 1;
  }
  const json& body = reply->body;
  if (*format == OutputFormat::json) {
    io.out << json_text(body);
    return 0;
  }
  if (*format == OutputFormat::yaml) {
    io.out << yaml_text(body);
    return 0;
  }
  if (!body.value("enabled", true)) {
    io.err << "The guard is off on this agent (--guard=off): IPAM only, nothing is enforced.\n";
    return 0;
  }
  if (body.value("guards", json::array()).empty()) {
    io.err << "No guards attached: the agent attaches one to each master a SpiderMultusConfig, "
              "--masters or an allocation names, once the interface exists.\n";
    return 0;
  }
  io.out << guards_table(body);
  return 0;
}

}  // namespace ipfence::ctl
