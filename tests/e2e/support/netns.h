// Network namespaces and veth wires made by a test, removed again by RAII (also when the
// test fails). Nothing here touches the machine's own interfaces: every link is created
// inside a namespace the test owns.
#pragma once

#include <deque>
#include <string>
#include <vector>

namespace ipfence::e2e {

class Netns {
 public:
  explicit Netns(std::string name);  // `ip netns add`; lo is brought up
  Netns(Netns&& other) noexcept : name_(std::move(other.name_)) { other.name_.clear(); }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  ~Netns();  // `ip netns delete`: its links go with it

  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }
  // Runs a shell command inside the namespace; throws on failure.
  std::string sh(const std::string& command) const;
  // Argument prefix that runs a program inside the namespace.
  std::vector<std::string> exec_prefix() const { return {"ip", "netns", "exec", name_}; }

 private:
  std::string name_;
};

// A node with one macvlan master: the master is one end of a veth pair inside the node
// namespace; the other end is the "wire" to an outside host namespace with address
// `outside_cidr`. Pods are further namespaces whose macvlan interfaces the CNI plugin makes.
class NodeTopology {
 public:
  NodeTopology(const std::string& tag, const std::string& master = "ens192",
               const std::string& outside_cidr = "10.6.0.1/16");

  const Netns& node() const { return node_; }
  const Netns& outside() const { return outside_; }
  const std::string& master() const { return master_; }
  // A new pod namespace (kept until the topology is destroyed).
  const Netns& add_pod(const std::string& name);

 private:
  std::string tag_;
  std::string master_;
  Netns node_;
  Netns outside_;
  std::deque<Netns> pods_;  // a deque: add_pod hands out references that must stay valid
};

// A name unique to this test process: "ipf<pid>-<suffix>". The first call also deletes
// namespaces that earlier test processes (now dead) left behind after a crash.
std::string unique_name(const std::string& suffix);

}  // namespace ipfence::e2e
