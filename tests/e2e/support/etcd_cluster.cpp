#include "tests/e2e/support/etcd_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "ipam/store/etcd_codec.h"
#include "tests/e2e/support/process.h"

namespace ipfence::e2e {
namespace {

std::string etcd_binary() {
  if (const char* env = std::getenv("IPFENCE_ETCD"); env && *env) return env;
  return "/usr/bin/etcd";
}

std::string make_data_dir() {
  std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string path = base + "/ipfence-etcd-XXXXXX";
  if (!mkdtemp(path.data())) throw std::runtime_error("mkdtemp " + path + " failed");
  return path;
}

}  // namespace

EtcdCluster::EtcdCluster(const std::string& tag, int members)
    : netns_(tag + "-etcd"), dir_(make_data_dir()) {
  try {
    for (int i = 0; i < members; ++i) {
      Member m;
      m.name = "m" + std::to_string(i);
      m.client_port = 2379 + 10000 * i;
      m.peer_port = 2380 + 10000 * i;
      m.metrics_port = 2381 + 10000 * i;
      members_.push_back(m);
    }
    for (int i = 0; i < members; ++i) spawn(i, /*fresh=*/true);
    std::vector<int> all(members);
    for (int i = 0; i < members; ++i) all[i] = i;
    if (!wait_healthy(all, std::chrono::seconds(20)))
      throw std::runtime_error("etcd cluster did not become healthy; member 0 log:\n" + log(0));
  } catch (...) {
    kill_all();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

EtcdCluster::~EtcdCluster() {
  kill_all();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string EtcdCluster::initial_cluster() const {
  std::string out;
  for (const auto& m : members_)
    out += (out.empty() ? "" : ",") + m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
  return out;
}

void EtcdCluster::spawn(int index, bool fresh) {
  Member& m = members_.at(index);
  const std::string data = dir_ + "/" + m.name;
  if (fresh) std::filesystem::remove_all(data);
  const std::string client = "http://0.0.0.0:" + std::to_string(m.client_port);
  const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
  std::vector<std::string> args = {
      "ip", "netns", "exec", netns_.name(), etcd_binary(), "--name=" + m.name, "--data-dir=" + data,
      "--listen-client-urls=" + client,
      "--advertise-client-urls=http://127.0.0.1:" + std::to_string(m.client_port),
      "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
      "--initial-cluster=" + initial_cluster(), "--initial-cluster-state=new",
      "--initial-cluster-token=ipfence-e2e",
      "--listen-metrics-urls=http://127.0.0.1:" + std::to_string(m.metrics_port),
      // Fast elections: a killed member is replaced in ~0.3 s.
      "--heartbeat-interval=20", "--election-timeout=200", "--logger=zap", "--log-level=warn"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log_path = dir_ + "/" + m.name + ".log";
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. `ip netns exec` execs etcd in place,
    // so the death signal reaches etcd itself.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  m.pid = pid;
}

bool EtcdCluster::healthy(int index) const {
  const Member& m = members_.at(index);
  if (m.pid <= 0) return false;
  ProcessResult r = run_process({"ip", "netns", "exec", netns_.name(), "curl", "-s", "-m", "1",
                                 "http://127.0.0.1:" + std::to_string(m.metrics_port) + "/health"},
                                {}, "", std::chrono::seconds(3));
  return r.out.find("\"health\":\"true\"") != std::string::npos;
}

bool EtcdCluster::wait_healthy(const std::vector<int>& indexes, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        return std::all_of(indexes.begin(), indexes.end(), [&](int i) { return healthy(i); });
      },
      timeout);
}

void EtcdCluster::kill(int index) {
  Member& m = members_.at(index);
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  ::waitpid(m.pid, nullptr, 0);
  m.pid = -1;
}

void EtcdCluster::restart(int index) {
  kill(index);
  spawn(index, /*fresh=*/false);
  if (!wait_healthy({index}, std::chrono::seconds(20)))
    throw std::runtime_error("etcd member " + members_.at(index).name +
                             " did not come back; its log:\n" + log(index));
}

void EtcdCluster::kill_all() {
  for (int i = 0; i < size(); ++i) kill(i);
}

void EtcdCluster::restart_all() {
  kill_all();
  for (int i = 0; i < size(); ++i) spawn(i, /*fresh=*/false);
  std::vector<int> all(size());
  for (int i = 0; i < size(); ++i) all[i] = i;
  if (!wait_healthy(all, std::chrono::seconds(20)))
    throw std::runtime_error("etcd cluster did not come back; member 0 log:\n" + log(0));
}

std::string EtcdCluster::attach(const Netns& node, const std::string& query) {
  const int n = static_cast<int>(attached_.size()) + 1;
  const std::string subnet = "10.254." + std::to_string(n);
  const std::string peer = "etcd-n" + std::to_string(n);
  // Both ends are created inside namespaces the test owns: nothing in the host namespace.
  netns_.sh("ip link add " + peer + " type veth peer name etcd0 netns " + node.name());
  netns_.sh("ip addr add " + subnet + ".1/24 dev " + peer + " && ip link set " + peer + " up");
  node.sh("ip addr add " + subnet + ".2/24 dev etcd0 && ip link set etcd0 up");
  attached_.push_back(node.name());
  std::string url = "etcd://";
  for (std::size_t i = 0; i < members_.size(); ++i)
    url += (i ? "," : "") + subnet + ".1:" + std::to_string(members_[i].client_port);
  return url + query;
}

void EtcdCluster::set_link(const Netns& node, bool up) {
  node.sh(std::string("ip link set etcd0 ") + (up ? "up" : "down"));
}

std::pair<long, std::map<std::string, std::string>> EtcdCluster::range(const std::string& prefix,
                                                                       bool count_only) const {
  using store::etcd::base64_decode;
  using store::etcd::base64_encode;
  nlohmann::json request = {{"key", base64_encode(prefix)},
                            {"range_end", base64_encode(store::etcd::prefix_end(prefix))}};
  if (count_only) request["count_only"] = true;
  for (const auto& m : members_) {
    if (m.pid <= 0) continue;
    ProcessResult r =
        run_process({"ip", "netns", "exec", netns_.name(), "curl", "-s", "-m", "3", "-X", "POST",
                     "http://127.0.0.1:" + std::to_string(m.client_port) + "/v3/kv/range",
                     "--data-binary", request.dump()},
                    {}, "", std::chrono::seconds(5));
    const auto answer = nlohmann::json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !answer.is_object() || !answer.contains("header")) continue;
    // The gateway prints int64 as strings and leaves zero values out.
    const long count = answer.contains("count") ? std::stol(answer["count"].get<std::string>()) : 0;
    std::map<std::string, std::string> kvs;
    for (const auto& kv : answer.value("kvs", nlohmann::json::array()))
      kvs[base64_decode(kv.value("key", "")).value_or("")] =
          base64_decode(kv.value("value", "")).value_or("");
    return {count, kvs};
  }
  return {-1, {}};
}

int EtcdCluster::leader() const {
  for (int i = 0; i < size(); ++i) {
    const Member& m = members_[i];
    if (m.pid <= 0) continue;
    ProcessResult r =
        run_process({"ip", "netns", "exec", netns_.name(), "curl", "-s", "-m", "2", "-X", "POST",
                     "http://127.0.0.1:" + std::to_string(m.client_port) + "/v3/maintenance/status",
                     "-d", "{}"},
                    {}, "", std::chrono::seconds(4));
    const auto answer = nlohmann::json::parse(r.out, nullptr, false);
    if (!answer.is_object() || !answer.contains("header")) continue;
    // IDs are uint64 printed as strings; a member leads when its own ID is the leader's.
    if (answer["header"].value("member_id", "") == answer.value("leader", "-")) return i;
    // Otherwise ask the others: this one follows.
  }
  return -1;
}

std::string EtcdCluster::log(int index) const {
  std::ifstream in(dir_ + "/" + members_.at(index).name + ".log");
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

}  // namespace ipfence::e2e
