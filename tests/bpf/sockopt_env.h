// Scratch cgroups and a child process inside one, for the tests of the pod socket-option guard
// (tests/bpf/sockopt_guard_test.cpp and the e2e enforcement test), cleaned up on every path:
//   TestCgroup   - a child cgroup of our own under a cgroup v2 directory (never the directory
//                  itself): mkdir on construction; the destructor moves any process still in
//                  it back to the parent and removes it.
//   run_in_cgroup - forks a child that joins the cgroup (cgroup.procs) and a network namespace
//                  and then runs a function there, and returns the numbers it reported. A
//                  socket's cgroup is that of the process that made it, so this is how a test
//                  gets sockets that the cgroup's programs judge without moving itself.
// Nothing here touches the machine's root cgroup beyond making and removing our child.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace ipfence::testing {

// Where cgroup2 is mounted in this mount namespace (the first such mount), or "".
inline std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string source, target, type;
    fields >> source >> target >> type;
    if (type == "cgroup2") return target;
  }
  return "";
}

class TestCgroup {
 public:
  explicit TestCgroup(const std::string& parent) : parent_(parent) {
    static std::atomic<int> counter{0};
    if (parent.empty()) {
      error_ = "no cgroup2 mount";
      return;
    }
    path_ =
        parent + "/ipfence-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    if (::mkdir(path_.c_str(), 0755) != 0) {
      error_ = "mkdir " + path_ + ": " + std::strerror(errno);
      path_.clear();
    }
  }
  ~TestCgroup() {
    if (path_.empty()) return;
    // Processes left behind (a test that failed half-way) go back to the parent first:
    // a cgroup with members cannot be removed.
    std::ifstream procs(path_ + "/cgroup.procs");
    for (std::string pid; std::getline(procs, pid);) {
      std::ofstream back(parent_ + "/cgroup.procs");
      back << pid << std::flush;
    }
    for (int i = 0; i < 50 && ::rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i)
      ::usleep(20000);  // an exited child leaves the cgroup asynchronously
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  std::string parent_;
  std::string path_;
  std::string error_;
};

// What run_in_cgroup's child reported: the numbers `fn` returned, or why it never ran it.
struct ChildReport {
  std::vector<int> values;
  std::string error;
  bool ok() const { return error.empty(); }
};

// Forks; the child writes its pid to `cgroup`/cgroup.procs, joins the network namespace at
// `netns_path` (empty: stays in ours), runs `fn` and sends back what it returns. `fn` runs in
// a single-threaded child of a possibly multi-threaded test: plain system calls only.
inline ChildReport run_in_cgroup(const std::string& cgroup, const std::string& netns_path,
                                 const std::function<std::vector<int>()>& fn) {
  ChildReport report;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    report.error = std::string("pipe: ") + std::strerror(errno);
    return report;
  }
  const std::string procs = cgroup + "/cgroup.procs";
  const pid_t pid = ::fork();
  if (pid < 0) {
    report.error = std::string("fork: ") + std::strerror(errno);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return report;
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    // Failures are sent as {-1, step, errno}.
    auto fail = [&](int step) {
      int out[3] = {-1, step, errno};
      (void)!::write(pipe_fds[1], out, sizeof out);
      ::_exit(1);
    };
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    char text[32];
    const int len = std::snprintf(text, sizeof text, "%d", static_cast<int>(::getpid()));
    if (fd < 0 || ::write(fd, text, static_cast<size_t>(len)) != len) fail(1);
    ::close(fd);
    if (!netns_path.empty()) {
      fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) fail(2);
      ::close(fd);
    }
    const std::vector<int> values = fn();
    int ok = 0;
    (void)!::write(pipe_fds[1], &ok, sizeof ok);
    (void)!::write(pipe_fds[1], values.data(), values.size() * sizeof(int));
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::vector<int> received;
  int value = 0;
  while (::read(pipe_fds[0], &value, sizeof value) == static_cast<ssize_t>(sizeof value))
    received.push_back(value);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (received.empty()) {
    report.error = "the child reported nothing (status " + std::to_string(status) + ")";
  } else if (received[0] == -1) {
    const char* step = received.size() > 1 && received[1] == 1 ? "join " : "setns into ";
    const std::string what = received.size() > 1 && received[1] == 1 ? procs : netns_path;
    report.error = std::string("child: ") + step + what + ": " +
                   std::strerror(received.size() > 2 ? received[2] : 0);
  } else {
    report.values.assign(received.begin() + 1, received.end());
  }
  return report;
}

}  // namespace ipfence::testing
