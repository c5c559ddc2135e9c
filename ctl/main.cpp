// ipfencectl: kubectl's verbs over ipfence's store. This file only wires CLI11 to the command
// functions in commands.h; everything else lives in the ipfence_ctl library that tests link.
#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>

#include "ctl/cmd_conflicts.h"
#include "ctl/cmd_guards.h"
#include "ctl/commands.h"

using namespace ipfence::ctl;

int main(int argc, char** argv) {
  CLI::App app{
      "ipfencectl manages ipfence's SpiderIPPools, SpiderReservedIPs and "
      "SpiderMultusConfigs, the way kubectl manages Spiderpool's.",
      "ipfencectl"};
  app.require_subcommand(1);
  // Subcommands hand flags they do not know to the top level, so that -n and --store work
  // anywhere on the line, as kubectl's global flags do.
  app.fallthrough();

  GlobalOptions global;
  app.add_option("--store", global.store_url, "Store URL: file:///path or etcd://host:port")
      ->envname("IPFENCE_STORE")
      ->capture_default_str();
  CLI::Option* namespace_flag =
      app.add_option("-n,--namespace", global.namespace_, "Namespace of namespaced kinds")
          ->capture_default_str();

  Io io{std::cin, std::cout, std::cerr};
  std::function<int()> command;

  ApplyOptions apply;
  CLI::App* apply_cmd = app.add_subcommand("apply", "Create or update objects from manifests");
  apply_cmd->add_option("-f,--filename", apply.files, "Manifest file, or - for stdin; repeatable")
      ->required()
      ->allow_extra_args(false);
  apply_cmd->callback([&] { command = [&] { return run_apply(global, apply, io); }; });

  GetOptions get;
  CLI::App* get_cmd = app.add_subcommand(
      "get",
      "Show objects: sp, sr, smc (Spider kinds), alloc (allocated IPs), net-attach-def, guards "
      "(the agent's eBPF guards), conflicts (outside hosts using pool or reserved IPs)");
  get_cmd->add_option("kind", get.resource, "What to show")->required();
  get_cmd->add_option("name", get.name, "One object by name (an IP for allocations)");
  get_cmd->add_option("-o,--output", get.output, "Output format")
      ->check(CLI::IsMember({"wide", "json", "yaml", "name"}));
  get_cmd->add_flag("-A,--all-namespaces", get.all_namespaces, "List across all namespaces");
  GuardsOptions guards;  // `get guards` asks the agent, not the store
  get_cmd->add_option("--agent-socket", guards.agent_socket, "Agent socket (get guards only)")
      ->envname("IPFENCE_AGENT_SOCKET")
      ->capture_default_str();
  get_cmd->callback([&] {
    command = [&] {
      if (get.resource == "conflicts" || get.resource == "conflict")
        return run_get_conflicts(global, ConflictsOptions{get.name, get.output}, io);
      if (get.resource != "guards" && get.resource != "guard") return run_get(global, get, io);
      guards.output = get.output;
      return run_get_guards(guards, io);
    };
  });

  DeleteOptions del;
  CLI::App* delete_cmd = app.add_subcommand("delete", "Delete objects by name");
  delete_cmd->add_option("kind", del.resource, "Kind of the objects")->required();
  delete_cmd->add_option("names", del.names, "Names of the objects")->required();
  delete_cmd->add_flag("--ignore-not-found", del.ignore_not_found,
                       "Treat a missing object as deleted");
  delete_cmd->callback([&] { command = [&] { return run_delete(global, del, io); }; });

  PatchOptions patch;
  CLI::App* patch_cmd = app.add_subcommand("patch", "Change one object with a JSON merge patch");
  patch_cmd->add_option("kind", patch.resource, "Kind of the object")->required();
  patch_cmd->add_option("name", patch.name, "Name of the object")->required();
  patch_cmd->add_option("--type", patch.type, "Patch type: merge (RFC 7386)")
      ->capture_default_str();
  patch_cmd->add_option("-p,--patch", patch.patch, "The patch, as JSON")->required();
  patch_cmd->callback([&] { command = [&] { return run_patch(global, patch, io); }; });

  RenderCommandOptions render;
  CLI::App* render_cmd = app.add_subcommand(
      "render", "Print what a SpiderMultusConfig becomes: nad (Multus) or conflist (CNI)");
  render_cmd->add_option("what", render.what, "nad or conflist")
      ->required()
      ->check(CLI::IsMember({"nad", "conflist"}));
  render_cmd->add_option("name", render.name, "Name of the SpiderMultusConfig")->required();
  render_cmd->add_option("--agent-socket", render.agent_socket,
                         "Agent socket to name in the config when not the default");
  render_cmd->callback([&] { command = [&] { return run_render(global, render, io); }; });

  std::string quarantine_ip;
  CLI::App* quarantine_cmd =
      app.add_subcommand("quarantine", "Manage IPs quarantined because outside hosts use them");
  quarantine_cmd->require_subcommand(1);
  CLI::App* release_cmd = quarantine_cmd->add_subcommand(
      "release", "Make a quarantined IP allocatable again (once its outside user is gone)");
  release_cmd->add_option("ip", quarantine_ip, "The quarantined IP")->required();
  release_cmd->callback(
      [&] { command = [&] { return run_quarantine_release(global, quarantine_ip, io); }; });

  CLI::App* version_cmd = app.add_subcommand("version", "Print the version");
  version_cmd->callback([&] { command = [&] { return run_version(io); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help
    std::string help = "ipfencectl";
    for (const CLI::App* sub : app.get_subcommands()) help += " " + sub->get_name();
    std::cerr << "error: " << error.what() << "\nSee '" << help << " --help' for usage.\n";
    return 1;
  }
  global.namespace_given = namespace_flag->count() > 0;
  return command ? command() : 1;
}
