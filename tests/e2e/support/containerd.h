// A private containerd for end-to-end tests: containerd from the distribution, its own
// config, root, state and socket in a temporary directory, running inside a node's network
// namespace, driven with `ctr`. `ctr run --cni` then runs the CNI plugins itself (containerd
// never calls CNI for ctr's containers) from that node namespace, so the macvlan master and
// the agent's conflist are the node's.
//
// Isolation, so that the machine's own /etc/cni, /opt/cni, /var/lib/cni and /run/containerd
// are never read or written:
// - containerd runs in new mount and PID namespaces (`unshare -m -p --fork --mount-proc`).
//   In the mount namespace /run, /etc, /opt and /var/lib are overlays whose upper layers are
//   in the temporary directory; the test's conf dir is bind-mounted over /etc/cni/net.d and a
//   temporary bin dir (symlinks to the plugin dirs given) over /opt/cni/bin, the defaults
//   ctr's go-cni reads. containerd-shim-runc-v2 and the containers are its descendants.
// - Every ctr command joins containerd's mount, network and PID namespaces (`nsenter`), so
//   it sees those CNI dirs, the node's interfaces, and the task PIDs containerd reports
//   (ctr opens /proc/<task pid>/ns/net for CNI_NETNS).
// Teardown: the containers are killed and deleted through ctr, then containerd is stopped.
// containerd is PID 1 of its namespace, so its exit kills every shim and container left;
// it also dies when the test process dies (parent-death signal). Container cgroups that a
// killed runc could not remove are removed by name; the next Containerd removes what a killed
// test process left (its temporary directory, "ipf<pid>-..." cgroups).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/support/process.h"

namespace ipfence::e2e {

struct ContainerdOptions {
  std::string netns;     // name of the node network namespace (under /run/netns)
  std::string conf_dir;  // bind-mounted over /etc/cni/net.d
  // Their files are symlinked into the bin dir bound over /opt/cni/bin; the first dir
  // naming a plugin wins.
  std::vector<std::string> plugin_dirs;
};

class Containerd {
 public:
  // The containerd namespace the containers live in; ctr's CNI container ID is
  // "<namespace>-<container id>".
  static constexpr const char* kNamespace = "ipfence-e2e";

  // Empty when everything a test needs is installed, else what is missing (for a skip
  // message): containerd, ctr, containerd-shim-runc-v2, runc, a static /bin/busybox.
  static std::string missing_tools();

  explicit Containerd(ContainerdOptions options);
  ~Containerd();
  Containerd(const Containerd&) = delete;
  Containerd& operator=(const Containerd&) = delete;

  const std::string& dir() const { return dir_; }
  std::string socket() const { return dir_ + "/containerd.sock"; }
  // A busybox-static root filesystem (bin/busybox and applet symlinks) in dir().
  std::string rootfs() const { return dir_ + "/rootfs"; }
  pid_t pid() const { return containerd_pid_; }  // containerd, as the machine sees it
  std::string log() const { return process_.log(); }
  static std::string cni_container_id(const std::string& id) {
    return std::string(kNamespace) + "-" + id;
  }

  // The command line of `ctr args...` inside containerd's namespaces.
  std::vector<std::string> ctr_argv(const std::vector<std::string>& args) const;
  ProcessResult ctr(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  // `ctr run --cni --rm` in the foreground, as a child writing to `log_path`: ctr sets up
  // the network before the command starts and, when the container exits, runs CNI DEL and
  // deletes task and container. The only way ctr 1.6 releases a container's network.
  ChildProcess run_foreground(const std::string& id, const std::vector<std::string>& command,
                              const std::string& log_path);
  // `ctr run --cni --rm` in the foreground until the command exits.
  ProcessResult run(const std::string& id, const std::vector<std::string>& command,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // `ctr task exec` (busybox applets are on PATH).
  ProcessResult exec(const std::string& id, const std::vector<std::string>& command) const;
  // "RUNNING", "STOPPED", "CREATED", ... from `ctr task ls`; empty when there is no task.
  std::string task_status(const std::string& id) const;
  std::vector<std::string> containers() const;  // `ctr container ls -q`

 private:
  std::vector<std::string> run_argv(const std::string& id,
                                    const std::vector<std::string>& command) const;
  void make_rootfs() const;
  void make_plugin_dir() const;
  void write_config() const;
  void remove_containers();
  void stop();

  ContainerdOptions options_;
  std::string dir_;
  ChildProcess process_;  // unshare; containerd is its only child
  pid_t containerd_pid_ = -1;
  std::set<std::string> ids_;  // containers started, for the cgroup sweep
};

}  // namespace ipfence::e2e
