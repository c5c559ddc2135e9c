// cnirun: run a CNI conflist the way a container runtime would (libcni's rules), for the
// demo and benchmarks. Cached ADD results live in --cache-dir so that a later DEL or CHECK
// in another process gets the prevResult the runtime would pass.
//
//   cnirun --conflist F --cni-path P [--node-netns NS] [--cache-dir D]
//          ADD|DEL|CHECK --container ID --netns PATH [--ifname eth0] [--arg K=V ...]
//   cnirun ... GC [--valid ID/IFNAME ...]     cnirun ... STATUS
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/e2e/support/cni_runtime.h"

using ipfence::e2e::CniCall;
using ipfence::e2e::CniOutcome;
using ipfence::e2e::CniRuntime;

int main(int argc, char** argv) {
  CLI::App app{"run a CNI conflist like a container runtime"};
  std::string conflist_path, cni_path = "/usr/lib/cni", node_netns, cache_dir = "/tmp/cnirun";
  std::string command;
  CniCall call;
  std::vector<std::string> args, valid, cni_args;
  app.add_option("--conflist", conflist_path, "CNI conflist file")->required();
  app.add_option("--cni-path", cni_path, "plugin directories, ':'-separated");
  app.add_option("--node-netns", node_netns, "run plugins inside this named network namespace");
  app.add_option("--cache-dir", cache_dir, "where ADD results are cached for DEL/CHECK");
  app.add_option("command", command, "ADD, DEL, CHECK, GC or STATUS")->required();
  app.add_option("--container", call.container_id, "CNI_CONTAINERID");
  app.add_option("--netns", call.netns, "CNI_NETNS path");
  app.add_option("--ifname", call.ifname, "CNI_IFNAME");
  app.add_option("--arg", args, "CNI_ARGS entry K=V (repeatable)");
  app.add_option("--cni-arg", cni_args,
                 "args.cni entry K=V for every plugin config, e.g. a pod annotation (repeatable)");
  app.add_option("--valid", valid, "GC: a valid attachment CONTAINERID/IFNAME (repeatable)");
  CLI11_PARSE(app, argc, argv);

  for (const auto& kv : args) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "cnirun: --arg wants K=V, got " << kv << "\n";
      return 2;
    }
    call.args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& kv : cni_args) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "cnirun: --cni-arg wants K=V, got " << kv << "\n";
      return 2;
    }
    call.cni_args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  nlohmann::json conflist;
  try {
    std::ifstream in(conflist_path);
    conflist = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    std::cerr << "cnirun: cannot read " << conflist_path << ": " << e.what() << "\n";
    return 2;
  }
  CniRuntime runtime(conflist, cni_path, node_netns);
  std::filesystem::create_directories(cache_dir);
  std::string cache = cache_dir + "/" + call.container_id + "-" + call.ifname + ".json";
  CniOutcome outcome;
  if (command == "ADD") {
    outcome = runtime.add(call);
    if (outcome.ok()) std::ofstream(cache) << outcome.output.dump();
  } else if (command == "DEL" || command == "CHECK") {
    // Rebuild what the runtime would pass: each plugin gets the cached final result.
    nlohmann::json prev;
    if (std::ifstream in(cache); in) prev = nlohmann::json::parse(in, nullptr, false);
    const auto& plugins = conflist.at("plugins");
    for (std::size_t k = 0; k < plugins.size(); ++k) {
      std::size_t i = command == "DEL" ? plugins.size() - 1 - k : k;
      nlohmann::json config = plugins[i];
      config["name"] = conflist.at("name");
      config["cniVersion"] = conflist.at("cniVersion");
      if (!prev.is_null() && !prev.is_discarded()) config["prevResult"] = prev;
      if (call.cni_args.is_object()) config["args"]["cni"] = call.cni_args;
      CniOutcome one = runtime.exec(plugins[i].at("type"), command, config, call);
      if (!one.ok() && outcome.ok()) outcome = one;
      if (!one.ok() && command == "CHECK") break;
    }
    if (command == "DEL" && outcome.ok()) std::filesystem::remove(cache);
  } else if (command == "GC") {
    std::vector<std::pair<std::string, std::string>> attachments;
    for (const auto& v : valid) {
      auto slash = v.find('/');
      attachments.emplace_back(v.substr(0, slash),
                               slash == std::string::npos ? "eth0" : v.substr(slash + 1));
    }
    outcome = runtime.gc(attachments);
  } else if (command == "STATUS") {
    outcome = runtime.status();
  } else {
    std::cerr << "cnirun: unknown command " << command << "\n";
    return 2;
  }
  if (!outcome.output.is_null()) std::cout << outcome.output.dump(2) << "\n";
  if (!outcome.stderr_text.empty()) std::cerr << outcome.stderr_text;
  return outcome.exit_code;
}
